"""Render each network of every style that has a fast one (full, balanced
where it exists, fast), side by side on a held-out photo, so the quality cost
of `--model balanced` (the default) and `--model fast` is visible:
docs/fast-vs-full.jpg.

    python scripts/compare_fast.py [--photo ../shared/content/golden_gate.jpg] [--width 360]

--before DIR adds, after the balanced and the fast network, the one in
DIR/balanced/NAME.pth and DIR/fast/NAME.pth (an earlier release's students),
so that a refit is seen beside what it replaces: docs/distilled-colour.jpg is
--before with the students of commit 6c8a4c9 (before the colour term) on
/usr/share/wallpapers/Autumn/contents/images/2560x1440.jpg at --width 400.

--zoom N shows the middle of each render enlarged N times (nearest
neighbour), so the crispness of the strokes can be compared:
docs/distilled-detail.jpg is --before with the students of commit f69f30a
(before the detail term) on /usr/share/backgrounds/Fossa_by_Jasper_Roks.jpg
at --width 480 --zoom 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from vidstyle import Stylizer, StylizerOptions
from vidstyle.apps.sheet import label
from vidstyle.media.images import read_image, resize_long_side, write_image
from vidstyle.stylize.styles import available_styles

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photo", type=Path, default=ROOT.parent / "shared" / "content" / "golden_gate.jpg")
    parser.add_argument("--width", type=int, default=360)
    parser.add_argument("--before", type=Path, help="a folder with balanced/NAME.pth and fast/NAME.pth to show beside the shipped ones")
    parser.add_argument("--zoom", type=int, default=1, help="show the middle of each render enlarged this many times")
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "fast-vs-full.jpg")
    args = parser.parse_args()
    photo = resize_long_side(read_image(args.photo), args.width)
    names = [entry.name for entry in available_styles("fast")]
    if not names:
        raise SystemExit("no fast models installed")
    balanced = {entry.name for entry in available_styles("balanced")}
    rows = []
    for name in names:
        tiles = [label(middle(photo, args.zoom), "input")]
        models = ["full"] + (["balanced"] if name in balanced else []) + ["fast"]
        outputs, titles = {}, {}
        for model in models:
            outputs[model] = Stylizer.from_style(name, StylizerOptions(model=model))(photo)
            titles[model] = f"--style {name} --model {model}"
            if args.before and model != "full":
                outputs[f"{model} before"] = Stylizer.from_style(str(args.before / model / f"{name}.pth"), StylizerOptions(model="full"))(photo)
                titles[f"{model} before"] = f"{name} {model}, before"
        for key, stylized in outputs.items():
            tiles.append(label(middle(stylized, args.zoom), titles[key]))
        gaps = [f"{key} {np.abs(outputs[key].astype(int) - outputs['full']).mean() / 255:.3f}" for key in outputs if key != "full"]
        print(f"{name}: mean absolute difference from the full network (0-1): {', '.join(gaps)}")
        if "balanced" not in outputs:  # keep the columns in place: a blank where a style has none
            tiles.insert(2, np.zeros_like(tiles[0]))
        rows.append(np.hstack(tiles))
    write_image(np.vstack(rows), args.output)
    print(f"wrote {args.output} ({len(names)} styles)")


def middle(image: np.ndarray, zoom: int) -> np.ndarray:
    """The middle 1/zoom of ``image`` enlarged ``zoom`` times, pixels kept square."""
    height, width = image.shape[:2]
    top, left = (height - height // zoom) // 2, (width - width // zoom) // 2
    return image[top:top + height // zoom, left:left + width // zoom].repeat(zoom, 0).repeat(zoom, 1)


if __name__ == "__main__":
    main()
