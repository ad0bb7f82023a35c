"""Any picture as a style: reading an untrusted style image, its statistics
(computed once, cached by the image's content digest) and painting a frame
with them.

A ``--style`` value whose file name ends in an image extension is a style
image; it can be mixed with named styles like any other style
(``mosaic:0.5,painting.jpg:0.5``). The encoder and decoder passes are
graphs on the CPU engines (or PyTorch modules on CUDA) that the caller
hands in; everything between them is NumPy (models/feature_transforms.py).
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..config import vidstyle_home
from ..errors import StyleError, first_line
from ..media.images import PictureHeader, picture_header
from ..models.feature_transforms import COVARIANCE_RIDGE, PAD_MULTIPLE, PALETTE_QUANTILES, PIXEL_LEVEL, Pass, StyleStatistics, style_statistics
from .graphs import write_atomically
from .options import AnyImageOptions

log = logging.getLogger(__name__)

# Bumped whenever the statistics would come out differently for the same
# image (the encoder, the taps' meaning, the resizing), so that stale
# cache entries are never read.
STATISTICS_VERSION = 5
MIN_STYLE_SIDE = 16  # a style image smaller than this has no texture to take
MAX_ASPECT = 8  # a picture more elongated than this has too few positions across for the deep level

def decode_style_image(data: bytes | np.ndarray, name: str, max_side: int | None = None) -> np.ndarray:
    """An untrusted picture's bytes as HxWx3 RGB uint8, at most ``max_side``
    on its long side. Its header is read first: a picture claiming more
    pixels than media/images.py's PIXEL_LIMIT, tiny or far too narrow is a
    one-line error naming ``name`` before anything is decoded. A JPEG is decoded at the
    smallest of 1/2, 1/4 and 1/8 of its size that still covers ``max_side``
    (Pillow's draft mode: libjpeg scales as it decodes); other formats are
    decoded whole (within the pixel limit), then shrunk before anything is
    converted. Grey, 16-bit, float and CMYK files are converted, a
    transparent one is laid over white (what the painting would be on
    paper), and anything unreadable is a one-line error naming ``name``."""
    data = np.frombuffer(data, dtype=np.uint8) if isinstance(data, bytes) else data
    if not data.size:
        raise StyleError(f"not a readable image: {name}")
    header = picture_header(data, name, what="style image", error=StyleError)
    width, height = header.width, header.height
    try:
        if min(height, width) < MIN_STYLE_SIDE:
            raise StyleError(f"style image is too small ({width}x{height}): it needs at least {MIN_STYLE_SIDE} px on each side")
        if max(height, width) > MAX_ASPECT * min(height, width):
            raise StyleError(f"style image is too narrow ({width}x{height}): its sides may differ by at most {MAX_ASPECT}x")
        raw = _drafted(header, name, max_side)
    finally:
        if header.picture is not None:
            header.picture.close()
    if raw is None:
        try:
            raw = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        except cv2.error as exc:  # over OpenCV's pixel limit, and the like
            raise StyleError(f"style image cannot be decoded: {name} ({str(exc).strip().splitlines()[-1][:80]})") from None
    if raw is None or raw.ndim not in (2, 3) or (raw.ndim == 3 and raw.shape[2] not in (1, 2, 3, 4)):
        raise StyleError(f"not a readable image: {name}")
    height, width = raw.shape[:2]
    if max_side and max(height, width) > max_side:
        scale = max_side / max(height, width)
        raw = cv2.resize(raw, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
        height, width = raw.shape[:2]
    # 8- or 16-bit integers, or floats in [0, 1]; grey (+alpha), BGR (CMYK
    # files arrive converted) or BGRA
    scale = 255.0 / (np.iinfo(raw.dtype).max if np.issubdtype(raw.dtype, np.integer) else 1.0)
    pixels = raw.reshape(height, width, -1).astype(np.float32) * scale
    colour = pixels[:, :, :1].repeat(3, axis=2) if pixels.shape[2] <= 2 else pixels[:, :, 2::-1]
    if pixels.shape[2] in (2, 4):  # transparency: laid over white
        alpha = pixels[:, :, -1:] / 255.0
        colour = colour * alpha + 255.0 * (1.0 - alpha)
    return np.ascontiguousarray(np.nan_to_num(colour).round().clip(0, 255).astype(np.uint8))


def _drafted(header: PictureHeader, name: str, max_side: int | None) -> np.ndarray | None:
    """A JPEG larger than ``max_side`` decoded at 1/2, 1/4 or 1/8 scale, the
    smallest that still covers it (so under twice ``max_side`` a side, or
    1/8 of a larger file's), in the BGR order OpenCV gives. None for every
    other picture, and for a JPEG that no scale reduces."""
    picture = header.picture
    if not max_side or picture is None or picture.format not in ("JPEG", "MPO") or max(header.width, header.height) <= max_side:
        return None
    scale = max_side / max(header.width, header.height)
    picture.draft("RGB", (max(1, round(header.width * scale)), max(1, round(header.height * scale))))
    if picture.size == (header.width, header.height):
        return None
    try:
        picture.load()
        rgb = np.asarray(picture if picture.mode == "RGB" else picture.convert("RGB"))
    except Exception as exc:  # a truncated or damaged stream
        raise StyleError(f"not a readable image: {name} ({first_line(exc)[:80]})") from None
    return rgb[:, :, ::-1]


def read_style_image(path: str | Path, max_side: int | None = None) -> np.ndarray:
    """:func:`decode_style_image` of a file; a missing file is a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise StyleError(f"no such style image: {path}")
    return decode_style_image(np.fromfile(path, dtype=np.uint8), str(path), max_side)


@dataclass
class StyleImage:
    """A style image ready to paint with: the statistics the frame network
    needs, computed once for the whole run."""

    name: str
    source: Path
    digest: str
    statistics: StyleStatistics


def statistics_cache_dir() -> Path:
    return vidstyle_home() / "style-images"


def statistics_key(digest: str, options: AnyImageOptions) -> str:
    """What the statistics of a picture depend on besides its bytes: the
    size they are taken at, the levels, and the constants of the method."""
    recipe = f"{options.style_size}|{options.levels}|{COVARIANCE_RIDGE}|{PALETTE_QUANTILES}|v{STATISTICS_VERSION}"
    return f"{digest[:32]}-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"


def _prepared(rgb: np.ndarray, size: int) -> np.ndarray:
    """The picture with its long side at ``size``, up or down, so that its
    strokes are measured at one scale whatever the file's resolution, and
    both sides a multiple of PAD_MULTIPLE (the exported encoder maps only
    those sizes exactly); (1, 3, H, W) float32."""
    height, width = rgb.shape[:2]
    scale = size / max(height, width)
    target_h, target_w = (max(PAD_MULTIPLE, PAD_MULTIPLE * round(side * scale / PAD_MULTIPLE)) for side in (height, width))
    if (target_h, target_w) != (height, width):
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        rgb = cv2.resize(rgb, (target_w, target_h), interpolation=interpolation)
    return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32)


_MEMORY_CACHE: dict[str, StyleStatistics] = {}


def load_style_image(spec: str, options: AnyImageOptions, encode: Pass) -> StyleImage:
    """The style image ``spec`` with its statistics, from the cache when
    this picture (by content, whatever its name) was seen before at these
    settings: a batch or a preview session pays for it once. ``encode(tap,
    image)`` is the encoder pass, used when the statistics are computed.
    The file is read once, so the digest is that of the pixels the
    statistics came from."""
    path = Path(spec.strip()).expanduser()
    if not path.is_file():
        raise StyleError(f"no such style image: {spec}")
    data = np.fromfile(path, dtype=np.uint8)
    digest = hashlib.sha256(data.tobytes()).hexdigest()
    key = statistics_key(digest, options)
    statistics = _MEMORY_CACHE.get(key)
    cached = statistics_cache_dir() / f"{key}.npz"
    if statistics is None and cached.is_file():
        try:
            with np.load(cached, allow_pickle=False) as arrays:
                statistics = StyleStatistics.from_arrays(dict(arrays))
        except Exception as exc:  # a damaged entry is recomputed
            log.info("style statistics cache %s unusable (%s); recomputing", cached, exc)
    if statistics is None:
        # twice the size the statistics are taken at: the last shrink still averages
        rgb = decode_style_image(data, str(path), max_side=2 * options.style_size)
        image = _prepared(rgb, options.style_size)
        taps = list(options.levels)
        features = {tap: encode(tap, image) for tap in taps if tap != PIXEL_LEVEL}
        statistics = style_statistics(features, image, taps)
        buffer = io.BytesIO()
        np.savez(buffer, **statistics.to_arrays())
        write_atomically(cached, buffer.getvalue())  # an unwritable cache only costs the next run the recomputation
    _MEMORY_CACHE[key] = statistics
    return StyleImage(path.stem, path, digest, statistics)
