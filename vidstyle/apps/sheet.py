"""A style sheet: one picture in every available style, each tile labelled
with the name to pass to ``--style``, so that choosing is a matter of looking."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from ..errors import OptionError
from ..stylize.styles import available_styles
from ..stylize.options import StylizerOptions
from ..stylize.stylizer import Stylizer

LABEL_HEIGHT = 26


def fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale to cover ``width`` x ``height`` and centre-crop."""
    scale = max(width / image.shape[1], height / image.shape[0])
    size = (max(width, round(image.shape[1] * scale)), max(height, round(image.shape[0] * scale)))
    resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    top = (resized.shape[0] - height) // 2
    left = (resized.shape[1] - width) // 2
    return resized[top : top + height, left : left + width]


def label(tile: np.ndarray, text: str) -> np.ndarray:
    """The tile with ``text`` in white on a black band along its top."""
    tile = tile.copy()
    cv2.rectangle(tile, (0, 0), (tile.shape[1], LABEL_HEIGHT), (0, 0, 0), -1)
    cv2.putText(tile, text, (8, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


@dataclass
class Sheet:
    image: np.ndarray  # the whole sheet, RGB uint8
    labels: list[str]  # tile labels, row by row: "input" then one per style
    tile_size: tuple[int, int]  # (width, height) of each tile
    columns: int
    device: str = "cpu"
    engine: str = ""  # the engine and precision that painted it


def render_sheet(
    photo: np.ndarray,
    styles: list[str] | None = None,
    tile: int = 320,
    columns: int | None = None,
    options: StylizerOptions = StylizerOptions(),
    style_images: Sequence[str] = (),
) -> Sheet:
    """``photo`` (RGB uint8) in each of ``styles`` (default: every available
    style, unless only ``style_images`` are given) and then each of
    ``style_images``, ``tile`` pixels on its long side, in a grid that
    starts with the unstyled photo."""
    if tile < 64:
        raise OptionError(f"--tile must be at least 64, got {tile}")
    if styles is None:
        styles = [] if style_images else [entry.name for entry in available_styles()]
    names = [*styles, *style_images]
    flags = [f"--style {name}" for name in styles] + [f"--style-image {Path(name).name}" for name in style_images]
    if not names:
        raise OptionError("no styles are installed, so there is nothing to show")
    height, width = photo.shape[:2]
    scale = tile / max(height, width)
    tile_w, tile_h = max(1, round(width * scale)), max(1, round(height * scale))
    small = fit(photo, tile_w, tile_h)
    tiles = [label(small, "input")]
    for name, flag in zip(names, flags):
        stylizer = Stylizer.from_style(name, options)
        tiles.append(label(stylizer(small), flag))
    columns = columns or min(len(tiles), math.ceil(math.sqrt(len(tiles))))
    blank = np.full_like(small, 255)
    tiles += [blank] * (-len(tiles) % columns)
    rows = [np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)]
    return Sheet(np.vstack(rows), ["input"] + flags, (tile_w, tile_h), columns, stylizer.device, stylizer.engine.label())
