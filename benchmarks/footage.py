"""Held-out footage for the speed and flicker benchmarks.

bikes.mp4 is also training data, so figures taken only on it flatter the
networks. These clips are camera moves (zoom, pan, roll) over photographs no
network was trained on, with a disc of a second photograph moving across on
its own path: camera and object motion, occlusions, light sensor noise. They
are rendered on first use into a folder the caller gives.

    from footage import held_out_clips
    clips = held_out_clips(folder, 320, 240, frames=60)
"""

from __future__ import annotations

from pathlib import Path

from vidstyle.media.synthetic import ClipSpec, write_clip

SHARED = Path(__file__).resolve().parents[2] / "shared"
WALLPAPERS = Path("/usr/share/wallpapers")


def _largest(folder: Path) -> Path | None:
    images = sorted(folder.glob("*.jpg"), key=lambda p: p.stat().st_size)
    return images[-1] if images else None


def held_out_scenes() -> dict[str, tuple[Path, Path]]:
    """name: (background photo, moving photo); none is in
    configs/train/content.txt. Scenes whose photos are not installed are left out."""
    kite, volna = WALLPAPERS / "Kite" / "contents" / "images", WALLPAPERS / "Volna" / "contents" / "images"
    scenes = {
        "volna-kite": (volna, kite),
        "tubingen-flower": (SHARED / "content" / "tubingen.jpg", Path("/usr/share/backgrounds/mate/nature/FreshFlower.jpg")),
        "goldengate-kite": (SHARED / "content" / "golden_gate.jpg", kite),
    }
    found = {}
    for name, photos in scenes.items():
        resolved = [_largest(p) if p.is_dir() else p for p in photos]
        if all(p is not None and p.is_file() for p in resolved):
            found[name] = tuple(resolved)
    if not found:
        raise FileNotFoundError("no held-out photos installed (apt-get install plasma-workspace-wallpapers mate-backgrounds)")
    return found


def held_out_clips(folder: Path, width: int, height: int, frames: int = 60) -> list[Path]:
    Path(folder).mkdir(parents=True, exist_ok=True)
    clips = []
    for name, (background, moving) in held_out_scenes().items():
        path = Path(folder) / f"{name}_{width}x{height}_{frames}_v1.mp4"  # v: bump when the scene recipe changes
        if not path.exists():
            spec = ClipSpec(width=width, height=height, frames=frames, fps=25, photo=str(background), moving_photo=str(moving), noise=1.5)
            write_clip(path, spec)
        clips.append(path)
    return clips
