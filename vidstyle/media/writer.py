"""Video encoding with PyAV: the muxer, encoder and pixel format for an
output, the input's audio, subtitles and timecode carried along, and parts
joined into one file.

Timing is preserved exactly: the writer encodes every frame with the
presentation timestamp and time base it was decoded with
(:mod:`vidstyle.media.reader`), so variable frame rate input stays
variable. Audio and subtitles are copied packet for packet when the output
container accepts their codec; audio is re-encoded otherwise, and a
subtitle stream the container cannot hold is left out with a warning.

Image sequences (``shot010.%04d.png``) go through FFmpeg's image2 muxer:
written one image per frame, keeping the input's first number. Sequences
carry no audio, and no rotation: their frames are turned upright instead,
as FFmpeg itself does.

The output's pixel format keeps the input's bit depth and alpha channel
where the codec can store them, and says so once (a warning) where it
cannot.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..errors import OptionError, first_line
from .colour import HDR_ENCODER, RANGE_FULL, SWSCALE_MATRICES, ColourTags
from .formats import closest_format, pixel_format, planar_alpha, write_alpha
from .reader import SEQUENCE_FORMAT, VideoInfo, read_timecode
from .sequences import is_image_sequence, printf_pattern

log = logging.getLogger(__name__)

# Audio codecs each output container takes as they are; anything else is
# re-encoded, to REENCODE_AUDIO's codec for that container or else AAC.
COPYABLE_AUDIO = {
    "mp4": {"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"},
    "mov": {"aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s24le", "pcm_s16be", "pcm_f32le"},
    "matroska": None,  # Matroska holds any codec
    "webm": {"opus", "vorbis"},
    "avi": {"mp3", "ac3", "pcm_s16le"},
}
REENCODE_AUDIO = {"webm": "libopus", "avi": "libmp3lame"}
# Subtitle codecs each container takes as they are (there is no converting
# them here); None: any.
COPYABLE_SUBTITLES = {"mp4": {"mov_text"}, "mov": {"mov_text"}, "matroska": None, "webm": {"webvtt"}, "avi": set()}
EXTENSION_FORMATS = {
    ".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska",
    ".webm": "webm", ".avi": "avi",
}
# Image-sequence outputs: the encoder follows from the extension.
SEQUENCE_CODECS = {".png": "png", ".tif": "tiff", ".tiff": "tiff", ".exr": "exr"}
# Codecs whose users expect no chroma loss either.
LOSSLESS_CODECS = {"ffv1", "ffvhuff", "huffyuv", "utvideo"}
DEFAULT_VIDEO_CODEC = {"webm": "libvpx-vp9"}
# Containers whose HDR input is encoded with colour.HDR_ENCODER unless
# --codec says otherwise, so that the mastering metadata survives.
HDR_CONTAINERS = {"mp4", "mov", "matroska"}
# x264's "faster" gives the same file size as its "medium" at crf 18 with
# 0.37 dB less PSNR (39.6 against 40.0 dB on stylized bikes.mp4), in half the
# encoding time: 6.8 against 12.9 ms a 640x272 frame on one core, where the
# whole run is 40-45 ms. x265 is chosen for size, so it keeps its own default;
# SVT-AV1 numbers its presets and keeps its own too.
DEFAULT_PRESETS = {"libx264": "faster"}
# Pixel formats tried in order when --pix-fmt is not given, for codecs whose
# choice is not the general one (see _choose_pixel_format).
PREFERRED_PIXEL_FORMATS = {
    "prores_ks": ["yuv422p10le", "yuv444p10le"],  # ProRes 422 HQ
    "dnxhd": ["yuv422p"],  # DNxHR HQ
    "png": ["rgb24"],
    "tiff": ["rgb24"],
    "exr": ["gbrpf32le"],  # the only colour format FFmpeg's EXR encoder has
}
# The profile that goes with each pixel format: FFmpeg's DNxHR refuses a
# mismatch, and ProRes 4444 must be asked for to get 4:4:4 decoded as such.
PRORES_PROFILES = {"yuv422p10le": "hq", "yuv444p10le": "4444", "yuva444p10le": "4444"}
DNXHR_PROFILES = {"yuv422p": "dnxhr_hq", "yuv422p10le": "dnxhr_hqx", "yuv444p10le": "dnxhr_444", "gbrp10le": "dnxhr_444"}
DNXHR_MIN_SIZE = (256, 120)  # FFmpeg's DNxHR encoder refuses smaller frames
# Encoders whose alpha channel FFmpeg also decodes back (x265's alpha layer,
# for one, is not read by FFmpeg's HEVC decoder).
ALPHA_CODECS = {"prores_ks", "qtrle", "ffv1", "png", "tiff", "exr", "libvpx-vp9"}
# Encoders that take the field order from the encoder's settings (others
# read it from each frame's flags, which PyAV cannot set).
FIELD_CODECS = {"libx264", "ffv1"}
ALPHA_HINT = "prores_ks (.mov), qtrle (.mov), ffv1 (.mkv), libvpx-vp9 (.webm) or a .png/.tif/.exr sequence"


@dataclass(frozen=True)
class EncoderSettings:
    """How the output video stream is encoded."""

    codec: str | None = None  # None: libx264, or the container's own default
    crf: int | None = 18
    preset: str | None = None  # None: the codec's DEFAULT_PRESETS entry
    pixel_format: str | None = None  # None: chosen to fit codec and frame size
    bit_rate: int | None = None

    def validate(self) -> None:
        if self.crf is not None and not 0 <= self.crf <= 63:
            raise OptionError(f"--crf must be between 0 and 63, got {self.crf}")


def container_format(path: Path) -> str:
    """The muxer for an output path: from the extension, or image2 for a
    sequence pattern."""
    suffix = path.suffix.lower()
    if is_image_sequence(path) and suffix in SEQUENCE_CODECS:
        return SEQUENCE_FORMAT
    if suffix not in EXTENSION_FORMATS:
        raise OptionError(
            f"unsupported output extension {suffix or '(none)'}: use one of {', '.join(sorted(EXTENSION_FORMATS))}, "
            f"or an image sequence such as NAME.%04d.png ({', '.join(sorted(SEQUENCE_CODECS))})"
        )
    return EXTENSION_FORMATS[suffix]


def _choose_pixel_format(
    codec: av.codec.Codec, width: int, height: int, wanted: str | None, depth: int = 8, alpha: bool = False
) -> str:
    """``wanted`` when given; else the codec's usual 8-bit choice, moved to
    the nearest format that holds ``depth`` bits (as many as the codec has)
    and, for a codec in ALPHA_CODECS, an alpha channel."""
    formats = [f.name for f in (codec.video_formats or [])]
    if wanted:
        if formats and wanted not in formats:
            raise OptionError(f"codec {codec.name} does not support pixel format {wanted} (try {', '.join(formats[:6])})")
        return wanted
    base = _eight_bit_format(codec, formats, width, height)
    alpha = alpha and codec.name in ALPHA_CODECS
    if (depth <= pixel_format(base).depth and not alpha) or not formats:
        return base
    return closest_format(base, formats, depth, alpha)


def _eight_bit_format(codec: av.codec.Codec, formats: list[str], width: int, height: int) -> str:
    odd = width % 2 or height % 2
    # 4:2:0 needs even sizes; 4:4:4 keeps odd sizes exact instead of cropping.
    preferences = ["yuv444p", "yuv444p10le", "gbrp"] if odd else ["yuv420p", "yuv422p10le", "yuv422p", "yuv444p"]
    if codec.name in PREFERRED_PIXEL_FORMATS:
        preferences = PREFERRED_PIXEL_FORMATS[codec.name]
    elif codec.name in LOSSLESS_CODECS:
        preferences = ["yuv444p", "gbrp", "yuv444p10le"]
    for name in preferences:
        if not formats or name in formats:
            return name
    return formats[0]


def _profile_options(codec: str, pixel_format: str, width: int, height: int) -> dict[str, str]:
    """Encoder options that follow from the pixel format: the ProRes and
    DNxHR profile. Raises OptionError for what the encoder would refuse with
    a bare "Invalid argument"."""
    if codec == "prores_ks" and pixel_format in PRORES_PROFILES:
        return {"profile": PRORES_PROFILES[pixel_format]}
    if codec == "dnxhd":  # always DNxHR: classic DNxHD takes only a few broadcast sizes
        if width < DNXHR_MIN_SIZE[0] or height < DNXHR_MIN_SIZE[1]:
            raise OptionError(
                f"dnxhd (DNxHR) needs frames of at least {DNXHR_MIN_SIZE[0]}x{DNXHR_MIN_SIZE[1]}, "
                f"got {width}x{height}: use prores_ks or ffv1"
            )
        return {"profile": DNXHR_PROFILES[pixel_format]}
    return {}


class VideoWriter:
    """Encodes RGB frames at given timestamps, and carries the input's audio,
    subtitles and timecode.

    ``write(rgb, pts, time_base, alpha)`` expects frames in presentation
    order, uint8 or uint16 RGB; packets of the other streams of
    ``streams_source`` (audio left out when ``audio`` is False) are
    interleaved as the video advances and the rest are flushed by
    ``close``. The output is tagged with the input's colour description and
    converted with its matrix and range (:mod:`vidstyle.media.colour`);
    ``keep_fields`` encodes an interlaced input's frames interlaced, in its
    field order. A sequence pattern as ``path`` writes one image per frame,
    numbered from the input's first frame number (0 for a video), turned
    upright by the input's rotation, and drops the other streams.

    ``keeps_alpha`` and ``bit_depth`` say what the chosen pixel format holds
    (so that the caller decodes no more than that); ``warnings`` what of the
    input it could not keep, once each."""

    def __init__(
        self,
        path: str | Path,
        info: VideoInfo,
        settings: EncoderSettings = EncoderSettings(),
        streams_source: str | Path | None = None,
        format_name: str | None = None,
        keep_fields: bool = False,
        audio: bool = True,
    ):
        settings.validate()
        self.path = Path(path)
        self.info = info
        self.keep_fields = keep_fields and info.fields is not None
        self.format = format_name or container_format(self.path)
        self.warnings: list[str] = []
        codec = _video_encoder(self._codec_name(settings.codec))
        if self.format == SEQUENCE_FORMAT:
            options = {"start_number": str(info.start_number or 0)}
            self.container = av.open(printf_pattern(self.path), mode="w", format=SEQUENCE_FORMAT, options=options)
            streams_source = None  # image files hold no sound
        else:
            self.container = av.open(str(self.path), mode="w", format=self.format)
        try:
            self._setup_video(codec, settings)
            self._carrier = _StreamCarrier(streams_source, self.container, self.format, audio) if streams_source else None
            for message in self._carrier.warnings if self._carrier else []:
                self._warn(message)
        except BaseException:
            self.container.close()
            raise
        self.frames_written = 0

    def _codec_name(self, wanted: str | None) -> str:
        if self.format != SEQUENCE_FORMAT:
            if not wanted and self.format in HDR_CONTAINERS and (self.info.colour.mastering or self.info.colour.light_level):
                return HDR_ENCODER  # the encoder that keeps the mastering metadata
            return wanted or DEFAULT_VIDEO_CODEC.get(self.format, "libx264")
        suffix = self.path.suffix.lower()
        if wanted and wanted != SEQUENCE_CODECS[suffix]:
            raise OptionError(f"{suffix} frames are encoded with {SEQUENCE_CODECS[suffix]}; --codec {wanted} needs a video file")
        return SEQUENCE_CODECS[suffix]

    def _warn(self, message: str) -> None:
        """Keep ``message`` for the caller to show (the CLI prints it, the
        batch records it); logged at INFO so that it is not said twice."""
        self.warnings.append(message)
        log.info("%s", message)

    def _upright_turns(self) -> int:
        """Quarter turns (counter-clockwise) that stand a sequence's frames
        upright: image files have no place for the rotation."""
        rotation = self.info.rotation % 360
        if self.format != SEQUENCE_FORMAT or not rotation:
            return 0
        if rotation % 90:
            self._warn(f"image sequences hold no rotation: the frames are written as stored, not turned by {rotation} degrees")
            return 0
        return rotation // 90

    def _setup_video(self, codec: av.codec.Codec, settings: EncoderSettings) -> None:
        info = self.info
        rate = info.frame_rate or Fraction(25)
        try:
            stream = self.container.add_stream(codec.name, rate=rate)
        except ValueError:  # the container cannot hold this codec
            fits = " ".join(_extensions_for(codec.name)) or "none of " + " ".join(EXTENSION_FORMATS)
            raise OptionError(f"{codec.name} video cannot go in a {self.path.suffix} file: use {fits}") from None
        self._turns = self._upright_turns()
        width, height = (info.height, info.width) if self._turns % 2 else (info.width, info.height)
        stream.width = width
        stream.height = height
        stream.pix_fmt = _choose_pixel_format(
            codec, width, height, settings.pixel_format, info.bit_depth, info.has_alpha
        )
        chosen = pixel_format(stream.pix_fmt)
        self.keeps_alpha = chosen.alpha and info.has_alpha
        self._alpha_plane = planar_alpha(chosen)  # written directly, not through swscale
        self.bit_depth = min(chosen.depth, 16)
        if info.has_alpha and not chosen.alpha:
            self._warn(f"the input's alpha channel is dropped: {codec.name} {stream.pix_fmt} has none (alpha goes into {ALPHA_HINT})")
        if info.bit_depth > 8 and chosen.depth <= 8 and not settings.pixel_format:
            self._warn(f"{codec.name} writes {stream.pix_fmt}: the {info.bit_depth}-bit input is reduced to 8 bits")
        self.colour = self._output_colour(chosen.rgb, width, height)
        self.colour.tag_codec(stream.codec_context)
        # Encode in the input's time base, so that timestamps pass through unchanged.
        stream.codec_context.time_base = info.time_base
        stream.time_base = info.time_base
        options: dict[str, str] = {}
        if codec.name in ("libx264", "libx265", "libvpx-vp9", "libaom-av1", "libsvtav1"):
            if settings.crf is not None:
                options["crf"] = str(settings.crf)
            if codec.name == "libvpx-vp9":
                options["b"] = "0"  # constant-quality mode
        preset = settings.preset or DEFAULT_PRESETS.get(codec.name)
        if preset and codec.name in ("libx264", "libx265", "libsvtav1"):
            if codec.name == "libsvtav1" and not preset.isdigit():
                raise OptionError(f"libsvtav1 presets are numbers, 0 (slowest) to 13 (fastest), not {preset!r}")
            options["preset"] = preset
        hdr_options, hdr_warning = self.colour.hdr_options(codec.name)
        if hdr_warning:
            self._warn(hdr_warning)
        if codec.name == "libx265":
            options["x265-params"] = ":".join(["log-level=error"] + list(hdr_options.values()))
        options.update(_profile_options(codec.name, stream.pix_fmt, width, height))
        options.update(self._field_options(codec.name, stream))
        if settings.bit_rate:
            stream.bit_rate = settings.bit_rate
        stream.options = options
        if info.rotation and self.format != SEQUENCE_FORMAT:
            stream.set_display_rotation(info.rotation)
        if info.timecode and self.format != SEQUENCE_FORMAT:
            stream.metadata["timecode"] = info.timecode  # a tmcd track in .mov/.mp4, a tag in .mkv
        try:  # now rather than at the first frame, so that a refusal is an option error
            stream.codec_context.open()
        except av.error.FFmpegError as exc:
            hint = "; 4:2:0 needs an even width and height" if "420" in stream.pix_fmt and (width % 2 or height % 2) else ""
            raise OptionError(
                f"{codec.name} refused {width}x{height} {stream.pix_fmt} ({exc.strerror or first_line(exc)}){hint}"
            ) from None
        self.stream = stream
        self._last_pts: int | None = None

    def _output_colour(self, rgb_output: bool, width: int, height: int) -> ColourTags:
        """The input's tags for a YUV output (its matrix and range settled
        for an RGB input); no matrix and full range for an RGB output."""
        if rgb_output:
            return ColourTags(0, RANGE_FULL, self.info.colour.primaries, self.info.colour.transfer)
        return self.info.colour.for_yuv_output(width, height)

    def _field_options(self, codec: str, stream: av.video.stream.VideoStream) -> dict[str, str]:
        """Encode interlaced, in the input's field order, when its fields
        are kept rather than deinterlaced."""
        if not self.keep_fields:
            return {}
        if codec not in FIELD_CODECS:
            raise OptionError(
                f"{codec} cannot be told the field order: keep fields with {' or '.join(sorted(FIELD_CODECS))}, "
                "or leave the input to be deinterlaced"
            )
        top = self.info.fields == "top first"
        context = stream.codec_context
        context.flags |= av.codec.context.Flags.interlaced_dct | av.codec.context.Flags.interlaced_me
        context.field_order = 2 if top else 3  # AV_FIELD_TT, AV_FIELD_BB
        return {"x264-params": "tff=1" if top else "bff=1"} if codec == "libx264" else {}

    def write(self, rgb: np.ndarray, pts: int | None, time_base: Fraction | None = None, alpha: np.ndarray | None = None) -> None:
        """Encode one frame: (H, W, 3) uint8 or uint16 RGB, and its alpha
        plane (H, W), used where the output holds alpha."""
        if rgb.shape[0] != self.info.height or rgb.shape[1] != self.info.width:
            raise ValueError(f"frame size {rgb.shape[1]}x{rgb.shape[0]} differs from the stream's")
        deep = rgb.dtype == np.uint16
        alpha = alpha if self.keeps_alpha else None
        separate = alpha is not None and self._alpha_plane
        if alpha is not None and not separate:
            pixels, layout = np.dstack([rgb, alpha.astype(rgb.dtype, copy=False)]), "rgba64le" if deep else "rgba"
        else:
            pixels, layout = rgb, "rgb48le" if deep else "rgb24"
        if self._turns:
            pixels = np.rot90(pixels, self._turns)
            alpha = np.rot90(alpha, self._turns) if separate else alpha
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format=layout)
        if self.colour.matrix in SWSCALE_MATRICES:
            frame = frame.reformat(
                format=self.stream.pix_fmt,
                dst_colorspace=SWSCALE_MATRICES[self.colour.matrix],
                dst_color_range=self.colour.range,
            )
        else:
            frame = frame.reformat(format=self.stream.pix_fmt)
        self.colour.tag_frame(frame)
        if separate:
            write_alpha(frame, alpha)
        if pts is None or (time_base is not None and time_base != self.info.time_base):
            pts = self._fallback_pts(pts, time_base)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # encoders need strictly increasing timestamps
        frame.pts = pts
        frame.time_base = self.info.time_base
        self._last_pts = pts
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.frames_written += 1
        if self._carrier:
            self._carrier.mux_until(float(pts * self.info.time_base))

    def _fallback_pts(self, pts: int | None, time_base: Fraction | None) -> int:
        if pts is not None and time_base is not None:
            return round(pts * time_base / self.info.time_base)
        rate = self.info.frame_rate or Fraction(25)
        return round(self.frames_written / rate / self.info.time_base)

    def close(self, cut_audio: bool = False) -> None:
        """Flush the encoder and the remaining audio, then finish the file.
        ``cut_audio`` ends the audio with the last video frame (for clips
        cut short) instead of carrying all of it."""
        try:
            for packet in self.stream.encode(None):
                self.container.mux(packet)
            if self._carrier:
                end = None
                if cut_audio and self._last_pts is not None:
                    rate = self.info.frame_rate or Fraction(25)
                    end = float(self._last_pts * self.info.time_base + 1 / rate)
                self._carrier.mux_until(end, final=True)
        finally:
            if self._carrier:
                self._carrier.close()
            self.container.close()

    def abort(self) -> None:
        """Close without flushing (the file is discarded by the caller)."""
        try:
            if self._carrier:
                self._carrier.close()
            self.container.close()
        except Exception:  # the file is being thrown away anyway
            pass


def _video_encoder(name: str) -> av.codec.Codec:
    try:
        codec = av.codec.Codec(name, "w")
    except Exception as exc:
        raise OptionError(f"unknown or unavailable video encoder: {name}") from exc
    if codec.type != "video":
        raise OptionError(f"{name} is not a video encoder")
    return codec


def _extensions_for(codec_name: str) -> list[str]:
    """The output extensions whose container takes this video encoder (PyAV
    writes nothing before the first frame, so trying costs no file)."""
    fits = []
    for suffix, format_name in EXTENSION_FORMATS.items():
        with av.open(f"vidstyle-probe{suffix}", mode="w", format=format_name) as container:
            try:
                container.add_stream(codec_name)
                fits.append(suffix)
            except ValueError:
                pass
    return fits


class _StreamCarrier:
    """Carries the input's audio and subtitle streams into the output, with
    their language, title and disposition, and its chapters, in step with the video so that
    the muxer can interleave and a clip cut short gets them cut at the same
    point.

    Each stream is copied packet for packet where the output container
    takes its codec; audio is re-encoded (and resampled where the encoder
    needs another rate) where it does not; a subtitle or data stream the
    container cannot hold is left out, named in ``warnings``."""

    def __init__(self, source: str | Path, output: av.container.OutputContainer, format_name: str, audio: bool = True):
        self.warnings: list[str] = []
        self.input = av.open(str(source), mode="r")
        chapters = self.input.chapters()
        if chapters:
            output.set_chapters(chapters)
        self.routes: dict[int, tuple[av.stream.Stream, bool]] = {}  # input index: (output stream, copied)
        for stream in self.input.streams:
            if stream.type == "video" or (stream.type == "audio" and not audio):
                continue
            route = self._route(stream, output, format_name)
            if route is not None:
                self.routes[stream.index] = route
                _copy_labels(stream, route[0])
        if not self.routes:
            self.close()
            return
        self.packets = self.input.demux([self.input.streams[i] for i in self.routes])
        self.pending = None
        self.done = False

    def _route(self, stream: av.stream.Stream, output: av.container.OutputContainer, format_name: str):
        codec_name = stream.codec_context.name if stream.codec_context else None
        described = [codec_name or "unknown codec"] + [
            str(v) for k, v in stream.metadata.items() if k.lower() in ("language", "title")
        ]
        label = f"{stream.type} stream {stream.index} ({', '.join(described)})"
        if stream.type == "audio":
            accepted = COPYABLE_AUDIO.get(format_name, set())
            if accepted is None or codec_name in accepted:
                return output.add_stream_from_template(stream), True
            encoder = REENCODE_AUDIO.get(format_name, "aac")
            out = output.add_stream(encoder, rate=_encoder_rate(encoder, stream.codec_context.sample_rate or 48000))
            layout = stream.codec_context.layout
            if layout is not None:
                out.layout = layout.name if hasattr(layout, "name") else layout
            log.info("re-encoding %s audio to %s at %d Hz for %s", codec_name, encoder, out.rate, format_name)
            return out, False
        if stream.type == "subtitle":
            accepted = COPYABLE_SUBTITLES.get(format_name, set())
            if accepted is None or codec_name in accepted:
                try:
                    return output.add_stream_from_template(stream), True
                except ValueError:
                    pass
            self.warnings.append(f"{label} is left out: {format_name} files cannot hold it (.mkv can)")
            return None
        if stream.type == "data" and codec_name is None and "timecode" in {k.lower() for k in stream.metadata}:
            return None  # a timecode track: written again from the timecode itself
        self.warnings.append(f"{label} is left out: only audio and subtitles are carried")
        return None

    def _next_packet(self):
        if self.pending is not None:
            packet, self.pending = self.pending, None
            return packet
        for packet in self.packets:
            if packet.dts is None and packet.size == 0:
                continue
            return packet
        self.done = True
        return None

    def mux_until(self, seconds: float | None, final: bool = False) -> None:
        """Mux up to ``seconds``; all of it when ``seconds`` is None.
        ``final`` also flushes the re-encoding encoders."""
        if self.input is None:
            return
        while not self.done:
            packet = self._next_packet()
            if packet is None:
                break
            if seconds is not None and packet.pts is not None and float(packet.pts * packet.time_base) > seconds:
                self.pending = packet
                break
            out_stream, copied = self.routes[packet.stream.index]
            if copied:
                packet.stream = out_stream
                out_stream.container.mux(packet)
                continue
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                continue
            for frame in frames:
                frame.pts = None
                for out in out_stream.encode(frame):
                    out_stream.container.mux(out)
        if final:
            for out_stream, copied in self.routes.values():
                if not copied:
                    for out in out_stream.encode(None):
                        out_stream.container.mux(out)

    def close(self) -> None:
        if self.input is not None:
            self.input.close()
            self.input = None


def _encoder_rate(encoder: str, rate: int) -> int:
    """``rate`` where the encoder takes it, else the lowest rate it takes
    above it (or its highest): Opus, for one, runs only at 8-48 kHz steps."""
    rates = sorted(av.codec.Codec(encoder, "w").audio_rates or [])
    if not rates or rate in rates:
        return rate
    return next((r for r in rates if r > rate), rates[-1])


def _copy_labels(source: av.stream.Stream, target: av.stream.Stream) -> None:
    """A stream's language, title and disposition (default, forced,
    hearing impaired...), which players choose tracks by."""
    for key, value in source.metadata.items():
        if key.lower() in ("language", "title"):
            target.metadata[key.lower()] = value
        elif key.lower() == "name":  # how .mov and .mp4 give a track's title back
            target.metadata["title"] = value
    try:
        target.disposition = source.disposition
    except (AttributeError, TypeError, ValueError):
        pass


def concat_video_files(
    parts: list[Path], output: str | Path, streams_source: str | Path | None = None, audio: bool = True
) -> int:
    """Join encoded parts (same codec settings, timestamps already on one
    time line) into ``output`` by copying packets, adding the audio and
    subtitles of ``streams_source`` (without audio when ``audio`` is False)
    and its timecode; returns the number of video packets written."""
    output = Path(output)
    format_name = container_format(output)
    container = av.open(str(output), mode="w", format=format_name)
    carrier = None
    written = 0
    try:
        with av.open(str(parts[0])) as first:
            stream = container.add_stream_from_template(first.streams.video[0])
        if streams_source is not None:
            timecode = read_timecode(streams_source)
            if timecode:
                stream.metadata["timecode"] = timecode
            carrier = _StreamCarrier(streams_source, container, format_name, audio)
        last_dts: int | None = None
        for part in parts:
            with av.open(str(part)) as source:
                for packet in source.demux(source.streams.video[0]):
                    if packet.size == 0:
                        continue
                    if last_dts is not None and packet.dts is not None and packet.dts <= last_dts:
                        # a tie at a border; never move DTS past PTS
                        packet.dts = last_dts + 1 if packet.pts is None else min(last_dts + 1, packet.pts)
                    last_dts = packet.dts if packet.dts is not None else last_dts
                    seconds = float(packet.pts * packet.time_base) if packet.pts is not None else None
                    packet.stream = stream
                    container.mux(packet)
                    written += 1
                    if carrier and seconds is not None:
                        carrier.mux_until(seconds)
        if carrier:
            carrier.mux_until(None, final=True)
    finally:
        if carrier:
            carrier.close()
        container.close()
    return written


# Video encoders worth offering for --codec, in the order `vidstyle info` lists them.
KNOWN_VIDEO_ENCODERS = (
    "libx264", "libx265", "libvpx-vp9", "libaom-av1", "libsvtav1", "prores_ks", "dnxhd", "ffv1",
    "mpeg4", "h264_nvenc", "hevc_nvenc", "av1_nvenc",
)


def available_video_encoders() -> list[str]:
    """The encoders of KNOWN_VIDEO_ENCODERS that this build of FFmpeg has
    (hardware encoders are listed when compiled in, even with no GPU)."""
    found = []
    for name in KNOWN_VIDEO_ENCODERS:
        try:
            codec = av.codec.Codec(name, "w")
        except Exception:  # not compiled into this FFmpeg
            continue
        if codec.type == "video":
            found.append(name)
    return found
