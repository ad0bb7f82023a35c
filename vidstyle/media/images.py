"""Still-image reading and writing (OpenCV), as RGB uint8 arrays; Pillow
for reading a picture's header before anything is decoded; PyTorch only for
the conversions to and from tensors, which import it when called."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    import torch
    from PIL import Image

from ..errors import VidstyleError
from .atomic import atomic_output

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}

# The most pixels a picture may have to be decoded whole, checked on its
# header before any pixel is decoded. A 16-bit RGBA picture decodes to 8
# bytes a pixel, so 2**27 pixels (134 megapixels, 16384x8192) cost at most
# 1 GiB; photos from 100-megapixel cameras fit. A file's header can claim
# any size its data does not hold (a flat 30000x30000 PNG is 2.6 MB).
PIXEL_LIMIT = 2**27

_PILLOW_LIMIT = threading.Lock()


@dataclass
class PictureHeader:
    """A picture's size as its header gives it, and the file opened lazily
    by Pillow (nothing decoded; None where Pillow reads the size but not
    the pixels, as for float RGB TIFF, which OpenCV decodes)."""

    width: int
    height: int
    picture: Image.Image | None


def _tiff_size(source: io.BytesIO | Path) -> tuple[int, int] | None:
    """The first page's size from a TIFF's directory, for the layouts that
    OpenCV decodes and Pillow does not open."""
    from PIL import TiffImagePlugin

    with open(source, "rb") if isinstance(source, Path) else source as fp:
        fp.seek(0)
        prefix = fp.read(8)
        if prefix[:4] not in (b"II*\0", b"MM\0*"):
            return None
        directory = TiffImagePlugin.ImageFileDirectory_v2(prefix)
        fp.seek(directory.next)
        directory.load(fp)
        width, height = directory.get(256), directory.get(257)
    return (width, height) if isinstance(width, int) and isinstance(height, int) else None


def picture_header(source: np.ndarray | Path, name: str, what: str = "image",
                   error: type[VidstyleError] = VidstyleError, max_pixels: int = PIXEL_LIMIT) -> PictureHeader:
    """The header of a picture file (its bytes, or its path), refused as a
    one-line ``error`` naming ``name`` when it has none that can be read or
    claims more than ``max_pixels``. Pillow's own decompression-bomb limit
    (a warning, then an error without the picture's size) is off while the
    header is read: this limit takes its place."""
    from PIL import Image

    buffer = source if isinstance(source, Path) else io.BytesIO(source)
    try:
        with _PILLOW_LIMIT:
            saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                picture = Image.open(buffer)
            finally:
                Image.MAX_IMAGE_PIXELS = saved
        width, height = picture.size
    except Exception:  # Pillow raises many types on a malformed header
        picture = None
        try:
            size = _tiff_size(buffer if isinstance(source, Path) else io.BytesIO(source))
        except Exception:
            size = None
        if size is None:
            raise error(f"not a readable image: {name}") from None
        width, height = size
    if width * height > max_pixels:
        if picture is not None:
            picture.close()
        raise error(
            f"{what} is too large: {name} is {width}x{height} ({width * height / 1e6:.0f} megapixels), "
            f"over the limit of {max_pixels / 1e6:.0f} megapixels"
        )
    return PictureHeader(width, height, picture)


def read_image(path: str | Path, max_pixels: int = PIXEL_LIMIT) -> np.ndarray:
    """An HxWx3 RGB uint8 array at the file's own size; one-line errors for
    missing or unreadable files, and for those whose header claims more
    than ``max_pixels`` (checked before anything is decoded)."""
    path = Path(path)
    if not path.is_file():
        raise VidstyleError(f"no such image: {path}")
    header = picture_header(path, str(path), max_pixels=max_pixels)
    if header.picture is not None:
        header.picture.close()
    data = np.fromfile(path, dtype=np.uint8)  # imread cannot take non-ASCII paths on every platform
    try:
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    except cv2.error:
        bgr = None
    if bgr is None:
        raise VidstyleError(f"not a readable image: {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=bgr)


def write_image(rgb: np.ndarray, path: str | Path) -> None:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_EXTENSIONS:
        raise VidstyleError(f"unsupported image extension {suffix or '(none)'}: use one of {', '.join(sorted(IMAGE_EXTENSIONS))}")
    ok, encoded = cv2.imencode(suffix, np.ascontiguousarray(rgb[:, :, ::-1]))
    if not ok:
        raise VidstyleError(f"could not encode image: {path}")
    with atomic_output(path) as temporary:
        encoded.tofile(temporary)


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """HxWx3 uint8 to a (3, H, W) float tensor in [0, 255]."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float()


def to_array(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) [0, 255] tensor to HxWx3 uint8."""
    import torch

    return image.detach().clamp(0, 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def scale_long_side(rgb: np.ndarray, size: int) -> np.ndarray:
    """Scale up (bicubic) or down (area averaging) to ``size`` on the long side."""
    h, w = rgb.shape[:2]
    if max(h, w) == size:
        return rgb
    scale = size / max(h, w)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=interpolation)


def resize_long_side(rgb: np.ndarray, size: int | None) -> np.ndarray:
    """Downscale (never upscale) so that the long side is at most ``size``."""
    if not size:
        return rgb
    h, w = rgb.shape[:2]
    if max(h, w) <= size:
        return rgb
    scale = size / max(h, w)
    return cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
