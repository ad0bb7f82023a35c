"""Starting a network of one shape from a trained network of another.

Distilling a smaller student from scratch regresses towards a washed-out
mean for thousands of steps; started from its teacher's weights it begins
close to the teacher's look. Tensors of the same shape are copied; edge
kernels larger than the student's are cropped to their centre; a dense 3x3
residual convolution becomes a depthwise-separable one by the best rank-1
factorisation of each input channel's taps (SVD), which the instance norm
after it forgives up to scale; a narrower full-resolution decoder keeps the
teacher's most used channels, and so does an any-image decoder of
narrower stages. A network two or more times as wide is the teacher exactly
(``widen``): more room to paint, starting from today's look.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from ..models import TransformerConfig, TransformerNet
from ..models.wct import DecoderConfig, FeatureDecoder


def _separable_from_dense(weight: torch.Tensor, bias: torch.Tensor) -> dict[str, torch.Tensor]:
    """Depthwise (C, 1, k, k) and pointwise (C, C, 1, 1) weights whose
    product approximates the dense (C, C, k, k) ``weight``."""
    out_channels, in_channels, k, _ = weight.shape
    depthwise = torch.empty(in_channels, 1, k, k)
    pointwise = torch.empty(out_channels, in_channels, 1, 1)
    for i in range(in_channels):
        u, s, v = torch.linalg.svd(weight[:, i].reshape(out_channels, k * k).double(), full_matrices=False)
        scale = s[0].sqrt()
        depthwise[i, 0] = (v[0] * scale).reshape(k, k).float()
        pointwise[:, i, 0, 0] = (u[:, 0] * scale).float()
    return {
        "depthwise.weight": depthwise,
        "depthwise.bias": torch.zeros(in_channels),
        "pointwise.weight": pointwise,
        "pointwise.bias": bias.clone(),
    }


def _crop_kernel(weight: torch.Tensor, size: int) -> torch.Tensor:
    start = (weight.shape[-1] - size) // 2
    return weight[..., start : start + size, start : start + size].clone()


def transplant(teacher: TransformerNet, student: TransformerNet) -> list[str]:
    """Load into ``student`` what ``teacher``'s weights give it; returns the
    names of the student's tensors left as they were (nothing to take)."""
    if _widening_factor(teacher.config, student.config):
        student.load_state_dict(widen(teacher, student.config).state_dict())
        return []
    source = {k: v.detach().float().cpu() for k, v in teacher.state_dict().items()}
    target = student.state_dict()
    loaded: dict[str, torch.Tensor] = {}
    for name, tensor in target.items():
        if name in source and source[name].shape == tensor.shape:
            loaded[name] = source[name]
        elif (
            name in source
            and source[name].dim() == 4
            and source[name].shape[:2] == tensor.shape[:2]
            and source[name].shape[-1] >= tensor.shape[-1]  # a kernel can shrink to its centre, not grow
        ):
            loaded[name] = _crop_kernel(source[name], tensor.shape[-1])
    for block in range(1, student.config.residual_blocks + 1):
        for conv in ("conv1", "conv2"):
            prefix = f"res{block}.{conv}."
            dense_weight, dense_bias = source.get(prefix + "conv2d.weight"), source.get(prefix + "conv2d.bias")
            if student.config.separable and not teacher.config.separable and dense_weight is not None:
                for key, value in _separable_from_dense(dense_weight, dense_bias).items():
                    if target[prefix + key].shape == value.shape:
                        loaded[prefix + key] = value
    loaded.update(_narrow_decoder(source, target, student.config.edge_kernel))
    student.load_state_dict({**target, **{k: v.to(target[k].dtype) for k, v in loaded.items()}})
    return sorted(set(target) - set(loaded))


def _narrow_decoder(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor], edge_kernel: int) -> dict[str, torch.Tensor]:
    """A student with fewer full-resolution channels keeps the teacher's
    channels that weigh most in its last convolution: each is normalised
    on its own, so the kept ones are exactly the teacher's."""
    have, want = source["in5.weight"].shape[0], target["in5.weight"].shape[0]
    if want >= have or target["deconv2.conv2d.weight"].shape[1] != source["deconv2.conv2d.weight"].shape[1]:
        return {}
    last = source["deconv3.conv2d.weight"]
    weight = last.abs().sum(dim=(0, 2, 3)) * source["in5.weight"].abs()
    keep = torch.argsort(weight, descending=True)[:want].sort().values
    return {
        "deconv2.conv2d.weight": source["deconv2.conv2d.weight"][keep].clone(),
        "deconv2.conv2d.bias": source["deconv2.conv2d.bias"][keep].clone(),
        "in5.weight": source["in5.weight"][keep].clone(),
        "in5.bias": source["in5.bias"][keep].clone(),
        "deconv3.conv2d.weight": _crop_kernel(last[:, keep], edge_kernel),
        "deconv3.conv2d.bias": source["deconv3.conv2d.bias"].clone(),
    }


