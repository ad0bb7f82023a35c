"""The PyTorch modules of the any-image path: the Lite0 encoder up to one
tap (:class:`EncoderTap`) and the decoders that turn a tap's features back
into an image (:class:`FeatureDecoder`, trained only to reconstruct photos,
and :class:`InferenceDecoder`, the same with its last step folded). The
any-image graphs are exported from these modules (stylize/torch_engine.py).

Nothing here was trained on paintings. A level is one Lite0 tap (the
post-expansion activations the style loss reads); its decoder turns that
tap's features back into an image. The style transforms that run between
the passes (whitening and colouring, the palette level, the level-by-level
painting loop) live in NumPy in models/feature_transforms.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
import torch.nn.functional as F

from .efficientnet import EfficientNetLite0


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
