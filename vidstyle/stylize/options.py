"""The stylizer's options: plain data, checked before any network is loaded."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from ..errors import OptionError
from ..models.feature_transforms import PIXEL_LEVEL
from .engines import check_engine
from .frames import LOOK_SIDE, STROKE_SCALES
from .style_mix import check_strength
from .styles import DEFAULT_MODEL, check_model

# The network's share of a 4K run's memory on the CPU: with the frames in
# flight, the stabiliser and the encoder beside it, a run stays near 4 GiB.
DEFAULT_MEMORY_GIB = 2.5
# Frames per network call on the CPU. No more than one per thread is in the
# network at once (the memory is that of two frames on two cores), but the
# threads wait for each other at the end of every batch: 4 frames ran
# bikes.mp4 3-5% faster than 2 (benchmarks/peer_speed.py).
CPU_BATCH_SIZE = 4


@dataclass(frozen=True)
class AnyImageOptions:
    """How a style image paints (vidstyle/models/feature_transforms.py): the long side its
    statistics are taken at, the levels from coarse to fine, and how far
    each level moves towards the style (1: all the way); the pixel level
    matches the painting's colour histograms too, or with
    ``palette_histograms=False`` only their mean and covariance."""

    style_size: int = 512
    levels: tuple[str, ...] = ("block5", "block3", PIXEL_LEVEL)
    alpha: float = 1.0
    palette_histograms: bool = True


@dataclass(frozen=True)
class StylizerOptions:
    device: str = "auto"
    fp16: bool = False  # CUDA only
    # Stroke size relative to the frame: the networks work with the long side
    # at frames.LOOK_SIDE / stroke_scale whatever the frame's size, so a clip
    # looks the same at every size; 2 paints strokes twice as large.
    stroke_scale: float = 1.0
    # True: the networks work at the frame's own size instead (strokes of a
    # fixed number of pixels, so the look changes with the frame size): for
    # comparing with a network's own output, and the look before the working size.
    native_size: bool = False
    max_size: int | None = None  # a cap on the working long side (speed, memory); strokes grow where it binds
    threads: int | None = None  # CPU threads for the networks (None: every CPU this process may use)
    strength: float = 1.0  # 0: the input unchanged; 1: the plain style
    preserve_color: bool = False  # keep the input's chroma, take luminance from the style
    model: str = DEFAULT_MODEL  # "balanced" (or "full" where a style has none), "full", or "fast" (real time)
    # "auto": OpenVINO on the CPU when installed, else ONNX Runtime; PyTorch
    # on CUDA. "openvino", "onnxruntime" or "torch" forces one.
    engine: str = "auto"
    precision: str = "auto"  # OpenVINO's: "bf16" where the CPU has it natively, else "f32"
    # GiB the stylizer's working memory may take (the network's, and bringing
    # frames back to full size); above it, frames go through one at a time,
    # then in exact bands (banded.py), and a frame too large alone is refused.
    # None: DEFAULT_MEMORY_GIB on the CPU, most of the free memory on a GPU.
    memory_budget: float | None = None
    any_image: AnyImageOptions = AnyImageOptions()  # for style images

    @classmethod
    def taken_from(cls, options: Any, **overrides: Any) -> "StylizerOptions":
        """The stylizer's part of a command's options (run's, the
        preview's): every field of the same name, then ``overrides``."""
        shared = {f.name: getattr(options, f.name) for f in fields(cls) if hasattr(options, f.name)}
        return cls(**{**shared, **overrides})

    def cap_warning(self) -> str | None:
        """Says so where ``max_size`` changes the look (the strokes grow)."""
        side = LOOK_SIDE / self.stroke_scale
        if self.max_size is None or self.max_size >= side or self.native_size:
            return None
        return f"--max-size {self.max_size} is below the working size {side:g}: strokes are {side / self.max_size:.2g}x as large as at --stroke-scale {self.stroke_scale:g}"

    def validate(self) -> None:
        low, high = STROKE_SCALES
        if not low <= self.stroke_scale <= high:
            raise OptionError(f"--stroke-scale must be between {low:g} and {high:g}, got {self.stroke_scale:g}")
        if self.max_size is not None and self.max_size < 16:
            raise OptionError(f"--max-size must be at least 16, got {self.max_size}")
        if self.memory_budget is not None and not 0.25 <= self.memory_budget <= 4096:
            raise OptionError(f"--memory-budget must be between 0.25 and 4096 GiB, got {self.memory_budget}")
        check_strength(self.strength)
        if not 0.0 <= self.any_image.alpha <= 1.0:
            raise OptionError(f"the any-image alpha must be in [0, 1], got {self.any_image.alpha:g}")
        for level in self.any_image.levels:
            if level != PIXEL_LEVEL and not re.fullmatch(r"block([1-9]|1[0-5])", level):
                raise OptionError(f"unknown any-image level {level!r}: use block1 ... block15 or pixels")
        if self.any_image.style_size < 64:
            raise OptionError(f"the any-image style size must be at least 64 px, got {self.any_image.style_size}")
        check_model(self.model)
        check_engine(self.engine, self.precision)
