"""Rewrite the measured figures in the balanced and fast networks' model
cards after a refit: the mean absolute difference from the full network on
three held-out photos, and the colourfulness and stroke contrast on the
held-out pictures of benchmarks/colourfulness.py (its `look_figures`),
beside the full network's.
The rest of each card's assessment is written by hand and left as it is.

    python scripts/update_student_cards.py candy [wave ...]

The photos: golden_gate.jpg and tubingen.jpg from ../shared/content, and
FreshFlower.jpg from Debian's mate-backgrounds.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from colourfulness import PICTURES, SIZE, look_figures  # noqa: E402

from vidstyle import Stylizer, StylizerOptions  # noqa: E402
from vidstyle.media.images import read_image, scale_long_side  # noqa: E402

DIFFERENCE_PHOTOS = [
    ROOT.parent / "shared/content/golden_gate.jpg",
    ROOT.parent / "shared/content/tubingen.jpg",
    Path("/usr/share/backgrounds/mate/nature/FreshFlower.jpg"),
]
STUDENTS = ("balanced", "fast")


def network(style: str, model: str) -> Stylizer:
    return Stylizer.from_style(style, StylizerOptions(model=model, native_size=True))


def measure(style: str) -> tuple[dict[str, dict], float, float]:
    """Each student's figures, and the full network's colourfulness and
    stroke contrast."""
    photos = [scale_long_side(read_image(p), 512) for p in DIFFERENCE_PHOTOS]
    pictures = [scale_long_side(read_image(p), SIZE) for p in PICTURES]
    full = network(style, "full")
    full_photos = [full(p) for p in photos]
    figures = {}
    for model in STUDENTS:
        student = network(style, model)
        differences = [np.abs(student(p).astype(float) - f).mean() / 255 for p, f in zip(photos, full_photos)]
        colour, contrast = look_figures([student(p) for p in pictures])
        figures[model] = {"difference": " / ".join(f"{d:.3f}" for d in differences), "colour": colour, "contrast": contrast}
    return figures, *look_figures([full(p) for p in pictures])


def rewrite(card: Path, own: dict, other_model: str, other: dict, full_colour: float, full_contrast: float) -> None:
    text = card.read_text()
    replacements = [
        (r"at 512 px: [0-9.]+ / [0-9.]+ / [0-9.]+\n  \(the (fast|balanced) network: [0-9.]+ / [0-9.]+ / [0-9.]+;",
         f"at 512 px: {own['difference']}\n  (the {other_model} network: {other['difference']};"),
        (r"640 px:\n  [0-9.]+, the full network's [0-9.]+;", f"640 px:\n  {own['colour']:.1f}, the full network's {full_colour:.1f};"),
        (r"pictures: [0-9.]+, the full network's [0-9.]+\.", f"pictures: {own['contrast']:.2f}, the full network's {full_contrast:.2f}."),
    ]
    for pattern, replacement in replacements:
        text, count = re.subn(pattern, replacement, text)
        if count != 1:
            raise SystemExit(f"{card}: expected one match of {pattern!r}, found {count}")
    card.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("styles", nargs="+")
    args = parser.parse_args()
    missing = [p for p in DIFFERENCE_PHOTOS + list(PICTURES) if not p.is_file()]
    if missing:
        sys.exit(f"missing held-out pictures: {', '.join(map(str, missing))} (see benchmarks/colourfulness.py)")
    for style in args.styles:
        figures, full_colour, full_contrast = measure(style)
        for model, other_model in zip(STUDENTS, reversed(STUDENTS)):
            rewrite(ROOT / "vidstyle/styles" / model / f"{style}.md", figures[model], other_model, figures[other_model], full_colour, full_contrast)
            print(f"{style} {model}: difference {figures[model]['difference']}, colourfulness {figures[model]['colour']:.1f}, "
                  f"stroke contrast {figures[model]['contrast']:.2f} (full {full_colour:.1f}, {full_contrast:.2f})")


if __name__ == "__main__":
    main()
