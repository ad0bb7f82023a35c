"""Any picture as a style: reading an untrusted style image, its statistics
(computed once, cached by the image's content digest) and the frame network
that paints with them.

A ``--style`` value whose file name ends in an image extension is a style
image; it can be mixed with named styles like any other style
(``mosaic:0.5,painting.jpg:0.5``).
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from ..config import vidstyle_home
from ..errors import OptionError, StyleError
from ..media.atomic import atomic_output
from ..models.losses import load_loss_network
from ..models.wct import COVARIANCE_RIDGE, PALETTE_QUANTILES, PIXEL_LEVEL, AnyImageNet, DecoderConfig, FeatureDecoder, InferenceDecoder, StyleStatistics, style_statistics
from .onnx_graphs import OnnxRunner, write_atomically
from .options import AnyImageOptions, StylizerOptions
from .runtime import Network, checked_runner, resolve_backend
from .styles import ANY_IMAGE_DECODERS

log = logging.getLogger(__name__)

DECODERS_FORMAT = "vidstyle-any-image-decoders"
DECODERS_VERSION = 1
# Bumped whenever the statistics would come out differently for the same
# image (the encoder, the taps' meaning, the resizing), so that stale
# cache entries are never read.
STATISTICS_VERSION = 3
ARENA_MAX_PIXELS = 1280 * 720  # the largest frames the ONNX sessions keep memory arenas for
MIN_STYLE_SIDE = 16  # a style image smaller than this has no texture to take
MAX_ASPECT = 8  # a picture more elongated than this has too few positions across for the deep level


def decode_style_image(data: bytes | np.ndarray, name: str, max_side: int | None = None) -> np.ndarray:
    """An untrusted picture's bytes as HxWx3 RGB uint8, at most ``max_side``
    on its long side (shrunk before anything is converted, so a huge file
    costs no more than its decoding): grey, 16-bit, float and CMYK files are
    converted, a transparent one is laid over white (what the painting
    would be on paper), and anything unreadable, tiny or far too narrow is
    a one-line error naming ``name``."""
    data = np.frombuffer(data, dtype=np.uint8) if isinstance(data, bytes) else data
    try:
        raw = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    except cv2.error as exc:  # over OpenCV's pixel limit, and the like
        raise StyleError(f"style image cannot be decoded: {name} ({str(exc).strip().splitlines()[-1][:80]})") from None
    if raw is None or raw.ndim not in (2, 3) or (raw.ndim == 3 and raw.shape[2] not in (1, 2, 3, 4)):
        raise StyleError(f"not a readable image: {name}")
    height, width = raw.shape[:2]
    if min(height, width) < MIN_STYLE_SIDE:
        raise StyleError(f"style image is too small ({width}x{height}): it needs at least {MIN_STYLE_SIDE} px on each side")
    if max(height, width) > MAX_ASPECT * min(height, width):
        raise StyleError(f"style image is too narrow ({width}x{height}): its sides may differ by at most {MAX_ASPECT}x")
    if max_side and max(height, width) > max_side:
        scale = max_side / max(height, width)
        raw = cv2.resize(raw, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
        height, width = raw.shape[:2]
    # 8- or 16-bit integers, or floats in [0, 1]; grey (+alpha), BGR (CMYK
    # files arrive converted) or BGRA
    scale = 255.0 / (np.iinfo(raw.dtype).max if np.issubdtype(raw.dtype, np.integer) else 1.0)
    pixels = raw.reshape(height, width, -1).astype(np.float32) * scale
    colour = pixels[:, :, :1].repeat(3, axis=2) if pixels.shape[2] <= 2 else pixels[:, :, 2::-1]
    if pixels.shape[2] in (2, 4):  # transparency: laid over white
        alpha = pixels[:, :, -1:] / 255.0
        colour = colour * alpha + 255.0 * (1.0 - alpha)
    return np.ascontiguousarray(np.nan_to_num(colour).round().clip(0, 255).astype(np.uint8))


def read_style_image(path: str | Path, max_side: int | None = None) -> np.ndarray:
    """:func:`decode_style_image` of a file; a missing file is a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise StyleError(f"no such style image: {path}")
    return decode_style_image(np.fromfile(path, dtype=np.uint8), str(path), max_side)


@dataclass
class StyleImage:
    """A style image ready to paint with: the statistics the frame network
    needs, computed once for the whole run."""

    name: str
    source: Path
    digest: str
    statistics: StyleStatistics


def statistics_cache_dir() -> Path:
    return vidstyle_home() / "style-images"


def statistics_key(digest: str, options: AnyImageOptions) -> str:
    """What the statistics of a picture depend on besides its bytes: the
    size they are taken at, the levels, and the constants of the method."""
    recipe = f"{options.style_size}|{options.levels}|{COVARIANCE_RIDGE}|{PALETTE_QUANTILES}|v{STATISTICS_VERSION}"
    return f"{digest[:32]}-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"


def _prepared_tensor(rgb: np.ndarray, size: int) -> torch.Tensor:
    """The picture with its long side at ``size``, up or down, so that its
    strokes are measured at one scale whatever the file's resolution."""
    height, width = rgb.shape[:2]
    scale = size / max(height, width)
    if scale != 1.0:
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        rgb = cv2.resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=interpolation)
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float()


