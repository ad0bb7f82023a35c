"""Decoding and encoding keep size, timing and audio."""

from __future__ import annotations

import av
import numpy as np
import pytest

from helpers import audio_seconds, frame_times
from vidstyle.errors import OptionError, VideoError
from vidstyle.media.reader import VideoReader, probe
from vidstyle.media.synthetic import render_scene
from vidstyle.media.writer import EncoderSettings, VideoWriter


def copy_through(source, target, settings=EncoderSettings(), audio=True):
    """Re-encode ``source`` unchanged through VideoReader and VideoWriter."""
    with VideoReader(source) as reader:
        writer = VideoWriter(target, reader.info, settings, streams_source=source, audio=audio)
        for frame in reader:
            writer.write(frame.rgb, frame.pts, frame.time_base)
        writer.close()


def test_reader_yields_rgb_frames_with_timestamps(make_clip):
    clip = make_clip(frames=6, width=64, height=48)
    with VideoReader(clip) as reader:
        frames = list(reader)
        assert reader.info.width == 64 and reader.info.height == 48
        assert reader.info.frame_rate == 24
    assert len(frames) == 6
    assert frames[0].rgb.shape == (48, 64, 3) and frames[0].rgb.dtype == np.uint8
    assert [round(float(f.pts * f.time_base) * 24) for f in frames] == list(range(6))
    # the decoded picture is the scene that was encoded (lossy, so roughly)
    assert np.abs(frames[2].rgb.astype(int) - render_scene(2, 64, 48)).mean() < 12


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv"])
def test_round_trip_keeps_frames_timing_and_audio(make_clip, tmp_path, suffix):
    clip = make_clip("in" + suffix, frames=10, audio=True)
    out = tmp_path / ("out" + suffix)
    copy_through(clip, out)
    assert frame_times(out) == pytest.approx(frame_times(clip), abs=1e-3)
    assert probe(out).has_audio
    assert audio_seconds(out) == pytest.approx(audio_seconds(clip), abs=0.03)


def test_odd_size_is_kept_exactly(make_clip, tmp_path):
    clip = make_clip(width=65, height=47)
    out = tmp_path / "odd.mp4"
    copy_through(clip, out)
    info = probe(out)
    assert (info.width, info.height) == (65, 47)


def test_variable_frame_rate_stays_variable(make_clip, tmp_path):
    stamps = [0, 10, 15, 40, 41, 70, 100]
    clip = make_clip("vfr.mkv", codec="ffv1", timestamps=stamps)
    out = tmp_path / "vfr_out.mp4"
    copy_through(clip, out)
    expected = [s / 240 for s in stamps]
    assert frame_times(clip) == pytest.approx(expected, abs=1e-3)
    assert frame_times(out) == pytest.approx(expected, abs=1e-3)


def test_audio_is_copied_when_the_container_accepts_it(make_clip, tmp_path):
    clip = make_clip("pcm.mov", audio=True, audio_codec="pcm_s16le")
    copy_through(clip, tmp_path / "copy.mov")
    copy_through(clip, tmp_path / "reencoded.mp4")  # mp4 takes no PCM: re-encoded
    with av.open(str(tmp_path / "copy.mov")) as c:
        assert c.streams.audio[0].codec_context.name == "pcm_s16le"
    with av.open(str(tmp_path / "reencoded.mp4")) as c:
        assert c.streams.audio[0].codec_context.name == "aac"
    assert audio_seconds(tmp_path / "reencoded.mp4") == pytest.approx(audio_seconds(clip), abs=0.05)


def test_rotation_metadata_is_kept(make_clip, tmp_path):
    clip = make_clip(rotation=90)
    assert probe(clip).rotation == 90
    copy_through(clip, tmp_path / "rotated.mp4")
    assert probe(tmp_path / "rotated.mp4").rotation == 90


