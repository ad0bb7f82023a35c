"""The Johnson et al. (2016) image transformation network.

Reflection padding and instance normalisation, as in the paper's later
revisions (Ulyanov et al.), and nearest upsampling followed by a convolution in
the decoder instead of transposed convolutions, which avoids checkerboard
artifacts. Layer names follow pytorch/examples' fast_neural_style so that its
published checkpoints load unchanged.

Instance norm may mix the whole frame's statistics with its neighbourhood's
(``TransformerConfig.local_norm``): with the frame's alone, one channel's
tone is set against everything in the frame, so a dark subject in a bright
frame is pushed darker still, where painted on its own it keeps its tone.
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from .architecture import TransformerConfig


# The neighbourhood of the local statistics: cells of LOCAL_CELL frame pixels,
# weighed by a Gaussian of LOCAL_SIGMA cells (48 px: a tenth of the 480 px
# working size's long side). Both are in pixels of the network's input, so
# the neighbourhood is the same part of a frame at any size the network runs.
LOCAL_CELL = 8
LOCAL_SIGMA = 6


class LocalInstanceNorm(nn.InstanceNorm2d):
    """Affine instance norm whose mean and variance are ``local_share`` the
    neighbourhood's and the rest the whole frame's; ``stride`` is the layer's
    step in frame pixels (1, 2 or 4). Its parameters are those of
    ``nn.InstanceNorm2d``, so a network's weights load with either.

    The statistics are gathered per cell, mixed into a scale and an offset
    per cell, and those are brought to every pixel bilinearly: two maps to
    upsample, where per-pixel statistics would need a dozen passes over
    the activation."""

    def __init__(self, channels: int, local_share: float = 0.0, stride: int = 1):
        super().__init__(channels, affine=True)
        self.local_share = local_share
        self.cell = LOCAL_CELL // stride

    def extra_repr(self) -> str:  # part of the exported graph's cache key
        return f"{super().extra_repr()}, local_share={self.local_share}, cell={self.cell}, sigma={LOCAL_SIGMA}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.local_share:
            return super().forward(x)
        var, mean = torch.var_mean(x, dim=(2, 3), unbiased=False, keepdim=True)
        affine = cell_affine(self, mean, var, smooth_cells(cell_moments(x, mean, self.cell)))
        rows, columns = x.shape[-2], x.shape[-1]
        per_pixel = spread_cells(affine, bilinear_weights(affine.shape[-2], self.cell, 0, rows), bilinear_weights(affine.shape[-1], self.cell, 0, columns))
        scale, offset = per_pixel.to(x.dtype).chunk(2, dim=1)
        return x * scale + offset


def cell_moments(x: torch.Tensor, centre: torch.Tensor, cell: int) -> torch.Tensor:
    """Each whole cell's mean of ``x - centre`` and of its square (N, 2C,
    cells down, cells across); the last rows and columns short of a cell
    are left out (a pooling that keeps part-cells is several times slower
    on the CPU engines). Measured from the frame's mean, so that the
    variance loses nothing to cancellation."""
    if x.dtype == torch.float16:
        x, centre = x.float(), centre.float()  # squares of activations overflow half precision
    deviation = x - centre
    return torch.cat([F.avg_pool2d(deviation, cell), F.avg_pool2d(deviation * deviation, cell)], 1)


def smooth_cells(cells: torch.Tensor) -> torch.Tensor:
    """Cell moments averaged over the neighbourhood: a Gaussian of
    LOCAL_SIGMA cells, renormalised where it reaches past the frame's
    edges. Two small matrix products, one per axis."""
    return gaussian_weights(cells.shape[-2], cells).T @ cells @ gaussian_weights(cells.shape[-1], cells)


def gaussian_weights(size, like: torch.Tensor) -> torch.Tensor:
    """(size, size): column j weighs every cell for cell j, summing to 1."""
    index = torch.arange(size, dtype=torch.float32, device=like.device)
    distance = (index[:, None] - index[None, :]) / LOCAL_SIGMA
    weights = torch.exp(-0.5 * distance * distance)
    return (weights / weights.sum(0, keepdim=True)).to(like.dtype)  # columns sum to 1: cells @ weights averages along rows


def cell_affine(norm: LocalInstanceNorm, mean: torch.Tensor, var: torch.Tensor, moments: torch.Tensor) -> torch.Tensor:
    """Per cell, the norm's scale then offset (N, 2C, ...) over the mixed
    statistics: the frame's ``mean`` and ``var`` and the neighbourhood's
    moments about that mean."""
    shift, square = moments.chunk(2, dim=1)
    local_var = (square - shift * shift).clamp(min=0)
    share = norm.local_share
    scale = torch.rsqrt((1 - share) * var.to(moments) + share * local_var + norm.eps) * norm.weight.to(moments).view(1, -1, 1, 1)
    offset = norm.bias.to(moments).view(1, -1, 1, 1) - (mean.to(moments) + share * shift) * scale
    return torch.cat([scale, offset], 1)


def bilinear_weights(cells, cell: int, first, count) -> torch.Tensor:
    """(count, cells): pixels ``first`` to ``first + count`` of one axis
    as bilinear weights of the cells along it (cell j centred on pixel
    ``(j + 0.5) * cell - 0.5``; past the outer centres, the outer cell's
    value), as a matrix, so that a band of rows can be resampled alone."""
    position = (torch.arange(count, dtype=torch.float32) + first + 0.5) / cell - 0.5
    centres = torch.arange(cells, dtype=torch.float32)
    position = torch.minimum(position.clamp(min=0), centres[-1:])
    return (1 - (centres[None, :] - position[:, None]).abs()).relu()


def spread_cells(cells: torch.Tensor, rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """Cell values at pixels: ``rows`` (pixels down x cells down) and
    ``columns`` (pixels across x cells across) from :func:`bilinear_weights`."""
    return rows.to(cells) @ cells @ columns.to(cells).T


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
        c, share = config.base_channels, config.local_norm
        self.conv1 = ConvLayer(3, c, config.edge_kernel)
        self.in1 = nn.InstanceNorm2d(c, affine=True)
        self.conv2 = ConvLayer(c, 2 * c, 3, stride=2)
        self.in2 = LocalInstanceNorm(2 * c, share, stride=2)
        self.conv3 = ConvLayer(2 * c, 4 * c, 3, stride=2)
        self.in3 = LocalInstanceNorm(4 * c, share, stride=4)
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
