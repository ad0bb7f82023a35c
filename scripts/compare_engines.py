"""The look of OpenVINO's bfloat16 against full precision, so the default
engine's choice can be judged by eye: for each network kind of a style, a
crop of a held-out photo in f32 (ONNX Runtime), in bf16 (OpenVINO, where the
CPU has it) and their difference magnified ten times: docs/engines-bf16.jpg.
Prints the mean and 99th-percentile difference in levels.

    python scripts/compare_engines.py [--photo ../shared/content/golden_gate.jpg] [--style udnie] [--crop 240]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from vidstyle import Stylizer, StylizerOptions
from vidstyle.apps.sheet import label
from vidstyle.media.images import read_image, resize_long_side, write_image
from vidstyle.stylize.engines import native_bf16
from vidstyle.stylize.styles import MODELS

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photo", type=Path, default=ROOT.parent / "shared" / "content" / "golden_gate.jpg")
    parser.add_argument("--style", default="udnie")
    parser.add_argument("--width", type=int, default=960)
    parser.add_argument("--crop", type=int, default=240)
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "engines-bf16.jpg")
    args = parser.parse_args()
    if not native_bf16():
        raise SystemExit("this CPU has no native bfloat16: OpenVINO runs f32 here, the same picture")
    photo = resize_long_side(read_image(args.photo), args.width)
    top, left = (photo.shape[0] - args.crop) // 2, (photo.shape[1] - args.crop) // 2
    rows = []
    for model in MODELS:
        full = Stylizer.from_style(args.style, StylizerOptions(model=model, engine="onnxruntime"))(photo)
        half = Stylizer.from_style(args.style, StylizerOptions(model=model, engine="openvino", precision="bf16"))(photo)
        difference = np.abs(full.astype(int) - half)
        print(f"{args.style} {model}: mean {difference.mean():.2f} levels, 99th percentile {np.percentile(difference, 99):.0f}")
        crop = (slice(top, top + args.crop), slice(left, left + args.crop))
        magnified = np.clip(difference[crop] * 10, 0, 255).astype(np.uint8)
        rows.append(np.hstack([label(full[crop], f"{model} f32"), label(half[crop], f"{model} bf16"), label(magnified, "|diff| x10")]))
    write_image(np.vstack(rows), args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
