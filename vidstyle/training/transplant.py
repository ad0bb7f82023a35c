"""Starting a network of one shape from a trained network of another.

Distilling a smaller student from scratch regresses towards a washed-out
mean for thousands of steps; started from its teacher's weights it begins
close to the teacher's look. Tensors of the same shape are copied; edge
kernels larger than the student's are cropped to their centre; a dense 3x3
residual convolution becomes a depthwise-separable one by the best rank-1
factorisation of each input channel's taps (SVD), which the instance norm
after it forgives up to scale; a narrower full-resolution decoder keeps the
teacher's most used channels.
"""

from __future__ import annotations

import torch

from ..models import TransformerNet


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