_MEMORY_CACHE: dict[str, StyleStatistics] = {}


def load_style_image(spec: str, options: AnyImageOptions = AnyImageOptions()) -> StyleImage:
    """The style image ``spec`` with its statistics, from the cache when
    this picture (by content, whatever its name) was seen before at these
    settings: a batch or a preview session pays for it once. The file is
    read once, so the digest is that of the pixels the statistics came from."""
    path = Path(spec.strip()).expanduser()
    if not path.is_file():
        raise StyleError(f"no such style image: {spec}")
    data = np.fromfile(path, dtype=np.uint8)
    digest = hashlib.sha256(data.tobytes()).hexdigest()
    key = statistics_key(digest, options)
    statistics = _MEMORY_CACHE.get(key)
    cached = statistics_cache_dir() / f"{key}.pt"
    if statistics is None and cached.is_file():
        try:
            statistics = StyleStatistics.from_dict(torch.load(cached, map_location="cpu", weights_only=True))
        except Exception as exc:  # a damaged entry is recomputed
            log.info("style statistics cache %s unusable (%s); recomputing", cached, exc)
    if statistics is None:
        rgb = decode_style_image(data, str(path), max_side=4 * options.style_size)
        statistics = style_statistics(load_loss_network("cpu"), _prepared_tensor(rgb, options.style_size), list(options.levels))
        buffer = io.BytesIO()
        torch.save(statistics.to_dict(), buffer)
        write_atomically(cached, buffer.getvalue())  # an unwritable cache only costs the next run the recomputation
    _MEMORY_CACHE[key] = statistics
    return StyleImage(path.stem, path, digest, statistics)


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


class GraphAnyImageNet:
    """An :class:`AnyImageNet` whose encoder and decoder passes run on ONNX
    Runtime (2-4x PyTorch's speed for these on the CPU), each exported once
    with dynamic sizes and cached like the style networks' graphs; the
    transforms between them stay in PyTorch (ONNX has no eigensolver)."""

    def __init__(self, net: AnyImageNet, threads: int | None = None):
        self.threads = threads or torch.get_num_threads()
        self.net = net
        self.graphs: dict[tuple[str, str], bytes] = {}
        self.runners: dict[tuple[str, str, bool], OnnxRunner] = {}
        for tap, encoder in net.encoders.items():
            example = torch.rand(1, net.decoders[tap].config.in_channels, 4, 4)
            for kind, model, shape in (("encode", encoder, None), ("decode", net.decoders[tap], example)):
                runner, self.graphs[kind, tap], _ = checked_runner(model, self.threads, shape)
                self.runners[kind, tap, True] = runner

    def _runner(self, kind: str, tap: str, arena: bool) -> OnnxRunner:
        if (kind, tap, arena) not in self.runners:
            self.runners[kind, tap, arena] = OnnxRunner(self.graphs[kind, tap], self.threads, memory_arena=arena)
        return self.runners[kind, tap, arena]

    @property
    def style(self) -> StyleStatistics:
        return self.net.style

    def _pass(self, kind: str, arena: bool):
        def run(tap: str, x: torch.Tensor) -> torch.Tensor:
            return torch.from_numpy(self._runner(kind, tap, arena)(x.float().contiguous().numpy()))

        return run

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        # ONNX Runtime's memory arenas make the passes faster (the encoder
        # 1.7x at 640x360), but each of the four sessions keeps its own peak:
        # above ARENA_MAX_PIXELS the sessions free what each run took
        # (1080p: 1.6 GB at peak instead of 4.6, no slower).
        arena = frames.shape[-2] * frames.shape[-1] <= ARENA_MAX_PIXELS
        return self.net.paint(frames.detach(), encode=self._pass("encode", arena), decode=self._pass("decode", arena))


def any_image_network(style: StyleImage, device: torch.device, options: StylizerOptions) -> tuple[Network, str]:
    """The frame network painting with ``style`` on ``device``, and the
    backend it runs on (ONNX Runtime on the CPU when it is installed)."""
    if not ANY_IMAGE_DECODERS.is_file():
        raise StyleError(f"the any-image decoders are missing from this install ({ANY_IMAGE_DECODERS})")
    decoders, _ = load_decoders(ANY_IMAGE_DECODERS)
    settings = options.any_image
    missing = [tap for tap in settings.levels if tap not in decoders and tap != PIXEL_LEVEL]
    if missing:
        raise StyleError(f"the any-image decoders file has no level {', '.join(missing)}")
    decoders = {tap: InferenceDecoder(decoders[tap]) for tap in settings.levels if tap != PIXEL_LEVEL}
    net = AnyImageNet(load_loss_network(device), decoders, style.statistics.to(device), settings.alpha, settings.palette_histograms)
    net = net.to(device).eval()
    backend = resolve_backend(options.backend, device)
    if backend == "onnx":
        try:
            return GraphAnyImageNet(net, options.threads), "onnx"
        except Exception as error:  # an exporter or runtime failure
            if options.backend == "onnx":
                raise OptionError(f"could not run the any-image network with ONNX Runtime: {error}") from error
            log.info("ONNX export of the any-image network failed (%s); running it with PyTorch", error)
    return net, "torch"
