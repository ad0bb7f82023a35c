"""Frames as the networks take them, and back: the one home of the working
size, the padding, the conversions and the rounding, for every engine.

The working size gives one look at every frame size: the networks paint
strokes of a fixed number of pixels, so each frame is stylized with its long
side at LOOK_SIDE / stroke_scale (up or down, whatever the frame's own size)
and brought back to the frame's size, shrinking by area averaging and
enlarging with ``enlarge_crisp``. A 320x240 preview, a 960x540 proxy and a
3840x2160 final then show the same strokes once scaled to one size.

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

# The long side every frame is stylized at (stroke scale 1): the whole-frame
# size the networks were trained at (192 px crops covering 40-100% of a
# photo's short side, about 480 px on the long side of a 16:9 frame).
# Measured on held-out photos at 256-480 px (benchmarks/frame_sizes.py,
# docs/frame-sizes.md): small frames keep their subject better here than at
# their own size or at 640 (wave, mosaic), and the network sees 0.56 of a
# 640x360 frame's pixels.
LOOK_SIDE = 480
STROKE_SCALES = (0.25, 4.0)  # the working side stays within 120-1920 px
# Enlarged by less than this, bicubic alone is sharp enough.
CRISP_FROM = 1.5
FRAME_DETAIL = 0.5  # share of the frame's own detail beyond the working size put back


def working_size(
    height: int, width: int, stroke_scale: float = 1.0, max_size: int | None = None, native: bool = False
) -> tuple[int, int]:
    """(height, width) the network sees: the frame's aspect ratio with the
    long side at LOOK_SIDE / stroke_scale (``native``: the frame's own), or
    ``max_size`` where that is smaller (a cap for speed or memory, which
    makes the strokes larger)."""
    side = max(height, width) if native else LOOK_SIDE / stroke_scale
    if max_size:
        side = min(side, max_size)
    if side == max(height, width):
        return height, width
    scale = side / max(height, width)
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


def enlarges(work: tuple[int, int], height: int, width: int) -> bool:
    """Whether a working-size result is enlarged to the frame with ``enlarge_crisp``."""
    return max(height / work[0], width / work[1]) >= CRISP_FROM


def to_frame_size(image: np.ndarray, height: int, width: int, frame: np.ndarray | None = None, detail: np.ndarray | None = None) -> np.ndarray:
    """A network's output (H, W, 3) float back to the frame's size: area
    averaging down, bicubic up a little, ``enlarge_crisp`` up more, with
    half the detail the frame (float, at its own size) has beyond the
    working size added back, so that a 4K frame keeps its own fine edges
    under strokes painted at 480 px (docs/enlarging-4k.jpg; all of it
    brought the photo's grain back into the painting). ``detail``:
    ``fine_detail`` of the frame, computed once for several outputs."""
    if not enlarges(image.shape[:2], height, width):
        return resize(image, height, width)
    enlarged = enlarge_crisp(image, height, width)
    if detail is None and frame is not None:
        detail = fine_detail(frame, image.shape[0], image.shape[1])
    if detail is not None:
        enlarged += FRAME_DETAIL * detail[..., None]
    return enlarged


def fine_detail(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """The gray frame's detail finer than ``height`` x ``width``: the frame
    minus its shrunk copy enlarged again."""
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    coarse = cv2.resize(cv2.resize(gray, (width, height), interpolation=cv2.INTER_AREA), gray.shape[1::-1], interpolation=cv2.INTER_CUBIC)
    return gray - coarse


def enlarge_crisp(image: np.ndarray, height: int, width: int, amount: float = 1.5) -> np.ndarray:
    """Enlarge a painted frame with its strokes' edges kept sharp.

    Bicubic enlargement spreads an edge over as many pixels as the factor,
    so a lead line 2 px wide at 480 px is a soft 16 px smear at 3840. Here
    the enlarged frame is sharpened by ``amount`` times its difference from
    a blur as wide as one source pixel, and every pixel is then held within
    the darkest and brightest of its source neighbourhood, so that edges
    steepen without halos. The blur is taken at the source size and
    enlarged (cheap at 4K), the bounds at the enlarged size. A guided
    filter with the frame as guide was measured too: it followed the photo
    and smoothed the strokes away (scripts/compare_sizes.py,
    docs/enlarging-4k.jpg).
    """
    size = (width, height)
    enlarged = cv2.resize(image, size, interpolation=cv2.INTER_CUBIC)
    blurred = cv2.resize(cv2.GaussianBlur(image, (0, 0), 0.6), size, interpolation=cv2.INTER_LINEAR)
    sharpened = cv2.addWeighted(enlarged, 1.0 + amount, blurred, -amount, 0.0)
    # the bounds: half a source pixel either side, at the enlarged size
    reach = max(1, round(max(height / image.shape[0], width / image.shape[1]) / 2))
    kernel = np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)
    np.maximum(sharpened, cv2.erode(enlarged, kernel), out=sharpened)
    return np.minimum(sharpened, cv2.dilate(enlarged, kernel), out=sharpened)


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
