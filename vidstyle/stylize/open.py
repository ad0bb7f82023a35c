"""Opening a stylizer for a run, without PyTorch when it is not needed.

Most runs are one style, at full strength, on the CPU, with the graph of its
network already in the ONNX cache. Those need nothing of PyTorch, whose
import alone is more than a second (1.1 s of the 2 s a run took to start
on this project's 2-core machine, a tenth of a 10-second clip's run), so
:func:`open_stylizer` gives them a :class:`GraphStylizer`: the cached graph
on ONNX Runtime, with the frame conversions in NumPy. Everything else
(strength, mixes, colour preservation, ``--max-size``, CUDA, frames beyond
the memory budget, a first run) goes to the full
:class:`~vidstyle.stylize.stylizer.Stylizer`, which also fills the cache.
Both give the same frames.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol, Sequence

import numpy as np

from .budget import plain_network_bytes
from .onnx_graphs import IndexedGraph, OnnxRunner, cpu_threads, forget_graph, index_graph, indexed_graph, onnx_runtime_available
from .options import CPU_BATCH_SIZE, DEEP_SCALE, DEFAULT_MEMORY_GIB, MIN_NETWORK_SIDE, StylizerOptions
from .style_mix import StyleMix, is_style_image
from .styles import StyleEntry, find_style

if TYPE_CHECKING:
    from .stylizer import Stylizer

log = logging.getLogger(__name__)


class FrameStylizer(Protocol):
    """What the commands need of a stylizer (both kinds here provide it)."""

    name: str
    backend: str  # "onnx" or "torch"
    device: object  # "cpu", or the torch.device
    changes_input: bool  # False at strength 0
    checkpoints: Sequence  # each with .name and .source (the file, or None)

    def __call__(self, frames: np.ndarray) -> np.ndarray: ...

    def default_batch_size(self) -> int: ...

    def concurrent_batches(self, height: int, width: int, batch: int) -> int:
        """How many batches of these frames a caller may have in calls at once."""
        ...


@dataclass(frozen=True)
class NetworkFile:
    """A network that runs, for reports: its name and the file it came from."""

    name: str
    source: Path | None


# NVIDIA's control and first device, ROCm's kernel driver, WSL's GPU bridge
GPU_DEVICE_FILES = ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd", "/dev/dxg")


def cuda_may_be_present() -> bool:
    """Whether this machine may have a GPU that PyTorch would use, judged
    without PyTorch: NVIDIA's or ROCm's device files on Linux, the CUDA
    driver on Windows; never on macOS. A yes only means "ask PyTorch"."""
    if sys.platform == "darwin":
        return False
    if sys.platform.startswith("win"):
        return Path(os.environ.get("SystemRoot", r"C:\Windows"), "System32", "nvcuda.dll").exists()
    return any(Path(device).exists() for device in GPU_DEVICE_FILES)


def _graph_can_serve(options: StylizerOptions, mix: StyleMix) -> bool:
    """Whether these options want nothing a cached CPU graph cannot do alone."""
    on_cpu = options.device == "cpu" or (options.device == "auto" and not cuda_may_be_present())
    return (
        on_cpu
        and options.backend in ("auto", "onnx")
        and len(mix.components) == 1
        and not is_style_image(mix.names[0])  # a picture's network needs PyTorch
        and options.strength == 1.0
        and not options.preserve_color
        and options.max_size is None
        and onnx_runtime_available()
    )


def open_stylizer(style: str, options: StylizerOptions = StylizerOptions()) -> "FrameStylizer":
    """A stylizer for ``style`` (a name, a checkpoint file or a mix) with
    ``options``: a :class:`GraphStylizer` when the cache can serve it, else
    a :class:`~vidstyle.stylize.stylizer.Stylizer`, whose graph is then
    indexed so that the next run of this style starts without PyTorch."""
    options.validate()
    mix = StyleMix.parse(style)
    entry = find_style(mix.names[0], options.model) if _graph_can_serve(options, mix) else None
    if entry is not None:
        indexed = indexed_graph(entry.path)
        if indexed is not None:
            try:
                return GraphStylizer(entry, indexed, options)
            except Exception as error:  # a damaged graph: the Stylizer exports it again
                log.info("cached graph %s unusable (%s); loading the network", indexed.graph, error)
                forget_graph(entry.path)
    from .stylizer import Stylizer

    stylizer = Stylizer.from_style(style, options)
    cache_path = getattr(stylizer.networks[0], "cache_path", None)
    if entry is not None and stylizer.backend == "onnx" and cache_path is not None and cache_path.is_file():
        index_graph(entry.path, cache_path, stylizer.checkpoint.name, stylizer.checkpoint.architecture)
    return stylizer


class GraphStylizer:
    """One style's cached CPU graph on ONNX Runtime, called like a
    :class:`~vidstyle.stylize.stylizer.Stylizer` at strength 1: (N, H, W, 3)
    uint8 or uint16 RGB frames in, the same stylized out. A batch beyond the
    memory budget goes to a Stylizer (loaded then), which runs it in parts
    or in exact bands."""

    backend = "onnx"
    device = "cpu"
    changes_input = True

    def __init__(self, entry: StyleEntry, indexed: IndexedGraph, options: StylizerOptions):
        self.options = options
        self.name = entry.name if entry.origin != "file" else indexed.name
        self.architecture = indexed.architecture
        self.checkpoints: Sequence[NetworkFile] = [NetworkFile(self.name, entry.path)]
        self.runner = OnnxRunner(indexed.graph.read_bytes(), options.threads or cpu_threads())
        self.runner.session(self.runner.threads)  # a damaged graph fails here, not at the first frame
        self._spec = entry.path if entry.origin == "file" else entry.name
        self._stylizer: "Stylizer | None" = None

    def default_batch_size(self) -> int:
        return CPU_BATCH_SIZE

    def concurrent_batches(self, height: int, width: int, batch: int) -> int:
        """Two where a batch has at least a frame per thread: then each frame
        runs on one thread of the runner's pool, which the frames of both
        batches share, so no more frames (or threads) are in the network at
        once than with one batch. One otherwise (a batch smaller than the
        thread count shares the threads out, and a second batch would double
        them), and when the frames go to the Stylizer (each banded call
        would take its own memory)."""
        if batch < self.runner.threads:
            return 1
        return 2 if self._fits(max(height, MIN_NETWORK_SIDE), max(width, MIN_NETWORK_SIDE), batch) else 1

    def _fits(self, height: int, width: int, batch: int) -> bool:
        budget = self.options.memory_budget if self.options.memory_budget is not None else DEFAULT_MEMORY_GIB
        in_flight = self.runner.frames_in_flight(batch)
        return plain_network_bytes(self.architecture, height, width, in_flight) <= budget * 2**30

    def full_stylizer(self) -> "Stylizer":
        """The PyTorch stylizer of the same style and options, loaded once."""
        if self._stylizer is None:
            from .stylizer import Stylizer

            self._stylizer = Stylizer.from_style(str(self._spec), self.options)
        return self._stylizer

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        if frames.ndim == 3:
            return self(frames[None])[0]
        n, height, width = frames.shape[:3]
        if not self._fits(max(height, MIN_NETWORK_SIDE), max(width, MIN_NETWORK_SIDE), n):
            return self.full_stylizer()(frames)
        return np.stack(self.runner.map(self._stylize_frame, list(frames)))

    @staticmethod
    def _stylize_frame(run: Callable[[np.ndarray], np.ndarray], frame: np.ndarray) -> np.ndarray:
        """One (H, W, 3) frame through ``run``, converted in the worker thread
        that runs it, beside the other frames of the batch."""
        height, width = frame.shape[:2]
        deep = frame.dtype == np.uint16
        x = np.ascontiguousarray(frame.transpose(2, 0, 1)[None], dtype=np.float32)
        if deep:
            x /= DEEP_SCALE
        # Pad as the Stylizer and the network do: edges repeated up to the
        # minimum side, then reflected up to a multiple of 4; cropped back after.
        small_h, small_w = max(0, MIN_NETWORK_SIDE - height), max(0, MIN_NETWORK_SIDE - width)
        if small_h or small_w:
            x = np.pad(x, ((0, 0), (0, 0), (0, small_h), (0, small_w)), mode="edge")
        pad_h, pad_w = (-x.shape[2]) % 4, (-x.shape[3]) % 4
        if pad_h or pad_w:
            x = np.pad(x, ((0, 0), (0, 0), (0, pad_h), (0, pad_w)), mode="reflect")
        y = run(x)[0, :, :height, :width].transpose(1, 2, 0)
        if deep:
            return np.clip(np.rint(np.clip(y, 0, 255) * DEEP_SCALE), 0, 65535).astype(np.uint16)
        return np.rint(np.clip(y, 0, 255)).astype(np.uint8)
