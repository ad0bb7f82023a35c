"""The frame stylizer shared by ``run``, ``image``, ``preview`` and ``batch``.

It owns the network on its device and turns batches of RGB uint8 frames
into stylized RGB uint8 frames of the same size. Everything device-specific
(half precision, channels-last, running out of GPU memory) lives here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .checkpoints import StyleCheckpoint
from .devices import resolve_device
from .errors import OptionError
from .models import TransformerNet
from .styles import load_style

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StylizerOptions:
    device: str = "auto"
    fp16: bool = False  # CUDA only; ignored on CPU
    max_size: int | None = None  # long side the network sees; output keeps the input size
    threads: int | None = None  # CPU threads for the network (None: torch's default)

    def validate(self) -> None:
        if self.max_size is not None and self.max_size < 16:
            raise OptionError(f"--max-size must be at least 16, got {self.max_size}")


def processing_size(height: int, width: int, max_size: int | None) -> tuple[int, int]:
    """The size the network sees: downscaled (never upscaled) so that the
    long side is at most ``max_size``."""
    if not max_size or max(height, width) <= max_size:
        return height, width
    scale = max_size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


class Stylizer:
    """Applies one style network to frames.

    >>> stylizer = Stylizer.from_style("mosaic")
    >>> out = stylizer(frames)  # (N, H, W, 3) uint8 -> (N, H, W, 3) uint8
    """

    def __init__(self, checkpoint: StyleCheckpoint, options: StylizerOptions = StylizerOptions()):
        options.validate()
        self.options = options
        self.checkpoint = checkpoint
        self.device = resolve_device(options.device)
        if options.threads and self.device.type == "cpu":
            torch.set_num_threads(options.threads)
        self.half = options.fp16 and self.device.type == "cuda"
        model: TransformerNet = checkpoint.build_model().to(self.device)
        if self.device.type == "cuda":
            model = model.to(memory_format=torch.channels_last)
        if self.half:
            model = model.half()
        self.model = model.eval().requires_grad_(False)
        self.max_batch: int | None = None  # lowered when the GPU runs out of memory

    @classmethod
    def from_style(cls, style: str, options: StylizerOptions = StylizerOptions()) -> "Stylizer":
        return cls(load_style(style), options)

    @property
    def name(self) -> str:
        return self.checkpoint.name

    def default_batch_size(self) -> int:
        return 8 if self.device.type == "cuda" else 2

    def to_device(self, frames: np.ndarray) -> torch.Tensor:
        """(N, H, W, 3) uint8 to (N, 3, H, W) float in [0, 255] on the device."""
        batch = torch.from_numpy(np.ascontiguousarray(frames))
        if self.device.type == "cuda":
            batch = batch.pin_memory().to(self.device, non_blocking=True)
        batch = batch.permute(0, 3, 1, 2)
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
        if self.device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        y = self.model(x)
        if (work_h, work_w) != (height, width):
            y = F.interpolate(y.float(), size=(height, width), mode="bicubic", align_corners=False)
        return y.float().clamp_(0, 255)

    @staticmethod
    def to_frames(batch: torch.Tensor) -> np.ndarray:
        """(N, 3, H, W) float to (N, H, W, 3) uint8 on the CPU."""
        return batch.round().to(torch.uint8).permute(0, 2, 3, 1).contiguous().cpu().numpy()

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """Stylize (N, H, W, 3) uint8 frames; on CUDA out-of-memory the batch
        is split in halves until it fits."""
        if frames.ndim == 3:
            return self(frames[None])[0]
        step = self.max_batch or len(frames)
        return np.concatenate([self._run_chunk(frames[i : i + step]) for i in range(0, len(frames), step)])

    def _run_chunk(self, frames: np.ndarray) -> np.ndarray:
        try:
            return self.to_frames(self.stylize_tensor(self.to_device(frames)))
        except torch.OutOfMemoryError:
            if len(frames) == 1:
                raise
            torch.cuda.empty_cache()
            self.max_batch = max(1, len(frames) // 2)
            log.warning("out of GPU memory at batch %d; carrying on with batches of %d", len(frames), self.max_batch)
            return self(frames)
