"""Any picture as a style: reading an untrusted style image, its statistics
(computed once, cached by the image's content digest) and the frame network
that paints with them.

A ``--style`` value whose file name ends in an image extension is a style
image; it can be mixed with named styles like any other style
(``mosaic:0.5,painting.jpg:0.5``).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from ..config import vidstyle_home
from ..errors import OptionError, StyleError
from ..media.atomic import atomic_output
from ..media.images import resize_long_side
from ..models.losses import load_loss_network
from ..models.wct import PIXEL_LEVEL, AnyImageNet, DecoderConfig, FeatureDecoder, InferenceDecoder, StyleStatistics, style_statistics
from .onnx_graphs import OnnxRunner
from .options import AnyImageOptions, StylizerOptions
from .runtime import Network, cached_onnx_graph, resolve_backend
from .styles import ANY_IMAGE_DECODERS

log = logging.getLogger(__name__)

DECODERS_FILE = ANY_IMAGE_DECODERS
DECODERS_FORMAT = "vidstyle-any-image-decoders"
DECODERS_VERSION = 1
# Bumped whenever the statistics would come out differently for the same
# image (the encoder, the taps' meaning, the resizing), so that stale
# cache entries are never read.
STATISTICS_VERSION = 2
MIN_STYLE_SIDE = 16  # a style image smaller than this has no texture to take
MIN_RESIZED_SIDE = 64  # after resizing, the short side the deep tap needs to see shapes


def read_style_image(path: str | Path) -> np.ndarray:
    """An untrusted picture as HxWx3 RGB uint8: grey, 16-bit and CMYK files
    are converted, a transparent one is laid over white (what the painting
    would be on paper), and anything unreadable or tiny is a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise StyleError(f"no such style image: {path}")
    data = np.fromfile(path, dtype=np.uint8)
    try:
        raw = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    except cv2.error as exc:  # over OpenCV's pixel limit, and the like
        raise StyleError(f"style image cannot be decoded: {path} ({str(exc).strip().splitlines()[-1][:80]})") from None
    if raw is None or raw.ndim not in (2, 3) or (raw.ndim == 3 and raw.shape[2] not in (1, 2, 3, 4)):
        raise StyleError(f"not a readable image: {path}")
    height, width = raw.shape[:2]
    if min(height, width) < MIN_STYLE_SIDE:
        raise StyleError(f"style image is too small ({width}x{height}): it needs at least {MIN_STYLE_SIDE} px on each side")
    # 8- or 16-bit integers, or floats in [0, 1]; grey (+alpha), BGR (CMYK
    # files arrive converted) or BGRA
    scale = 255.0 / (np.iinfo(raw.dtype).max if np.issubdtype(raw.dtype, np.integer) else 1.0)
    pixels = (raw.reshape(height, width, -1).astype(np.float32) * scale)
    colour = pixels[:, :, :1].repeat(3, axis=2) if pixels.shape[2] <= 2 else pixels[:, :, 2::-1]
    if pixels.shape[2] in (2, 4):  # transparency: laid over white
        alpha = pixels[:, :, -1:] / 255.0
        colour = colour * alpha + 255.0 * (1.0 - alpha)
    return np.ascontiguousarray(np.nan_to_num(colour).round().clip(0, 255).astype(np.uint8))


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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


def _prepared_tensor(rgb: np.ndarray, size: int, path: Path) -> torch.Tensor:
    resized = resize_long_side(rgb, size)
    if min(resized.shape[:2]) < MIN_RESIZED_SIDE:
        h, w = rgb.shape[:2]
        raise StyleError(f"style image is too narrow ({w}x{h}): at {size} px on its long side it would be under {MIN_RESIZED_SIDE} px across")
    return torch.from_numpy(np.ascontiguousarray(resized)).permute(2, 0, 1)[None].float()


_MEMORY_CACHE: dict[str, StyleStatistics] = {}


def load_style_image(spec: str, options: AnyImageOptions = AnyImageOptions()) -> StyleImage:
    """The style image ``spec`` with its statistics, from the cache when
    this picture (by content, whatever its name) was seen before at these
    settings: a batch or a preview session pays for it once."""
    path = Path(spec.strip()).expanduser()
    if not path.is_file():
        raise StyleError(f"no such style image: {spec}")
    digest = file_digest(path)
    key = f"{digest[:32]}-{options.style_size}-{'+'.join(options.levels)}-v{STATISTICS_VERSION}"
    statistics = _MEMORY_CACHE.get(key)
    cached = statistics_cache_dir() / f"{key}.pt"
    if statistics is None and cached.is_file():
        try:
            statistics = StyleStatistics.from_dict(torch.load(cached, map_location="cpu", weights_only=True))
        except Exception as exc:  # a damaged entry is recomputed
            log.info("style statistics cache %s unusable (%s); recomputing", cached, exc)
    if statistics is None:
        image = _prepared_tensor(read_style_image(path), options.style_size, path)
        statistics = style_statistics(load_loss_network("cpu"), image, list(options.levels))
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            with atomic_output(cached) as temporary:
                torch.save(statistics.to_dict(), temporary)
        except OSError as exc:  # a read-only home only costs the next run the recomputation
            log.info("could not cache style statistics in %s (%s)", cached, exc)
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
        threads = threads or torch.get_num_threads()
        self.net = net
        self.runners: dict[tuple[str, str], OnnxRunner] = {}
        for tap, encoder in net.encoders.items():
            decoder = net.decoders[tap]
            # four graphs in turn on the same frame: arenas would each keep their peak (4.6 GB at 1080p, 1.6 without)
            self.runners["encode", tap] = OnnxRunner(cached_onnx_graph(encoder)[0], threads, memory_arena=False)
            example = torch.rand(1, decoder.config.in_channels, 4, 4)
            self.runners["decode", tap] = OnnxRunner(cached_onnx_graph(decoder, example)[0], threads, memory_arena=False)
        for runner in self.runners.values():
            runner.session(threads)  # a damaged graph fails here, not at the first frame

    @property
    def style(self) -> StyleStatistics:
        return self.net.style

    def _pass(self, kind: str):
        def run(tap: str, x: torch.Tensor) -> torch.Tensor:
            return torch.from_numpy(self.runners[kind, tap](x.float().contiguous().numpy()))

        return run

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        return self.net.paint(frames.detach(), encode=self._pass("encode"), decode=self._pass("decode"))


def any_image_network(style: StyleImage, device: torch.device, options: StylizerOptions) -> tuple[Network, str]:
    """The frame network painting with ``style`` on ``device``, and the
    backend it runs on (ONNX Runtime on the CPU when it is installed)."""
    if not DECODERS_FILE.is_file():
        raise StyleError(f"the any-image decoders are missing from this install ({DECODERS_FILE})")
    decoders, _ = load_decoders(DECODERS_FILE)
    levels = options.any_image.levels
    missing = [tap for tap in levels if tap not in decoders and tap != PIXEL_LEVEL]
    if missing:
        raise StyleError(f"the any-image decoders file has no level {', '.join(missing)}")
    decoders = {tap: InferenceDecoder(decoders[tap].float()) for tap in levels if tap != PIXEL_LEVEL}
    settings = options.any_image
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
