"""Style controls: strength, style mixing and colour preservation.

They act on the networks' outputs, not inside them, so one trained network
per style serves every setting, any checkpoint (ours or pytorch/examples')
works, and the temporal stabiliser downstream sees an ordinary frame.

Strength and mixing both combine each style's *change* to the input in logit
space: ``sigmoid(logit(x) + s * sum_i w_i (logit(y_i) - logit(x)))``. For our
residual networks that change is exactly what the network predicts, so
strength ``s`` is the same as scaling the network's last layer by ``s``;
strength 0 gives the input back exactly and mixing a style with itself gives
that style. Compared with a crossfade, the logit blend keeps dark and bright
strokes crisp at partial strength instead of fading them towards grey (see
``scripts/compare_controls.py`` and docs/strength.jpg).
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from .style_mix import StyleMix, check_strength  # noqa: F401  (re-exported: the controls' public names)

_EPS = 1.0 / 512  # keeps logit finite at 0 and 255 while rounding back exactly


def _logit(image: np.ndarray) -> np.ndarray:
    p = np.clip(image * np.float32(1 / 255), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def blend_styles(content: np.ndarray, stylized: Sequence[np.ndarray], weights: Sequence[float], strength: float = 1.0) -> np.ndarray:
    """Mix stylized versions of ``content`` (float32 arrays of one shape, in
    [0, 255], channels on any axis) with ``weights`` summing to 1, at
    ``strength``, in logit space."""
    if len(stylized) == 1 and strength == 1.0:
        return stylized[0]
    if strength == 0.0:  # exactly the input, also for 16-bit frames, whose extremes _EPS would clip
        return content.astype(np.float32)
    base = _logit(content)
    change = sum(np.float32(weight) * (_logit(image) - base) for weight, image in zip(weights, stylized))
    return np.float32(255) / (1 + np.exp(-(base + np.float32(strength) * change)))


# Full-range BT.601 (JPEG) RGB <-> YCbCr.
_RGB_TO_YCBCR = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], dtype=np.float32)
_YCBCR_TO_RGB = np.linalg.inv(_RGB_TO_YCBCR.astype(np.float64)).astype(np.float32)


def preserve_color(content: np.ndarray, stylized: np.ndarray) -> np.ndarray:
    """Luminance of ``stylized`` with the chroma of ``content`` (both
    (..., 3) RGB in [0, 255]; Gatys et al. 2016, luminance-only transfer):
    the chroma comes from the input frame, so it cannot flicker more than
    the input does."""
    ycbcr = content.astype(np.float32) @ _RGB_TO_YCBCR.T
    ycbcr[..., 0] = stylized.astype(np.float32) @ _RGB_TO_YCBCR[0]
    return np.clip(ycbcr @ _YCBCR_TO_RGB.T, 0, 255)


def apply_controls(content: np.ndarray, stylized: np.ndarray, strength: float = 1.0, keep_color: bool = False) -> np.ndarray:
    """Strength and colour preservation for one finished RGB uint8 image (for
    results that do not come from a :class:`~vidstyle.stylize.stylizer.Stylizer`,
    such as Gatys optimisation). ``content`` is resized to ``stylized``."""
    check_strength(strength)
    if strength == 1.0 and not keep_color:
        return stylized
    if content.shape != stylized.shape:
        content = cv2.resize(content, (stylized.shape[1], stylized.shape[0]), interpolation=cv2.INTER_AREA)
    x, y = content.astype(np.float32), stylized.astype(np.float32)
    y = blend_styles(x, [y], [1.0], strength)
    if keep_color:
        y = preserve_color(x, y)
    return np.rint(np.clip(y, 0, 255)).astype(np.uint8)
