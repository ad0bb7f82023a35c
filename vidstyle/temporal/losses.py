"""Temporal losses for training: differentiable warping and the output-level
consistency terms that teach a feed-forward network stability.

Kept apart from :mod:`.consistency` (the stabiliser `vidstyle run` uses at
every frame), so that running a style needs OpenCV and NumPy only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def warp_tensor(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Backward-warp (N, C, H, W) by (N, 2, H, W) pixel flow, on any device
    and differentiable (for temporal losses in training)."""
    n, _, h, w = image.shape
    ys, xs = torch.meshgrid(
        torch.arange(h, device=image.device, dtype=image.dtype),
        torch.arange(w, device=image.device, dtype=image.dtype),
        indexing="ij",
    )
    x = (xs + flow[:, 0]) * (2.0 / max(w - 1, 1)) - 1.0
    y = (ys + flow[:, 1]) * (2.0 / max(h - 1, 1)) - 1.0
    grid = torch.stack([x, y], dim=-1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)



def random_smooth_flow(batch: int, height: int, width: int, max_shift: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """(N, 2, H, W) pixel flows: a global translation plus a smooth
    deformation, the known-ground-truth motion used to teach a network
    stability on still images (Wang et al. 2020)."""
    shift = (torch.rand(batch, 2, 1, 1, generator=generator) * 2 - 1) * max_shift
    coarse = (torch.rand(batch, 2, 4, 4, generator=generator) * 2 - 1) * (max_shift / 2)
    smooth = F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=True)
    return shift + smooth


def temporal_loss(model: torch.nn.Module, content: torch.Tensor, output: torch.Tensor, flow: torch.Tensor, noise: float = 2.0) -> torch.Tensor:
    """Output-level temporal loss: stylizing a moved (and re-noised) frame
    should give the moved stylization, ||f(warp(x) + n) - warp(f(x))||^2,
    away from the borders the motion exposes. Scaled to RGB in [0, 1]."""
    moved = warp_tensor(content, flow)
    if noise:
        moved = (moved + noise * torch.randn_like(moved)).clamp(0, 255)
    restyled = model(moved)
    expected = warp_tensor(output, flow)
    margin = int(flow.abs().amax().ceil().item()) + 1
    difference = (restyled - expected)[..., margin:-margin, margin:-margin] / 255.0
    return difference.pow(2).mean()


def pair_temporal_loss(
    model: torch.nn.Module, previous: torch.Tensor, current: torch.Tensor, flow: torch.Tensor, reliable: torch.Tensor
) -> torch.Tensor:
    """Output-level temporal loss on real consecutive frames (Ruder et al.
    2016, ReCoNet): ||f(x_t) - warp(f(x_t-1))||^2 over the pixels where the
    input's flow is reliable. Scaled to RGB in [0, 1]."""
    outputs = model(torch.cat([previous, current]))
    before, after = outputs.float().chunk(2)
    difference = (after - warp_tensor(before, flow)) / 255.0
    return (difference.pow(2) * reliable).sum() / (3 * reliable.sum()).clamp(min=1.0)
