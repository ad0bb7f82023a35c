"""The one stylizer behind ``run``, ``image``, ``preview``, ``sheet``,
``batch`` and the Python API.

    >>> stylizer = Stylizer.from_style("mosaic:0.7,candy:0.3", StylizerOptions(strength=0.8))
    >>> out = stylizer(frames)  # (N, H, W, 3) uint8 -> (N, H, W, 3) uint8 (uint16 -> uint16)

It turns batches of RGB frames into stylized frames of the same size and
type. Each style of a mix is a network: an exported graph on a CPU engine
(engines.py: OpenVINO, else ONNX Runtime; no PyTorch), a style image's
encoder and decoders around NumPy feature transforms, or, on CUDA and with
``--engine torch``, a PyTorch module (torch_engine.py). Frame preparation
(frames.py) and the controls (controls.py) are NumPy and the same for
all; on the CPU each frame of a batch goes through all of it in a thread
of its own.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from ..errors import OptionError, StyleError, first_line
from ..models.architecture import TransformerConfig
from ..models.feature_transforms import PIXEL_LEVEL, paint
from .budget import plain_network_bytes
from .controls import blend_styles, preserve_color
from .engines import EngineChoice, FramePool, GraphRunner, choose_cpu_engine, cpu_threads, keep_blas_on_one_thread, open_runner
from .frames import enlarges, fine_detail, from_network, pad_for_network, resize, to_float, to_frame_size, to_pixels, working_size
from .graphs import bundled_any_image_graph, forget_graph, graph_for_checkpoint, index_graph
from .options import CPU_BATCH_SIZE, DEFAULT_MEMORY_GIB, StylizerOptions
from .style_images import StyleImage, load_style_image
from .style_mix import StyleMix, is_style_image
from .styles import BUNDLED_DIR, StyleEntry, find_style
from .torch_support import cuda_may_be_present, require_torch, torch_installed

log = logging.getLogger(__name__)

# Bringing a frame back to its own size works on float32 copies of it at
# full size (the content, the enlarged output, the frame's detail, the blend
# of the controls): 61 bytes a pixel measured on a 7680x4320 frame.
FINISH_BYTES_PER_PIXEL = 64


class Network(Protocol):
    """One style of a mix, on padded (N, 3, H, W) float32 arrays in [0, 255]."""

    name: str
    source: Path | None  # the file it came from, for reports
    per_frame: bool  # True: called with one frame at a time, from the frame threads

    def __call__(self, x: np.ndarray, streams: int, precise: bool) -> np.ndarray: ...


@dataclass
class GraphNetwork:
    """A style network's exported graph on a CPU engine."""

    name: str
    source: Path | None
    runner: GraphRunner
    architecture: TransformerConfig | None = None
    per_frame: bool = True

    def __call__(self, x: np.ndarray, streams: int, precise: bool) -> np.ndarray:
        return self.runner.run_fn(streams, precise)(x)


@dataclass
class AnyImageNetwork:
    """A style image: its statistics, painted with by encoder and decoder
    passes (graphs on a CPU engine, or PyTorch modules) around the NumPy
    feature transforms."""

    name: str
    source: Path | None
    style: StyleImage
    passes: Callable[[int, bool], tuple[Callable, Callable]]  # (streams, precise) -> (encode, decode)
    alpha: float = 1.0
    palette_histograms: bool = True
    per_frame: bool = True

    def __call__(self, x: np.ndarray, streams: int, precise: bool) -> np.ndarray:
        encode, decode = self.passes(streams, precise)
        return paint(x, self.style.statistics, encode, decode, self.alpha, self.palette_histograms)


@dataclass(frozen=True)
class NetworkFile:
    """What ran, for reports: a network's name and the file it came from."""

    name: str
    source: Path | None


