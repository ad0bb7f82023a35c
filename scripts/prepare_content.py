"""Prepare the training content set listed in configs/train/content.txt.

Each photo is downscaled to at most --max-side pixels and written to the
output folder (default .work/content, ignored by git). Frames of video clips
are not extracted here: `vidstyle train --content clip.mp4` samples them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vidstyle.media.images import IMAGE_EXTENSIONS, read_image, resize_long_side, write_image

ROOT = Path(__file__).resolve().parent.parent


def largest_image(folder: Path) -> Path:
    candidates = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS]
    if not candidates:
        raise SystemExit(f"no images in {folder}")
    return max(candidates, key=lambda p: p.stat().st_size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--list", type=Path, default=ROOT / "configs/train/content.txt")
    parser.add_argument("-o", "--output", type=Path, default=ROOT / ".work/content")
    parser.add_argument("--max-side", type=int, default=1024)
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    missing = []
    for line in args.list.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        source = Path(line) if Path(line).is_absolute() else (ROOT / line)
        if not source.exists():
            missing.append(line)
            continue
        if source.is_dir():
            name = source.parent.parent.name  # .../wallpapers/NAME/contents/images
            source = largest_image(source)
        else:
            name = source.stem
        target = args.output / f"{name}.jpg"
        if not target.exists():
            write_image(resize_long_side(read_image(source), args.max_side), target)
    count = len(list(args.output.glob("*.jpg")))
    print(f"{count} content images in {args.output}")
    if missing:
        print("missing (install Debian's wallpaper packages, see README):", *missing, sep="\n  ")


if __name__ == "__main__":
    main()
