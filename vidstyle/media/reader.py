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

import bisect
import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import av
import numpy as np

from ..errors import VideoError, first_line
from .colour import RANGE_FULL, RANGE_LIMITED, SWSCALE_MATRICES, ColourTags, hdr_to_sdr
from .formats import pixel_format, planar_alpha, read_alpha, with_alpha
from .sequences import DEFAULT_SEQUENCE_RATE, is_image_sequence, parse_frame_rate, printf_pattern, sequence_numbers

log = logging.getLogger(__name__)

SEQUENCE_FORMAT = "image2"
# FFmpeg's AVFieldOrder, as the field shown first: TT and BT show the top
# field first, BB and TB the bottom one.
FIELD_ORDERS = {2: "top first", 3: "bottom first", 4: "bottom first", 5: "top first"}
# bwdif: one output frame for each input frame (not one per field), so that
# the clip keeps its frame count and timestamps.
DEINTERLACE_FILTER = "bwdif"


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
    colour: ColourTags = ColourTags()  # as tagged, with the matrix and range settled
    fields: str | None = None  # "top first" or "bottom first" for interlaced input
    timecode: str | None = None  # of the first frame, HH:MM:SS:FF (";" before FF for drop-frame)
    header_size: tuple[int, int] | None = None  # the container's (width, height) where it differs from the frames'


@dataclass
class DecodedFrame:
    index: int
    rgb: np.ndarray  # (H, W, 3) uint8, or uint16 (0-65535) for a high-bit-depth input when asked
    pts: int | None
    time_base: Fraction
    alpha: np.ndarray | None = None  # (H, W), the same dtype as rgb; only when asked and present


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


@dataclass(frozen=True)
class _FirstFrame:
    width: int
    height: int
    rotation: int  # degrees counter-clockwise, as players apply it
    colour: ColourTags
    interlaced: bool


