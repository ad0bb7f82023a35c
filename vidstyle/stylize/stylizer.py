"""The frame stylizer shared by ``run``, ``image``, ``preview`` and ``batch``.

It owns the network on its device and turns batches of RGB frames (uint8,
or uint16 for high-bit-depth video) into stylized frames of the same size
and type; the network itself works in float on the 0-255 scale. Everything
device-specific (half precision, channels-last, running out of GPU memory)
lives here, and so does the padding that lets frames of any size through.
"""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import OptionError
from ..models import TransformerNet
from ..models.inference import inference_network
from .banded import stylize_banded
from .budget import band_rows_for_budget, plain_network_bytes
from .checkpoints import StyleCheckpoint
from .controls import blend_styles, preserve_color
from .devices import resolve_device
from .options import CPU_BATCH_SIZE, DEEP_SCALE, DEFAULT_MEMORY_GIB, MIN_NETWORK_SIDE, StylizerOptions
from .runtime import Network, compile_network
from .style_images import StyleImage, any_image_network, load_style_image
from .style_mix import StyleMix, is_style_image
from .styles import load_style

StyleSource = StyleCheckpoint | StyleImage

log = logging.getLogger(__name__)

FAST_BAND_ROWS = 64


def processing_size(height: int, width: int, max_size: int | None) -> tuple[int, int]:
    """The size the network sees: downscaled (never upscaled) so that the
    long side is at most ``max_size``."""
    if not max_size or max(height, width) <= max_size:
        return height, width
    scale = max_size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def _pad_to_minimum(x: torch.Tensor) -> torch.Tensor:
    """Frames smaller than MIN_NETWORK_SIDE, padded bottom and right with
    their edge pixels (reflection cannot pad more than the frame has);
    the caller crops the output back."""
    pad_h, pad_w = max(0, MIN_NETWORK_SIDE - x.shape[-2]), max(0, MIN_NETWORK_SIDE - x.shape[-1])
    return F.pad(x, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else x


class Stylizer:
    """Applies one style network, or a weighted mix of several, to frames;
    a style image (any picture) takes the place of a network anywhere.

    >>> stylizer = Stylizer.from_style("mosaic:0.7,candy:0.3", StylizerOptions(strength=0.8))
    >>> out = stylizer(frames)  # (N, H, W, 3) uint8 -> (N, H, W, 3) uint8 (uint16 -> uint16)

    ``options`` may be replaced between calls (the preview changes strength
    live); the networks stay loaded.
    """

    def __init__(
        self,
        styles: StyleSource | Sequence[tuple[StyleSource, float]],
        options: StylizerOptions = StylizerOptions(),
    ):
        options.validate()
        self.options = options
        mix = [(styles, 1.0)] if isinstance(styles, (StyleCheckpoint, StyleImage)) else list(styles)
        if not mix:
            raise OptionError("no style given")
        self.checkpoints = [checkpoint for checkpoint, _ in mix]
        total = sum(weight for _, weight in mix)
        self.weights = [weight / total for _, weight in mix]
        self.device = resolve_device(options.device)
        if options.threads and self.device.type == "cpu":
            torch.set_num_threads(options.threads)
        self.half = options.fp16 and self.device.type == "cuda"
        # The trained modules, kept for banded inference of frames too large
        # for memory; the networks are their rearranged, compiled copies.
        # A style image's network is never banded (its whitening needs the
        # whole frame); on the CPU its passes run on ONNX Runtime
        # (style_images.GraphAnyImageNet). ``checkpoints`` holds the style
        # images themselves in their place.
        self.models = [
            c.build_model().eval().requires_grad_(False) if isinstance(c, StyleCheckpoint) else None
            for c in self.checkpoints
        ]
        compiled = [
            self._prepare(model) if model is not None else any_image_network(c, self.device, options)
            for c, model in zip(self.checkpoints, self.models)
        ]
        self.networks: list[Network] = [network for network, _ in compiled]
        self.backend = compiled[0][1]
        self.max_batch: int | None = None  # lowered when the GPU runs out of memory

    def _prepare(self, model: TransformerNet) -> tuple[Network, str]:
        # The rearrangement is for CPU kernels (inference.py); on a GPU its
        # extra full-resolution sums only add half-precision rounding.
        model = (inference_network(model) if self.device.type == "cpu" else model).to(self.device)
        if self.device.type == "cuda":
            model = model.to(memory_format=torch.channels_last)
        if self.half:
            model = model.half()
        return compile_network(model, self.device, self.options.backend)

    @classmethod
    def from_style(cls, style: str, options: StylizerOptions = StylizerOptions()) -> "Stylizer":
        """``style``: a name, a checkpoint path, a style image, or a mix such
        as ``mosaic:0.7,candy:0.3`` or ``mosaic:0.5,painting.jpg:0.5``."""
        mix = StyleMix.parse(style)
        sources = [
            load_style_image(name, options.any_image) if is_style_image(name) else load_style(name, options.model)
            for name in mix.names
        ]
        return cls(list(zip(sources, mix.weights)), options)

    @property
    def checkpoint(self) -> StyleSource:
        """The first (for a single style, the only) network's checkpoint."""
        return self.checkpoints[0]

    @property
    def name(self) -> str:
        if len(self.checkpoints) == 1:
            return self.checkpoint.name
        return ",".join(f"{c.name}:{w:.3g}" for c, w in zip(self.checkpoints, self.weights))

    @property
    def changes_input(self) -> bool:
        """False at strength 0, where the output is the input itself: then
        there is no style to stabilise, and the stabiliser would only smear
        the input's own motion."""
        return self.options.strength > 0

    def default_batch_size(self) -> int:
        return 8 if self.device.type == "cuda" else CPU_BATCH_SIZE

    def concurrent_batches(self, height: int, width: int, batch: int) -> int:
        """One: calls share the out-of-memory state, and PyTorch's threads
        (and banded runs' memory) are sized for one call at a time."""
        return 1

    def to_device(self, frames: np.ndarray) -> torch.Tensor:
        """(N, H, W, 3) uint8 or uint16 to (N, 3, H, W) float in [0, 255]
        on the device (moved as integers: half the bytes of float16)."""
        batch = torch.from_numpy(np.ascontiguousarray(frames))
        if self.device.type == "cuda":
            batch = batch.pin_memory().to(self.device, non_blocking=True)
        batch = batch.permute(0, 3, 1, 2)
        if frames.dtype == np.uint16:
            return (batch.float() / DEEP_SCALE).to(torch.float16 if self.half else torch.float32)
        return batch.to(torch.float16 if self.half else torch.float32)

    @torch.inference_mode()
    def stylize_tensor(self, batch: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [0, 255] on the device to the same, stylized,
        processed at ``max_size`` and resized back."""
        height, width = batch.shape[-2:]
        work_h, work_w = processing_size(height, width, self.options.max_size)
        x = batch
        if (work_h, work_w) != (height, width):
            x = F.interpolate(x.float(), size=(work_h, work_w), mode="bilinear", antialias=True, align_corners=False)
            x = x.to(batch.dtype)
        x = _pad_to_minimum(x)
        if self.device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        # at strength 0 the blend is the input itself: the networks need not run
        networks = range(len(self.networks)) if self.changes_input else []
        outputs = [self._apply(index, x)[..., :work_h, :work_w] for index in networks]
        if (work_h, work_w) != (height, width):
            outputs = [F.interpolate(y.float(), size=(height, width), mode="bicubic", align_corners=False) for y in outputs]
        # Controls apply at full size, so that strength 0 is the input itself
        # (blend_styles passes a single style at strength 1 through untouched).
        y = blend_styles(batch, outputs, self.weights, self.options.strength)
        if self.options.preserve_color:
            y = preserve_color(batch, y)
        return y.float().clamp_(0, 255)

    def memory_budget_bytes(self) -> int:
        if self.options.memory_budget is not None:
            return int(self.options.memory_budget * 2**30)
        if self.device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(self.device)
            # what PyTorch's allocator keeps cached from the last batch is ours to reuse
            cached = torch.cuda.memory_reserved(self.device) - torch.cuda.memory_allocated(self.device)
            return int(0.8 * (free + cached))
        return int(DEFAULT_MEMORY_GIB * 2**30)

    def _apply(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """Network ``index`` on the batch, whole when it fits the memory
        budget, else in the largest parts that do, else each frame in exact
        bands of rows on the trained module (no seams: instance norm sees the
        whole frame)."""
        network, model = self.networks[index], self.models[index]
        if model is None:  # a style image: frame by frame, whole
            return torch.cat([network(x[i : i + 1]) for i in range(len(x))])
        config = self.checkpoints[index].architecture
        budget = self.memory_budget_bytes()
        height, width = x.shape[-2:]
        in_flight = getattr(network, "frames_in_flight", None)  # ONNX Runtime runs frames side by side
        at_once = in_flight(len(x)) if in_flight else len(x)
        if plain_network_bytes(config, height, width, at_once) <= budget:
            return network(x)
        if len(x) > 1 and plain_network_bytes(config, height, width, 1) <= budget:
            step = max(n for n in range(1, len(x)) if plain_network_bytes(config, height, width, n) <= budget)
            return torch.cat([network(x[i : i + step]) for i in range(0, len(x), step)])
        # Bands of 64 rows run faster than larger ones (they stay in cache):
        # a 4K frame in 9 s against 11.5 s whole on ONNX Runtime, in 1.5 GiB.
        rows = min(FAST_BAND_ROWS, band_rows_for_budget(config, height, width, budget))
        log.debug("stylizing %dx%d frames in bands of %d rows", width, height, rows)
        if next(model.parameters()).device != x.device or next(model.parameters()).dtype != x.dtype:
            self.models[index] = model = model.to(device=x.device, dtype=x.dtype)
        return stylize_banded(model, x, rows)

    @staticmethod
    def to_frames(batch: torch.Tensor, dtype: np.dtype = np.uint8) -> np.ndarray:
        """(N, 3, H, W) float in [0, 255] to (N, H, W, 3) uint8 (or uint16,
        0-65535) on the CPU."""
        if dtype == np.uint16:
            batch = (batch.float() * DEEP_SCALE).round_().clamp_(0, 65535).to(torch.uint16)
        else:
            batch = batch.round().to(torch.uint8)
        return batch.permute(0, 2, 3, 1).contiguous().cpu().numpy()

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """Stylize (N, H, W, 3) uint8 or uint16 frames, any size; on CUDA
        out-of-memory the batch is split in halves until it fits."""
        if frames.ndim == 3:
            return self(frames[None])[0]
        step = self.max_batch or len(frames)
        return np.concatenate([self._run_chunk(frames[i : i + step]) for i in range(0, len(frames), step)])

    def _run_chunk(self, frames: np.ndarray) -> np.ndarray:
        try:
            return self.to_frames(self.stylize_tensor(self.to_device(frames)), frames.dtype)
        except torch.OutOfMemoryError:
            if len(frames) == 1:
                raise
            torch.cuda.empty_cache()
            self.max_batch = max(1, len(frames) // 2)
            log.warning("out of GPU memory at batch %d; carrying on with batches of %d", len(frames), self.max_batch)
            return self(frames)
