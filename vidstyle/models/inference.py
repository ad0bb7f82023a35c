"""The transformer network rearranged for inference: the same function, fewer
wasted multiply-adds on CPU runtimes.

Two layers cost far more than their arithmetic on oneDNN and ONNX Runtime,
whose convolutions work on blocks of 8 or 16 channels:

- the last convolution (16 channels to 3, 9x9, at full resolution) fills
  3 of 16 output lanes; written as a 1xk convolution to 3*k channels (one per
  kernel row) whose row-shifted outputs are summed, it keeps the lanes busy;
- nearest x2 upsampling followed by a 3x3 convolution is one 3x3
  convolution on the low-resolution input with four times the outputs, one
  per output pixel parity, then a pixel shuffle: no upsampled tensor, no
  padding of it.

Both are exact rearrangements (differences are float round-off), so every
trained checkpoint runs unchanged. benchmarks/engine_speed.py measures the engines they run on.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
import torch.nn.functional as F

from .transformer import ConvLayer, TransformerNet, UpsampleConvLayer

# Below this many output channels a convolution is worth rewriting by rows.
FEW_OUTPUT_CHANNELS = 8


class RowSumConv(nn.Module):
    """A stride-1 kxk convolution with reflection padding, computed as a 1xk
    convolution to out*k channels (channel o*k + r holds kernel row r of
    output o) whose rows are summed after shifting each by r."""

    def __init__(self, layer: ConvLayer):
        super().__init__()
        weight, bias = layer.conv2d.weight.detach(), layer.conv2d.bias.detach()
        out_channels, in_channels, kernel, _ = weight.shape
        self.out_channels, self.kernel = out_channels, kernel
        self.rows = nn.Conv2d(in_channels, out_channels * kernel, (1, kernel), bias=False)
        self.rows.weight.data = weight.permute(0, 2, 1, 3).reshape(out_channels * kernel, in_channels, 1, kernel).clone()
        self.bias = nn.Parameter(bias.view(1, out_channels, 1, 1).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height = x.shape[-2]
        pad = self.kernel // 2
        rows = self.rows(F.pad(x, (pad, pad, pad, pad), mode="reflect"))
        rows = rows.view(rows.shape[0], self.out_channels, self.kernel, rows.shape[-2], rows.shape[-1])
        y = rows[:, :, 0, :height]
        for r in range(1, self.kernel):
            y = y + rows[:, :, r, r : r + height]
        return y + self.bias


class SubPixelUpsampleConv(nn.Module):
    """Nearest x2 upsampling then a reflection-padded 3x3 convolution, as a
    3x3 convolution of the edge-padded low-resolution input to 4*out
    channels and a pixel shuffle.

    Reflecting the upsampled image by one pixel repeats its edge row, which
    is the low-resolution edge row: edge padding of the input is exact.
    Output pixel (2i+a, 2j+b) reads upsampled rows 2i+a-1..2i+a+1, that is
    input rows i-1..i+1, each kernel row landing on input row
    floor((a + dy - 1) / 2); the kernel for parity (a, b) sums the taps that
    land on the same input pixel."""

    def __init__(self, layer: UpsampleConvLayer):
        super().__init__()
        weight, bias = layer.conv2d.weight.detach(), layer.conv2d.bias.detach()
        out_channels, in_channels = weight.shape[:2]
        folded = torch.zeros(out_channels, 4, in_channels, 3, 3, dtype=weight.dtype)
        for a in range(2):
            for b in range(2):
                for dy in range(3):
                    for dx in range(3):
                        row = (a + dy - 1) // 2 + 1  # 0..2 in the padded input around i
                        col = (b + dx - 1) // 2 + 1
                        folded[:, 2 * a + b, :, row, col] += weight[:, :, dy, dx]
        self.conv = nn.Conv2d(in_channels, 4 * out_channels, 3)
        # pixel_shuffle reads channel 4*o + (2a + b) as output o at parity (a, b)
        self.conv.weight.data = folded.reshape(4 * out_channels, in_channels, 3, 3)
        self.conv.bias.data = bias.repeat_interleave(4).clone()

    @staticmethod
    def applies_to(layer: nn.Module) -> bool:
        return isinstance(layer, UpsampleConvLayer) and layer.upsample == 2 and layer.conv2d.kernel_size == (3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.conv(F.pad(x, (1, 1, 1, 1), mode="replicate")), 2)


def inference_network(model: TransformerNet) -> TransformerNet:
    """A copy of ``model`` computing the same function with the layers above
    rearranged; ``model`` itself is left as it is (training keeps using it)."""
    fast = copy.deepcopy(model).eval()
    for name in ("deconv1", "deconv2"):
        layer = getattr(fast, name)
        if SubPixelUpsampleConv.applies_to(layer):
            setattr(fast, name, SubPixelUpsampleConv(layer))
    if fast.deconv3.conv2d.out_channels < FEW_OUTPUT_CHANNELS and fast.deconv3.conv2d.stride == (1, 1):
        fast.deconv3 = RowSumConv(fast.deconv3)
    return fast.requires_grad_(False)
