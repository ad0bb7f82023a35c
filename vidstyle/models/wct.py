"""Any picture as a style: whitening and colouring transforms (Li et al.
2017, "Universal style transfer via feature transforms") on the Lite0
encoder, decoded by networks trained only to reconstruct photos.

Nothing here was trained on paintings. A level is one Lite0 tap (the
post-expansion activations the style loss reads); its decoder turns that
tap's features back into an image. Stylizing at a level replaces the
content features' covariance by the style's and decodes the result; the
levels run coarse to fine, each re-encoding the previous level's image: the
deep level draws the shapes, the shallow one the strokes, and a last level
on the pixels themselves (no decoder) the palette.
The style side (mean and colouring matrix per level) is computed once per
style image and then fixed, so a clip cannot drift from frame to frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

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
# Frames are padded to a multiple of the deepest stride the encoder reads
# (stride 16 at block5's depthwise step): every level then maps sizes
# exactly, and the passes export to graphs with dynamic sizes.
PAD_MULTIPLE = 16
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

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(N, C, h, w) features to (N, 3, h * stride, w * stride) in [0, 255]."""
        y = self.body(features)
        y = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False)
        return torch.sigmoid(self.to_rgb(y)) * 255.0


# Bilinear doubling (align_corners=False) of an edge-padded row: output row
# 2i + a is BILINEAR_TAPS[a] applied to input rows i-1, i, i+1.
BILINEAR_TAPS = ((0.25, 0.75, 0.0), (0.0, 0.75, 0.25))


class BilinearSubPixelConv(nn.Module):
    """A decoder's last step, bilinear doubling then a 3x3 convolution to
    RGB, folded into one 3x3 convolution of the low-resolution features to
    4 x 3 channels and a pixel shuffle: the 32-channel full-size tensor is
    never made, which is most of that step's time on the CPU.

    Output row 2i + a reads doubled rows 2i+a-1..2i+a+1, each a bilinear mix
    of input rows i-1..i+1 (BILINEAR_TAPS); the folded kernel for parity
    (a, b) is the convolution's kernel through those mixes. Edge padding of
    the input reproduces the doubling exactly; only the outermost output
    pixels differ from the trained layers, which reflect the doubled image
    (a change of at most a few levels there)."""

    def __init__(self, to_rgb: nn.Sequential):
        super().__init__()
        conv = to_rgb[1]
        weight, bias = conv.weight.detach().double(), conv.bias.detach()
        out_channels, in_channels = weight.shape[:2]
        mix = torch.zeros(2, 3, 3, dtype=torch.float64)  # [parity, kernel tap, input offset]
        for a in range(2):
            for tap in range(3):
                q, r = divmod(a + tap - 1, 2)  # the doubled row 2(i+q) + r
                for k, w in enumerate(BILINEAR_TAPS[r]):
                    offset = q + k - 1 + 1  # input row i + q + k - 1, as an index into i-1..i+1
                    if w and 0 <= offset < 3:
                        mix[a, tap, offset] += w
        folded = torch.einsum("ocyx,ayu,bxv->oabcuv", weight, mix, mix)
        self.conv = nn.Conv2d(in_channels, 4 * out_channels, 3)
        # pixel_shuffle reads channel 4*o + (2a + b) as output o at parity (a, b)
        self.conv.weight.data = folded.reshape(4 * out_channels, in_channels, 3, 3).float()
        self.conv.bias.data = bias.repeat_interleave(4).clone()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.conv(F.pad(x, (1, 1, 1, 1), mode="replicate")), 2)


class InferenceDecoder(nn.Module):
    """A trained :class:`FeatureDecoder` with its last step folded
    (:class:`BilinearSubPixelConv`): the same image, faster."""

    def __init__(self, decoder: FeatureDecoder):
        super().__init__()
        self.config = decoder.config
        self.body = decoder.body
        self.to_rgb = BilinearSubPixelConv(decoder.to_rgb)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.to_rgb(self.body(features))) * 255.0


