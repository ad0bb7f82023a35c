"""Gatys et al. (2016) style transfer by optimisation.

Slow (tens of seconds per image) but needs no training, so it serves both
for high-quality stills and as the quality reference that the fast networks
are measured against.

What makes it paint rather than put a faint texture on the photo (measured
side by side in docs/gatys-choices.jpg, ``scripts/compare_gatys.py``):
random views before the loss network at every step (hence Adam, not L-BFGS,
whose line search needs a fixed loss), a half-size pass first so that the
strokes and shapes are laid out at a larger scale, and a start from the
photo recoloured to the painting's palette.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..errors import OptionError
from ..media.images import scale_long_side, to_array, to_tensor
from ..models.losses import LossConfig, PerceptualLoss, load_loss_network, load_style_image_tensor
from ..models.feature_transforms import level_statistics, whiten_and_colour
from ..stylize.devices import resolve_device


def _gatys_loss() -> LossConfig:
    # A deeper content tap than training uses: optimisation can afford to let
    # the style redraw edges, which is what makes it look painted. Plain Gram
    # matrices: optimisation from the photo does not fall for the flat colour
    # blobs that made training need covariances.
    return LossConfig(
        content_taps={"block5": 1.0},
        style_weight=30.0,
        tv_weight=5e-3,
        centered_gram=False,
        view_shift=4.0,
        view_scale=0.1,
    )


@dataclass(frozen=True)
class OptimizeConfig:
    steps: int = 200  # Adam steps at full size
    coarse_steps: int = 150  # Adam steps at half size first (0: none)
    learning_rate: float = 3.0  # on 0-255 pixel values
    size: int = 512  # long side it paints at, up or down from the content's, so the look does not depend on the photo's size
    style_size: int | None = None  # long side of the style image; None: same as size
    # start from the photo with the painting's colour mean and covariance
    match_palette: bool = True
    seed: int = 0
    device: str = "auto"
    loss: LossConfig = field(default_factory=_gatys_loss)

    def with_style_weight(self, weight: float) -> "OptimizeConfig":
        return dataclasses.replace(self, loss=dataclasses.replace(self.loss, style_weight=weight))

    def validate(self) -> None:
        if self.steps <= 0:
            raise OptionError(f"--steps must be positive, got {self.steps}")
        if self.coarse_steps < 0:
            raise OptionError(f"coarse steps must not be negative, got {self.coarse_steps}")
        if self.size < 16:
            raise OptionError(f"--size must be at least 16, got {self.size}")
        if self.learning_rate <= 0:
            raise OptionError("the learning rate must be positive")
        if self.loss.style_weight < 0:
            raise OptionError("--style-weight must not be negative")


def match_palette(content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """``content`` (3, H, W) recoloured so that its RGB mean and covariance
    are the style's (a linear colour transfer through the covariances'
    square roots, the any-image style's pixel level); values in [0, 255]."""
    palette = level_statistics(style[None].detach().float().cpu().numpy() / np.float32(255.0))
    pixels = content[None].detach().float().cpu().numpy() / np.float32(255.0)
    recoloured = whiten_and_colour(pixels, palette, 1.0, (0.0, 1.0))
    return (255.0 * torch.from_numpy(recoloured[0])).to(content.device, content.dtype)


def optimize_image(
    content: np.ndarray, style: np.ndarray, config: OptimizeConfig = OptimizeConfig(), progress: bool = False
) -> np.ndarray:
    """Stylize ``content`` (HxWx3 uint8) with ``style``; returns HxWx3 uint8
    with the content's aspect ratio and ``config.size`` on the long side
    (the caller scales it to the size it wants)."""
    config.validate()
    device = resolve_device(config.device)
    network = load_loss_network(device)
    photo = to_tensor(scale_long_side(content, config.size)).to(device)
    style_tensor = to_tensor(style).to(device)
    loss = PerceptualLoss(
        network,
        load_style_image_tensor(style_tensor, config.style_size or max(photo.shape[-2:])),
        dataclasses.replace(config.loss, fixed_projections=True),
    )
    start = match_palette(photo, style_tensor) if config.match_palette else photo
    generator = torch.Generator().manual_seed(config.seed)
    passes = [(0.5, config.coarse_steps), (1.0, config.steps)] if config.coarse_steps else [(1.0, config.steps)]
    bar = tqdm(total=sum(steps for _, steps in passes), disable=not progress, unit="step", desc="optimizing")
    pixels = start[None]
    for scale, steps in passes:
        size = [max(16, round(side * scale)) for side in photo.shape[-2:]]
        target = F.interpolate(photo[None], size=size, mode="bilinear", antialias=True, align_corners=False)
        pixels = F.interpolate(pixels.detach(), size=size, mode="bicubic", align_corners=False).clamp(0, 255)
        pixels = pixels.contiguous().requires_grad_(True)
        optimizer = torch.optim.Adam([pixels], lr=config.learning_rate)
        targets = None if config.loss.random_views else loss.content_features(target)
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            terms = loss(pixels, target, targets, views=generator)
            terms["total"].backward()
            optimizer.step()
            with torch.no_grad():
                pixels.clamp_(0, 255)
            bar.update(1)
            bar.set_postfix(style=f"{terms['style'].detach().item():.3g}", content=f"{terms['content'].detach().item():.3g}", refresh=False)
    bar.close()
    return to_array(pixels.detach()[0])
