"""Bounded-memory inference for frames of any size: exact layer-wise bands.

Run whole, the network's memory grows with the frame: its decoder
upsamples, pads and convolves 32-channel activations at full resolution
(4.4 GiB peak for one 4K frame through the full network with PyTorch on
the CPU, 4.0 with ONNX Runtime, and that again for each further frame of a
batch). The obvious fix, overlapping tiles stylized one by one, is
wrong for this network: every instance norm takes its mean and variance
over the whole image, so each tile would be normalised with its own
statistics and the tiles would differ in tone, with visible seams.

Instead the network runs one layer at a time over the whole frame, and only
each layer's convolution is cut into horizontal bands of rows. A band reads
the rows it needs (its halo) straight from the previous layer's whole-frame
activation, with the reflection padding (and the decoder's nearest x2
upsampling) applied by index, so each band equals the same rows of the
whole-frame convolution exactly. Each instance norm's statistics are
gathered band by band and combined in float64 over the whole tensor before
it is normalised in place. What is held at once is the current layer's input
and output (and a residual block's input), the frame itself and the result,
plus one band's workspace: the result matches ``model(x)`` to float
round-off, at a fraction of the memory. How much memory a band height takes
is worked out in :mod:`.budget`.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn
import torch.nn.functional as F

from ..errors import OptionError
from ..models import TransformerNet
from ..models.transformer import ConvLayer, SeparableConvLayer, UpsampleConvLayer

Sink = Callable[[int, int, torch.Tensor], None]




def stylize_banded(model: TransformerNet, x: torch.Tensor, band_rows: int) -> torch.Tensor:
    """``model(x)`` computed layer by layer in bands of ``band_rows`` frame rows.

    ``x`` is (N, 3, H, W) in [0, 255] on the model's device; the result has the
    same shape. Layers at 1/2 and 1/4 resolution take ``band_rows // 2`` and
    ``band_rows // 4`` of their own rows per band (at least one). Frames of a
    batch go through one at a time, as instance norm treats them anyway.
    """
    if band_rows < 1:
        raise OptionError(f"band rows must be at least 1, not {band_rows}")
    if x.dim() != 4 or x.shape[1] != 3:
        raise OptionError(f"expected frames shaped (N, 3, H, W), not {tuple(x.shape)}")
    weight = model.conv1.conv2d.weight
    with torch.inference_mode():
        frames = x.to(device=weight.device, dtype=weight.dtype)
        result = torch.empty(frames.shape, dtype=weight.dtype, device=weight.device)
        for n in range(frames.shape[0]):
            _stylize_frame(model, frames[n : n + 1], band_rows, result[n : n + 1])
    return result


def _stylize_frame(model: TransformerNet, frame: torch.Tensor, band_rows: int, result: torch.Tensor) -> None:
    """One (1, 3, H, W) frame into ``result``, the same shape."""
    config = model.config
    height, width = frame.shape[-2:]
    inputs = TransformerNet.pad_to_multiple(frame)  # a copy only when H or W is not a multiple of 4

    y = _conv_norm(inputs, model.conv1, model.in1, band_rows)
    y = _conv_norm(y, model.conv2, model.in2, band_rows // 2)
    y = _conv_norm(y, model.conv3, model.in3, band_rows // 4)
    for i in range(config.residual_blocks):
        block = getattr(model, f"res{i + 1}")
        h = _conv_norm(y, block.conv1, block.in1, band_rows // 4)
        h = _conv_norm(h, block.conv2, block.in2, band_rows // 4, relu=False)  # frees the hidden activation
        y.add_(h)  # y is ours: from the first layer's output on, never the caller's tensor
        del h
    y = _conv_norm(y, model.deconv1, model.in4, band_rows // 2)
    y = _conv_norm(y, model.deconv2, model.in5, band_rows)

    # The last layer writes its bands straight into the result, cropped, and
    # with the residual output's sigmoid applied band by band.
    def sink(start: int, stop: int, band: torch.Tensor) -> None:
        stop = min(stop, height)
        band = band[:, :, : stop - start, :width]
        if config.output == "residual":
            p = (inputs[:, :, start:stop, :width] / 255.0).clamp_(1e-3, 1 - 1e-3)
            band = torch.sigmoid_(torch.logit_(p).add_(band)).mul_(255.0)
        result[:, :, start:stop].copy_(band)

    _conv_layer(y, model.deconv3, band_rows, sink=sink, rows=height)


def _conv_norm(x: torch.Tensor, layer: nn.Module, norm: nn.InstanceNorm2d, band_rows: int, relu: bool = True):
    """``relu(norm(layer(x)))`` (or without the ReLU), a new whole-frame tensor."""
    moments = _Moments()

    def sink(start: int, stop: int, band: torch.Tensor) -> None:
        out[:, :, start:stop].copy_(band)
        moments.add(band)

    out = torch.empty(_conv_output_shape(x, layer), dtype=x.dtype, device=x.device)
    _conv_layer(x, layer, band_rows, sink)
    return _normalise(out, moments, norm, band_rows, relu)


def _conv_output_shape(x: torch.Tensor, layer: nn.Module) -> tuple[int, int, int, int]:
    convs, upsample, pad = _parts(layer)
    (k_h, k_w), (s_h, s_w) = convs[0].kernel_size, convs[0].stride
    out_h = (x.shape[-2] * upsample + 2 * pad - k_h) // s_h + 1
    out_w = (x.shape[-1] * upsample + 2 * pad - k_w) // s_w + 1
    return x.shape[0], convs[-1].out_channels, out_h, out_w


def _parts(layer: nn.Module) -> tuple[list[nn.Conv2d], int, int]:
    """A layer's convolutions (a depthwise one is followed by its pointwise
    one), its upsampling factor and its reflection padding."""
    if not isinstance(layer, (ConvLayer, SeparableConvLayer, UpsampleConvLayer)):
        raise TypeError(f"banded inference needs the trained TransformerNet's layers, not {type(layer).__name__}")
    convs = [layer.depthwise, layer.pointwise] if isinstance(layer, SeparableConvLayer) else [layer.conv2d]
    pads = set(layer.reflection_pad.padding)
    assert len(pads) == 1, f"unequal padding {layer.reflection_pad.padding}"
    for conv in convs:
        assert conv.padding == (0, 0) and conv.dilation == (1, 1), "padding comes from the reflection pad only"
    for conv in convs[1:]:
        assert conv.kernel_size == (1, 1) and conv.stride == (1, 1), "only pointwise convolutions follow the first"
    return convs, int(getattr(layer, "upsample", 1)), pads.pop()


def _conv_layer(x: torch.Tensor, layer: nn.Module, band_rows: int, sink: Sink, rows: int | None = None) -> None:
    """One of the network's convolution layers (ConvLayer, SeparableConvLayer
    or UpsampleConvLayer) over the whole of ``x``, in bands of ``band_rows``
    output rows (the first ``rows`` of them only, when given); each band goes
    to ``sink(start, stop, band)``.
    """
    convs, upsample, pad = _parts(layer)
    (k_h, _), (s_h, _) = convs[0].kernel_size, convs[0].stride

    in_h, in_w = x.shape[-2] * upsample, x.shape[-1] * upsample  # the (virtually) upsampled input
    if pad >= in_h or pad >= in_w:
        raise OptionError(f"the frame is too small for this network ({x.shape[-2]}x{x.shape[-1]} at one layer)")
    out_h = (in_h + 2 * pad - k_h) // s_h + 1
    rows = out_h if rows is None else min(rows, out_h)
    step = max(1, band_rows)
    for start in range(0, rows, step):
        stop = min(start + step, rows)
        band = _band_input(x, start * s_h - pad, (stop - 1) * s_h + k_h - pad, pad, upsample)
        for conv in convs:
            band = F.conv2d(band, conv.weight, conv.bias, conv.stride, 0, 1, conv.groups)
        sink(start, stop, band)
        del band


def _band_input(x: torch.Tensor, start: int, stop: int, pad: int, upsample: int) -> torch.Tensor:
    """Rows ``start:stop`` of ``x`` nearest-upsampled by ``upsample`` and
    reflection-padded by ``pad`` on every side (rows counted in the upsampled,
    unpadded input, so they may start below 0 or end past its height), with
    the padded columns: what the convolution reads for one band, without
    upsampling or padding the whole of ``x``."""
    n, c, height, width = x.shape
    band = x.new_empty((n, c, stop - start, width * upsample + 2 * pad))
    inner = band[..., pad : pad + width * upsample]
    if upsample == 1 and start >= 0 and stop <= height:
        inner.copy_(x[:, :, start:stop])  # an interior band: one copy, no gather
    else:
        rows = _source_rows(start, stop, height * upsample, upsample, x.device)
        source = x.index_select(2, rows)
        if upsample == 1:
            inner.copy_(source)
        else:  # each source column fills ``upsample`` columns
            inner.unflatten(-1, (width, upsample)).copy_(source.unsqueeze(-1).expand(*source.shape, upsample))
    if pad:  # reflect the columns, not repeating the edge one
        inside = width * upsample
        band[..., :pad].copy_(band[..., pad + 1 : 2 * pad + 1].flip(-1))
        band[..., pad + inside :].copy_(band[..., inside - 1 : inside + pad - 1].flip(-1))
    return band


def _source_rows(start: int, stop: int, size: int, upsample: int, device: torch.device) -> torch.Tensor:
    """Rows ``start:stop`` of the reflection-padded, nearest-upsampled input
    (``size`` rows once upsampled), as indices into the input itself:
    negative indices and those past ``size`` reflect back (without repeating
    the edge), then divide by the upsampling factor."""
    index = torch.arange(start, stop, device=device).abs_()
    index = torch.where(index >= size, 2 * (size - 1) - index, index)
    return index // upsample if upsample > 1 else index


class _Moments:
    """Per-channel count, mean and sum of squared deviations, merged band by
    band in float64 (Chan et al.'s pairwise update), so the whole tensor's
    mean and variance come out as exactly as one pass over it would give."""

    def __init__(self):
        self.count = 0
        self.mean: torch.Tensor | None = None
        self.m2: torch.Tensor | None = None

    def add(self, band: torch.Tensor) -> None:
        assert band.shape[0] == 1, "one frame at a time"
        if band.dtype in (torch.float16, torch.bfloat16):
            band = band.float()  # squares of activations overflow half precision
        n = band.shape[2] * band.shape[3]
        # Two passes over the band (its mean, then squared deviations from
        # it): as exact as var_mean, and faster on the CPU.
        mean = band.mean(dim=(2, 3), keepdim=True)
        m2 = (band - mean).square_().sum(dim=(0, 2, 3)).double()
        mean = mean.view(-1).double()
        if self.mean is None:
            self.count, self.mean, self.m2 = n, mean, m2
            return
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + delta * delta * (self.count * n / total)
        self.count = total

    def mean_var(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mean, self.m2 / self.count


def _normalise(y: torch.Tensor, moments: _Moments, norm: nn.InstanceNorm2d, band_rows: int, relu: bool) -> torch.Tensor:
    """``norm(y)`` (then ReLU) in place, a band of rows at a time, with the
    statistics gathered while ``y`` was computed."""
    if norm.running_mean is not None and not norm.training:
        mean, var = norm.running_mean.double(), norm.running_var.double()
    else:
        mean, var = moments.mean_var()
    scale = torch.rsqrt(var + norm.eps)
    if norm.weight is not None:
        scale = scale * norm.weight.double()
    shift = -mean * scale
    if norm.bias is not None:
        shift = shift + norm.bias.double()
    scale = scale.to(y.dtype).view(1, -1, 1, 1)
    shift = shift.to(y.dtype).view(1, -1, 1, 1)
    step = max(1, band_rows)
    for start in range(0, y.shape[2], step):
        band = y[:, :, start : start + step]
        band.mul_(scale).add_(shift)
        if relu:
            band.relu_()
    return y
