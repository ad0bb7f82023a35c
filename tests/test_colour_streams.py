"""What a post-production file carries besides its pictures comes through a
run: colour tags and coefficients, HDR metadata, timecode, every audio and
subtitle stream with its labels, interlacing, a size change mid-stream,
damage. Every input is made here with PyAV; runs are at ``--strength 0``
(the frame untouched), so that what comes out can be compared value for
value with what went in."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from vidstyle.media.colour import PQ, RANGE_FULL, RANGE_LIMITED
from vidstyle.media.reader import VideoReader

UNCHANGED = ("--strength", "0", "--temporal", "none", "-q")
PATCH_YUV = (89, 102, 178)  # an orange, inside the RGB gamut in BT.601 and BT.709 alike


def write_yuv_clip(
    path: Path,
    planes: tuple[int, int, int],
    *,
    size=(64, 48),
    codec="ffv1",
    pixel_format="yuv420p",
    tags=None,
    frames=3,
    options=None,
    stream_metadata=None,
) -> Path:
    """A clip of flat frames of given YUV code values, tagged with ``tags``
    (matrix, range, primaries, transfer as FFmpeg numbers) or untagged."""
    width, height = size
    deep = pixel_format.endswith("10le")
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, pixel_format
        if tags:
            context = stream.codec_context
            context.colorspace, context.color_range, context.color_primaries, context.color_trc = tags
        stream.options = options or {}
        stream.metadata.update(stream_metadata or {})
        for index in range(frames):
            frame = av.VideoFrame(width, height, pixel_format)
            for plane, value in zip(frame.planes, planes):
                dtype = np.uint16 if deep else np.uint8
                plane.update(np.full(plane.buffer_size // dtype().itemsize, value, dtype))
            if tags:
                frame.colorspace, frame.color_range = tags[0], tags[1]
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def first_frame(path: Path) -> av.VideoFrame:
    with av.open(str(path)) as container:
        return next(container.decode(video=0))


def centre(frame: av.VideoFrame) -> list[int]:
    """The code value of each plane in the middle of the frame."""
    values = []
    for plane in frame.planes:
        width = plane.line_size // (2 if frame.format.name.endswith("le") else 1)
        dtype = np.uint16 if frame.format.name.endswith("le") else np.uint8
        rows = np.frombuffer(bytes(plane), dtype).reshape(-1, width)
        values.append(int(rows[rows.shape[0] // 2, plane.width // 2]))
    return values


@pytest.mark.parametrize("colour_range", [RANGE_LIMITED, RANGE_FULL])
def test_bt709_comes_back_with_its_values_and_tags(cli, tmp_path, colour_range):
    clip = write_yuv_clip(tmp_path / "in.mkv", PATCH_YUV, tags=(1, colour_range, 1, 1))
    out = tmp_path / "out.mkv"
    assert cli("run", clip, "-o", out, "--codec", "ffv1", *UNCHANGED).code == 0
    frame = first_frame(out)
    assert (frame.colorspace, frame.color_range, frame.color_primaries, frame.color_trc) == (1, colour_range, 1, 1)
    assert np.abs(np.subtract(centre(frame), PATCH_YUV)).max() <= 1  # an 8-bit RGB step, not BT.601's 7 levels


def test_untagged_hd_is_read_and_tagged_as_bt709(cli, tmp_path):
    """A player assumes BT.709 for untagged HD; the output now says so."""
    clip = write_yuv_clip(tmp_path / "in.mkv", PATCH_YUV, size=(1280, 720), frames=1)
    out = tmp_path / "out.mp4"
    assert cli("run", clip, "-o", out, "--crf", "0", *UNCHANGED).code == 0
    frame = first_frame(out)
    assert (frame.colorspace, frame.color_range) == (1, RANGE_LIMITED)
    assert np.abs(np.subtract(centre(frame), PATCH_YUV)).max() <= 1


HDR10 = {
    "x265-params": "log-level=error:hdr10=1:"
    "master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50):max-cll=1000,400"
}


def test_hdr10_keeps_depth_tags_and_mastering_metadata(cli, tmp_path):
    clip = write_yuv_clip(
        tmp_path / "hdr.mkv", (420, 500, 560), codec="libx265", pixel_format="yuv420p10le",
        tags=(9, RANGE_LIMITED, 9, PQ), options=HDR10,
    )
    out = tmp_path / "out.mkv"
    result = cli("run", clip, "-o", out, "--crf", "0", "--json", *UNCHANGED)
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert any("HDR input" in w for w in report["warnings"])
    with VideoReader(out) as reader:
        info = reader.info
    assert info.pixel_format == "yuv420p10le" and info.codec == "hevc"
    assert (info.colour.matrix, info.colour.primaries, info.colour.transfer) == (9, 9, PQ)
    assert info.colour.light_level == (1000, 400)
    assert float(info.colour.mastering.max_luminance) == 1000 and float(info.colour.mastering.min_luminance) == 0.005
    assert np.abs(np.subtract(centre(first_frame(out)), (420, 500, 560))).max() <= 2


def test_hdr_metadata_a_codec_cannot_carry_is_named(cli, tmp_path):
    clip = write_yuv_clip(
        tmp_path / "hdr.mkv", (420, 500, 560), codec="libx265", pixel_format="yuv420p10le",
        tags=(9, RANGE_LIMITED, 9, PQ), options=HDR10,
    )
    result = cli("run", clip, "-o", tmp_path / "out.mkv", "--codec", "ffv1", "--json", *UNCHANGED)
    assert result.code == 0
    assert any("mastering metadata: it is dropped" in w for w in json.loads(result.out)["warnings"])
    assert first_frame(tmp_path / "out.mkv").color_trc == PQ


def test_hdr_can_be_tone_mapped_to_sdr(cli, tmp_path):
    """PQ grey at 100 cd/m2 and a 600 cd/m2 highlight (of a 1000 cd/m2 master), as SDR BT.709: the
    grey at about half of SDR white's light, the highlight brighter but
    below clipping, the output tagged BT.709 with no HDR metadata."""
    grey, highlight = (512, 512, 512), (678, 512, 512)  # PQ code values of 100 and 600 cd/m2 (10-bit, limited)
    for name, planes in (("grey", grey), ("highlight", highlight)):
        clip = write_yuv_clip(
            tmp_path / f"{name}.mkv", planes, codec="libx265", pixel_format="yuv420p10le",
            tags=(9, RANGE_LIMITED, 9, PQ), options=HDR10,
        )
        out = tmp_path / f"{name}_sdr.mkv"
        result = cli("run", clip, "-o", out, "--hdr", "sdr", "--codec", "ffv1", "--json", *UNCHANGED)
        assert result.code == 0, result.err
        assert any("tone-mapped to SDR BT.709" in w for w in json.loads(result.out)["warnings"])
        with VideoReader(out, high_bit_depth=True) as reader:
            info = reader.info
            level = float(next(iter(reader)).rgb.mean()) / 65535
        assert (info.colour.matrix, info.colour.primaries, info.colour.transfer) == (1, 1, 1)
        assert info.colour.mastering is None and info.colour.light_level is None
        if name == "grey":
            assert level == pytest.approx((100 / 203) ** (1 / 2.4), abs=0.02)
            grey_level = level
    assert grey_level + 0.1 < level < 0.998  # compressed, not clipped


@pytest.mark.parametrize(("suffix", "codec"), [(".mov", "libx264"), (".mov", "prores_ks"), (".mp4", "libx264"), (".mkv", "libx264")])
def test_timecode_survives(cli, tmp_path, suffix, codec):
    clip = write_yuv_clip(tmp_path / "tc.mov", PATCH_YUV, codec="libx264", stream_metadata={"timecode": "01:00:00:00"})
    out = tmp_path / f"out{suffix}"
    assert cli("run", clip, "-o", out, "--codec", codec, *UNCHANGED).code == 0
    with VideoReader(out) as reader:
        assert reader.info.timecode == "01:00:00:00"
    if suffix != ".mkv":
        with av.open(str(out)) as container:
            assert [s.metadata.get("timecode") for s in container.streams.data] == ["01:00:00:00"]  # a tmcd track


def write_multi_stream(path: Path, tmp_path: Path) -> Path:
    """An .mkv with a video, two labelled audio streams at different rates
    and a labelled subtitle stream."""
    subtitles = tmp_path / "subs.srt"
    subtitles.write_text("1\n00:00:00,000 --> 00:00:00,400\nBonjour\n\n2\n00:00:00,400 --> 00:00:00,800\nSalut\n")
    with av.open(str(path), "w") as container, av.open(str(subtitles)) as srt:
        video = container.add_stream("ffv1", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = []
        for language, title, rate in (("fra", "Français", 44100), ("eng", "Commentary", 48000)):
            stream = container.add_stream("flac", rate=rate)
            stream.layout = "stereo"
            stream.metadata.update(language=language, title=title)
            audio.append(stream)
        text = container.add_stream_from_template(srt.streams.subtitles[0])
        text.metadata.update(language="fra", title="Sous-titres")
        for index in range(20):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), index * 10, np.uint8), format="rgb24")
            frame.pts = index
            for packet in video.encode(frame):
                container.mux(packet)
            for stream in audio:
                samples = stream.rate // 25
                sound = av.AudioFrame.from_ndarray(np.zeros((1, samples * 2), np.int16), format="s16", layout="stereo")
                sound.sample_rate, sound.pts = stream.rate, index * samples
                for packet in stream.encode(sound):
                    container.mux(packet)
        for stream in [video, *audio]:
            for packet in stream.encode(None):
                container.mux(packet)
        for packet in srt.demux(srt.streams.subtitles[0]):
            if packet.size:
                packet.stream = text
                container.mux(packet)
    return path


def streams_of(path: Path) -> list[tuple[str, str, str | None, str | None]]:
    with av.open(str(path)) as container:
        return [
            (s.type, s.codec_context.name, s.metadata.get("language"), s.metadata.get("title"))
            for s in container.streams if s.type in ("audio", "subtitle")
        ]


def test_every_audio_and_subtitle_stream_keeps_its_labels(cli, tmp_path):
    clip = write_multi_stream(tmp_path / "multi.mkv", tmp_path)
    out = tmp_path / "out.mkv"
    assert cli("run", clip, "-o", out, *UNCHANGED).code == 0
    assert streams_of(out) == streams_of(clip) == [
        ("audio", "flac", "fra", "Français"), ("audio", "flac", "eng", "Commentary"), ("subtitle", "srt", "fra", "Sous-titres"),
    ]
    with av.open(str(out)) as container:
        assert sum(1 for p in container.demux(container.streams.subtitles[0]) if p.size) == 2


def test_chapters_survive(cli, tmp_path):
    clip = write_yuv_clip(tmp_path / "chapters.mkv", PATCH_YUV, frames=10)
    with av.open(str(clip)) as source, av.open(str(tmp_path / "in.mkv"), "w") as target:
        stream = target.add_stream_from_template(source.streams.video[0])
        target.set_chapters([
            {"id": 1, "start": 0, "end": 5, "time_base": Fraction(1, 25), "metadata": {"title": "Intro"}},
            {"id": 2, "start": 5, "end": 10, "time_base": Fraction(1, 25), "metadata": {"title": "Main"}},
        ])
        for packet in source.demux(source.streams.video[0]):
            if packet.size:
                packet.stream = stream
                target.mux(packet)
    out = tmp_path / "out.mp4"
    assert cli("run", tmp_path / "in.mkv", "-o", out, *UNCHANGED).code == 0
    with av.open(str(out)) as container:
        chapters = container.chapters()
    assert [c["metadata"]["title"] for c in chapters] == ["Intro", "Main"]
    assert float(chapters[1]["start"] * chapters[1]["time_base"]) == pytest.approx(0.2)


def test_streams_a_container_cannot_hold_are_named_and_audio_resampled(cli, tmp_path):
    """WebM takes only Opus audio, which runs at 48 kHz, and WebVTT text."""
    clip = write_multi_stream(tmp_path / "multi.mkv", tmp_path)
    out = tmp_path / "out.webm"
    result = cli("run", clip, "-o", out, "--json", *UNCHANGED)
    assert result.code == 0, result.err
    warnings = json.loads(result.out)["warnings"]
    assert any("subtitle stream 3 (srt, fra, Sous-titres) is left out" in w for w in warnings)
    assert [s[:3] for s in streams_of(out)] == [("audio", "opus", "fra"), ("audio", "opus", "eng")]
    with av.open(str(out)) as container:
        assert [s.codec_context.sample_rate for s in container.streams.audio] == [48000, 48000]


def encode(container, stream, pictures: list[np.ndarray]) -> None:
    """RGB pictures as consecutive frames of ``stream``, then the flush."""
    for index, picture in enumerate(pictures):
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
        frame.pts = index
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def write_interlaced(path: Path, top_first: bool = True) -> Path:
    """H.264 coded interlaced: even and odd lines from different moments."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.codec_context.flags |= av.codec.context.Flags.interlaced_dct | av.codec.context.Flags.interlaced_me
        stream.options = {"x264-params": "tff=1" if top_first else "bff=1", "crf": "0"}
        pictures = []
        for index in range(6):
            picture = np.zeros((64, 96, 3), np.uint8)
            picture[0::2, 10 + index * 6 : 30 + index * 6] = 255  # one field's bar...
            picture[1::2, 13 + index * 6 : 33 + index * 6] = 255  # ...and the other's, moved on
            pictures.append(picture)
        encode(container, stream, pictures)
    return path