class EncoderTap(nn.Module):
    """The encoder up to one tap, as a module of its own (one exported graph)."""

    def __init__(self, encoder: EfficientNetLite0, tap: str):
        super().__init__()
        self.encoder = encoder
        self.tap = tap

    def extra_repr(self) -> str:
        return f"tap={self.tap}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder.features(x, [self.tap])[self.tap]


@dataclass
class LevelStatistics:
    """A style at one level: its feature mean (C, 1) and the colouring
    matrix (C, C), the square root of its feature covariance; for the pixel
    level also the principal axes (C, C) of its colours and the quantiles
    (C, Q) of the colours along them, for matching the histograms too."""

    mean: torch.Tensor
    colouring: torch.Tensor
    axes: torch.Tensor | None = None
    quantiles: torch.Tensor | None = None

    def tensors(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in vars(self).items() if v is not None}


@dataclass
class StyleStatistics:
    levels: dict[str, LevelStatistics] = field(default_factory=dict)

    def to(self, device: torch.device | str, dtype: torch.dtype = torch.float32) -> "StyleStatistics":
        return StyleStatistics(
            {tap: LevelStatistics(**{k: v.to(device, dtype) for k, v in s.tensors().items()}) for tap, s in self.levels.items()}
        )

    def to_dict(self) -> dict:
        return {tap: {k: v.cpu() for k, v in s.tensors().items()} for tap, s in self.levels.items()}

    @classmethod
    def from_dict(cls, values: dict) -> "StyleStatistics":
        return cls({tap: LevelStatistics(**v) for tap, v in values.items()})


# Quantiles kept of the painting's colours along each principal axis.
PALETTE_QUANTILES = 64


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


def palette_statistics(pixels: torch.Tensor) -> LevelStatistics:
    """The pixel level from (1, 3, H, W) colours in [0, 1]: the transform's
    statistics, plus the quantiles of the colours along their principal axes."""
    flat = pixels[0].flatten(1).float()
    level = level_statistics(pixels)
    _, axes = torch.linalg.eigh(level.colouring.double())
    projected = axes.float().T @ (flat - level.mean)
    levels = torch.linspace(0, 1, PALETTE_QUANTILES, dtype=torch.float32, device=flat.device)
    level.axes, level.quantiles = axes.float(), torch.quantile(projected, levels, dim=1).T.contiguous()
    return level


# Points of the lookup table each frame's colour mapping is sampled at.
PALETTE_TABLE = 1024


