"""Gatys et al. (2016) style transfer by optimisation.

Slow (seconds to minutes per image) but needs no training, so it serves
both for high-quality stills and as the quality reference that the fast
networks are measured against.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from ..errors import OptionError
from ..media.images import resize_long_side, to_array, to_tensor
from ..models.losses import LossConfig, PerceptualLoss, load_loss_network, load_style_image_tensor
from ..stylize.devices import resolve_device


def _gatys_loss() -> LossConfig:
    # A deeper content tap than training uses: optimisation can afford to let
    # the style redraw edges, which is what makes it look painted. Plain Gram
    # matrices: optimisation from the photo does not fall for the flat colour
    # blobs that made training need covariances.
    return LossConfig(content_taps={"block5": 1.0}, style_weight=10.0, tv_weight=5e-3, centered_gram=False)


@dataclass(frozen=True)
class OptimizeConfig:
    steps: int = 150
    size: int = 512  # long side of the result
    style_size: int | None = None  # long side of the style image; None: same as size
    device: str = "auto"
    loss: LossConfig = field(default_factory=_gatys_loss)

    def with_style_weight(self, weight: float) -> "OptimizeConfig":
        return dataclasses.replace(self, loss=dataclasses.replace(self.loss, style_weight=weight))

    def validate(self) -> None:
        if self.steps <= 0:
            raise OptionError(f"--steps must be positive, got {self.steps}")
        if self.size < 16:
            raise OptionError(f"--size must be at least 16, got {self.size}")
        if self.loss.style_weight < 0:
            raise OptionError("--style-weight must not be negative")


def optimize_image(
    content: np.ndarray, style: np.ndarray, config: OptimizeConfig = OptimizeConfig(), progress: bool = False
) -> np.ndarray:
    """Stylize ``content`` (HxWx3 uint8) with ``style``; returns HxWx3 uint8
    with the content's aspect ratio and ``config.size`` on the long side."""
    config.validate()
    device = resolve_device(config.device)
    network = load_loss_network(device)
    content_tensor = to_tensor(resize_long_side(content, config.size))[None].to(device)
    style_tensor = load_style_image_tensor(to_tensor(style).to(device), config.style_size or config.size)
    loss = PerceptualLoss(network, style_tensor, dataclasses.replace(config.loss, fixed_projections=True))
    targets = loss.content_features(content_tensor)
    pixels = content_tensor.clone().contiguous().requires_grad_(True)
    optimizer = torch.optim.LBFGS([pixels], lr=1.0, max_iter=config.steps, history_size=50, line_search_fn="strong_wolfe")
    bar = tqdm(total=config.steps, disable=not progress, unit="it", desc="optimizing")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        terms = loss(pixels, content_tensor, targets)
        terms["total"].backward()
        bar.update(1)
        bar.set_postfix(style=f"{float(terms['style'].detach()):.3g}", content=f"{float(terms['content'].detach()):.3g}", refresh=False)
        return terms["total"]

    optimizer.step(closure)
    bar.close()
    return to_array(pixels.detach()[0])