def combing(rgb: np.ndarray) -> float:
    """How much neighbouring lines disagree beyond what lines two apart do."""
    grey = rgb.astype(float).mean(axis=2)
    return float(np.abs(grey[1:-1] - (grey[:-2] + grey[2:]) / 2).mean())


def test_interlaced_input_is_deinterlaced_and_says_so(cli, tmp_path):
    clip = write_interlaced(tmp_path / "tff.mkv")
    with VideoReader(clip) as reader:
        assert reader.info.fields == "top first"
        reader.deinterlace = False
        woven = [f.rgb for f in reader]
    out = tmp_path / "out.mkv"
    result = cli("run", clip, "-o", out, "--codec", "ffv1", "--json", *UNCHANGED)
    assert result.code == 0
    assert any("interlaced input (top first): deinterlaced" in w for w in json.loads(result.out)["warnings"])
    with VideoReader(out) as reader:
        assert reader.info.fields is None
        clean = [f.rgb for f in reader]
    assert len(clean) == len(woven) == 6
    assert np.mean([combing(f) for f in clean]) < 0.5 * np.mean([combing(f) for f in woven])


def test_fields_can_be_kept(cli, tmp_path):
    clip = write_interlaced(tmp_path / "bff.mkv", top_first=False)
    out = tmp_path / "out.mkv"
    assert cli("run", clip, "-o", out, "--fields", "keep", *UNCHANGED).code == 0
    with VideoReader(out) as reader:
        assert reader.info.fields == "bottom first"
    assert "--fields must be one of deinterlace, keep" in cli("run", clip, "--fields", "weave", *UNCHANGED).err