# what the decoder that probes the output calls each encoder's stream
OTHER_CODECS = {"libx265": {"hevc"}, "prores_ks": {"prores"}, "ffv1": {"ffv1"}, "libvpx-vp9": {"vp9"}, "libsvtav1": {"av1", "libdav1d"}}


@pytest.mark.parametrize(
    "codec,suffix", [("libx265", ".mkv"), ("prores_ks", ".mov"), ("ffv1", ".mkv"), ("libvpx-vp9", ".webm"), ("libsvtav1", ".mkv")]
)
def test_other_codecs(make_clip, tmp_path, codec, suffix):
    clip = make_clip(frames=5)
    out = tmp_path / ("out" + suffix)
    copy_through(clip, out, EncoderSettings(codec=codec))
    info = probe(out)
    assert info.codec in OTHER_CODECS[codec]
    assert len(frame_times(out)) == 5


def test_presets_go_to_the_codecs_that_know_them(make_clip, tmp_path):
    """x264 gets "faster" unless told otherwise; SVT-AV1 numbers its presets,
    so a named one is an option error rather than FFmpeg's refusal."""
    clip = make_clip(frames=3)
    info = probe(clip)
    copy_through(clip, tmp_path / "default.mp4")
    copy_through(clip, tmp_path / "medium.mp4", EncoderSettings(preset="medium"))
    # x264 writes its settings into the stream: subme 4 is "faster", 7 "medium"
    assert b"subme=4 " in (tmp_path / "default.mp4").read_bytes()
    assert b"subme=7 " in (tmp_path / "medium.mp4").read_bytes()
    copy_through(clip, tmp_path / "av1.mkv", EncoderSettings(codec="libsvtav1", preset="10"))
    assert probe(tmp_path / "av1.mkv").codec in OTHER_CODECS["libsvtav1"]
    with pytest.raises(OptionError, match="libsvtav1 presets are numbers"):
        VideoWriter(tmp_path / "y.mkv", info, EncoderSettings(codec="libsvtav1", preset="medium"))


def test_unknown_codec_and_extension_are_option_errors(make_clip, tmp_path):
    clip = make_clip()
    info = probe(clip)
    with pytest.raises(OptionError, match="nosuchcodec"):
        VideoWriter(tmp_path / "x.mp4", info, EncoderSettings(codec="nosuchcodec"))
    with pytest.raises(OptionError, match="extension"):
        VideoWriter(tmp_path / "x.xyz", info)
    with pytest.raises(OptionError, match="crf"):
        VideoWriter(tmp_path / "x.mp4", info, EncoderSettings(crf=-1))


def test_bad_inputs_are_video_errors(tmp_path, make_clip):
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    with pytest.raises(VideoError, match="not a readable video"):
        VideoReader(text)
    with pytest.raises(VideoError, match="no such file"):
        VideoReader(tmp_path / "missing.mp4")
    clip = make_clip(frames=12)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    with pytest.raises(VideoError):
        list(VideoReader(truncated))


def test_audio_only_file_is_rejected(tmp_path):
    path = tmp_path / "tone.m4a"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=48000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 48000
        frame.pts = 0
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    with pytest.raises(VideoError, match="no video stream"):
        VideoReader(path)


def test_undecodable_packets_are_skipped_and_counted(make_clip, tmp_path):
    clip = make_clip("good.mkv", codec="ffv1", frames=12, width=96, height=64)
    with av.open(str(clip)) as container:
        packets = [(p.pos, p.size) for p in container.demux(video=0) if p.size]
    position, size = packets[6]
    data = bytearray(clip.read_bytes())
    noise = np.random.default_rng(0).integers(0, 256, size // 2, dtype=np.uint8).tobytes()
    data[position + size // 4 : position + size // 4 + size // 2] = noise  # break frame 6 only
    broken = tmp_path / "broken.mkv"
    broken.write_bytes(bytes(data))
    with VideoReader(broken) as reader:
        frames = list(reader)
        assert len(frames) == 11
        assert reader.skipped_packets == 1