def _first_frame(open_again: Callable[[], av.container.InputContainer]) -> _FirstFrame | None:
    """What only a decoded frame tells: its real size (a header may claim
    another), the display matrix, the colour tags and HDR side data, and
    whether it is interlaced. Read from a separate handle, so that the main
    one stays at the start; None when no frame decodes."""
    try:
        with open_again() as container:
            for frame in container.decode(video=0):
                return _FirstFrame(
                    frame.width,
                    frame.height,
                    int(round(getattr(frame, "rotation", 0) or 0)) % 360,
                    ColourTags.of_frame(frame),
                    bool(frame.interlaced_frame),
                )
    except (av.error.FFmpegError, VideoError, AttributeError, UnicodeDecodeError):
        pass
    return None


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
    both may be changed until iteration starts, as may ``deinterlace``
    (on by default: interlaced input through bwdif) and ``tone_map`` (off:
    HDR input as its code values; on: as SDR BT.709)."""

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
        self.deinterlace = True
        self._seeked = False
        self.tone_map = False  # HDR input as SDR BT.709 (hdr_to_sdr); info keeps the input's tags
        numbers: list[int] = []
        if is_image_sequence(self.path):
            rate = parse_frame_rate(frame_rate)
            self.container, numbers = open_sequence(self.path, rate)
            open_again = lambda: open_sequence(self.path, rate)[0]  # noqa: E731
        else:
            self.container = open_input(self.path)
            open_again = lambda: open_input(self.path)  # noqa: E731
        if not self.container.streams.video:
            kinds = sorted({s.type for s in self.container.streams}) or ["no streams"]
            self.container.close()
            raise VideoError(f"no video stream in {self.path} (found {', '.join(kinds)})")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        if threads:
            self.stream.thread_count = threads
        ctx = self.stream.codec_context
        first = _first_frame(open_again)
        width, height = (first.width, first.height) if first else (ctx.width, ctx.height)
        if not width or not height:
            self.container.close()
            raise VideoError(f"video stream in {self.path} has no frame size (corrupt or unsupported)")
        self.skipped_packets = 0
        self.resized_frames = 0
        self.warnings: list[str] = []
        decoded_format, self._side_alpha = _stream_format(self.stream)
        facts = pixel_format(decoded_format) if decoded_format else None
        colour = first.colour if first else ColourTags()
        field_order = int(ctx.field_order or 0) if isinstance(ctx.field_order, int) else 0
        fields = FIELD_ORDERS.get(field_order) or ("top first" if first and first.interlaced else None)
        self.info = VideoInfo(
            path=self.path,
            width=width,
            height=height,
            frame_rate=self.stream.average_rate or self.stream.guessed_rate,
            time_base=self.stream.time_base or Fraction(1, 90000),
            frame_count=len(numbers) or self.stream.frames or None,
            duration=self._duration(),
            codec=ctx.name,
            rotation=0 if numbers or not first else first.rotation,
            has_audio=bool(self.container.streams.audio),
            start_number=numbers[0] if numbers else None,
            pixel_format=decoded_format,
            bit_depth=facts.depth if facts else 8,
            has_alpha=bool(facts and facts.alpha),
            colour=colour.settled(width, height, rgb=bool(facts and facts.rgb)),
            fields=fields,
            timecode=None if numbers else _timecode(self.container),
            header_size=(ctx.width, ctx.height) if (ctx.width, ctx.height) != (width, height) else None,
        )
        if self.info.header_size:
            log.info("%s: the header says %dx%d, the frames are %dx%d", self.path, *self.info.header_size, width, height)

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
        if self.tone_map and self.info.colour.hdr:  # HDR to SDR from 16 bits, not from 8-bit code values
            tags, dtype = self.info.colour, np.uint16 if deep else np.uint8
            return lambda frame: (hdr_to_sdr(frame.to_ndarray(format="rgb48le"), tags, dtype), None)
        if not (self.alpha and self.info.has_alpha):
            return lambda frame: (frame.to_ndarray(format=rgb_format), None)
        rgba_format = "rgba64le" if deep else "rgba"

        def split(frame: av.VideoFrame) -> tuple[np.ndarray, np.ndarray | None]:
            if planar_alpha(pixel_format(frame.format.name)):
                return frame.to_ndarray(format=rgb_format), read_alpha(frame, 16 if deep else 8)
            rgba = frame.to_ndarray(format=rgba_format)
            return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])

        return split

    def _prepared(self, frames: Iterator[av.VideoFrame]) -> Iterator[av.VideoFrame]:
        """Decoded frames made ready to convert: at the stream's one size,
        tagged with the settled matrix and range where they carry none, and
        deinterlaced (unless ``deinterlace`` is off)."""
        frames = self._one_size(frames)
        if self.info.fields and self.deinterlace:
            frames = _deinterlaced(frames)
        colour = self.info.colour
        for frame in frames:
            if frame.colorspace not in SWSCALE_MATRICES:
                frame.colorspace = colour.matrix
            if frame.color_range not in (RANGE_LIMITED, RANGE_FULL):
                frame.color_range = colour.range
            yield frame

    def _one_size(self, frames: Iterator[av.VideoFrame]) -> Iterator[av.VideoFrame]:
        """Frames of a size other than the first frame's (a stream joined
        from two sources) scaled to it, with a warning naming where."""
        width, height = self.info.width, self.info.height
        for index, frame in enumerate(frames):
            if (frame.width, frame.height) != (width, height):
                if not self.resized_frames:
                    self.warnings.append(
                        f"the frame size changes from {width}x{height} to {frame.width}x{frame.height} at frame {index}: "
                        f"such frames are scaled to {width}x{height}"
                    )
                self.resized_frames += 1
                frame = frame.reformat(width=width, height=height, interpolation="BICUBIC")
            yield frame

    def _decoded(self) -> Iterator[av.VideoFrame]:
        """Every frame the stream gives, undecodable packets skipped."""
        decode = self._decoder()
        got_any = False
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
                    got_any = True
                    yield frame
        except av.error.FFmpegError as exc:
            if not got_any:
                raise VideoError(f"cannot decode {self.path}: {first_line(exc)}") from exc
            self.skipped_packets += 1
            self.warnings.append(f"{self.path.name} ends early, in damaged data: {first_line(exc)}")

    def __iter__(self) -> Iterator[DecodedFrame]:
        index = 0
        convert = self._converter()
        for frame in self._prepared(self._decoded()):
            rgb, alpha = convert(frame)
            yield DecodedFrame(index, rgb, frame.pts, frame.time_base or self.info.time_base, alpha)
            index += 1
        if index == 0:
            raise VideoError(f"no decodable video frames in {self.path}")
        expected = self.info.frame_count
        if expected and index < expected and not self.info.start_number and not self._seeked:
            self.warnings.append(f"{self.path.name} ends after {index} of the {expected} frames its index lists")

    def seek(self, pts: int) -> None:
        """Continue from the keyframe at or before ``pts`` (stream time base)."""
        self._seeked = True  # frames are then counted from there, not from the start
        self.container.seek(pts, stream=self.stream, backward=True, any_frame=False)

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _deinterlaced(frames: Iterator[av.VideoFrame]) -> Iterator[av.VideoFrame]:
    """Frames through FFmpeg's bwdif, one out for each one in, the field
    order taken from each frame's own flags."""
    graph = None

    def pulled() -> Iterator[av.VideoFrame]:
        while True:
            try:
                yield graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                return

    for frame in frames:
        if graph is None:
            graph = av.filter.Graph()
            source = graph.add_buffer(
                width=frame.width, height=frame.height, format=frame.format, time_base=frame.time_base or Fraction(1, 90000)
            )
            deinterlace = graph.add(DEINTERLACE_FILTER, "mode=send_frame:parity=auto:deint=all")
            sink = graph.add("buffersink")
            source.link_to(deinterlace)
            deinterlace.link_to(sink)
            graph.configure()
        graph.push(frame)
        yield from pulled()
    if graph is not None:
        graph.push(None)
        yield from pulled()


