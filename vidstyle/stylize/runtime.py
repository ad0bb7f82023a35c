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
import warnings
from pathlib import Path
from typing import Callable

import torch

from ..errors import OptionError
from ..models import TransformerNet
from ..version import __version__
from .onnx_graphs import (  # noqa: F401  (BACKENDS and check_backend: this module's public names too)
    BACKENDS,
    GRAPH_VERSION,
    ONNX_OPSET,
    OnnxRunner,
    check_backend,
    onnx_cache_dir,
    onnx_runtime_available,
    write_atomically,
)

log = logging.getLogger(__name__)

Network = Callable[[torch.Tensor], torch.Tensor]


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


def export_onnx(model: torch.nn.Module, example: torch.Tensor | None = None) -> bytes:
    """The network as an ONNX graph with dynamic batch, height and width.
    Traced on ``example`` (default: a 64x64 frame, a size divisible by 4, so
    the network's own padding branch is not in it: callers pad, as
    OnnxNetwork does)."""
    model = model.float().eval()
    example = torch.rand(1, 3, 64, 64) * 255 if example is None else example
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


def cached_onnx_graph(model: torch.nn.Module, example: torch.Tensor | None = None) -> tuple[bytes, Path, bool]:
    """The exported graph, from the cache when these weights were exported
    before (an export costs 0.3-0.6 s, paid by every batch unit and every
    preview start otherwise), the cache file it lives in, and whether it
    came from there. A cache that cannot be written is skipped."""
    path = onnx_cache_dir() / f"{network_digest(model)}.onnx"
    try:
        return path.read_bytes(), path, True
    except OSError:
        pass
    graph = export_onnx(model, example)
    write_atomically(path, graph)
    return graph, path, False


def checked_runner(model: torch.nn.Module, threads: int, example: torch.Tensor | None = None) -> tuple[OnnxRunner, bytes, Path]:
    """A runner of the model's graph (cached) with its session already
    open, so that a damaged graph fails here, not at the first frame (a
    damaged cached file, truncated or foreign, is exported again); the
    graph, and its cache file."""
    graph, path, from_cache = cached_onnx_graph(model, example)
    try:
        runner = OnnxRunner(graph, threads)
        runner.session(threads)
    except Exception:
        if not from_cache:
            raise
        log.info("re-exporting the damaged cached graph %s", path)
        path.unlink(missing_ok=True)
        graph, path, _ = cached_onnx_graph(model, example)
        runner = OnnxRunner(graph, threads)
        runner.session(threads)
    return runner, graph, path


class OnnxNetwork:
    """A style network exported to ONNX and run by ONNX Runtime on the CPU
    (:class:`~.onnx_graphs.OnnxRunner`), called like the module: (N, 3, H, W)
    float32 CPU tensor in, same out, any H and W."""

    def __init__(self, model: torch.nn.Module, threads: int | None = None):
        threads = threads or torch.get_num_threads()  # honours --threads
        self.runner, _, self.cache_path = checked_runner(model, threads)
        self.frames_in_flight = self.runner.frames_in_flight

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        height, width = frames.shape[-2:]
        x = TransformerNet.pad_to_multiple(frames.detach().float()).contiguous().numpy()
        return torch.from_numpy(self.runner(x)[..., :height, :width])


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
