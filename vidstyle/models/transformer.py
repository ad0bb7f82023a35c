"""The Johnson et al. (2016) image transformation network.

Reflection padding and instance normalisation, as in the paper's later
revisions (Ulyanov et al.), and nearest upsampling followed by a convolution in
the decoder instead of transposed convolutions, which avoids checkerboard
artifacts. Layer names follow pytorch/examples' fast_neural_style so that its
published checkpoints load unchanged.
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from .architecture import TransformerConfig


class ConvLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d(self.reflection_pad(x))


class SeparableConvLayer(nn.Module):
    """A depthwise 3x3 then a pointwise 1x1 convolution: about a ninth of the
    multiply-adds of a full 3x3 convolution at these widths."""

    def __init__(self, channels: int):
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(1)
        self.depthwise = nn.Conv2d(channels, channels, 3, groups=channels)
        self.pointwise = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(self.reflection_pad(x)))


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, separable: bool = False):
        super().__init__()
        conv = (lambda: SeparableConvLayer(channels)) if separable else (lambda: ConvLayer(channels, channels, 3))
        self.conv1 = conv()
        self.in1 = nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = conv()
        self.in2 = nn.InstanceNorm2d(channels, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.in1(self.conv1(x)))
        return x + self.in2(self.conv2(y))


class UpsampleConvLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, upsample: int):
        super().__init__()
        self.upsample = upsample
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=self.upsample, mode="nearest")
        return self.conv2d(self.reflection_pad(x))


class TransformerNet(nn.Module):
    """Maps an RGB batch in [0, 255] (N, 3, H, W) to a stylized batch in the
    same range and size. Any H and W work: the input is padded to a multiple
    of 4 internally and the output cropped back."""

    def __init__(self, config: TransformerConfig = TransformerConfig()):
        super().__init__()
        self.config = config
        c = config.base_channels
        self.conv1 = ConvLayer(3, c, config.edge_kernel)
        self.in1 = nn.InstanceNorm2d(c, affine=True)
        self.conv2 = ConvLayer(c, 2 * c, 3, stride=2)
        self.in2 = nn.InstanceNorm2d(2 * c, affine=True)
        self.conv3 = ConvLayer(2 * c, 4 * c, 3, stride=2)
        self.in3 = nn.InstanceNorm2d(4 * c, affine=True)
        for i in range(config.residual_blocks):
            self.add_module(f"res{i + 1}", ResidualBlock(4 * c, config.separable))
        self.deconv1 = UpsampleConvLayer(4 * c, 2 * c, 3, upsample=2)
        self.in4 = nn.InstanceNorm2d(2 * c, affine=True)
        d = config.full_resolution_channels
        self.deconv2 = UpsampleConvLayer(2 * c, d, 3, upsample=2)
        self.in5 = nn.InstanceNorm2d(d, affine=True)
        self.deconv3 = ConvLayer(d, 3, config.edge_kernel)

    @staticmethod
    def pad_to_multiple(x: torch.Tensor, multiple: int = 4) -> torch.Tensor:
        """Reflection-pad bottom and right so that both sides divide by
        ``multiple`` (the two stride-2 stages need 4); crop back afterwards."""
        pad_h, pad_w = (-x.shape[-2]) % multiple, (-x.shape[-1]) % multiple
        return F.pad(x, (0, pad_w, 0, pad_h), mode="reflect") if pad_h or pad_w else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        inputs = self.pad_to_multiple(x)
        y = F.relu(self.in1(self.conv1(inputs)))
        y = F.relu(self.in2(self.conv2(y)))
        y = F.relu(self.in3(self.conv3(y)))
        for i in range(self.config.residual_blocks):
            y = getattr(self, f"res{i + 1}")(y)
        y = F.relu(self.in4(self.deconv1(y)))
        y = F.relu(self.in5(self.deconv2(y)))
        y = self.deconv3(y)
        if self.config.output == "residual":
            p = (inputs / 255.0).clamp(1e-3, 1 - 1e-3)
            y = 255.0 * torch.sigmoid(torch.logit(p) + y)
        return y[..., :height, :width]
