"""Execution backends for the style networks.

On the CPU, ONNX Runtime runs our small convolutional networks 1.2-1.7x
faster than PyTorch's own kernels (benchmarks/backend_speed.py), so ``auto``
exports each network to ONNX (well under a second, once: the graph is cached
by the digest of its weights in ``$VIDSTYLE_HOME/onnx``) and runs it there.
PyTorch stays the backend on CUDA, and the fallback when ONNX Runtime is
missing or a network cannot be exported.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import logging
import os
import tempfile
import threading
import warnings
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..config import vidstyle_home
from ..errors import OptionError
from ..models import TransformerNet
from ..version import __version__

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "onnx")
ONNX_OPSET = 17

Network = Callable[[torch.Tensor], torch.Tensor]


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise OptionError(f"unknown backend {backend!r}: use {', '.join(BACKENDS)}")


def onnx_runtime_available() -> bool:
    try:
        import onnx  # noqa: F401  (the exporter needs it)
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_backend(backend: str, device: torch.device) -> str:
    """The backend ``auto`` stands for on ``device``; an impossible request is an error."""
    check_backend(backend)
    if backend == "onnx":
        if device.type != "cpu":
            raise OptionError("--backend onnx runs on the CPU only; use --device cpu or --backend torch")
        if not onnx_runtime_available():
            raise OptionError("--backend onnx needs the onnxruntime and onnx packages (pip install onnxruntime onnx)")
        return "onnx"
    if backend == "auto":
        return "onnx" if device.type == "cpu" and onnx_runtime_available() else "torch"
    return "torch"


GRAPH_VERSION = 1  # part of the export cache key: bump when export_onnx changes how it exports


def network_digest(model: torch.nn.Module) -> str:
    """A key for the exported graph: the weights, the module structure and
    the source of every module class in it (a changed forward is another
    graph), vidstyle's version, the exporter and the opset."""
    sources = sorted({inspect.getsource(type(module)) for module in model.modules() if type(module).__module__.startswith("vidstyle")})
    key = f"{GRAPH_VERSION}|{__version__}|{ONNX_OPSET}|{torch.__version__}|{model!r}|{''.join(sources)}"
    digest = hashlib.sha256(key.encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:32]


def onnx_cache_dir() -> Path:
    return vidstyle_home() / "onnx"


def export_onnx(model: torch.nn.Module) -> bytes:
    """The network as an ONNX graph with dynamic batch, height and width.
    Traced at a size divisible by 4, so the network's own padding branch is
    not in it: callers pad (OnnxNetwork does)."""
    model = model.float().eval()
    example = torch.rand(1, 3, 64, 64) * 255
    dynamic = {0: "batch", 2: "height", 3: "width"}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracer chatter
        torch.onnx.export(
            model,
            (example,),
            buffer,
            input_names=["frames"],
            output_names=["stylized"],
            dynamic_axes={"frames": dynamic, "stylized": dynamic},
            opset_version=ONNX_OPSET,
            dynamo=False,
        )
    return buffer.getvalue()


def cached_onnx_graph(model: torch.nn.Module) -> tuple[bytes, Path, bool]:
    """The exported graph, from the cache when these weights were exported
    before (an export costs 0.3-0.6 s, paid by every batch unit and every
    preview start otherwise), the cache file it lives in, and whether it
    came from there. A cache that cannot be written is skipped."""
    path = onnx_cache_dir() / f"{network_digest(model)}.onnx"
    try:
        return path.read_bytes(), path, True
    except OSError:
        pass
    graph = export_onnx(model)
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
        with os.fdopen(handle, "wb") as file:
            file.write(graph)
        os.replace(temporary, path)  # concurrent writers of one digest write the same bytes
    except OSError as error:
        log.debug("ONNX graph not cached (%s)", error)
        if temporary:
            Path(temporary).unlink(missing_ok=True)
    return graph, path, False


class OnnxNetwork:
    """A style network exported to ONNX and run by ONNX Runtime on the CPU.

    Called like the module: (N, 3, H, W) float32 CPU tensor in, same out.
    Height, width and batch are dynamic axes, so one session serves every
    frame size. A single frame uses every thread inside the network (the
    preview's latency); a batch runs one frame per thread on a
    single-threaded session instead, which keeps the cores busier than
    splitting each convolution between them (1.1x on two cores for the
    full network; the second table of benchmarks/backend_speed.py).
    """

    def __init__(self, model: torch.nn.Module, threads: int | None = None):
        self.threads = threads or torch.get_num_threads()  # honours --threads
        graph, cache_path, from_cache = cached_onnx_graph(model)
        try:
            self.session = self._session(graph, self.threads)
        except Exception:
            if not from_cache:
                raise
            log.info("re-exporting the damaged cached graph %s", cache_path)  # a truncated or foreign file
            cache_path.unlink(missing_ok=True)
            graph, _, _ = cached_onnx_graph(model)
            self.session = self._session(graph, self.threads)
        self._graph = graph
        self._lock = threading.Lock()
        self._per_frame_sessions: dict[int, object] = {}  # by threads per frame
        self._pool: ThreadPoolExecutor | None = None

    def frames_in_flight(self, batch: int) -> int:
        """How many frames of a batch of ``batch`` are in the network at once
        (what its memory scales with)."""
        return min(batch, self.threads) if batch > 1 and self.threads > 1 else batch

    @staticmethod
    def _session(graph: bytes, threads: int):
        import onnxruntime

        session_options = onnxruntime.SessionOptions()
        session_options.intra_op_num_threads = threads
        session_options.inter_op_num_threads = 1
        session_options.log_severity_level = 3  # errors only
        # Idle workers sleep instead of spinning: the optical flow and the
        # video codecs run in threads beside the network and need the cores.
        session_options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return onnxruntime.InferenceSession(graph, session_options, providers=["CPUExecutionProvider"])

    def _run_frames_in_parallel(self, x: np.ndarray) -> np.ndarray:
        """Each frame on its own share of the threads (all of them busy when
        the batch is smaller than the thread count)."""
        per_frame = max(1, self.threads // len(x))
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads, "vidstyle-onnx")
                weakref.finalize(self, self._pool.shutdown, wait=False)
            if per_frame not in self._per_frame_sessions:
                self._per_frame_sessions[per_frame] = self._session(self._graph, per_frame)
            session, pool = self._per_frame_sessions[per_frame], self._pool
        outputs = pool.map(lambda frame: session.run(None, {"frames": frame})[0], np.split(x, len(x)))
        return np.concatenate(list(outputs))

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        height, width = frames.shape[-2:]
        x = TransformerNet.pad_to_multiple(frames.detach().float()).contiguous().numpy()
        if len(x) > 1 and self.threads > 1:
            y = self._run_frames_in_parallel(x)
        else:
            y = self.session.run(None, {"frames": x})[0]
        return torch.from_numpy(y[..., :height, :width])


def compile_network(model: TransformerNet, device: torch.device, backend: str = "auto") -> tuple[Network, str]:
    """The network as a callable on ``device``, and the backend it runs on.

    ``auto`` falls back to PyTorch (logged) when the export fails; an
    explicit ``onnx`` lets the failure through.
    """
    chosen = resolve_backend(backend, device)
    if chosen == "onnx":
        try:
            return OnnxNetwork(model), "onnx"
        except Exception as error:  # an exporter or runtime failure on an unusual network
            if backend == "onnx":
                raise OptionError(f"could not run the network with ONNX Runtime: {error}") from error
            log.info("ONNX export failed (%s); running the network with PyTorch", error)
    return model, "torch"
