"""Video decoding with PyAV.

This module knows about containers, codecs and timestamps, and nothing
about styles: frames come out as RGB uint8 arrays together with the
presentation timestamp and time base that place them in time, which
:mod:`vidstyle.media.writer` keeps, so variable frame rate input stays
variable.

Image sequences (``shot010.%04d.png``) go through FFmpeg's image2 demuxer:
they are read at a frame rate the caller gives (images carry none) from
their first existing frame number.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from ..errors import OptionError, VideoError, first_line
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


@dataclass
class DecodedFrame:
    index: int
    rgb: np.ndarray  # (H, W, 3) uint8
    pts: int | None
    time_base: Fraction


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
    only for image sequences, which carry no timing of their own."""

    def __init__(self, path: str | Path, threads: int = 0, frame_rate: float | str | Fraction = DEFAULT_SEQUENCE_RATE):
        self.path = Path(path)
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

    def __iter__(self) -> Iterator[DecodedFrame]:
        index = 0
        try:
            for packet in self.container.demux(self.stream):
                try:
                    frames = packet.decode()
                except av.error.FFmpegError as exc:
                    if packet.size == 0:  # the flush packet: nothing more to recover
                        break
                    self.skipped_packets += 1
                    log.debug("skipping undecodable packet at pts %s: %s", packet.pts, exc)
                    continue
                for frame in frames:
                    yield DecodedFrame(index, frame.to_ndarray(format="rgb24"), frame.pts, frame.time_base or self.info.time_base)
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


def probe(path: str | Path, frame_rate: float | str | Fraction = DEFAULT_SEQUENCE_RATE) -> VideoInfo:
    with VideoReader(path, frame_rate=frame_rate) as reader:
        return reader.info
