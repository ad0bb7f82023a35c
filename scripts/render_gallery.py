"""Render the README gallery: a held-out photo in every bundled style, each
beside its style image, into docs/gallery.jpg.

    python scripts/render_gallery.py [--photo ../shared/content/tubingen.jpg] [--width 360]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from vidstyle import Stylizer
from vidstyle.apps.sheet import fit, label
from vidstyle.media.images import read_image, resize_long_side, write_image
from vidstyle.stylize.styles import available_styles, load_style

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photo", type=Path, default=ROOT.parent / "shared" / "content" / "tubingen.jpg")
    parser.add_argument("--width", type=int, default=360)
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "gallery.jpg")
    args = parser.parse_args()
    photo = resize_long_side(read_image(args.photo), 2 * args.width)
    height = round(args.width * photo.shape[0] / photo.shape[1])
    rows = [np.hstack([label(fit(photo, args.width, height), "input"), np.full((height, args.width, 3), 255, np.uint8)])]
    for entry in available_styles():
        if entry.origin != "bundled":
            continue
        checkpoint = load_style(entry.name)
        painted = Stylizer.from_style(entry.name)(photo)
        style_path = Path(checkpoint.metadata.get("train_config", {}).get("style_image", ""))
        style_path = style_path if style_path.is_absolute() else ROOT / style_path
        style = fit(read_image(style_path), args.width, height) if style_path.is_file() else np.full((height, args.width, 3), 200, np.uint8)
        rows.append(np.hstack([label(fit(painted, args.width, height), f"--style {entry.name}"), label(style, "style image")]))
    write_image(np.vstack(rows), args.output)
    print(f"wrote {args.output} ({len(rows) - 1} styles)")


if __name__ == "__main__":
    main()
