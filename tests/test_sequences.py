"""Image sequences in and out of `vidstyle run`, and the post-production codecs."""

from __future__ import annotations

from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from helpers import frame_times, one_line_error
from vidstyle import Stylizer, stylize_video
from vidstyle.media.reader import VideoReader, probe
from vidstyle.media.sequences import is_image_sequence, output_exists, remove_output, sequence_files
from vidstyle.media.synthetic import render_scene


def write_sequence(folder, name="shot010", first=1001, frames=4, width=64, height=48):
    """Synthetic frames as PNG files ``NAME.NNNN.png`` numbered from ``first``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(frames):
        cv2.imwrite(str(folder / f"{name}.{first + i:04d}.png"), render_scene(i, width, height)[:, :, ::-1])
    return folder / f"{name}.%04d.png"


def decoded(path):
    """(pixel format, width, height, RGB) of the first frame of a file, as stored."""
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return frame.format.name, frame.width, frame.height, frame.to_ndarray(format="rgb24")


def names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_pattern_helpers(tmp_path):
    for number in (7, 999, 1000, 12345):
        (tmp_path / f"f.{number:03d}.png").write_bytes(b"x")
    (tmp_path / "f.7.png").write_bytes(b"x")  # not %03d: FFmpeg would not read it either
    (tmp_path / "f.001.jpg").write_bytes(b"x")
    assert is_image_sequence("a/shot.%04d.exr") and is_image_sequence("shot.####.TIF") and is_image_sequence("%d.png")
    assert not is_image_sequence("take#2.mp4") and not is_image_sequence("shot.png") and not is_image_sequence("a.%d.%d.png")
    expected = ["f.007.png", "f.999.png", "f.1000.png", "f.12345.png"]
    assert [p.name for p in sequence_files(tmp_path / "f.%03d.png")] == expected
    assert [p.name for p in sequence_files(tmp_path / "f.###.png")] == expected
    assert output_exists(tmp_path / "f.%03d.png") and not output_exists(tmp_path / "g.%03d.png")
    remove_output(tmp_path / "f.###.png")
    assert names(tmp_path) == ["f.001.jpg", "f.7.png"]
    remove_output(tmp_path / "f.7.png")
    assert not output_exists(tmp_path / "f.7.png")


def test_sequence_round_trip_keeps_numbers_and_is_the_network_applied(cli, tiny_style, tmp_path):
    pattern = write_sequence(tmp_path / "plates")
    out = tmp_path / "out" / "styled.%04d.png"  # the folder does not exist yet
    result = cli("run", pattern, "-o", out, "--style", tiny_style, "--temporal", "none", "-q")
    assert result.code == 0, result.err
    assert names(tmp_path / "out") == [f"styled.{n}.png" for n in range(1001, 1005)]
    assert names(tmp_path) == ["out", "plates"]  # no temporary folder left
    stylizer = Stylizer.from_style(str(tiny_style))
    for source, styled in zip(sequence_files(pattern), sequence_files(out)):
        original = cv2.imread(str(source))[:, :, ::-1]
        painted = cv2.imread(str(styled))[:, :, ::-1].astype(int)
        assert np.abs(painted - stylizer(original).astype(int)).max() <= 1  # PNG is lossless
        assert np.abs(painted - original.astype(int)).mean() > 5


def test_sequence_to_video_at_24_fps_named_after_the_shot(cli, tiny_style, tmp_path):
    pattern = write_sequence(tmp_path / "plates", frames=5)
    hashed = pattern.with_name("shot010.####.png")
    assert cli("run", hashed, "--style", tiny_style, "-q").code == 0
    video = tmp_path / "plates" / "shot010_tiny.mp4"
    assert frame_times(video) == pytest.approx([i / 24 for i in range(5)], abs=1e-3)
    assert probe(video).frame_rate == 24


def test_sequence_frame_rate_option(tiny_style, tmp_path):
    pattern = write_sequence(tmp_path, frames=4)
    out = tmp_path / "ntsc.mov"
    stylize_video(pattern, out, style=str(tiny_style), frame_rate="30000/1001", quiet=True)
    assert probe(out).frame_rate == Fraction(30000, 1001)
    assert frame_times(out) == pytest.approx([i * 1001 / 30000 for i in range(4)], abs=1e-3)
    with VideoReader(pattern, frame_rate=12.5) as reader:
        assert reader.info.start_number == 1001 and reader.estimated_frames() == 4
        assert [float(f.pts * f.time_base) for f in reader] == pytest.approx([0, 0.08, 0.16, 0.24])


@pytest.mark.parametrize("pixel_format", [None, "rgb48le"])
def test_video_to_tiff_sequence_replaces_an_earlier_render(cli, make_clip, tiny_style, tmp_path, pixel_format):
    clip = make_clip(frames=5, width=65, height=47)
    folder = tmp_path / "tiffs"
    folder.mkdir()
    for number in range(8):  # an earlier, longer render, and a file that is not a frame
        (folder / f"f.{number:04d}.tif").write_bytes(b"old")
    (folder / "notes.txt").write_text("keep me")
    args = ["run", clip, "-o", folder / "f.%04d.tif", "--style", tiny_style, "-q", "-y"]
    assert cli(*args, *(["--pix-fmt", pixel_format] if pixel_format else [])).code == 0
    assert names(folder) == [f"f.{n:04d}.tif" for n in range(5)] + ["notes.txt"]  # a video starts at 0
    stored, width, height, _ = decoded(folder / "f.0003.tif")
    assert (stored, width, height) == (pixel_format or "rgb24", 65, 47)
    assert probe(folder / "f.%04d.tif").frame_count == 5


def test_exr_sequence_decodes_back_and_reads_as_input(cli, make_clip, tiny_style, tmp_path):
    clip = make_clip(frames=3, width=64, height=48)
    frames = tmp_path / "exr" / "f.%04d.exr"
    assert cli("run", clip, "-o", frames, "--style", tiny_style, "-q").code == 0
    assert names(tmp_path / "exr") == ["f.0000.exr", "f.0001.exr", "f.0002.exr"]
    stored, width, height, rgb = decoded(tmp_path / "exr" / "f.0002.exr")
    assert (stored, width, height) == ("gbrpf32le", 64, 48)
    with VideoReader(clip) as reader:
        original = list(reader)[2].rgb.astype(int)
    assert np.abs(rgb.astype(int) - original).mean() > 5  # stylized, not blank or copied
    assert 20 < rgb.mean() < 235
    assert cli("run", frames, "-o", tmp_path / "again.mkv", "--style", tiny_style, "-q").code == 0
    assert len(frame_times(tmp_path / "again.mkv")) == 3


@pytest.mark.parametrize(
    "codec,pixel_format,profile,decoded_format",
    [
        ("prores_ks", None, "HQ", "yuv422p10le"),
        ("prores_ks", "yuv444p10le", "4444", "yuv444p12le"),  # FFmpeg decodes 4444 at 12 bits
        ("ffv1", "yuv444p10le", None, "yuv444p10le"),
        ("libx265", "yuv420p10le", "Main 10", "yuv420p10le"),
    ],
)
def test_post_production_codecs(cli, make_clip, tiny_style, tmp_path, codec, pixel_format, profile, decoded_format):
    clip = make_clip(frames=3, width=64, height=48)
    out = tmp_path / ("out.mov" if codec == "prores_ks" else "out.mkv")
    args = ["run", clip, "-o", out, "--style", tiny_style, "--codec", codec, "-q"]
    assert cli(*args, *(["--pix-fmt", pixel_format] if pixel_format else [])).code == 0
    assert probe(out).codec == {"prores_ks": "prores", "libx265": "hevc"}.get(codec, codec)
    with av.open(str(out)) as container:
        context = container.streams.video[0].codec_context
        assert (context.profile, context.format.name) == (profile, decoded_format)
    assert len(frame_times(out)) == 3


@pytest.mark.parametrize(
    "pixel_format,profile,decoded_format",
    [(None, "DNXHR HQ", "yuv422p"), ("yuv422p10le", "DNXHR HQX", "yuv422p10le"), ("yuv444p10le", "DNXHR 444", "yuv444p10le")],
)
def test_dnxhr(cli, make_clip, tiny_style, tmp_path, pixel_format, profile, decoded_format):
    clip = make_clip(frames=2, width=257, height=121)  # odd sizes are fine; 256x120 is the minimum
    out = tmp_path / "dnxhr.mov"
    args = ["run", clip, "-o", out, "--style", tiny_style, "--codec", "dnxhd", "--temporal", "none", "-q"]
    assert cli(*args, *(["--pix-fmt", pixel_format] if pixel_format else [])).code == 0
    with av.open(str(out)) as container:
        context = container.streams.video[0].codec_context
        assert (context.name, context.profile, context.format.name) == ("dnxhd", profile, decoded_format)
        frames = list(container.decode(video=0))
    assert len(frames) == 2 and (frames[0].width, frames[0].height) == (257, 121)


@pytest.mark.parametrize(
    "case,expected",
    [
        ("no_frames", "no frames match"),
        ("gap", "frames missing from"),
        ("dnxhr_too_small", "at least 256x120"),
        ("prores_in_mp4", "cannot go in a .mp4 file: use .mov .mkv"),
        ("odd_size_420", "4:2:0 needs an even width and height"),
        ("codec_for_frames", "--codec libx264 needs a video file"),
        ("bad_frame_rate", "frame rate"),
        ("bad_extension", "image sequence such as"),
    ],
)
def test_sequence_and_codec_errors_are_one_line(cli, make_clip, tiny_style, tmp_path, case, expected):
    pattern = write_sequence(tmp_path / "plates", frames=3)
    clip = make_clip(frames=2)
    odd = make_clip("odd.mp4", frames=2, width=65, height=47)
    args = {
        "no_frames": ["run", tmp_path / "plates" / "shot020.%04d.png", "-o", tmp_path / "out.mp4"],
        "gap": ["run", pattern, "-o", tmp_path / "out.mp4"],
        "dnxhr_too_small": ["run", clip, "-o", tmp_path / "out.mov", "--codec", "dnxhd"],
        "prores_in_mp4": ["run", clip, "-o", tmp_path / "out.mp4", "--codec", "prores_ks"],
        "odd_size_420": ["run", odd, "-o", tmp_path / "out.mp4", "--pix-fmt", "yuv420p"],
        "codec_for_frames": ["run", clip, "-o", tmp_path / "f.%04d.png", "--codec", "libx264"],
        "bad_frame_rate": ["run", pattern, "-o", tmp_path / "out.mp4", "--config", tmp_path / "rate.toml"],
        "bad_extension": ["run", clip, "-o", tmp_path / "f.%04d.bmp"],
    }[case]
    if case == "gap":
        (tmp_path / "plates" / "shot010.1002.png").unlink()
    (tmp_path / "rate.toml").write_text('[run]\nframe_rate = "0/1"\n')
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert expected in one_line_error(cli(*args, "--style", tiny_style))
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize("folder_exists", [False, True])
def test_interrupted_sequence_leaves_nothing(cli, tiny_style, tmp_path, interrupt_second_batch, folder_exists):
    pattern = write_sequence(tmp_path / "plates", frames=6)
    folder = tmp_path / "out"
    if folder_exists:
        folder.mkdir()
        (folder / "notes.txt").write_text("keep me")
    result = cli("run", pattern, "-o", folder / "styled.%04d.png", "--style", tiny_style, "--batch-size", "2", "-q")
    assert result.code == 130
    assert names(tmp_path) == (["out", "plates"] if folder_exists else ["plates"])
    if folder_exists:
        assert names(folder) == ["notes.txt"]
