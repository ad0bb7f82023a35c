"""Execution backends for the style networks.

On the CPU, ONNX Runtime runs our small convolutional networks 1.2-1.7x
faster than PyTorch's own kernels (benchmarks/backend_speed.py), so ``auto``
exports each network to ONNX in memory (well under a second) and runs it
there. PyTorch stays the backend on CUDA, and the fallback when ONNX Runtime
is missing or a network cannot be exported.
"""

from __future__ import annotations

import io
import logging
import warnings
from typing import Callable

import torch

from ..errors import OptionError
from ..models import TransformerNet

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


class OnnxNetwork:
    """A style network exported to ONNX and run by ONNX Runtime on the CPU.

    Called like the module: (N, 3, H, W) float32 CPU tensor in, same out.
    Height, width and batch are dynamic axes, so one session serves every
    frame size. The graph is traced at a size divisible by 4, so the
    network's own padding branch is not in it: sizes that need padding get
    the same reflection padding here, outside the graph.
    """

    def __init__(self, model: TransformerNet):
        import onnxruntime

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
        session_options = onnxruntime.SessionOptions()
        session_options.intra_op_num_threads = torch.get_num_threads()  # honours --threads
        session_options.inter_op_num_threads = 1
        session_options.log_severity_level = 3  # errors only
        # Idle workers sleep instead of spinning: the optical flow and the
        # video codecs run in threads beside the network and need the cores.
        session_options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(
            buffer.getvalue(), session_options, providers=["CPUExecutionProvider"]
        )

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        height, width = frames.shape[-2:]
        x = TransformerNet.pad_to_multiple(frames.detach().float())
        y = self.session.run(None, {"frames": x.contiguous().numpy()})[0]
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