def write_noise(path: Path, size: tuple[int, int], frames: int, seed: int = 0, **open_options) -> Path:
    """H.264 frames of noise (so that the picture data, not the headers,
    makes up the file)."""
    rng = np.random.default_rng(seed)
    with av.open(str(path), "w", **open_options) as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        encode(container, stream, [rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8) for _ in range(frames)])
    return path


def test_a_size_change_mid_stream_is_scaled_to_the_first_size(cli, tmp_path):
    """Two MPEG-TS files joined byte for byte, as ``cat a.ts b.ts`` makes."""
    first = write_noise(tmp_path / "a.ts", (160, 90), 3)
    second = write_noise(tmp_path / "b.ts", (320, 180), 3, seed=1)
    clip = tmp_path / "joined.ts"
    clip.write_bytes(first.read_bytes() + second.read_bytes())
    with VideoReader(clip) as reader:
        sizes = [f.rgb.shape[:2] for f in reader]
        warnings = reader.warnings
    assert sizes == [(90, 160)] * 6
    assert warnings == ["the frame size changes from 160x90 to 320x180 at frame 3: such frames are scaled to 160x90"]
    result = cli("run", clip, "-o", tmp_path / "out.mp4", "--json", *UNCHANGED)
    assert result.code == 0, result.err
    assert json.loads(result.out)["frames"] == 6


