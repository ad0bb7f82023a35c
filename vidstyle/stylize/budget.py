"""How much memory a style network takes on a frame, whole or in bands.

Arithmetic on the network's shape only (no PyTorch), so that a run can plan
its memory, and choose between whole frames and the exact bands of
:mod:`.banded`, before any network is loaded.
"""

from __future__ import annotations

import math

from ..errors import OptionError
from ..models.architecture import TransformerConfig

FLOAT_BYTES = 4  # the networks run in float32
MIN_BAND_ROWS = 8

# The plain (whole-frame) path's peak: a process baseline, then per frame a
# fixed part and bytes per padded pixel that grow with the base width.
# Fitted to the larger of PyTorch and ONNX Runtime (PyTorch, every time) in
# benchmarks/memory.py, one thread, peak RSS in GiB (ONNX Runtime / PyTorch):
#   full (16 channels): 720p 0.97 / 1.10, 1080p 1.45 / 1.67, 4K 3.99 / 4.39
#   fast (8 channels):  720p 0.73 / 0.82, 1080p 0.92 / 1.23, 4K 1.83 / 2.75
# with a 0.6 GiB baseline; 1080p at batch 2 took 1.9x the per-frame part.
# Two threads took the same as one.
PLAIN_BASE_BYTES = 600 * 2**20
PLAIN_FRAME_BYTES = 150 * 2**20
PLAIN_BYTES_PER_PIXEL = 150
PLAIN_BYTES_PER_PIXEL_CHANNEL = 22



def _padded(height: int, width: int) -> tuple[int, int]:
    return height + (-height) % 4, width + (-width) % 4


def _layers(config: TransformerConfig) -> list[dict]:
    """Each convolution layer of the banded run, in order: channels, kernel,
    stride, upsampling, the resolution divisors of its input and output, the
    whole-frame channels held beside its input and output (at ``held_div``),
    and whether it reads the frame (first) or writes the result (last)."""
    c, k, sep = config.base_channels, config.edge_kernel, config.separable

    def layer(cin, cout, kernel, in_div, out_div, stride=1, up=1, separable=False, held=0, held_div=1,
              first=False, last=False):
        return dict(cin=cin, cout=cout, kernel=kernel, stride=stride, up=up, in_div=in_div, out_div=out_div,
                    separable=separable, held=held, held_div=held_div, first=first, last=last)

    layers = [layer(3, c, k, 1, 1, first=True), layer(c, 2 * c, 3, 1, 2, stride=2), layer(2 * c, 4 * c, 3, 2, 4, stride=2)]
    for _ in range(config.residual_blocks):
        layers.append(layer(4 * c, 4 * c, 3, 4, 4, separable=sep))
        layers.append(layer(4 * c, 4 * c, 3, 4, 4, separable=sep, held=4 * c, held_div=4))  # the block's input
    d = config.full_resolution_channels
    layers += [layer(4 * c, 2 * c, 3, 4, 2, up=2), layer(2 * c, d, 3, 2, 1, up=2), layer(d, 3, k, 1, 1, last=True)]
    return layers