@dataclass
class Stylizer:
    """Applies one style, or a weighted mix, to frames at the options'
    strength and colour setting. ``options`` may be replaced between calls
    (the preview changes strength live); the networks stay loaded."""

    networks: list[Network]
    weights: list[float]
    options: StylizerOptions
    engine: EngineChoice
    device: str = "cpu"
    threads: int = field(default_factory=cpu_threads)

    def __post_init__(self) -> None:
        total = sum(self.weights)
        self.weights = [w / total for w in self.weights]
        self.pool = FramePool(self.threads)

    @classmethod
    def from_style(cls, style: str, options: StylizerOptions = StylizerOptions()) -> "Stylizer":
        """``style``: a name, a checkpoint path, a style image, or a mix such
        as ``mosaic:0.7,candy:0.3`` or ``mosaic:0.5,painting.jpg:0.5``."""
        options.validate()
        mix = StyleMix.parse(style)
        on_cuda = _wants_cuda(options)
        engine = _cuda_engine(options) if on_cuda else choose_cpu_engine(options.engine, options.precision)
        threads = options.threads or cpu_threads()
        networks: list[Network] = []
        for name in mix.names:
            if is_style_image(name):
                networks.append(_style_image_network(name, options, engine, threads))
            else:
                networks.append(_style_network(find_style(name, options.model), options, engine, threads))
        # a graph OpenVINO refused runs on ONNX Runtime: report what runs
        engine = next((n.runner.choice for n in networks if isinstance(n, GraphNetwork)), engine)
        return cls(networks, list(mix.weights), options, engine, "cuda" if on_cuda else "cpu", threads)

    # ------------------------------------------------------------ reports

    @property
    def checkpoints(self) -> list[NetworkFile]:
        return [NetworkFile(n.name, n.source) for n in self.networks]

    @property
    def name(self) -> str:
        if len(self.networks) == 1:
            return self.networks[0].name
        return ",".join(f"{n.name}:{w:.3g}" for n, w in zip(self.networks, self.weights))

    @property
    def changes_input(self) -> bool:
        """False at strength 0, where the output is the input itself: then
        there is no style to stabilise, and the stabiliser would only smear
        the input's own motion."""
        return self.options.strength > 0

    # ------------------------------------------------------------ batches

    def default_batch_size(self) -> int:
        return 8 if self.device == "cuda" else CPU_BATCH_SIZE

    def concurrent_batches(self, height: int, width: int, batch: int) -> int:
        """How many batches a caller may have in calls at once: two where a
        batch fills every thread and both fit the memory budget (the frame
        threads are shared, so no more frames are in the networks at once),
        else one."""
        if any(not network.per_frame for network in self.networks) or batch < self.threads:
            return 1  # PyTorch's modules take a batch on all threads, and a GPU's memory state is shared
        return 2 if self._frames_fit(height, width, 2 * self.pool.streams(batch)) else 1

    def _budget_bytes(self) -> int:
        budget = self.options.memory_budget if self.options.memory_budget is not None else DEFAULT_MEMORY_GIB
        return int(budget * 2**30)

    def _frames_fit(self, height: int, width: int, frames: int) -> bool:
        if frames * height * width * FINISH_BYTES_PER_PIXEL > self._budget_bytes():
            return False
        work_h, work_w = self.working_size(height, width)
        for network in self.networks:
            architecture = getattr(network, "architecture", None)
            if architecture is not None and plain_network_bytes(architecture, work_h, work_w, frames) > self._budget_bytes():
                return False
        return True

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """Stylize (N, H, W, 3) uint8 or uint16 frames of one size, or one (H, W, 3) frame."""
        if frames.ndim == 3:
            return self(frames[None])[0]
        if len(frames) == 0:
            return frames.copy()
        height, width = frames.shape[1:3]
        self.check_frame_size(height, width)
        if any(not n.per_frame for n in self.networks):
            return self._stylize_batch(frames)
        if self._paints_with_numpy:
            keep_blas_on_one_thread()
        streams = self.pool.streams(len(frames))
        if not self._frames_fit(height, width, streams):
            if not self._frames_fit(height, width, 1):
                return self._stylize_banded(frames)
            return np.stack([self._stylize_frame(frame, 1) for frame in frames])
        return np.stack(self.pool.map(lambda frame: self._stylize_frame(frame, streams), list(frames)))

    @property
    def _paints_with_numpy(self) -> bool:
        """Whether a picture paints here: its feature transforms are NumPy
        matrix work between the engine's passes."""
        return any(isinstance(network, AnyImageNetwork) for network in self.networks)

    def check_frame_size(self, height: int, width: int) -> None:
        """Refuse frames whose full-size finishing alone exceeds the memory
        budget: no banding helps there, and a hostile or enormous input
        must not take the machine's memory."""
        need = height * width * FINISH_BYTES_PER_PIXEL
        if need > self._budget_bytes():
            enough = math.ceil(need * 1.2 / 2**30 * 4) / 4  # GiB, in quarters, with room for the network
            raise OptionError(
                f"frames of {width}x{height} need about {need / 2**30:.2g} GiB each at full size, over the "
                f"{self._budget_bytes() / 2**30:g} GiB memory budget: give --memory-budget {enough:g} or a smaller input"
            )

    def working_size(self, height: int, width: int) -> tuple[int, int]:
        """(height, width) the networks see for frames of this size (frames.py)."""
        return working_size(height, width, self.options.stroke_scale, self.options.max_size, self.options.native_size)

    def _prepare(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
        """The frame as float, and as the networks take it (at the working size, padded)."""
        content = to_float(frame)
        work = self.working_size(*frame.shape[:2])
        return content, pad_for_network(resize(content, *work)), work

    def _finish(self, content: np.ndarray, outputs: list[np.ndarray], work: tuple[int, int], dtype) -> np.ndarray:
        """Network outputs back to a frame: cropped, resized, blended, coloured, rounded."""
        height, width = content.shape[:2]
        detail = fine_detail(content, *work) if outputs and enlarges(work, height, width) else None  # once for a mix
        outputs = [to_frame_size(from_network(y, *work), height, width, detail=detail) for y in outputs]
        # Controls apply at full size, so that strength 0 is the input itself.
        y = blend_styles(content, outputs, self.weights, self.options.strength)
        if self.options.preserve_color:
            y = preserve_color(content, y)
        return to_pixels(y, dtype)

    def _stylize_frame(self, frame: np.ndarray, streams: int) -> np.ndarray:
        content, x, work = self._prepare(frame)
        precise = frame.dtype == np.uint16
        # at strength 0 the blend is the input itself: the networks need not run
        outputs = [network(x, streams, precise) for network in self.networks] if self.changes_input else []
        return self._finish(content, outputs, work, frame.dtype)

    def _stylize_batch(self, frames: np.ndarray) -> np.ndarray:
        """A batch through networks that take whole batches (PyTorch's)."""
        prepared = [self._prepare(frame) for frame in frames]
        x = np.concatenate([p[1] for p in prepared])
        precise = frames.dtype == np.uint16
        outputs = [network(x, len(frames), precise) for network in self.networks] if self.changes_input else []
        return np.stack(
            [self._finish(content, [y[i : i + 1] for y in outputs], work, frames.dtype) for i, (content, _, work) in enumerate(prepared)]
        )

    def _stylize_banded(self, frames: np.ndarray) -> np.ndarray:
        """Frames too large for the memory budget even one at a time: each
        network replaced by its PyTorch module, which runs in exact bands."""
        require_torch(f"frames of {frames.shape[2]}x{frames.shape[1]} within a {self._budget_bytes() / 2**30:g} GiB memory budget (or give --max-size or a larger --memory-budget)")
        from .torch_engine import banded_network

        height, width = self.working_size(*frames.shape[1:3])
        budget = self._budget_bytes()
        log.info("frames of %dx%d exceed the memory budget; stylizing in bands", width, height)
        self.networks = [
            banded_network(n.source, n.name, budget, self.options.threads) if isinstance(n, GraphNetwork) else n for n in self.networks
        ]
        self.engine = EngineChoice("torch", "f32", "frames over the memory budget, in exact bands")
        return self._stylize_batch(frames)


def _wants_cuda(options: StylizerOptions) -> bool:
    """Whether the networks go to a GPU: asked for, or ``auto`` with one
    present (and no CPU engine asked for)."""
    device = (options.device or "auto").lower()
    if device == "cpu":
        return False
    if device == "auto":
        cpu_engine = options.engine in ("openvino", "onnxruntime")
        if cpu_engine or not (cuda_may_be_present() and torch_installed()):
            return False
        return bool(require_torch("--device auto").cuda.is_available())
    if not device.startswith("cuda"):
        raise OptionError(f"unknown device {device!r}: use auto, cpu or cuda")
    torch = require_torch("--device cuda")
    if not torch.cuda.is_available():
        raise OptionError("--device cuda was asked for but no CUDA GPU is available")
    index = device.partition(":")[2]
    if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
        raise OptionError(f"no GPU {device!r}: this machine has cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    return True


def _cuda_engine(options: StylizerOptions) -> EngineChoice:
    if options.engine not in ("auto", "torch"):
        raise OptionError(f"--engine {options.engine} runs on the CPU only; use --device cpu or leave out --engine")
    if options.precision != "auto":
        raise OptionError("--precision is OpenVINO's, on the CPU; on CUDA use --fp16 for half precision")
    return EngineChoice("torch", "f16" if options.fp16 else "f32", "CUDA GPU")


def _style_network(entry: StyleEntry, options: StylizerOptions, engine: EngineChoice, threads: int) -> Network:
    """A named style or checkpoint file: its graph on the CPU engine (bundled,
    or exported once and cached), else its PyTorch module."""
    if engine.engine != "torch":
        found = graph_for_checkpoint(entry.path)
        if found is not None:
            try:
                runner = open_runner(found.graph, engine, threads)
                name = entry.name if entry.origin != "file" else found.name
                return GraphNetwork(name, entry.path, runner, found.architecture)
            except OptionError:
                raise
            except Exception as error:  # a damaged cached graph is exported again below
                if found.graph.is_relative_to(BUNDLED_DIR):
                    raise StyleError(f"the bundled graph {found.graph} is damaged ({first_line(error)}): reinstall vidstyle") from None
                log.info("graph %s unusable (%s); exporting it again", found.graph, error)
                forget_graph(entry.path, found.graph)
    require_torch("--engine torch" if engine.engine == "torch" else f"the style {entry.path.name} (it has no exported graph yet)")
    from .torch_engine import export_graph, torch_network

    if engine.engine == "torch":
        return torch_network(entry, options)
    graph, checkpoint = export_graph(entry)
    index_graph(entry.path, graph, checkpoint.name, checkpoint.architecture)
    runner = open_runner(graph, engine, threads)
    return GraphNetwork(entry.name if entry.origin != "file" else checkpoint.name, entry.path, runner, checkpoint.architecture)


def _any_image_graph(kind: str, tap: str) -> Path:
    """The any-image graph: bundled for the default levels, else exported once (PyTorch)."""
    bundled = bundled_any_image_graph(kind, tap)
    if bundled is not None:
        return bundled
    require_torch(f"the any-image level {tap} (only the bundled levels have graphs)")
    from .torch_engine import export_any_image_graph

    try:
        return export_any_image_graph(kind, tap)
    except KeyError:
        raise StyleError(f"the any-image decoders have no level {tap}") from None


def _style_image_network(spec: str, options: StylizerOptions, engine: EngineChoice, threads: int) -> Network:
    settings = options.any_image
    if engine.engine == "torch":
        require_torch("--engine torch")
        from .torch_engine import torch_any_image_passes

        passes = torch_any_image_passes(settings, options)
        style = load_style_image(spec, settings, passes(1, True)[0])
        # PyTorch's modules take a batch on all threads (and a GPU's memory): no frame threads
        return AnyImageNetwork(style.name, style.source, style, passes, settings.alpha, settings.palette_histograms, per_frame=False)
    runners = {}
    for tap in settings.levels:
        if tap == PIXEL_LEVEL:
            continue
        for kind in ("encoder", "decoder"):
            graph = _any_image_graph(kind, tap)
            try:
                runners[kind, tap] = open_runner(graph, engine, threads)
            except OptionError:
                raise
            except Exception as error:
                raise StyleError(f"the any-image graph {graph} is damaged ({first_line(error)}): reinstall vidstyle") from None

    def passes(streams: int, precise: bool):
        # The encoders always in f32: whitening magnifies bf16's rounding of
        # the features to 3-16 levels of mean difference in the picture at the
        # first level, about one at the second; the decoders' bf16 (0.3
        # levels) halves their time.
        fns = {(kind, tap): runner.run_fn(streams, precise or kind == "encoder") for (kind, tap), runner in runners.items()}
        return (lambda tap, x: fns["encoder", tap](x)), (lambda tap, f: fns["decoder", tap](f))

    style = load_style_image(spec, settings, passes(1, True)[0])
    return AnyImageNetwork(style.name, style.source, style, passes, settings.alpha, settings.palette_histograms)

