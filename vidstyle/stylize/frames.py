"""Frames as the networks take them, and back: the one home of the working
size, the padding, the conversions and the rounding, for every engine.

A frame is (H, W, 3) RGB, uint8 or uint16 (high bit depth); the networks
work in float32 on the 0-255 scale of 8-bit frames, (1, 3, H, W), with
sides at least MIN_NETWORK_SIDE and a multiple of SIDE_MULTIPLE.
"""

from __future__ import annotations

import cv2
import numpy as np

# The networks' reflection padding and two stride-2 stages need at least 8 px
# a side: smaller frames are padded by repeating their edge pixels up to
# MIN_NETWORK_SIDE and cropped back. SIDE_MULTIPLE: what two stride-2
# stages map back exactly. uint16 / DEEP_SCALE is the 0-255 scale
# (65535 = 255 * 257).
MIN_NETWORK_SIDE = 16
SIDE_MULTIPLE = 4
DEEP_SCALE = 257.0


def processing_size(height: int, width: int, max_size: int | None) -> tuple[int, int]:
    """The size the network sees: downscaled (never upscaled) so that the
    long side is at most ``max_size``."""
    if not max_size or max(height, width) <= max_size:
        return height, width
    scale = max_size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def to_float(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 or uint16 to float32 on the 0-255 scale."""
    x = frame.astype(np.float32)
    if frame.dtype == np.uint16:
        x *= np.float32(1 / DEEP_SCALE)
    return x


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Area averaging down (no aliasing), bicubic up."""
    if image.shape[:2] == (height, width):
        return image
    shrink = height * width < image.shape[0] * image.shape[1]
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def pad_for_network(image: np.ndarray, multiple: int = SIDE_MULTIPLE) -> np.ndarray:
    """(H, W, 3) float to (1, 3, H', W'): edges repeated up to the minimum
    side, then reflected up to a multiple of ``multiple``; the caller crops
    the output back to (H, W)."""
    x = np.ascontiguousarray(image.transpose(2, 0, 1)[None], dtype=np.float32)
    height, width = image.shape[:2]
    small_h, small_w = max(0, MIN_NETWORK_SIDE - height), max(0, MIN_NETWORK_SIDE - width)
    if small_h or small_w:
        x = np.pad(x, ((0, 0), (0, 0), (0, small_h), (0, small_w)), mode="edge")
    pad_h, pad_w = -x.shape[2] % multiple, -x.shape[3] % multiple
    if pad_h or pad_w:  # sides of at least MIN_NETWORK_SIDE: there is enough to reflect
        x = np.pad(x, ((0, 0), (0, 0), (0, pad_h), (0, pad_w)), mode="reflect")
    return x


def from_network(y: np.ndarray, height: int, width: int) -> np.ndarray:
    """(1, 3, H', W') network output to (H, W, 3) float32."""
    return np.ascontiguousarray(y[0, :, :height, :width].transpose(1, 2, 0), dtype=np.float32)


def to_pixels(image: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """(H, W, 3) float on the 0-255 scale to uint8, or uint16 (0-65535), rounded."""
    image = np.clip(image, 0, 255)
    if dtype == np.uint16:
        return np.clip(np.rint(image * np.float32(DEEP_SCALE)), 0, 65535).astype(np.uint16)
    return np.rint(image).astype(np.uint8)