def _layer_peak(spec: dict, padded_h: int, padded_w: int, band_rows: int) -> int:
    """Bytes of tensors alive while one layer runs: the whole-frame ones
    (the frame, the result, the layer's input and output, a residual
    block's input) and one band's workspace."""
    pixels = padded_h * padded_w
    held = 3 + 3  # the (padded) frame, kept for the residual output, and the result
    if not spec["first"]:
        held += spec["cin"] / spec["in_div"] ** 2
    if not spec["last"]:
        held += spec["cout"] / spec["out_div"] ** 2
    held += spec["held"] / spec["held_div"] ** 2

    rows = max(1, band_rows // spec["out_div"])
    out_w = padded_w // spec["out_div"]
    in_w = padded_w // spec["in_div"]
    pad = spec["kernel"] // 2
    band_in_rows = (rows - 1) * spec["stride"] + spec["kernel"]
    band_in = spec["cin"] * band_in_rows * (in_w * spec["up"] + 2 * pad)
    band_out = spec["cout"] * rows * out_w
    # The band's workspace is the largest of its phases: gathering its input
    # (with the rows taken first, at the border or when upsampling); the
    # convolution, whose CPU kernel (oneDNN) needs about one more output;
    # the statistics, with one temporary of the output's size. Measured with
    # benchmarks/memory.py; a build of PyTorch without oneDNN would unfold
    # the input instead, k*k times its size.
    gather = band_in + spec["cin"] * band_in_rows * in_w
    if spec["separable"]:  # depthwise, then pointwise
        conv = max(band_in + 2 * band_out, 3 * band_out)
    else:
        conv = band_in + 2 * band_out
    stats = 2 * band_out
    sink = 3 * band_out if spec["last"] else 0  # the residual output's temporaries
    workspace = max(gather, conv, stats, sink)
    return int(FLOAT_BYTES * (held * pixels + workspace))


def banded_peak_bytes(config: TransformerConfig, height: int, width: int, band_rows: int) -> int:
    """Bytes of tensors at the banded run's peak on one frame (not the
    process baseline: interpreter, libraries and weights)."""
    padded_h, padded_w = _padded(height, width)
    return max(_layer_peak(spec, padded_h, padded_w, band_rows) for spec in _layers(config))


def band_rows_for_budget(config: TransformerConfig, height: int, width: int, budget_bytes: int) -> int:
    """The largest band height (frame rows, a multiple of 4, at least 8) whose
    banded run fits ``budget_bytes`` of tensors on one frame, beside the
    whole-frame activations it must hold anyway; no more than the frame needs.

    The budget is for the computation's tensors, not the process baseline
    (see ``banded_peak_bytes``). OptionError when even 8 rows do not fit.
    On the CPU smaller bands also run faster, staying in cache: a 4K frame
    took 9.4 s in bands of 64 rows and 18-20 s in one (benchmarks/memory.py),
    so a caller after speed may take the smaller of this and 64.
    """
    padded_h, _ = _padded(height, width)
    ceiling = max(MIN_BAND_ROWS, padded_h)  # a multiple of 4: more rows than this change nothing
    least = banded_peak_bytes(config, height, width, MIN_BAND_ROWS)
    if least > budget_bytes:
        raise OptionError(
            f"a {width}x{height} frame needs at least {math.ceil(least / 2**20)} MiB to stylize in bands, "
            f"over the budget of {budget_bytes // 2**20} MiB"
        )
    low, high = MIN_BAND_ROWS // 4, ceiling // 4  # in units of 4 rows; the peak grows with the band
    while low < high:
        middle = (low + high + 1) // 2
        if banded_peak_bytes(config, height, width, 4 * middle) <= budget_bytes:
            low = middle
        else:
            high = middle - 1
    return 4 * low


def estimate_peak_bytes(config: TransformerConfig, height: int, width: int, batch: int = 1) -> int:
    """Peak resident memory of the plain (whole-frame) path, ONNX Runtime or
    PyTorch on the CPU, whichever is larger: a process baseline (0.6 GiB)
    plus, per frame, a cost per padded pixel that grows with the network's
    base width, calibrated by benchmarks/memory.py (0-25% above the peaks
    measured there). For deciding when to switch to bands."""
    return PLAIN_BASE_BYTES + plain_network_bytes(config, height, width, batch)


def plain_network_bytes(config: TransformerConfig, height: int, width: int, batch: int = 1) -> int:
    """The part of ``estimate_peak_bytes`` above the process baseline: what a
    memory budget for the network is compared with."""
    padded_h, padded_w = _padded(height, width)
    per_pixel = PLAIN_BYTES_PER_PIXEL + PLAIN_BYTES_PER_PIXEL_CHANNEL * config.base_channels
    return int(batch * (PLAIN_FRAME_BYTES + per_pixel * padded_h * padded_w))
