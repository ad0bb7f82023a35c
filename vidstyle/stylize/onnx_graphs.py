"""Running exported style networks with ONNX Runtime, and the cache of graphs.

Plain NumPy and ONNX Runtime, no PyTorch: a run whose graph is already in
the cache (``$VIDSTYLE_HOME/onnx``) never imports PyTorch, whose import alone
costs more than a second of a short clip's run (1.1 s of 2 s start-up on
this project's 2-core machine). Exporting a graph needs the network, so
that part lives in :mod:`.runtime`.

The cache holds each graph under the digest of the network it came from
(``runtime.network_digest``), and beside it an index from checkpoint files
to graphs, keyed by the file's bytes and the code that turns a checkpoint
into a graph, so that the graph of a style file can be found without
loading the file into PyTorch.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import tempfile
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..config import vidstyle_home
from ..errors import OptionError
from ..models.architecture import TransformerConfig
from ..version import __version__

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "onnx")
ONNX_OPSET = 17
GRAPH_VERSION = 1  # part of the cache keys: bump when the export changes how it exports

# The code that turns a checkpoint into the CPU graph: a change to any of
# these files is a new index key, so an edited network is exported afresh.
_PACKAGE = Path(__file__).resolve().parent.parent
GRAPH_SOURCES = ("models/architecture.py", "models/transformer.py", "models/inference.py", "stylize/runtime.py")


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise OptionError(f"unknown backend {backend!r}: use {', '.join(BACKENDS)}")


def onnx_runtime_available() -> bool:
    """Whether ONNX Runtime and the exporter's ``onnx`` are installed (found,
    not imported: importing them costs time a run may not need)."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnx", "onnxruntime"))


def onnx_cache_dir() -> Path:
    return vidstyle_home() / "onnx"


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder,
    so that a reader never sees part of a file; concurrent writers of one key
    write the same bytes. An unwritable cache is skipped (logged)."""
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except OSError as error:
        log.debug("not cached: %s (%s)", path, error)
        if temporary:
            Path(temporary).unlink(missing_ok=True)


def cpu_threads() -> int:
    """Threads for the network when ``--threads`` is not given: what PyTorch
    would use (``OMP_NUM_THREADS`` when set, else the CPUs this process may
    run on), so that both backends split a machine alike."""
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    except (KeyError, ValueError):
        pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class OnnxRunner:
    """An exported style network on ONNX Runtime: (N, 3, H, W) float32 in
    [0, 255], H and W multiples of 4, to the same. Batch, height and width
    are dynamic axes, so one graph serves every frame size.

    A single frame uses every thread inside the network (the preview's
    latency); a batch runs one frame per thread on single-threaded sessions
    instead, which keeps the cores busier than splitting each convolution
    between them (1.1x on two cores for the full network; the second table
    of benchmarks/backend_speed.py). Sessions are made when first needed.
    """

    def __init__(self, graph: bytes, threads: int, memory_arena: bool = True):
        self.threads = threads
        self._graph = graph
        self._memory_arena = memory_arena
        self._lock = threading.Lock()
        self._sessions: dict[int, object] = {}  # by threads per session
        self._pool: ThreadPoolExecutor | None = None

    def session(self, threads: int):
        with self._lock:
            if threads not in self._sessions:
                self._sessions[threads] = _session(self._graph, threads, self._memory_arena)
            return self._sessions[threads]

    def frames_in_flight(self, batch: int) -> int:
        """How many frames of a batch of ``batch`` are in the network at once
        (what its memory scales with)."""
        return min(batch, self.threads) if batch > 1 and self.threads > 1 else batch

    def map(self, frame_fn, frames: Sequence) -> list:
        """``frame_fn(run, frame)`` for each frame, one frame per thread, where
        ``run`` is the network on one (1, 3, H, W) array: the caller's own
        conversions run in the same threads, beside the network."""
        if len(frames) == 1 or self.threads == 1:
            run = self._runner(self.threads)
            return [frame_fn(run, frame) for frame in frames]
        # Each frame on its own share of the threads (all of them busy when
        # the batch is smaller than the thread count).
        run = self._runner(max(1, self.threads // len(frames)))
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads, "vidstyle-onnx")
                weakref.finalize(self, self._pool.shutdown, wait=False)
        return list(self._pool.map(lambda frame: frame_fn(run, frame), frames))

    def _runner(self, threads: int) -> Callable[[np.ndarray], np.ndarray]:
        session = self.session(threads)
        return lambda x: session.run(None, {"frames": x})[0]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.concatenate(self.map(lambda run, frame: run(frame), np.split(x, len(x))))


def _session(graph: bytes, threads: int, memory_arena: bool = True):
    import onnxruntime

    session_options = onnxruntime.SessionOptions()
    session_options.intra_op_num_threads = threads
    session_options.inter_op_num_threads = 1
    session_options.log_severity_level = 3  # errors only
    # Idle workers sleep instead of spinning: the optical flow and the
    # video codecs run in threads beside the network and need the cores.
    session_options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # Without its arena a session frees what each run took: for graphs run
    # one after another on large frames, a third of the peak memory.
    session_options.enable_cpu_mem_arena = memory_arena
    return onnxruntime.InferenceSession(graph, session_options, providers=["CPUExecutionProvider"])


# ------------------------------------------------------- checkpoint index


@dataclass(frozen=True)
class IndexedGraph:
    """What the index knows of a checkpoint file's CPU graph."""

    graph: Path
    name: str  # the checkpoint's own name (a named style is called by its file's name instead)
    architecture: TransformerConfig


@lru_cache(maxsize=1)
def _code_key() -> str:
    """The versions and the source of the code a graph depends on."""
    try:
        torch_version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch_version = "none"
    digest = hashlib.sha256(f"{GRAPH_VERSION}|{__version__}|{ONNX_OPSET}|{torch_version}".encode())
    for name in GRAPH_SOURCES:
        digest.update((_PACKAGE / name).read_bytes())
    return digest.hexdigest()


def _index_path(checkpoint: Path) -> Path:
    digest = hashlib.sha256(_code_key().encode())
    digest.update(checkpoint.read_bytes())
    return onnx_cache_dir() / "checkpoints" / f"{digest.hexdigest()[:32]}.json"


def indexed_graph(checkpoint: Path) -> IndexedGraph | None:
    """The cached CPU graph of this checkpoint file, or None when it was never
    exported by this code, or its entry or graph is missing or damaged."""
    try:
        entry = json.loads(_index_path(checkpoint).read_text())
        graph = onnx_cache_dir() / Path(entry["graph"]).name
        if not graph.is_file():
            return None
        return IndexedGraph(graph, str(entry["name"]), TransformerConfig.from_dict(entry["architecture"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def index_graph(checkpoint: Path, graph: Path, name: str, architecture: TransformerConfig) -> None:
    """Note that ``graph`` (a file in the cache) is this checkpoint's CPU graph."""
    try:
        path = _index_path(checkpoint)
    except OSError:
        return
    entry = {"graph": graph.name, "name": name, "architecture": architecture.to_dict(), "checkpoint": str(checkpoint)}
    write_atomically(path, json.dumps(entry, indent=1).encode())


def forget_graph(checkpoint: Path) -> None:
    try:
        _index_path(checkpoint).unlink(missing_ok=True)
    except OSError:
        pass
