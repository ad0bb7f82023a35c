"""Render the README gallery: a held-out photo in every bundled style, each
beside its style image, into docs/gallery.jpg.

    python scripts/render_gallery.py [--photo ../shared/content/tubingen.jpg] [--width 360]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from vidstyle import Stylizer
from vidstyle.images import read_image, resize_long_side, write_image
from vidstyle.styles import available_styles, load_style

ROOT = Path(__file__).resolve().parent.parent


def fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale to cover width x height and centre-crop."""
    scale = max(width / image.shape[1], height / image.shape[0])
    resized = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    top = (resized.shape[0] - height) // 2
    left = (resized.shape[1] - width) // 2
    return resized[top : top + height, left : left + width]


def label(tile: np.ndarray, text: str) -> np.ndarray:
    tile = tile.copy()
    cv2.rectangle(tile, (0, 0), (tile.shape[1], 26), (0, 0, 0), -1)
    cv2.putText(tile, text, (8, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


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
        painted = Stylizer(checkpoint)(photo)
        style_path = Path(checkpoint.metadata.get("train_config", {}).get("style_image", ""))
        style_path = style_path if style_path.is_absolute() else ROOT / style_path
        style = fit(read_image(style_path), args.width, height) if style_path.is_file() else np.full((height, args.width, 3), 200, np.uint8)
        rows.append(np.hstack([label(fit(painted, args.width, height), f"--style {entry.name}"), label(style, "style image")]))
    write_image(np.vstack(rows), args.output)
    print(f"wrote {args.output} ({len(rows) - 1} styles)")


if __name__ == "__main__":
    main()
