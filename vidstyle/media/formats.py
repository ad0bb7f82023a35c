"""What a pixel format holds: bits per colour component, an alpha channel,
chroma subsampling. The reader uses it to decide how frames are decoded
(8-bit or 16-bit RGB, with or without alpha) and the writer to pick an
output format that keeps as much of the input as the codec can store.

Alpha planes of planar formats are read and written here directly:
swscale's RGBA <-> YUVA conversion moves alpha by a level here and there,
and a matte must come out as it went in.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import av
import numpy as np


@dataclass(frozen=True)
class PixelFormat:
    name: str
    depth: int  # bits of the widest colour component (32 for float formats)
    alpha: bool
    rgb: bool  # RGB (packed or planar) rather than YUV or gray
    gray: bool  # one colour component
    subsampling: tuple[int, int]  # chroma width and height divisors: (2, 2) for 4:2:0, (1, 1) for none
    planar: bool
    big_endian: bool
    usable: bool  # an ordinary format frames can be converted to (no palette, no bit stream)


@lru_cache(maxsize=None)
def pixel_format(name: str) -> PixelFormat:
    """The facts of a pixel format by its FFmpeg name (``yuv420p10le``)."""
    fmt = av.VideoFormat(name)
    colour = [c.bits for c in fmt.components if not c.is_alpha]
    return PixelFormat(
        name=name,
        depth=max(colour, default=8),
        alpha=any(c.is_alpha for c in fmt.components),
        rgb=bool(fmt.is_rgb),
        gray=len(colour) == 1,
        subsampling=(16 // max(1, fmt.chroma_width(16)), 16 // max(1, fmt.chroma_height(16))),
        planar=bool(fmt.is_planar),
        big_endian=bool(fmt.is_big_endian),
        usable=not (fmt.has_palette or fmt.is_bit_stream or fmt.is_bayer),
    )


def with_alpha(name: str) -> str:
    """The same layout with an alpha plane, where FFmpeg has one
    (``yuv420p`` -> ``yuva420p``); the name itself otherwise."""
    for plain, alpha in (("yuv", "yuva"), ("gbrp", "gbrap")):
        if name.startswith(plain) and not name.startswith(alpha):
            candidate = alpha + name[len(plain) :]
            try:
                av.VideoFormat(candidate)
            except ValueError:
                return name
            return candidate
    return name


def closest_format(base: str, available: list[str], depth: int, alpha: bool) -> str:
    """Of ``available``, the format most like ``base`` (the codec's 8-bit
    choice) that holds ``depth`` bits and, if asked, alpha: the same colour
    model, chroma no coarser than ``base``, the fewest bits that reach
    ``depth`` (or the most there are), the same subsampling where possible.
    Falls back to formats without alpha when none has it."""
    want = pixel_format(base)
    candidates = [
        fmt for fmt in map(pixel_format, available)
        if fmt.usable and (fmt.rgb, fmt.gray) == (want.rgb, want.gray) and not fmt.name.startswith("yuvj")
        and all(c <= b for c, b in zip(fmt.subsampling, want.subsampling))
    ]
    if alpha and any(c.alpha for c in candidates):
        candidates = [c for c in candidates if c.alpha]
    else:
        candidates = [c for c in candidates if not c.alpha]
    if not candidates:
        return base

    def rank(fmt: PixelFormat) -> tuple:
        enough = fmt.depth >= depth
        closeness = (fmt.subsampling != want.subsampling, fmt.planar != want.planar, fmt.name != base)
        return (not enough, fmt.depth if enough else -fmt.depth, *closeness)

    return min(candidates, key=rank).name


def planar_alpha(fmt: PixelFormat) -> bool:
    """An integer format whose alpha is a plane of its own (yuva*, gbrap*)."""
    return fmt.alpha and fmt.planar and fmt.depth <= 16


def rescale_levels(values: np.ndarray, from_bits: int, to_bits: int) -> np.ndarray:
    """Integer levels from one bit depth to another (0 and full scale stay
    put), as uint8 for 8 bits or less and uint16 above."""
    dtype = np.uint8 if to_bits <= 8 else np.uint16
    if from_bits == to_bits:
        return values.astype(dtype)
    if (from_bits, to_bits) == (8, 16):
        return values.astype(np.uint16) * 257
    scale = ((1 << to_bits) - 1) / ((1 << from_bits) - 1)
    return np.round(values.astype(np.float32) * scale).astype(dtype)


def _alpha_plane(frame: av.VideoFrame, fmt: PixelFormat) -> np.ndarray:
    """The alpha plane of ``frame`` as an (H, W) array over its memory."""
    plane = frame.planes[len(frame.planes) - 1]
    dtype = np.dtype(np.uint8) if fmt.depth <= 8 else np.dtype(">u2" if fmt.big_endian else "<u2")
    values = np.frombuffer(plane, dtype, count=plane.line_size // dtype.itemsize * plane.height)
    return values.reshape(plane.height, -1)[:, : plane.width]


def read_alpha(frame: av.VideoFrame, bits: int) -> np.ndarray:
    """The alpha of a planar-alpha frame at ``bits`` (8 or 16) per level."""
    fmt = pixel_format(frame.format.name)
    return rescale_levels(_alpha_plane(frame, fmt), fmt.depth, bits)


def write_alpha(frame: av.VideoFrame, alpha: np.ndarray) -> None:
    """Put ``alpha`` (uint8 or uint16, (H, W)) into a planar-alpha frame."""
    fmt = pixel_format(frame.format.name)
    _alpha_plane(frame, fmt)[:] = rescale_levels(alpha, 8 * alpha.dtype.itemsize, fmt.depth)