def narrow_feature_decoder(wide: FeatureDecoder, config: DecoderConfig) -> FeatureDecoder:
    """A decoder of ``config``'s (narrower) widths started from ``wide``:
    each convolution keeps the output channels that matter most, by the
    size of their own filter times how strongly the next convolution reads
    them. Fine-tuning from there reaches the wide decoder's loss in a
    fraction of the steps that training from scratch takes."""
    if config.tap != wide.config.tap or config.in_channels != wide.config.in_channels or len(config.widths) != len(wide.config.widths):
        raise ValueError(f"cannot narrow a {wide.config.to_dict()} decoder to {config.to_dict()}")
    if any(n > w for n, w in zip(config.widths, wide.config.widths)):
        raise ValueError(f"cannot widen a decoder ({list(wide.config.widths)} to {list(config.widths)})")
    narrow = FeatureDecoder(config)
    sources = [m for m in wide.modules() if isinstance(m, nn.Conv2d)]
    targets = [m for m in narrow.modules() if isinstance(m, nn.Conv2d)]
    kept_inputs = torch.arange(config.in_channels)
    with torch.no_grad():
        for index, (source, target) in enumerate(zip(sources, targets)):
            weight = source.weight[:, kept_inputs]
            if index + 1 < len(sources):
                reads = sources[index + 1].weight.abs().sum(dim=(0, 2, 3))
                importance = weight.abs().sum(dim=(1, 2, 3)) * reads
                kept = importance.topk(target.out_channels).indices.sort().values
            else:
                kept = torch.arange(target.out_channels)
            target.weight.copy_(weight[kept])
            target.bias.copy_(source.bias[kept])
            kept_inputs = kept
    return narrow


def _widening_factor(narrow: TransformerConfig, wide: TransformerConfig) -> int:
    """How many times ``wide`` repeats each of ``narrow``'s channels, or 0
    when it is not a whole-number widening of the same network."""
    if replace(wide, base_channels=narrow.base_channels, decoder_channels=narrow.decoder_channels) != narrow:
        return 0
    factor, rest = divmod(wide.base_channels, narrow.base_channels)
    if factor < 2 or rest or wide.full_resolution_channels != factor * narrow.full_resolution_channels:
        return 0
    return factor


def widen(narrow: TransformerNet, config: TransformerConfig, seed: int = 0) -> TransformerNet:
    """A network of ``config``'s widths (a whole multiple of ``narrow``'s)
    that computes exactly what ``narrow`` does. Each channel is repeated, with
    its normalisation; a convolution reading the copies gets the original
    weight split between them at random (the shares sum to one), so the
    copies see different gradients and can grow apart when trained.
    Instance norm is unchanged by the repeats, which makes the copy exact up
    to rounding."""
    factor = _widening_factor(narrow.config, config)
    if not factor:
        raise ValueError(f"{config} is not a whole-number widening of {narrow.config}")
    wide = TransformerNet(config)
    generator = torch.Generator().manual_seed(seed)
    source = {k: v.detach().float().cpu() for k, v in narrow.state_dict().items()}
    target: dict[str, torch.Tensor] = {}  # every tensor is set below; load_state_dict checks none is missing

    def repeats(channels: int) -> torch.Tensor:
        return torch.arange(channels * factor) % channels

    def convolution(prefix: str, widen_inputs: bool = True, widen_outputs: bool = True) -> None:
        """A depthwise convolution reads one channel per filter: its inputs
        follow its outputs, so it is widened with widen_inputs=False."""
        weight, bias = source[prefix + "weight"], source[prefix + "bias"]
        if widen_outputs:
            rows = repeats(weight.shape[0])
            weight, bias = weight[rows], bias[rows]
        if widen_inputs:
            weight = weight[:, repeats(weight.shape[1])]
            shares = torch.rand(weight.shape, generator=generator) * 0.5 + 0.25
            copies = shares.reshape(weight.shape[0], factor, -1, *weight.shape[2:])
            weight = weight * (copies / copies.sum(dim=1, keepdim=True)).reshape(weight.shape)
        target[prefix + "weight"], target[prefix + "bias"] = weight, bias

    def norm(prefix: str) -> None:
        for key in ("weight", "bias"):
            target[prefix + key] = source[prefix + key][repeats(source[prefix + key].shape[0])]

    convolution("conv1.conv2d.", widen_inputs=False)
    norm("in1.")
    for layer, normalisation in (("conv2", "in2"), ("conv3", "in3")):
        convolution(f"{layer}.conv2d.")
        norm(f"{normalisation}.")
    for block in range(1, config.residual_blocks + 1):
        for index in (1, 2):
            prefix = f"res{block}.conv{index}."
            if config.separable:
                convolution(prefix + "depthwise.", widen_inputs=False)
                convolution(prefix + "pointwise.")
            else:
                convolution(prefix + "conv2d.")
            norm(f"res{block}.in{index}.")
    for layer, normalisation in (("deconv1", "in4"), ("deconv2", "in5")):
        convolution(f"{layer}.conv2d.")
        norm(f"{normalisation}.")
    convolution("deconv3.conv2d.", widen_outputs=False)
    wide.load_state_dict(target)
    return wide.eval()
