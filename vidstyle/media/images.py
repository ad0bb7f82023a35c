"""Still-image reading and writing (OpenCV), as RGB uint8 arrays; PyTorch
only for the conversions to and from tensors, which import it when called."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    import torch

from ..errors import VidstyleError
from .atomic import atomic_output

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def read_image(path: str | Path) -> np.ndarray:
    """An HxWx3 RGB uint8 array; one-line errors for missing or unreadable files."""
    path = Path(path)
    if not path.is_file():
        raise VidstyleError(f"no such image: {path}")
    data = np.fromfile(path, dtype=np.uint8)  # imread cannot take non-ASCII paths on every platform
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if bgr is None:
        raise VidstyleError(f"not a readable image: {path}")
    return np.ascontiguousarray(bgr[:, :, ::-1])


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