def test_a_header_that_lies_about_the_size_is_refused_cheaply(tmp_path):
    """A Matroska header saying 16000x16000 over 320x256 FFV1 frames (a codec
    whose frames take their size from the container): refused in one line
    before a full-size buffer exists (decoding it whole would take over 24 GB)."""
    clip = tmp_path / "small.mkv"
    write_yuv_clip(clip, PATCH_YUV, size=(320, 256), codec="ffv1", frames=12)
    data = clip.read_bytes()
    # PixelWidth (0xB0) and PixelHeight (0xBA) as two-byte unsigned integers
    for element, size in ((b"\xb0\x82\x01\x40", b"\xb0\x82\x3e\x80"), (b"\xba\x82\x01\x00", b"\xba\x82\x3e\x80")):
        assert data.count(element) == 1
        data = data.replace(element, size)
    hostile = tmp_path / "hostile.mkv"
    hostile.write_bytes(data)
    command = [sys.executable, "-c", MEASURED_RUN, "run", str(hostile), "-o", str(tmp_path / "out.mp4"), "-q"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and lines[0].startswith("vidstyle: error: frames of 16000x16000 need about"), done.stderr
    assert int(lines[-1]) < 1024**3  # peak resident bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hostile.mkv", "small.mkv"]


def test_a_header_that_lies_about_the_size_paints_at_the_frames_size(tmp_path):
    """VP8 frames of 160x90 behind a header of 16000x16000 (FFmpeg keeps the
    header's size for VP8): painted at 160x90, never at the header's size."""
    plain, lying = tmp_path / "plain.mkv", tmp_path / "lying.mkv"
    with av.open(str(plain), "w") as container:
        stream = container.add_stream("libvpx", rate=24)
        stream.width, stream.height, stream.pix_fmt = 160, 90, "yuv420p"
        encode(container, stream, [np.full((90, 160, 3), 30 * index, np.uint8) for index in range(6)])
    with av.open(str(plain)) as source, av.open(str(lying), "w") as target:
        stream = target.add_stream_from_template(source.streams.video[0])
        stream.codec_context.width, stream.codec_context.height = 16000, 16000
        for packet in source.demux(source.streams.video[0]):
            if packet.size:
                packet.stream = stream
                target.mux(packet)
    with av.open(str(lying)) as container:
        assert (container.streams.video[0].width, container.streams.video[0].height) == (16000, 16000)
    out = tmp_path / "out.mp4"
    done = subprocess.run(
        [sys.executable, "-c", MEASURED_RUN, "run", str(lying), "-o", str(out), "-q"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stderr.strip().splitlines()[-1]) < 1024**3
    with VideoReader(out) as reader:
        assert (reader.info.width, reader.info.height) == (160, 90)


# The CLI in a child process that prints its own peak memory last: VmHWM,
# the peak of this program's own memory (ru_maxrss would also count the
# parent's peak, which a child started with vfork inherits).
MEASURED_RUN = """
import re, sys
from vidstyle.cli import main
try:
    code = main(sys.argv[1:])
finally:
    status = open("/proc/self/status").read()
    print(int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) * 1024, file=sys.stderr)
sys.exit(code)
"""


def test_a_file_that_ends_before_its_index_says_so(cli, tmp_path):
    # the index at the front (faststart), so that frames it lists can be cut off behind it
    whole = write_noise(tmp_path / "whole.mp4", (160, 96), 40, options={"movflags": "faststart"})
    cut = tmp_path / "cut.mp4"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])
    result = cli("run", cut, "-o", tmp_path / "out.mp4", "--json", *UNCHANGED)
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert 0 < report["frames"] < 40
    assert any(f"cut.mp4 ends after {report['frames']} of the 40 frames its index lists" in w for w in report["warnings"])
