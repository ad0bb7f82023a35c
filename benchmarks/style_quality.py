"""How close each bundled style network comes to Gatys optimisation.

For every bundled style (or --style NAME ...) and every held-out photo, it
stylizes the photo with the network and with Gatys et al. optimisation from
the same style image at the same size, then prints the style and content
losses of both (the same loss as the network was trained with) and the time
per image, with network/Gatys ratios. Goal: style loss within 2x of Gatys
at 100x less time per image.

    python benchmarks/style_quality.py [--style mosaic] [--size 256] [--steps 150]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import torch

from vidstyle import Stylizer
from vidstyle.media.images import read_image, resize_long_side, to_tensor
from vidstyle.models.losses import LossConfig, PerceptualLoss, load_loss_network, load_style_image_tensor
from vidstyle.stylize.styles import available_styles, load_style
from vidstyle.training.gatys import OptimizeConfig, optimize_image

ROOT = Path(__file__).resolve().parent.parent
HELD_OUT = ["golden_gate.jpg", "tubingen.jpg"]  # never used in training (configs/train/content.txt)


def style_image_of(name: str) -> Path:
    config = load_style(name).metadata.get("train_config", {})
    path = Path(config.get("style_image", ""))
    return path if path.is_absolute() else ROOT / path


def scores(loss: PerceptualLoss, image, content) -> tuple[float, float]:
    with torch.no_grad():
        x, c = to_tensor(image)[None], to_tensor(content)[None]
        terms = loss(x, c)
    return terms["style"].item(), terms["content"].item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", action="append", help="style name (default: every bundled style)")
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "content")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=150)
    args = parser.parse_args()
    names = args.style or [e.name for e in available_styles() if e.origin == "bundled"]
    network = load_loss_network()
    print(f"{'style':>14} {'photo':>12} {'net style':>9} {'gatys style':>11} {'ratio':>6} {'net content':>11} "
          f"{'gatys content':>13} {'net s':>7} {'gatys s':>8} {'speedup':>8}")
    for name in names:
        checkpoint = load_style(name)
        config = checkpoint.metadata.get("train_config", {})
        loss_config = LossConfig.from_dict(config.get("loss", {}))
        style_path = style_image_of(name)
        style = read_image(style_path)
        style_size = config.get("style_size") or args.size
        loss = PerceptualLoss(network, load_style_image_tensor(to_tensor(style), style_size), loss_config)
        stylizer = Stylizer(checkpoint)
        gatys = dataclasses.replace(OptimizeConfig(steps=args.steps, size=args.size, style_size=style_size), loss=loss_config)
        for photo in HELD_OUT:
            content = resize_long_side(read_image(args.photos / photo), args.size)
            stylizer(content)  # warm-up
            started = time.perf_counter()
            fast = stylizer(content)
            net_seconds = time.perf_counter() - started
            started = time.perf_counter()
            slow = optimize_image(content, style, gatys)
            gatys_seconds = time.perf_counter() - started
            net_style, net_content = scores(loss, fast, content)
            gatys_style, gatys_content = scores(loss, slow, content)
            print(f"{name:>14} {photo[:12]:>12} {net_style:>9.4f} {gatys_style:>11.4f} {net_style / gatys_style:>6.2f} "
                  f"{net_content:>11.4f} {gatys_content:>13.4f} {net_seconds:>7.3f} {gatys_seconds:>8.1f} "
                  f"{gatys_seconds / net_seconds:>7.0f}x", flush=True)


if __name__ == "__main__":
    main()
