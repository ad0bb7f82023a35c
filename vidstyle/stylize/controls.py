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
import torch

from .style_mix import StyleMix, check_strength  # noqa: F401  (re-exported: the controls' public names)

_EPS = 1.0 / 512  # keeps logit finite at 0 and 255 while rounding back exactly


def _logit(image: torch.Tensor) -> torch.Tensor:
    return torch.logit(image / 255.0, eps=_EPS)


def blend_styles(
    content: torch.Tensor, stylized: Sequence[torch.Tensor], weights: Sequence[float], strength: float = 1.0
) -> torch.Tensor:
    """Mix stylized versions of ``content`` (all (N, 3, H, W) in [0, 255])
    with ``weights`` summing to 1, at ``strength``, in logit space."""
    if len(stylized) == 1 and strength == 1.0:
        return stylized[0]
    if strength == 0.0:  # exactly the input, also for 16-bit frames, whose extremes _EPS would clip
        return content.float()
    base = _logit(content.float())
    change = sum(weight * (_logit(image.float()) - base) for weight, image in zip(weights, stylized))
    return 255.0 * torch.sigmoid(base + strength * change)


# Full-range BT.601 (JPEG) RGB <-> YCbCr: linear, so it runs on the device.
_RGB_TO_YCBCR = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])


def _to_ycbcr(image: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", _RGB_TO_YCBCR.to(image), image)


def _from_ycbcr(image: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", torch.linalg.inv(_RGB_TO_YCBCR).to(image), image)


def preserve_color(content: torch.Tensor, stylized: torch.Tensor) -> torch.Tensor:
    """Luminance of ``stylized`` with the chroma of ``content`` (Gatys et al.
    2016, luminance-only transfer); the chroma comes from the input frame, so
    it cannot flicker more than the input does."""
    luma = _to_ycbcr(stylized.float())[:, :1]
    chroma = _to_ycbcr(content.float())[:, 1:]
    return _from_ycbcr(torch.cat([luma, chroma], dim=1)).clamp_(0, 255)


def apply_controls(content: np.ndarray, stylized: np.ndarray, strength: float = 1.0, keep_color: bool = False) -> np.ndarray:
    """Strength and colour preservation for one finished RGB uint8 image (for
    results that do not come from a :class:`~vidstyle.stylize.stylizer.Stylizer`,
    such as Gatys optimisation). ``content`` is resized to ``stylized``."""
    check_strength(strength)
    if strength == 1.0 and not keep_color:
        return stylized
    if content.shape != stylized.shape:
        content = cv2.resize(content, (stylized.shape[1], stylized.shape[0]), interpolation=cv2.INTER_AREA)
    x = torch.from_numpy(np.ascontiguousarray(content)).permute(2, 0, 1)[None].float()
    y = torch.from_numpy(np.ascontiguousarray(stylized)).permute(2, 0, 1)[None].float()
    y = blend_styles(x, [y], [1.0], strength)
    if keep_color:
        y = preserve_color(x, y)
    return y[0].clamp(0, 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
