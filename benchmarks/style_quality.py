"""How stylized each bundled style network is, against Gatys optimisation.

For every bundled style (or --style NAME|FILE ...) and every held-out image
(photos that no training saw, and a frame of a real clip), it stylizes the
image with the network and with `vidstyle image --method optimize`'s
defaults from the same painting, at the same size, and prints:

- the style and content losses of both under one fixed scoring loss (the
  Gatys loss without random views, so that both are scored alike), with the
  network/Gatys style ratio;
- the palette distance to the painting (total-variation distance between
  colour histograms, 0-1) of the input, the network and Gatys: a style whose
  network does not move the palette towards the painting fails the palette
  check;
- the border excess of the network's output (the strongest band along an
  edge that the input lacks, in 0-255 levels: `temporal.metrics.border_excess`);
- the time per image of both.

    python benchmarks/style_quality.py [--style mosaic] [--size 384] [--no-gatys] [--photo FILE ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import torch

from vidstyle import Stylizer, StylizerOptions
from vidstyle.media.images import read_image, resize_long_side, to_tensor
from vidstyle.media.reader import VideoReader
from vidstyle.models.losses import PerceptualLoss, load_loss_network, load_style_image_tensor
from vidstyle.stylize.styles import available_styles, load_style
from vidstyle.temporal.metrics import border_excess, palette_distance
from vidstyle.training.gatys import OptimizeConfig, optimize_image

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
# never in configs/train/content.txt
HELD_OUT = [SHARED / "content" / "golden_gate.jpg", SHARED / "content" / "tubingen.jpg",
            Path("/usr/share/backgrounds/mate/nature/FreshFlower.jpg")]
CLIP_FRAME = (SHARED / "clips" / "bikes.mp4", 200)  # real footage (the clip is in the training content)


def style_image_of(name: str) -> Path:
    path = Path(load_style(name).metadata.get("train_config", {}).get("style_image", ""))
    return path if path.is_absolute() else ROOT / path


def clip_frame(path: Path, index: int):
    with VideoReader(path) as reader:
        for i, frame in enumerate(reader):
            if i == index:
                return frame.rgb
    raise SystemExit(f"{path} has fewer than {index + 1} frames")


def scores(loss: PerceptualLoss, image, content) -> tuple[float, float]:
    with torch.no_grad():
        terms = loss(to_tensor(image)[None], to_tensor(content)[None])
    return terms["style"].item(), terms["content"].item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", action="append", help="style name or checkpoint (default: every bundled style)")
    parser.add_argument("--size", type=int, default=384, help="long side of every image")
    parser.add_argument("--no-gatys", action="store_true", help="only the network and the palette figures")
    parser.add_argument("--model", default="full", help="which of each style's networks: full, balanced or fast")
    parser.add_argument("--photo", action="append", type=Path,
                        help="a held-out image to score on instead of the default ones and the clip frame (repeatable)")
    args = parser.parse_args()
    names = args.style or [e.name for e in available_styles() if e.origin == "bundled"]
    if args.photo:
        images = [(p.name, read_image(p)) for p in args.photo]
    else:
        images = [(p.name, read_image(p)) for p in HELD_OUT if p.is_file()]
        images.append((f"{CLIP_FRAME[0].stem}#{CLIP_FRAME[1]}", clip_frame(*CLIP_FRAME)))
    network = load_loss_network()
    gatys = OptimizeConfig(size=args.size)
    scoring = dataclasses.replace(gatys.loss, view_shift=0.0, view_scale=0.0)
    print(f"{'style':>14} {'image':>14} {'net style':>9} {'gatys':>7} {'ratio':>5} {'net cont':>8} {'gatys':>6} "
          f"{'palette in':>10} {'net':>5} {'gatys':>5} {'border':>6} {'net s':>6} {'gatys s':>7}")
    for name in names:
        painting = read_image(style_image_of(name))
        stylizer = Stylizer.from_style(name, StylizerOptions(model=args.model))
        for label, image in images:
            content = resize_long_side(image, args.size)
            loss = PerceptualLoss(network, load_style_image_tensor(to_tensor(painting), max(content.shape[:2])), scoring)
            stylizer(content)  # warm-up
            started = time.perf_counter()
            fast = stylizer(content)
            net_seconds = time.perf_counter() - started
            net_style, net_content = scores(loss, fast, content)
            row = (f"{Path(name).stem:>14} {label[:14]:>14} {net_style:>9.4f} ")
            if args.no_gatys:
                row += f"{'':>7} {'':>5} {net_content:>8.3f} {'':>6} "
                gatys_palette, gatys_seconds = "", ""
            else:
                started = time.perf_counter()
                slow = optimize_image(content, painting, gatys)
                gatys_seconds = f"{time.perf_counter() - started:.1f}"
                gatys_style, gatys_content = scores(loss, slow, content)
                row += f"{gatys_style:>7.4f} {net_style / gatys_style:>5.2f} {net_content:>8.3f} {gatys_content:>6.3f} "
                gatys_palette = f"{palette_distance(slow, painting):.3f}"
            row += (f"{palette_distance(content, painting):>10.3f} {palette_distance(fast, painting):>5.3f} "
                    f"{gatys_palette:>5} {border_excess(fast, content):>6.1f} {net_seconds:>6.3f} {gatys_seconds:>7}")
            print(row, flush=True)


if __name__ == "__main__":
    main()
