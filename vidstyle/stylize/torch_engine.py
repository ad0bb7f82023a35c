"""PyTorch's part of stylizing, for the ``torch`` extra: exporting
checkpoints to graphs, CUDA, ``--engine torch``, frames beyond the memory
budget (exact bands), and reading the any-image decoders file.

Imported only when one of those is asked for; everything here needs
PyTorch, and the first thing each entry point does is say so in one line
when it is missing.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import inspect
import io
import logging
import tempfile
import warnings
from pathlib import Path

import numpy as np

from ..errors import StyleError
from ..media.atomic import atomic_output
from ..models.architecture import TransformerConfig
from ..version import __version__
from .budget import band_rows_for_budget, plain_network_bytes
from .graphs import GRAPH_VERSION, ONNX_OPSET, onnx_cache_dir, write_atomically
from .options import DEFAULT_MEMORY_GIB, AnyImageOptions, StylizerOptions
from .styles import ANY_IMAGE_DECODERS, StyleEntry
from .torch_support import require_torch

torch = require_torch("this part of vidstyle")

from ..models.inference import inference_network  # noqa: E402
from ..models.losses import load_loss_network  # noqa: E402
from ..models.feature_transforms import PIXEL_LEVEL  # noqa: E402
from ..models.wct import DecoderConfig, EncoderTap, FeatureDecoder, InferenceDecoder  # noqa: E402
from .banded import stylize_banded  # noqa: E402
from .checkpoints import StyleCheckpoint, load_checkpoint  # noqa: E402

log = logging.getLogger(__name__)

DECODERS_FORMAT = "vidstyle-any-image-decoders"
DECODERS_VERSION = 1
FAST_BAND_ROWS = 64  # bands of 64 rows stay in cache: a 4K frame in 9 s against 11.5 s whole


# ------------------------------------------------------------ export


def network_digest(model: torch.nn.Module) -> str:
    """A key for the exported graph: the weights, the module structure and
    the source of every module class in it, vidstyle's version, the
    exporter and the opset."""
    sources = sorted({inspect.getsource(type(m)) for m in model.modules() if type(m).__module__.startswith("vidstyle")})
    key = f"{GRAPH_VERSION}|{__version__}|{ONNX_OPSET}|{torch.__version__}|{model!r}|{''.join(sources)}"
    digest = hashlib.sha256(key.encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:32]


def export_onnx(model: torch.nn.Module, example: torch.Tensor | None = None) -> bytes:
    """The network as an ONNX graph with dynamic batch, height and width,
    traced on ``example`` (default: a 64x64 frame, a size divisible by 4, so
    that the network's own padding branch is not in it: callers pad)."""
    if importlib.util.find_spec("onnx") is None:
        raise StyleError("exporting a network needs the onnx package: pip install 'vidstyle[torch]'")
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


def cached_export(model: torch.nn.Module, example: torch.Tensor | None = None) -> Path:
    """The model's graph file in the cache, exported now unless these weights were before."""
    path = onnx_cache_dir() / f"{network_digest(model)}.onnx"
    if path.is_file():
        return path
    graph = export_onnx(model, example)
    write_atomically(path, graph)
    if not path.is_file():  # an unwritable cache: a file of this process's own, removed at exit
        handle = tempfile.NamedTemporaryFile(prefix="vidstyle-", suffix=".onnx", delete=False)
        handle.write(graph)
        handle.close()
        atexit.register(Path(handle.name).unlink, missing_ok=True)
        return Path(handle.name)
    return path


def export_graph(entry: StyleEntry) -> tuple[Path, StyleCheckpoint]:
    """A style checkpoint's graph (exported once, cached) and the checkpoint."""
    checkpoint = load_checkpoint(entry.path)
    model = inference_network(checkpoint.build_model())
    return cached_export(model), checkpoint


def any_image_module(kind: str, tap: str) -> tuple[torch.nn.Module, torch.Tensor | None]:
    """The any-image encoder up to ``tap``, or that level's decoder (its last
    step folded), and an example input to trace it on."""
    if kind == "encoder":
        return EncoderTap(load_loss_network("cpu"), tap).eval(), None
    decoders, _ = load_decoders(ANY_IMAGE_DECODERS)
    decoder = InferenceDecoder(decoders[tap]).eval()
    return decoder, torch.rand(1, decoder.config.in_channels, 4, 4)


def export_any_image_graph(kind: str, tap: str) -> Path:
    module, example = any_image_module(kind, tap)
    return cached_export(module, example)


# ------------------------------------------------------------ running


class TorchNetwork:
    """A style network as a PyTorch module on a device: whole batches, split
    in halves when a GPU runs out of memory, in parts when the batch is
    over the memory budget, in exact bands when one frame is."""

    per_frame = False

    def __init__(self, name: str, source: Path | None, model: torch.nn.Module, architecture: TransformerConfig,
                 device: torch.device, half: bool = False, budget_bytes: int | None = None):
        self.name, self.source, self.architecture = name, source, architecture
        self.device, self.half, self.budget_bytes = device, half, budget_bytes
        self.trained = model.eval().requires_grad_(False)
        # The rearrangement is for CPU kernels (inference.py); on a GPU its
        # extra full-resolution sums only add half-precision rounding.
        fast = inference_network(self.trained) if device.type == "cpu" else self.trained
        fast = fast.to(device)
        if device.type == "cuda":
            fast = fast.to(memory_format=torch.channels_last)
        self.model = fast.half() if half else fast
        self.max_batch: int | None = None

    def _budget(self) -> int:
        if self.budget_bytes is not None:
            return self.budget_bytes
        if self.device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(self.device)
            cached = torch.cuda.memory_reserved(self.device) - torch.cuda.memory_allocated(self.device)
            return int(0.8 * (free + cached))
        return int(DEFAULT_MEMORY_GIB * 2**30)

    @torch.inference_mode()
    def _apply(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        budget, config = self._budget(), self.architecture
        if plain_network_bytes(config, height, width, len(x)) <= budget:
            return self.model(x)
        if len(x) > 1 and plain_network_bytes(config, height, width, 1) <= budget:
            step = max(n for n in range(1, len(x)) if plain_network_bytes(config, height, width, n) <= budget)
            return torch.cat([self.model(x[i : i + step]) for i in range(0, len(x), step)])
        rows = min(FAST_BAND_ROWS, band_rows_for_budget(config, height, width, budget))
        log.debug("stylizing %dx%d frames in bands of %d rows", width, height, rows)
        self.trained = self.trained.to(device=x.device, dtype=x.dtype)
        return stylize_banded(self.trained, x, rows)

    def _run(self, x: np.ndarray) -> np.ndarray:
        batch = torch.from_numpy(np.ascontiguousarray(x))
        if self.device.type == "cuda":
            batch = batch.pin_memory().to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        batch = batch.half() if self.half else batch
        return self._apply(batch).float().cpu().numpy()

    def __call__(self, x: np.ndarray, streams: int = 1, precise: bool = False) -> np.ndarray:
        step = self.max_batch or len(x)
        parts = []
        for i in range(0, len(x), step):
            try:
                parts.append(self._run(x[i : i + step]))
            except torch.OutOfMemoryError:
                if step == 1:
                    raise
                torch.cuda.empty_cache()
                self.max_batch = max(1, step // 2)
                log.warning("out of GPU memory at batch %d; carrying on with batches of %d", step, self.max_batch)
                return self(x)
        return np.concatenate(parts)


def _device(options: StylizerOptions) -> torch.device:
    name = (options.device or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def torch_network(entry: StyleEntry, options: StylizerOptions) -> TorchNetwork:
    checkpoint = load_checkpoint(entry.path)
    device = _device(options)
    if options.threads and device.type == "cpu":
        torch.set_num_threads(options.threads)
    name = entry.name if entry.origin != "file" else checkpoint.name
    budget = int(options.memory_budget * 2**30) if options.memory_budget is not None else None
    return TorchNetwork(name, entry.path, checkpoint.build_model(), checkpoint.architecture, device,
                        options.fp16 and device.type == "cuda", budget)


def banded_network(source: Path, name: str, budget_bytes: int, threads: int | None = None) -> TorchNetwork:
    """The CPU module of a checkpoint, for frames too large for its graph's memory."""
    if threads:
        torch.set_num_threads(threads)
    checkpoint = load_checkpoint(source)
    return TorchNetwork(name, source, checkpoint.build_model(), checkpoint.architecture, torch.device("cpu"), False, budget_bytes)


def torch_any_image_passes(settings: AnyImageOptions, options: StylizerOptions):
    """(streams, precise) -> (encode, decode) on NumPy arrays, through the
    any-image modules on the device."""
    device = _device(options)
    if options.threads and device.type == "cpu":
        torch.set_num_threads(options.threads)
    modules = {}
    for tap in settings.levels:
        if tap != PIXEL_LEVEL:
            for kind in ("encoder", "decoder"):
                modules[kind, tap] = any_image_module(kind, tap)[0].to(device)

    def through(kind: str):
        @torch.inference_mode()
        def run(tap: str, x: np.ndarray) -> np.ndarray:
            return modules[kind, tap](torch.from_numpy(np.ascontiguousarray(x)).to(device)).float().cpu().numpy()

        return run

    return lambda streams, precise: (through("encoder"), through("decoder"))


# ------------------------------------------------------------ decoders file


def load_decoders(path: str | Path) -> tuple[dict[str, FeatureDecoder], dict]:
    """Every level's decoder in a decoders file, in eval mode, and the file's payload."""
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise StyleError(f"not a valid decoders file: {path} ({type(exc).__name__})") from exc
    if not isinstance(payload, dict) or payload.get("format") != DECODERS_FORMAT:
        raise StyleError(f"not a vidstyle decoders file: {path}")
    decoders = {}
    for tap, level in payload["levels"].items():
        decoder = FeatureDecoder(DecoderConfig.from_dict(level["config"]))
        decoder.load_state_dict(level["state_dict"])
        decoders[tap] = decoder.eval().requires_grad_(False)
    return decoders, payload


def save_decoder_level(path: Path, config: DecoderConfig, decoder: FeatureDecoder, training: dict, half: bool = False) -> None:
    """Write (or replace) one level in the decoders file, keeping the others."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": DECODERS_FORMAT, "version": DECODERS_VERSION, "levels": {}}
    if path.is_file():
        payload = torch.load(path, map_location="cpu", weights_only=True)
    state = {k: (v.half() if half else v).detach().cpu().clone() for k, v in decoder.state_dict().items()}
    payload["levels"][config.tap] = {"config": config.to_dict(), "state_dict": state, "training": training}
    with atomic_output(path) as temporary:
        torch.save(payload, temporary)