def match_palette_histograms(pixels: torch.Tensor, style: LevelStatistics) -> torch.Tensor:
    """(N, 3, H, W) colours in [0, 1], already given the style's mean and
    covariance, with their distribution along each of the style's principal
    axes mapped onto the style's (piecewise linear through each frame's own
    quantiles): flat, separate colours of a painting stay separate instead
    of blending into one Gaussian cloud. The mapping is sampled into a
    table per axis, so each pixel costs a lookup, not a search."""
    out = torch.empty_like(pixels)
    count = style.quantiles.shape[1]
    for i, item in enumerate(pixels):
        flat = item.flatten(1).float()
        projected = style.axes.T @ (flat - style.mean)
        sample = projected[:, :: max(1, projected.shape[1] // 16384)]  # a frame's quantiles need no more
        ordered = sample.sort(dim=1).values
        picks = torch.linspace(0, ordered.shape[1] - 1, count, device=flat.device).round().long()
        ours = ordered[:, picks]  # (3, count)
        low, high = ours[:, :1], ours[:, -1:]
        span = (high - low).clamp_min(1e-6)
        grid = low + span * torch.linspace(0, 1, PALETTE_TABLE, device=flat.device)  # (3, T)
        table = torch.stack([_interpolate(grid[a], ours[a], style.quantiles[a]) for a in range(len(grid))])
        position = ((projected - low) / span * (PALETTE_TABLE - 1)).clamp_(0, PALETTE_TABLE - 1)
        index = position.floor().long().clamp_(max=PALETTE_TABLE - 2)
        weight = position - index
        below, above = table.gather(1, index), table.gather(1, index + 1)
        out[i] = (style.axes @ (below + weight * (above - below)) + style.mean).view_as(item)
    return out


def _interpolate(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """numpy.interp for tensors (``xp`` increasing; flat stretches kept apart by a hair)."""
    xp = xp + torch.arange(len(xp), dtype=xp.dtype, device=xp.device) * 1e-6
    index = torch.searchsorted(xp, x.contiguous()).clamp(1, len(xp) - 1)
    left, right = xp[index - 1], xp[index]
    weight = ((x - left) / (right - left)).clamp(0, 1)
    return fp[index - 1] + weight * (fp[index] - fp[index - 1])


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


Pass = Callable[[str, torch.Tensor], torch.Tensor]


class AnyImageNet(nn.Module):
    """The frame network for one style image: (N, 3, H, W) in [0, 255] to
    the same, stylized, level by level (in the order of ``style.levels``)
    with the style's fixed statistics. ``alpha`` is how far each level moves
    to the style (1: all the way); ``palette_histograms``: whether the pixel
    level matches the colours' histograms or only their covariance."""

    def __init__(
        self,
        encoder: EfficientNetLite0,
        decoders: dict[str, nn.Module],  # FeatureDecoder or InferenceDecoder by tap
        style: StyleStatistics,
        alpha: float = 1.0,
        palette_histograms: bool = True,
    ):
        super().__init__()
        self.palette_histograms = palette_histograms
        self.order = list(style.levels)  # coarse to fine; PIXEL_LEVEL needs no decoder
        self.encoders = nn.ModuleDict({tap: EncoderTap(encoder, tap) for tap in self.order if tap != PIXEL_LEVEL})
        self.decoders = nn.ModuleDict(decoders)
        self.style = style
        self.alpha = alpha

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.paint(x)

    @torch.no_grad()
    def paint(self, x: torch.Tensor, encode: Pass | None = None, decode: Pass | None = None) -> torch.Tensor:
        """``forward``, with the encoder and decoder passes replaceable by
        other runners of the same modules (exported graphs)."""
        encode = encode or (lambda tap, y: self.encoders[tap](y))
        decode = decode or (lambda tap, f: self.decoders[tap](f))
        height, width = x.shape[-2:]
        pad_h, pad_w = -height % PAD_MULTIPLE, -width % PAD_MULTIPLE
        mode = "reflect" if pad_h < height and pad_w < width else "replicate"
        y = F.pad(x.float(), (0, pad_w, 0, pad_h), mode=mode) if pad_h or pad_w else x.float()
        for tap in self.order:
            level = self.style.levels[tap]
            if tap == PIXEL_LEVEL:
                coloured = whiten_and_colour(y / 255.0, level, 1.0, (-1.0, 2.0))
                if self.palette_histograms:
                    coloured = match_palette_histograms(coloured, level)
                y = 255.0 * (self.alpha * coloured + (1.0 - self.alpha) * y / 255.0).clamp_(0.0, 1.0)
            else:
                y = decode(tap, whiten_and_colour(encode(tap, y), level, self.alpha))
        return y[..., :height, :width].to(x.dtype)


@torch.no_grad()
def style_statistics(encoder: EfficientNetLite0, style_image: torch.Tensor, taps: list[str]) -> StyleStatistics:
    """Statistics of a (1, 3, H, W) style image in [0, 255] at each tap."""
    features = encoder.features(style_image.float(), [tap for tap in taps if tap != PIXEL_LEVEL])
    levels = {tap: level_statistics(features[tap]) for tap in taps if tap != PIXEL_LEVEL}
    if PIXEL_LEVEL in taps:
        levels[PIXEL_LEVEL] = palette_statistics(style_image.float() / 255.0)
    return StyleStatistics({tap: levels[tap] for tap in taps})