def _timecode(container: av.container.InputContainer) -> str | None:
    """The start timecode: a .mov/.mp4 tmcd track shows it on the video
    and the data stream, Matroska as a TIMECODE tag."""
    video = [s for s in container.streams if s.type == "video"][:1]
    for source in [*video, *container.streams.data, container]:
        for key, value in source.metadata.items():
            if key.lower() == "timecode" and value:
                return str(value)
    return None


def read_timecode(path: str | Path) -> str | None:
    with open_input(path) as container:
        return _timecode(container)


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


def read_frames(
    path: str | Path, indices: set[int], frame_rate: float | str | Fraction = DEFAULT_SEQUENCE_RATE
) -> dict[int, DecodedFrame]:
    """The frames at ``indices`` (counting from 0), decoded in order as a
    run decodes them, so that frame N here is frame N of the run; decoding
    stops at the last one asked for. A missing one is a one-line error."""
    found: dict[int, DecodedFrame] = {}
    last, count = max(indices), 0
    with VideoReader(path, frame_rate=frame_rate) as reader:
        for frame in reader:
            count += 1
            if frame.index in indices:
                found[frame.index] = frame
            if frame.index == last:
                break
    missing = sorted(indices - set(found))
    if missing:
        raise FramePastEnd(missing[0], count, Path(path).name)
    return found


class FramePastEnd(VideoError):
    """A frame asked for by its number that the clip does not have."""

    def __init__(self, index: int, count: int, name: str):
        super().__init__(f"frame {index} is past the end of {name} ({count} frames, 0 to {count - 1})")
        self.index, self.count = index, count


class FrameSeeker:
    """Any frame of a file by its number, for scrubbing. The presentation
    times of all frames, and which are keyframes, come from the packets,
    read without decoding. A request for a frame ahead of the last one, in
    the same group of pictures, decodes on from there; any other seeks to
    the keyframe at or before it and decodes forward. A frame so costs at
    most one group of pictures, and stepping forward one frame. Not
    thread-safe: one caller at a time."""

    def __init__(self, path: str | Path, frame_rate: float | str | Fraction = DEFAULT_SEQUENCE_RATE):
        self.reader = VideoReader(path, frame_rate=frame_rate)
        self.info = self.reader.info
        packets = [(p.pts, p.is_keyframe) for p in self.reader.container.demux(self.reader.stream) if p.size and p.pts is not None]
        self.times = sorted(pts for pts, _ in packets)
        self.keyframes = sorted(pts for pts, keyframe in packets if keyframe) or self.times[:1]
        if not self.times:
            self.reader.close()
            raise VideoError(f"no video frames in {path}")
        self._decoding: Iterator[DecodedFrame] | None = None
        self._position: int | None = None  # pts of the last frame decoded

    def __len__(self) -> int:
        return len(self.times)

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` (0-based, clamped to the clip) as 8-bit RGB: the
        first decoded frame at or after its presentation time."""
        target = self.times[min(max(index, 0), len(self.times) - 1)]
        if not self._decodes_on_to(target):
            self.reader.seek(target)
            self._decoding = iter(self.reader)
        last = None
        for decoded in self._decoding:
            last, self._position = decoded.rgb, decoded.pts
            if decoded.pts is None or decoded.pts >= target:
                return decoded.rgb
        self._decoding = self._position = None
        if last is None:
            raise VideoError(f"cannot decode frame {index} of {self.info.path}")
        return last

    def _decodes_on_to(self, target: int) -> bool:
        """Whether decoding on from the last frame reaches ``target`` without
        passing a keyframe (where a seek would start decoding anyway)."""
        if self._decoding is None or self._position is None or target <= self._position:
            return False
        keyframe = self.keyframes[max(bisect.bisect_right(self.keyframes, target) - 1, 0)]
        return keyframe <= self._position

    def close(self) -> None:
        self.reader.close()
