"""Render the candidates for --strength and style mixing side by side, so the
choice in vidstyle/controls.py can be checked by eye.

    python scripts/compare_controls.py [--photo ../shared/content/tubingen.jpg]
        [--styles mosaic candy] [--width 300]

Writes docs/strength.jpg (rows: RGB crossfade, Lab crossfade, logit blend
(what vidstyle uses), instance-norm affine parameters interpolated towards
identity; columns: strength 0.25, 0.5, 0.75, 1) and docs/mixing.jpg (rows:
RGB average of the outputs, logit-space average (what vidstyle uses),
interpolated weights (one network pass); columns: mix weights).
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import cv2
import numpy as np
import torch

from vidstyle import Stylizer, StylizerOptions
from vidstyle.apps.sheet import label
from vidstyle.media.images import read_image, resize_long_side, to_tensor, write_image
from vidstyle.stylize.controls import apply_controls, blend_styles
from vidstyle.stylize.styles import load_style

ROOT = Path(__file__).resolve().parent.parent


def crossfade_rgb(content: np.ndarray, styled: np.ndarray, s: float) -> np.ndarray:
    return np.clip((1 - s) * content + s * styled.astype(np.float32), 0, 255).round().astype(np.uint8)


def crossfade_lab(content: np.ndarray, styled: np.ndarray, s: float) -> np.ndarray:
    lab = [cv2.cvtColor(im.astype(np.float32) / 255, cv2.COLOR_RGB2LAB) for im in (content, styled)]
    mixed = (1 - s) * lab[0] + s * lab[1]
    return np.clip(cv2.cvtColor(mixed, cv2.COLOR_LAB2RGB) * 255, 0, 255).round().astype(np.uint8)


def run_model(model: torch.nn.Module, content: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        y = model(to_tensor(content)[None])[0]
    return y.clamp(0, 255).round().to(torch.uint8).permute(1, 2, 0).numpy()


def instance_norm_towards_identity(checkpoint, s: float) -> torch.nn.Module:
    model = checkpoint.build_model().eval()
    for module in model.modules():
        if isinstance(module, torch.nn.InstanceNorm2d) and module.affine:
            module.weight.data = s * module.weight.data + (1 - s)
            module.bias.data = s * module.bias.data
    return model


def interpolated_weights(first, second, w: float) -> torch.nn.Module:
    model = copy.deepcopy(first.build_model().eval())
    other = second.build_model().state_dict()
    model.load_state_dict({k: w * v + (1 - w) * other[k] for k, v in model.state_dict().items()})
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photo", type=Path, default=ROOT.parent / "shared" / "content" / "tubingen.jpg")
    parser.add_argument("--styles", nargs=2, default=["mosaic", "candy"], help="Two styles (names or checkpoints).")
    parser.add_argument("--width", type=int, default=300)
    args = parser.parse_args()
    photo = resize_long_side(read_image(args.photo), args.width)
    first, second = (load_style(name) for name in args.styles)
    # the full networks at the photo's own size, as the rows that run them directly
    options = StylizerOptions(model="full", native_size=True)
    full = Stylizer.from_style(args.styles[0], options)(photo)

    strengths = [0.25, 0.5, 0.75, 1.0]
    rows = {
        "RGB crossfade": [crossfade_rgb(photo, full, s) for s in strengths],
        "Lab crossfade": [crossfade_lab(photo, full, s) for s in strengths],
        "logit blend (used)": [apply_controls(photo, full, s) for s in strengths],
        "IN affine -> identity": [run_model(instance_norm_towards_identity(first, s), photo) for s in strengths],
    }
    grid = [np.hstack([label(t, f"{name}, s={s:g}") for t, s in zip(tiles, strengths)]) for name, tiles in rows.items()]
    write_image(np.vstack(grid), ROOT / "docs" / "strength.jpg")

    weights = [0.75, 0.5, 0.25]
    other = Stylizer.from_style(args.styles[1], options)(photo)
    x = to_tensor(photo)[None]
    styled = [to_tensor(full)[None], to_tensor(other)[None]]

    def logit_mix(w: float) -> np.ndarray:
        y = blend_styles(x, styled, [w, 1 - w])[0]
        return y.clamp(0, 255).round().to(torch.uint8).permute(1, 2, 0).numpy()

    rows = {
        "RGB average": [crossfade_rgb(other, full, w) for w in weights],
        "logit average (used)": [logit_mix(w) for w in weights],
        "weights interpolated": [run_model(interpolated_weights(first, second, w), photo) for w in weights],
    }
    names = [f"{first.name}:{w:g}" for w in weights]
    grid = [np.hstack([label(t, f"{row}, {n}") for t, n in zip(tiles, names)]) for row, tiles in rows.items()]
    write_image(np.vstack(grid), ROOT / "docs" / "mixing.jpg")
    print("wrote docs/strength.jpg and docs/mixing.jpg")


if __name__ == "__main__":
    main()
