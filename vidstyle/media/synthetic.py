"""Synthetic clips with known properties, for the sample, tests and benchmarks.

The scene is a small procedural landscape (sky, sun, hills with parallax,
moving boxes) with real texture and motion, so that stylization and
temporal stability have something to work on, and every property a test
cares about (size, timestamps, audio, container, codec, bit depth, alpha)
is under control. A pixel format of more than 8 bits gets frames with
detail between the 8-bit levels, so that a test can tell whether it
survived; ``alpha`` adds a moving matte.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import av
import cv2
import numpy as np

from .formats import pixel_format, planar_alpha, write_alpha


def render_scene(index: int, width: int, height: int, seed: int = 0) -> np.ndarray:
    """Frame ``index`` of a landscape panning left: HxWx3 uint8 RGB."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    sky = (1 - y) * np.array([90, 150, 235], np.float32) + y * np.array([250, 210, 170], np.float32)
    image = np.broadcast_to(sky, (height, width, 3)).copy()
    shift = index * max(1, width // 160)
    cx = int(width * 0.75 - shift * 0.2) % (width + 40) - 20
    cv2.circle(image, (cx, int(height * 0.25)), max(3, height // 10), (255, 225, 120), -1, cv2.LINE_AA)
    xs = np.arange(width, dtype=np.float32)
    for layer, (colour, base, amplitude, speed) in enumerate(
        [((120, 140, 170), 0.55, 0.10, 0.3), ((70, 130, 70), 0.68, 0.08, 0.6), ((40, 95, 45), 0.82, 0.06, 1.0)]
    ):
        phase = rng.uniform(0, 6.28)
        ridge = base + amplitude * np.sin((xs + shift * speed) / (width / (3 + layer)) + phase)
        ridge += 0.02 * np.sin((xs + shift * speed) / 7.0 + phase)
        mask = (np.arange(height, dtype=np.float32)[:, None] / height) > ridge[None, :]
        image[mask] = colour
    for k in range(3):
        x = int((k * width / 3 + index * (2 + k)) % (width + 30)) - 15
        top = int(height * (0.80 + 0.05 * k))
        size = max(4, height // 12)
        cv2.rectangle(image, (x, top), (x + 2 * size, top + size), (200 - 60 * k, 60 + 50 * k, 40 + 70 * k), -1)
    texture = np.random.default_rng(seed + 1).normal(0, 8, (height + 8, width + 8 + 4 * 64, 1)).astype(np.float32)
    offset = shift % (4 * 64)
    image += texture[:height, offset : offset + width]
    return np.clip(image, 0, 255).astype(np.uint8)


def render_deep(index: int, width: int, height: int, seed: int = 0) -> np.ndarray:
    """The scene as HxWx3 uint16 with detail no 8-bit frame holds: each
    pixel sits a fixed pattern of 10-bit steps (64/65535) off the 8-bit grid."""
    offsets = (np.add.outer(np.arange(height) * 13, np.arange(width) * 7) % 4 - 1.5) * 64
    deep = render_scene(index, width, height, seed).astype(np.float32) * 257 + offsets[..., None]
    return np.clip(deep, 0, 65535).astype(np.uint16)


def render_matte(index: int, width: int, height: int) -> np.ndarray:
    """An alpha matte (HxW float in [0, 1]): a left-to-right ramp with an
    opaque disc moving across it and a fully transparent corner."""
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    y = np.arange(height, dtype=np.float32)[:, None]
    matte = np.broadcast_to(0.25 + 0.5 * x, (height, width)).copy()
    cx, cy = (index * 3) % max(1, width), height / 2
    matte[(np.arange(width)[None, :] - cx) ** 2 + (y - cy) ** 2 < (max(2, height // 4)) ** 2] = 1.0
    matte[: max(1, height // 4), : max(1, width // 4)] = 0.0
    return matte


def _encode_frame(rgb8: np.ndarray, deep: np.ndarray | None, matte: np.ndarray | None, pix_fmt: str) -> av.VideoFrame:
    """A synthetic frame in ``pix_fmt``; the matte goes straight into an
    alpha plane where the format has one (see media.formats)."""
    rgb = rgb8 if deep is None else deep
    levels = None if matte is None else np.round(matte * np.iinfo(rgb.dtype).max).astype(rgb.dtype)
    separate = levels is not None and planar_alpha(pixel_format(pix_fmt))
    pixels = rgb if levels is None or separate else np.dstack([rgb, levels])
    layout = {(1, 3): "rgb24", (1, 4): "rgba", (2, 3): "rgb48le", (2, 4): "rgba64le"}[(rgb.dtype.itemsize, pixels.shape[2])]
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format=layout).reformat(format=pix_fmt)
    if separate:
        write_alpha(frame, levels)
    return frame


@lru_cache(maxsize=2)
def _photo(path: str, width: int, height: int) -> np.ndarray:
    from .images import read_image

    photo = read_image(path)
    scale = 1.4 * max(width / photo.shape[1], height / photo.shape[0])
    return cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def camera_move(photo: str | Path, index: int, width: int, height: int) -> np.ndarray:
    """Frame ``index`` of a slow zoom-in with a pan and a roll over a photo:
    real texture under camera motion whose flow is not a plain shift."""
    image = _photo(str(photo), width, height)
    centre = (image.shape[1] / 2 + 1.5 * index, image.shape[0] / 2 + 0.5 * index)
    matrix = cv2.getRotationMatrix2D(centre, 0.15 * index, 1.0 + 0.004 * index)
    matrix[:, 2] += (width / 2 - centre[0], height / 2 - centre[1])
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def moving_object(frame: np.ndarray, photo: str | Path, index: int) -> np.ndarray:
    """``frame`` with a soft-edged disc cut from ``photo`` crossing it left to
    right with a vertical bob: motion of its own over the camera's, and the
    occlusions and disocclusions that come with it."""
    height, width = frame.shape[:2]
    radius = max(4, height // 5)
    image = _photo(str(photo), 2 * radius, 2 * radius)
    top, left = (image.shape[0] - 2 * radius) // 2, (image.shape[1] - 2 * radius) // 2
    disc = image[top : top + 2 * radius, left : left + 2 * radius].astype(np.float32)
    mask = np.zeros((2 * radius, 2 * radius), np.float32)
    cv2.circle(mask, (radius, radius), radius - 2, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (5, 5), 0)[..., None]
    x = round(-radius + (width + 2 * radius) * ((0.04 * index) % 1.0)) - radius
    y = round(height / 2 - radius + 0.25 * height * np.sin(0.15 * index))
    canvas = frame.astype(np.float32)
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + 2 * radius, width), min(y + 2 * radius, height)
    if x1 > x0 and y1 > y0:
        patch, alpha = disc[y0 - y : y1 - y, x0 - x : x1 - x], mask[y0 - y : y1 - y, x0 - x : x1 - x]
        canvas[y0:y1, x0:x1] = alpha * patch + (1 - alpha) * canvas[y0:y1, x0:x1]
    return np.clip(canvas + 0.5, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class ClipSpec:
    width: int = 64
    height: int = 48
    frames: int = 8
    fps: int = 24
    codec: str = "libx264"
    pixel_format: str | None = None
    audio: bool = False
    audio_codec: str = "aac"
    audio_seconds: float | None = None  # default: as long as the video
    timestamps: Sequence[int] | None = None  # pts in 1/fps/10 units; for VFR clips
    rotation: int = 0
    noise: float = 0.0  # per-frame sensor noise (standard deviation, 0-255 scale)
    cut_at: int | None = None  # from this frame on, a different scene (a hard cut)
    photo: str | None = None  # a camera move (zoom, pan, roll) over this photo instead of the landscape
    moving_photo: str | None = None  # with photo: a disc of this photo moving across (moving_object)
    keyframe_interval: int | None = None  # frames per GOP (None: the encoder's default)
    alpha: bool = False  # a moving matte, for a pixel format with alpha (yuva444p, argb...)


def _pick_pixel_format(codec: str, width: int, height: int) -> str:
    if codec == "ffv1":
        return "yuv444p"
    if codec == "prores_ks":
        return "yuv422p10le"
    return "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"


def write_clip(path: str | Path, spec: ClipSpec = ClipSpec()) -> Path:
    """Encode a synthetic clip (and optionally a tone track) to ``path``."""
    path = Path(path)
    time_base = Fraction(1, spec.fps * 10)
    timestamps = list(spec.timestamps) if spec.timestamps is not None else [i * 10 for i in range(spec.frames)]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(spec.codec, rate=spec.fps)
        stream.width, stream.height = spec.width, spec.height
        stream.pix_fmt = spec.pixel_format or _pick_pixel_format(spec.codec, spec.width, spec.height)
        stream.codec_context.time_base = time_base
        stream.time_base = time_base
        if spec.rotation:
            stream.set_display_rotation(spec.rotation)
        if spec.keyframe_interval:
            stream.codec_context.gop_size = spec.keyframe_interval
            if spec.codec == "libx264":
                stream.options = {"x264-params": f"keyint={spec.keyframe_interval}:min-keyint={spec.keyframe_interval}:scenecut=0"}
        audio_stream = None
        if spec.audio:
            audio_stream = container.add_stream(spec.audio_codec, rate=48000)
            audio_stream.layout = "mono"
        noise = np.random.default_rng(7)
        deep = pixel_format(stream.pix_fmt).depth > 8
        for i, pts in enumerate(timestamps):
            after_cut = spec.cut_at is not None and i >= spec.cut_at
            if spec.photo:
                rgb = camera_move(spec.photo, i, spec.width, spec.height)
                if spec.moving_photo:
                    rgb = moving_object(rgb, spec.moving_photo, i)
            else:
                rgb = render_scene(i, spec.width, spec.height, seed=5 if after_cut else 0)
            if after_cut:
                rgb = 255 - rgb[::-1]  # night instead of day, upside down: nothing in common
            if spec.noise:
                rgb = np.clip(rgb + noise.normal(0, spec.noise, rgb.shape), 0, 255).astype(np.uint8)
            detail = render_deep(i, spec.width, spec.height) if deep and not (spec.photo or after_cut or spec.noise) else None
            matte = render_matte(i, spec.width, spec.height) if spec.alpha else None
            frame = _encode_frame(rgb, detail, matte, stream.pix_fmt)
            frame.pts = pts
            frame.time_base = time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
        if audio_stream is not None:
            seconds = spec.audio_seconds or (timestamps[-1] + 10) * float(time_base)
            _write_tone(container, audio_stream, seconds)
    return path


def _write_tone(container: av.container.OutputContainer, stream: av.audio.stream.AudioStream, seconds: float) -> None:
    rate = 48000
    samples = int(rate * seconds)
    t = np.arange(samples, dtype=np.float32) / rate
    tone = (0.2 * np.sin(2 * np.pi * 440 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t))).astype(np.float32)
    frame_size = stream.codec_context.frame_size or 1024
    sample_format = stream.codec_context.format.name if stream.codec_context.format else "fltp"
    for start in range(0, samples, frame_size):
        chunk = tone[start : start + frame_size][None, :]
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        if sample_format != "fltp":
            frame = av.AudioResampler(format=sample_format, layout="mono", rate=rate).resample(frame)[0]
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


# Uncompressed bytes of rows per compressed block of write_flat_png.
PNG_BLOCK_BYTES = 8 * 2**20


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_flat_png(path: Path, width: int, height: int, bit_depth: int = 8, colour_type: int = 2) -> Path:
    """A valid all-black PNG of any size, written without holding its
    pixels: one block of rows is compressed, flushed so that the same bytes
    follow on from it, and repeated; all-zero data has an Adler-32 that
    needs no pass over it. 30000x30000 RGB is 2.6 MB."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour_type]
    row = 1 + width * channels * bit_depth // 8
    rows = max(1, min(height, PNG_BLOCK_BYTES // row))
    compressor = zlib.compressobj(9)
    first = compressor.compress(bytes(row * rows)) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(bytes(row * rows)) + compressor.flush(zlib.Z_FULL_FLUSH) if height >= 2 * rows else b""
    full, left = divmod(height, rows)
    parts = [first] + [block] * (full - 1)
    if left:
        parts.append(compressor.compress(bytes(row * left)) + compressor.flush(zlib.Z_FULL_FLUSH))
    parts.append(b"\x03\x00" + struct.pack(">I", (row * height % 65521) << 16 | 1))  # empty final block, Adler-32
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", b"".join(parts)) + _png_chunk(b"IEND", b""))
    return path
