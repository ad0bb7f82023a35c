"""Any picture as a style: whitening and colouring transforms (Li et al.
2017, "Universal style transfer via feature transforms") on the Lite0
encoder, decoded by networks trained only to reconstruct photos.

Nothing here was trained on paintings. A level is one Lite0 tap (the
post-expansion activations the style loss reads); its decoder turns that
tap's features back into an image. Stylizing at a level replaces the
content features' covariance by the style's and decodes the result; the
levels run coarse to fine, each re-encoding the previous level's image, so
the deep level draws the shapes and the shallow one the palette and strokes.
The style side (mean and colouring matrix per level) is computed once per
style image and then fixed, so a clip cannot drift from frame to frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
import torch.nn.functional as F

from .efficientnet import EfficientNetLite0

# Ridge added to every covariance, relative to its mean eigenvalue: keeps the
# inverse square root finite for flat frames and the transform smooth when
# a frame's weakest directions change from one frame to the next.
COVARIANCE_RIDGE = 1e-3
# The range of Lite0's ReLU6 activations, which the decoders were trained on.
FEATURE_RANGE = (0.0, 6.0)
# A level that needs no decoder: the pixels themselves (0-1), whose
# transform moves the frame's colours to the painting's palette.
PIXEL_LEVEL = "pixels"


@dataclass(frozen=True)
class DecoderConfig:
    """One level: the Lite0 tap it inverts and the widths of its stages,
    from the tap's stride down to stride 2 (each stage doubles the size)."""

    tap: str = "block5"
    in_channels: int = 240
    widths: tuple[int, ...] = (128, 64, 32)

    def to_dict(self) -> dict:
        return {"tap": self.tap, "in_channels": self.in_channels, "widths": list(self.widths)}

    @classmethod
    def from_dict(cls, values: dict) -> "DecoderConfig":
        return cls(values["tap"], int(values["in_channels"]), tuple(int(w) for w in values["widths"]))

    @property
    def stride(self) -> int:
        return 2 ** len(self.widths)


def _conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3))


class FeatureDecoder(nn.Module):
    """Lite0 features at one tap back to RGB in [0, 255]: a 3x3 convolution
    pair per stage, doubling the size between stages, and a last bilinear
    step to full size so that no convolution runs on more than 32 channels
    at full resolution."""

    def __init__(self, config: DecoderConfig = DecoderConfig()):
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        cin = config.in_channels
        for index, width in enumerate(config.widths):
            if index:
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
            layers += [_conv(cin, width), nn.ReLU(inplace=True), _conv(width, width), nn.ReLU(inplace=True)]
            cin = width
        self.body = nn.Sequential(*layers)
        self.to_rgb = _conv(cin, 3)

    def forward(self, features: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        y = self.body(features)
        y = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False)
        y = self.to_rgb(y)
        y = F.interpolate(y, size=size, mode="bilinear", align_corners=False) if y.shape[-2:] != size else y
        return (torch.sigmoid(y) * 255.0)


@dataclass
class LevelStatistics:
    """A style at one level: its feature mean (C, 1) and the colouring
    matrix (C, C), the square root of its feature covariance."""

    mean: torch.Tensor
    colouring: torch.Tensor


@dataclass
class StyleStatistics:
    levels: dict[str, LevelStatistics] = field(default_factory=dict)

    def to(self, device: torch.device | str, dtype: torch.dtype = torch.float32) -> "StyleStatistics":
        return StyleStatistics(
            {tap: LevelStatistics(s.mean.to(device, dtype), s.colouring.to(device, dtype)) for tap, s in self.levels.items()}
        )

    def to_dict(self) -> dict:
        return {tap: {"mean": s.mean.cpu(), "colouring": s.colouring.cpu()} for tap, s in self.levels.items()}

    @classmethod
    def from_dict(cls, values: dict) -> "StyleStatistics":
        return cls({tap: LevelStatistics(v["mean"], v["colouring"]) for tap, v in values.items()})


def _covariance(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(C, N) features to their mean (C, 1) and ridged covariance (C, C).
    The products run in float32 (centred first, they lose nothing that
    matters); the covariance comes back in float64 for the eigensolver."""
    f = features.float()
    mean = f.mean(dim=1, keepdim=True)
    centred = f - mean
    cov = (centred @ centred.T).double() / max(1, f.shape[1] - 1)
    ridge = COVARIANCE_RIDGE * torch.diagonal(cov).mean().clamp_min(1e-8)
    return mean.double(), cov + ridge * torch.eye(cov.shape[0], dtype=cov.dtype, device=cov.device)


def _matrix_power(cov: torch.Tensor, power: float) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(cov)
    return (vectors * values.clamp_min(1e-12).pow(power)) @ vectors.T


def level_statistics(features: torch.Tensor) -> LevelStatistics:
    """The style side of one level from (1, C, H, W) features."""
    mean, cov = _covariance(features[0].flatten(1))
    return LevelStatistics(mean.float(), _matrix_power(cov, 0.5).float())


def whiten_and_colour(
    features: torch.Tensor, style: LevelStatistics, alpha: float, value_range: tuple[float, float] = FEATURE_RANGE
) -> torch.Tensor:
    """Each (C, H, W) item of a batch with its own covariance replaced by the
    style's, blended with the original features by ``alpha``: one affine map
    per item, ``alpha * (colour @ whiten) + (1 - alpha) * I``."""
    out = torch.empty_like(features)
    eye = torch.eye(features.shape[1], dtype=torch.float64, device=features.device)
    for i, item in enumerate(features):
        flat = item.flatten(1).float()
        mean, cov = _covariance(flat)
        transform = style.colouring.double() @ _matrix_power(cov, -0.5)
        shift = style.mean.double() - transform @ mean
        transform, shift = alpha * transform + (1.0 - alpha) * eye, alpha * shift
        out[i] = torch.addmm(shift.float(), transform.float(), flat).to(features.dtype).view_as(item)
    return out.clamp_(*value_range)


class AnyImageNet(nn.Module):
    """The frame network for one style image: (N, 3, H, W) in [0, 255] to
    the same, stylized, level by level (in the order of ``style.levels``)
    with the style's fixed statistics.
    ``alpha`` is how far each level moves to the style (1: all the way)."""

    def __init__(
        self,
        encoder: EfficientNetLite0,
        decoders: dict[str, FeatureDecoder],
        style: StyleStatistics,
        alpha: float = 1.0,
    ):
        super().__init__()
        self.encoder = encoder
        self.decoders = nn.ModuleDict(decoders)
        self.order = list(style.levels)  # coarse to fine; PIXEL_LEVEL needs no decoder
        self.style = style
        self.alpha = alpha

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = tuple(x.shape[-2:])
        y = x.float()
        for tap in self.order:
            if tap == PIXEL_LEVEL:
                y = 255.0 * whiten_and_colour(y / 255.0, self.style.levels[tap], self.alpha, (0.0, 1.0))
                continue
            features = self.encoder.features(y, [tap])[tap]
            features = whiten_and_colour(features, self.style.levels[tap], self.alpha)
            y = self.decoders[tap](features, size)
        return y.to(x.dtype)


@torch.no_grad()
def style_statistics(encoder: EfficientNetLite0, style_image: torch.Tensor, taps: list[str]) -> StyleStatistics:
    """Statistics of a (1, 3, H, W) style image in [0, 255] at each tap."""
    features = encoder.features(style_image.float(), [tap for tap in taps if tap != PIXEL_LEVEL])
    features[PIXEL_LEVEL] = style_image.float() / 255.0
    return StyleStatistics({tap: level_statistics(features[tap]) for tap in taps})
