"""Write tests/data/painting-palettes.npz: each bundled style's painting as
the colour histogram ``palette_distance`` compares (8 levels a channel), so
that the tests can check a style's palette against its painting without
the painting itself, which the project does not ship.

    python scripts/painting_palettes.py   # needs the paintings named in the styles' training configs
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from vidstyle.media.images import read_image
from vidstyle.stylize.styles import available_styles, load_style
from vidstyle.temporal.metrics import colour_histogram

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "painting-palettes.npz"


def main() -> None:
    palettes = {}
    for entry in available_styles():
        if entry.origin != "bundled":
            continue
        painting = ROOT / load_style(entry.name).metadata["train_config"]["style_image"]
        palettes[entry.name] = colour_histogram(read_image(painting)).astype(np.float32)
    np.savez_compressed(OUT, **palettes)
    print(f"wrote {OUT} ({', '.join(palettes)})")


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()  # --help
    main()
