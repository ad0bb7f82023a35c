"""Video decoding with PyAV.

This module knows about containers, codecs and timestamps, and nothing
about styles: frames come out as RGB uint8 arrays together with the
presentation timestamp and time base that place them in time, which
:mod:`vidstyle.media.writer` keeps, so variable frame rate input stays
variable. Asked for, frames of a high-bit-depth input come as uint16 RGB
and the alpha channel comes beside the colour, so that nothing of a
post-production plate is lost on the way through.

Image sequences (``shot010.%04d.png``) go through FFmpeg's image2 demuxer:
they are read at a frame rate the caller gives (images carry none) from
their first existing frame number.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import av
import numpy as np

from ..errors import OptionError, VideoError, first_line
from .formats import pixel_format, planar_alpha, read_alpha, with_alpha
from .sequences import is_image_sequence, printf_pattern, sequence_numbers

log = logging.getLogger(__name__)

SEQUENCE_FORMAT = "image2"
DEFAULT_SEQUENCE_RATE = Fraction(24)  # images carry no timing; the usual film rate


@dataclass(frozen=True)
class VideoInfo:
    """What a caller needs to know about the input before decoding it."""

    path: Path
    width: int
    height: int
    frame_rate: Fraction | None
    time_base: Fraction
    frame_count: int | None  # from the container; may be missing or approximate
    duration: float | None  # seconds
    codec: str
    rotation: int  # degrees counter-clockwise, as players apply it
    has_audio: bool
    start_number: int | None = None  # first frame number of an image sequence
    pixel_format: str | None = None  # as decoded, e.g. yuv420p10le
    bit_depth: int = 8  # bits per colour component (32 for float EXR)
    has_alpha: bool = False


@dataclass
class DecodedFrame:
    index: int
    rgb: np.ndarray  # (H, W, 3) uint8, or uint16 (0-65535) for a high-bit-depth input when asked
    pts: int | None
    time_base: Fraction
    alpha: np.ndarray | None = None  # (H, W), the same dtype as rgb; only when asked and present


def parse_frame_rate(value: float | int | str | Fraction) -> Fraction:
    """``24``, ``23.976`` or ``"24000/1001"`` as an exact positive fraction."""
    try:
        rate = Fraction(str(value).strip())
    except (ValueError, ZeroDivisionError):
        rate = Fraction(0)
    if rate <= 0:
        raise OptionError(f"frame rate must be a positive number or fraction such as 24000/1001, got {value!r}")
    return rate


def open_sequence(pattern: str | Path, frame_rate: Fraction) -> tuple[av.container.InputContainer, list[int]]:
    """Open an image sequence from its first existing frame (FFmpeg itself
    looks only at numbers 0-4). Returns the container and the frame numbers.
    A hole in the numbering is an error: FFmpeg would stop there silently."""
    numbers = list(sequence_numbers(pattern))
    if not numbers:
        raise VideoError(f"no frames match {pattern}")
    missing = sorted(set(range(numbers[0], numbers[-1] + 1)) - set(numbers))
    if missing:
        shown = ", ".join(map(str, missing[:5])) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise VideoError(f"frames missing from {pattern} ({numbers[0]}-{numbers[-1]}): {shown}")
    options = {"framerate": f"{frame_rate.numerator}/{frame_rate.denominator}", "start_number": str(numbers[0])}
    try:
        return av.open(printf_pattern(pattern), mode="r", format=SEQUENCE_FORMAT, options=options), numbers
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise VideoError(f"not a readable image sequence: {pattern} ({first_line(exc)})") from exc


def open_input(path: str | Path) -> av.container.InputContainer:
    path = Path(path)
    if not path.exists():
        raise VideoError(f"no such file: {path}")
    if path.is_dir():
        raise VideoError(f"is a folder, not a video: {path}")
    try:
        return av.open(str(path), mode="r")
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise VideoError(f"not a readable video: {path} ({first_line(exc)})") from exc


def _stream_format(stream: av.video.stream.VideoStream) -> tuple[str | None, bool]:
    """The pixel format frames decode to, and whether it is VP9 whose alpha
    sits beside the picture (WebM), which only libvpx's decoder returns."""
    name = stream.codec_context.pix_fmt
    side_alpha = stream.codec_context.name == "vp9" and str(stream.metadata.get("alpha_mode", "")) == "1"
    if name and side_alpha:
        name = with_alpha(name)
    return name, side_alpha


def _rotation(path: Path) -> int:
    """Display rotation in degrees counter-clockwise, as players apply it.
    FFmpeg exposes the display matrix on decoded frames, so the first frame
    is decoded from a separate handle (the main one stays at the start)."""
    try:
        with av.open(str(path), mode="r") as container:
            for frame in container.decode(video=0):
                return int(round(frame.rotation or 0)) % 360
    except (av.error.FFmpegError, AttributeError):
        pass
    return 0


