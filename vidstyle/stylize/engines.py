"""CPU inference engines for exported graphs: OpenVINO and ONNX Runtime.

Every network vidstyle runs on the CPU is an ONNX graph (bundled beside
each style, or exported once from a checkpoint and cached), so the engine
is a choice made at run time, not a property of the network:

- **OpenVINO** where it is installed: on a CPU with native bfloat16 (AMX or
  AVX512-BF16: recent Xeons, Zen 4) in bf16, 2.1-2.3x ONNX Runtime's speed
  for the balanced and full networks, 1.6-3.3x for the fast ones, at
  0.33-0.43 levels of mean difference; elsewhere in f32, about 1.0-1.3x
  ONNX Runtime (benchmarks/engine_speed.py). Frames of more than 8 bits
  always run in f32: bf16 keeps 8 significant bits, and its 0.4 levels of
  noise are more than a 10-bit step.
- **ONNX Runtime** where OpenVINO is missing or refuses a graph.

Both are plain NumPy in and out, no PyTorch. Graphs take (1, 3, H, W)
float32 frames in [0, 255]; OpenVINO compiles one model per frame size
(0.1 s; static shapes ran 10-20% faster than a dynamic one), cached on
disk and kept for the last few sizes.

Threads: a batch runs one frame per stream, each stream on one core (the
cores stay busier than when each convolution is split between them); a
single frame, the preview's and ``image``'s case, runs on every core. Both
engines' calls release the GIL, so the frames of a batch go through the
stylizer side by side in a pool of threads (FramePool).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import queue
import threading
import weakref
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np

from ..config import vidstyle_home
from ..errors import OptionError, first_line

log = logging.getLogger(__name__)

ENGINES = ("auto", "openvino", "onnxruntime", "torch")


class _BlasOnOneThread:
    """NumPy's BLAS (OpenBLAS) on one thread from the first time a picture
    paints, for the rest of the process: the feature transforms run beside
    the engine's streams, and OpenBLAS's spinning threads would take the
    cores the streams need (a picture paints 1.5x slower with them).

    The count is one setting for the whole process, and it is not restored
    afterwards: OpenBLAS (0.3.31, NumPy 2's) ignores a change made from any
    thread but the main one once the main thread has made one, so a restore
    from the main thread would leave every later paint from a worker thread
    (the pipeline's) on all the cores. It is checked on every call instead,
    so that a count someone else changed is set back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._libraries: list | None = None

    def __call__(self) -> None:
        with self._lock:
            try:
                if self._libraries is None:
                    from threadpoolctl import ThreadpoolController

                    self._libraries = ThreadpoolController().select(user_api="blas").lib_controllers
                for library in self._libraries:
                    if library.get_num_threads() != 1:
                        library.set_num_threads(1)
            except Exception:  # threadpoolctl missing or unable: the BLAS keeps its threads
                self._libraries = []
                log.debug("could not limit the BLAS to one thread", exc_info=True)


keep_blas_on_one_thread = _BlasOnOneThread()
PRECISIONS = ("auto", "f32", "bf16")
COMPILED_SIZES_KEPT = 4  # frame sizes an OpenVINO runner keeps compiled models for
COMPILED_MODELS_CACHED = 64  # compiled models kept on disk (about 1 MB each)
CHECK_SIDE = 16  # the frame (or feature map) a runner is checked on when it opens: the smallest every graph takes

Run = Callable[[np.ndarray], np.ndarray]


def check_engine(engine: str, precision: str = "auto") -> None:
    if engine not in ENGINES:
        raise OptionError(f"unknown engine {engine!r}: use {', '.join(ENGINES)}")
    if precision not in PRECISIONS:
        raise OptionError(f"unknown precision {precision!r}: use {', '.join(PRECISIONS)}")
    if precision == "bf16" and engine not in ("auto", "openvino"):
        raise OptionError("--precision bf16 runs on OpenVINO only; leave out --engine or use --engine openvino")


def installed(module: str) -> bool:
    """Whether a package can be imported (found, not imported: an import costs time)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a broken install, or one an import hook hides
        return False


def cpu_threads() -> int:
    """Threads for the network when ``--threads`` is not given:
    ``OMP_NUM_THREADS`` when set, else the CPUs this process may run on."""
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    except (KeyError, ValueError):
        pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class EngineChoice:
    """The engine that runs the networks, at which precision, and why."""

    engine: str  # "openvino", "onnxruntime" or "torch"
    precision: str  # "bf16", "f32" or "f16"
    reason: str

    def label(self) -> str:
        return f"{self.engine} {self.precision}"


@lru_cache(maxsize=1)
def _openvino_core():
    import openvino

    core = openvino.Core()
    folder = vidstyle_home() / "openvino"
    try:
        _prune(folder, COMPILED_MODELS_CACHED)
        core.set_property({"CACHE_DIR": str(folder)})
    except Exception as error:  # an unwritable home only costs each start its compile
        log.debug("OpenVINO model cache off: %s", error)
    return core


def _prune(folder: Path, keep: int) -> None:
    """Keep the ``keep`` most recently used files: one is cached per network,
    frame size and stream count, so the folder would grow with every size."""
    if not folder.is_dir():
        return
    files = sorted(folder.iterdir(), key=lambda path: path.stat().st_mtime, reverse=True)
    for path in files[keep:]:
        path.unlink(missing_ok=True)


@lru_cache(maxsize=1)
def native_bf16() -> bool:
    """Whether OpenVINO's CPU plugin reports bfloat16 arithmetic on this CPU."""
    try:
        return "BF16" in _openvino_core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception:
        return False


def choose_cpu_engine(engine: str = "auto", precision: str = "auto") -> EngineChoice:
    """The CPU engine for ``engine`` and ``precision`` (as the options give
    them), or a one-line error when the one asked for is missing."""
    check_engine(engine, precision)
    if engine == "torch":
        return EngineChoice("torch", "f32", "asked for (--engine torch)")
    if engine in ("auto", "openvino") and installed("openvino"):
        asked = "asked for" if engine == "openvino" else "installed"
        if precision == "f32":
            return EngineChoice("openvino", "f32", f"OpenVINO {asked}; f32 asked for")
        if native_bf16():
            return EngineChoice("openvino", "bf16", f"OpenVINO {asked}; this CPU computes bfloat16 natively")
        if precision == "bf16":
            raise OptionError("--precision bf16 needs a CPU with native bfloat16 (AMX or AVX512-BF16); this one has none")
        return EngineChoice("openvino", "f32", f"OpenVINO {asked}; this CPU has no native bfloat16")
    if engine == "openvino":
        raise OptionError("--engine openvino needs the openvino package (pip install openvino)")
    if precision == "bf16":
        raise OptionError("--precision bf16 needs the openvino package (pip install openvino)")
    if installed("onnxruntime"):
        why = "asked for" if engine == "onnxruntime" else "OpenVINO is not installed"
        return EngineChoice("onnxruntime", "f32", why)
    if engine == "onnxruntime":
        raise OptionError("--engine onnxruntime needs the onnxruntime package (pip install onnxruntime)")
    return EngineChoice("torch", "f32", "neither OpenVINO nor ONNX Runtime is installed")


class GraphRunner(Protocol):
    """An exported graph on a CPU engine."""

    choice: EngineChoice
    threads: int

    def check(self) -> None:
        """Prepare the graph now, so that one the engine refuses fails here."""
        ...

    def run_fn(self, streams: int = 1, precise: bool = False) -> Run:
        """The graph on one (1, C, H, W) array, for ``streams`` callers at
        once sharing the threads (one each when there are as many callers
        as threads); in f32 when ``precise``."""
        ...


class FramePool:
    """Frames of a batch side by side, one per thread; each frame's own
    conversions run in its thread too (NumPy and both engines release the GIL)."""

    def __init__(self, threads: int):
        self.threads = threads
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def streams(self, batch: int) -> int:
        """How many frames of a batch are in the networks at once (what memory scales with)."""
        return max(1, min(batch, self.threads))

    def map(self, work: Callable[[np.ndarray], np.ndarray], frames: Sequence[np.ndarray]) -> list:
        if len(frames) == 1 or self.threads == 1:
            return [work(frame) for frame in frames]
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads, "vidstyle-frames")
                weakref.finalize(self, self._pool.shutdown, wait=False)
        return list(self._pool.map(work, frames))


class OpenVinoRunner:
    """A graph file on OpenVINO's CPU plugin, compiled per frame size and
    number of streams (one stream per caller, the threads split between
    them)."""

    def __init__(self, graph: Path, choice: EngineChoice, threads: int):
        self.choice = choice
        self.threads = threads
        self.graph = Path(graph)
        self._model = _openvino_core().read_model(str(self.graph))
        self._compiled: OrderedDict[tuple, tuple[object, queue.SimpleQueue]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self) -> None:
        """Compile and run once on a small frame, on this thread: a graph
        OpenVINO refuses fails here, and the bindings' first conversion of a
        NumPy array, which deadlocks when two threads make it at once (a
        once-only initialisation in pybind11 waiting for the GIL), is over."""
        shape = [CHECK_SIDE if dim.is_dynamic else dim.get_length() for dim in self._model.input(0).get_partial_shape()]
        shape[0] = 1
        self.run_fn(1)(np.zeros(shape, np.float32))

    def _requests(self, shape: tuple, streams: int, precision: str) -> queue.SimpleQueue:
        key = (shape, streams, precision)
        with self._lock:
            if key in self._compiled:
                self._compiled.move_to_end(key)
                return self._compiled[key][1]
            model = self._model.clone()
            model.reshape(list(shape))
            config = {"INFERENCE_PRECISION_HINT": precision, "NUM_STREAMS": str(streams), "INFERENCE_NUM_THREADS": str(self.threads)}
            compiled = _openvino_core().compile_model(model, "CPU", config)
            requests: queue.SimpleQueue = queue.SimpleQueue()
            for _ in range(streams):
                requests.put(compiled.create_infer_request())
            self._compiled[key] = (compiled, requests)
            while len(self._compiled) > COMPILED_SIZES_KEPT:
                self._compiled.popitem(last=False)
            return requests

    def run_fn(self, streams: int = 1, precise: bool = False) -> Run:
        precision = "f32" if precise else self.choice.precision
        streams = max(1, min(streams, self.threads))

        def run(x: np.ndarray) -> np.ndarray:
            requests = self._requests(tuple(x.shape), streams, precision)
            request = requests.get()
            try:
                return request.infer({0: x})[0].copy()
            finally:
                requests.put(request)

        return run


class OnnxRuntimeRunner:
    """A graph on ONNX Runtime's CPU provider (dynamic sizes), one session
    per thread count."""

    def __init__(self, graph: Path | bytes, choice: EngineChoice, threads: int):
        self.choice = choice
        self.threads = threads
        self._graph = graph.read_bytes() if isinstance(graph, Path) else graph
        self._sessions: dict[int, object] = {}
        self._lock = threading.Lock()

    def check(self) -> None:
        self._session(self.threads)

    def _session(self, threads: int):
        with self._lock:
            if threads not in self._sessions:
                import onnxruntime

                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                options.log_severity_level = 3  # errors only
                # Idle workers sleep instead of spinning: flow and codecs need the cores.
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                self._sessions[threads] = onnxruntime.InferenceSession(self._graph, options, providers=["CPUExecutionProvider"])
            return self._sessions[threads]

    def run_fn(self, streams: int = 1, precise: bool = False) -> Run:
        session = self._session(max(1, self.threads // max(1, streams)))
        name = session.get_inputs()[0].name
        return lambda x: session.run(None, {name: x})[0]


def open_runner(graph: Path, choice: EngineChoice, threads: int | None = None) -> GraphRunner:
    """A runner of the graph file on the chosen CPU engine, checked on a small
    frame; OpenVINO refusing the graph falls back to ONNX Runtime (logged)."""
    threads = threads or cpu_threads()
    if choice.engine == "openvino":
        try:
            runner = OpenVinoRunner(graph, choice, threads)
            runner.check()
            return runner
        except Exception as error:
            if not installed("onnxruntime"):
                raise OptionError(f"OpenVINO cannot run {graph.name}: {first_line(error)}") from error
            log.warning("OpenVINO cannot run %s (%s); using ONNX Runtime", graph.name, first_line(error))
            choice = EngineChoice("onnxruntime", "f32", f"OpenVINO refused {graph.name}")
    if choice.engine != "onnxruntime":
        raise OptionError(f"engine {choice.engine} does not run graph files")
    runner = OnnxRuntimeRunner(graph, choice, threads)
    runner.check()
    return runner


