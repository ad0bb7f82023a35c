"""Render the choices behind the Gatys defaults into docs/gatys-choices.jpg:
for each painting, one held-out photo optimised with each ingredient added in
turn (random views, the half-size pass, the palette-matched start), beside
the painting.

    python scripts/compare_gatys.py [--photo ../shared/content/tubingen.jpg] [--style mosaic --style wave] [--size 384]

Each tile's label gives its seconds; the last column is today's default.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

from vidstyle.apps.sheet import fit, label
from vidstyle.media.images import read_image, resize_long_side, write_image
from vidstyle.training.gatys import OptimizeConfig, optimize_image

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def variants(size: int) -> list[tuple[str, OptimizeConfig]]:
    """From the old recipe (one scale, no views, the photo as the start) to the default."""
    default = OptimizeConfig(size=size)
    still = dataclasses.replace(default.loss, view_shift=0.0, view_scale=0.0)
    plain = dataclasses.replace(default, loss=still, coarse_steps=0, match_palette=False)
    views = dataclasses.replace(plain, loss=default.loss)
    coarse = dataclasses.replace(views, coarse_steps=default.coarse_steps)
    return [("no views", plain), ("+ random views", views), ("+ half-size pass", coarse), ("+ palette (default)", default)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photo", type=Path, default=SHARED / "content" / "tubingen.jpg")
    parser.add_argument("--style", action="append", help="a painting in ../shared/styles, by stem (default: mosaic, wave)")
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "gatys-choices.jpg")
    args = parser.parse_args()
    photo = resize_long_side(read_image(args.photo), args.size)
    height, width = photo.shape[:2]
    rows = []
    for name in args.style or ["mosaic", "wave"]:
        painting = read_image(SHARED / "styles" / f"{name}.jpg")
        tiles = [label(fit(painting, width, height), name)]
        for title, config in variants(args.size):
            started = time.perf_counter()
            result = optimize_image(photo, painting, config)
            seconds = time.perf_counter() - started
            tiles.append(label(fit(result, width, height), f"{title} ({seconds:.0f} s)"))
            print(f"{name}: {title}: {seconds:.1f} s", flush=True)
        rows.append(np.hstack(tiles))
    write_image(np.vstack(rows), args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