class VideoReader:
    """Decodes the first video stream of a file (or an image sequence) into
    RGB frames.

    Iterating yields :class:`DecodedFrame` objects in presentation order.
    Packets that fail to decode are skipped and counted in
    ``skipped_packets`` rather than ending the job. ``frame_rate`` is used
    only for image sequences, which carry no timing of their own.

    By default every frame is 8-bit RGB, which is what training and the
    metrics want. ``high_bit_depth`` decodes an input of more than 8 bits to
    uint16 RGB instead, and ``alpha`` adds its alpha channel to each frame;
    both may be changed until iteration starts."""

    def __init__(
        self,
        path: str | Path,
        threads: int = 0,
        frame_rate: float | str | Fraction = DEFAULT_SEQUENCE_RATE,
        high_bit_depth: bool = False,
        alpha: bool = False,
    ):
        self.path = Path(path)
        self.high_bit_depth = high_bit_depth
        self.alpha = alpha
        numbers: list[int] = []
        if is_image_sequence(self.path):
            self.container, numbers = open_sequence(self.path, parse_frame_rate(frame_rate))
        else:
            self.container = open_input(self.path)
        if not self.container.streams.video:
            kinds = sorted({s.type for s in self.container.streams}) or ["no streams"]
            self.container.close()
            raise VideoError(f"no video stream in {self.path} (found {', '.join(kinds)})")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        if threads:
            self.stream.thread_count = threads
        ctx = self.stream.codec_context
        if not ctx.width or not ctx.height:
            self.container.close()
            raise VideoError(f"video stream in {self.path} has no frame size (corrupt or unsupported)")
        self.skipped_packets = 0
        decoded_format, self._side_alpha = _stream_format(self.stream)
        facts = pixel_format(decoded_format) if decoded_format else None
        self.info = VideoInfo(
            path=self.path,
            width=ctx.width,
            height=ctx.height,
            frame_rate=self.stream.average_rate or self.stream.guessed_rate,
            time_base=self.stream.time_base or Fraction(1, 90000),
            frame_count=len(numbers) or self.stream.frames or None,
            duration=self._duration(),
            codec=ctx.name,
            rotation=0 if numbers else _rotation(self.path),
            has_audio=bool(self.container.streams.audio),
            start_number=numbers[0] if numbers else None,
            pixel_format=decoded_format,
            bit_depth=facts.depth if facts else 8,
            has_alpha=bool(facts and facts.alpha),
        )

    def _duration(self) -> float | None:
        if self.stream.duration is not None and self.stream.time_base:
            return float(self.stream.duration * self.stream.time_base)
        if self.container.duration:
            return self.container.duration / av.time_base
        return None

    def estimated_frames(self) -> int | None:
        if self.info.frame_count:
            return self.info.frame_count
        if self.info.duration and self.info.frame_rate:
            return round(self.info.duration * float(self.info.frame_rate))
        return None

    def _decoder(self) -> Callable[[av.Packet], list[av.VideoFrame]]:
        if self.alpha and self._side_alpha:
            context = av.CodecContext.create("libvpx-vp9", "r")
            context.thread_type = "AUTO"
            return context.decode
        return lambda packet: packet.decode()

    def _converter(self) -> Callable[[av.VideoFrame], tuple[np.ndarray, np.ndarray | None]]:
        """Frame to (rgb, alpha): 8-bit RGB and no alpha unless asked for
        and the input has them."""
        deep = self.high_bit_depth and self.info.bit_depth > 8
        rgb_format = "rgb48le" if deep else "rgb24"
        if not (self.alpha and self.info.has_alpha):
            return lambda frame: (frame.to_ndarray(format=rgb_format), None)
        rgba_format = "rgba64le" if deep else "rgba"

        def split(frame: av.VideoFrame) -> tuple[np.ndarray, np.ndarray | None]:
            if planar_alpha(pixel_format(frame.format.name)):
                return frame.to_ndarray(format=rgb_format), read_alpha(frame, 16 if deep else 8)
            rgba = frame.to_ndarray(format=rgba_format)
            return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])

        return split

    def __iter__(self) -> Iterator[DecodedFrame]:
        index = 0
        decode, convert = self._decoder(), self._converter()
        try:
            for packet in self.container.demux(self.stream):
                try:
                    frames = decode(packet)
                except av.error.FFmpegError as exc:
                    if packet.size == 0:  # the flush packet: nothing more to recover
                        break
                    self.skipped_packets += 1
                    log.debug("skipping undecodable packet at pts %s: %s", packet.pts, exc)
                    continue
                for frame in frames:
                    rgb, alpha = convert(frame)
                    yield DecodedFrame(index, rgb, frame.pts, frame.time_base or self.info.time_base, alpha)
                    index += 1
        except av.error.FFmpegError as exc:
            if index == 0:
                raise VideoError(f"cannot decode {self.path}: {first_line(exc)}") from exc
            self.skipped_packets += 1
            log.warning("stopped reading %s after %d frames: %s", self.path, index, first_line(exc))
        if index == 0:
            raise VideoError(f"no decodable video frames in {self.path}")

    def seek(self, pts: int) -> None:
        """Continue from the keyframe at or before ``pts`` (stream time base)."""
        self.container.seek(pts, stream=self.stream, backward=True, any_frame=False)

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def count_packets(path: str | Path) -> int:
    """Video packets in a file, read without decoding: the frame count of
    an encoded part (one packet a frame for every encoder vidstyle uses)."""
    with open_input(path) as container:
        if not container.streams.video:
            raise VideoError(f"no video stream in {path}")
        return sum(1 for packet in container.demux(container.streams.video[0]) if packet.size)


def probe(path: str | Path, frame_rate: float | str | Fraction = DEFAULT_SEQUENCE_RATE) -> VideoInfo:
    with VideoReader(path, frame_rate=frame_rate) as reader:
        return reader.info
