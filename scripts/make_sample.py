"""Render samples/landscape.mp4, the clip the README's first command stylizes.

A procedural landscape panning left with moving boxes and a tone on the
audio track (see vidstyle.media.synthetic), 480x270, 24 fps, 3 seconds: made by
the project itself, so it can be shipped and regenerated anywhere.
"""

from pathlib import Path

from vidstyle.media.synthetic import ClipSpec, write_clip

ROOT = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    path = write_clip(ROOT / "samples" / "landscape.mp4", ClipSpec(width=480, height=270, frames=72, fps=24, audio=True))
    print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
