"""Post-production fidelity: the bit depth follows the input, alpha passes
through, frames of any size work, sequences come out upright. Every round
trip is measured pixel by pixel against what went in."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from helpers import one_line_error
from vidstyle import Stylizer, StylizerOptions, stylize_video
from vidstyle.media.reader import VideoReader, probe
from vidstyle.media.synthetic import render_matte


def deep_frames(path) -> list[np.ndarray]:
    """Every frame as int RGB on the 16-bit scale (8-bit files too)."""
    with VideoReader(path, high_bit_depth=True) as reader:
        return [f.rgb.astype(np.int64) * (257 if f.rgb.dtype == np.uint8 else 1) for f in reader]


def mattes(path) -> list[np.ndarray]:
    """Every frame's alpha in [0, 1]."""
    with VideoReader(path, high_bit_depth=True, alpha=True) as reader:
        frames = list(reader)
    assert all(f.alpha is not None for f in frames), f"{path} decoded without alpha"
    return [f.alpha / np.iinfo(f.alpha.dtype).max for f in frames]


def eight_bit_error(frame: np.ndarray) -> float:
    """Mean distance of 16-bit levels to the 8-bit grid: what 8 bits would cost."""
    return float(np.abs(frame - np.round(frame / 257) * 257).mean())


# --- bit depth ---------------------------------------------------------------


@pytest.mark.parametrize(
    "codec,name,stored",
    [("ffv1", "out.mkv", "yuv444p10le"), (None, "f.%04d.png", "rgb48be"), (None, "f.%04d.tif", "rgb48le"), (None, "f.%04d.exr", "gbrpf32le")],
)
def test_ten_bit_levels_survive_into_lossless_outputs(make_clip, tiny_style, tmp_path, codec, name, stored):
    clip = make_clip("ten.mkv", codec="ffv1", pixel_format="yuv444p10le", frames=3)
    out = tmp_path / name
    # strength 0 gives the input back through the whole float path: any loss is the pipeline's
    result = stylize_video(clip, out, style=str(tiny_style), strength=0, codec=codec, quiet=True)
    assert (result.pixel_format, result.warnings) == (stored, [])
    for source, output in zip(deep_frames(clip), deep_frames(out), strict=True):
        assert eight_bit_error(source) > 50  # the clip has detail between the 8-bit levels...
        assert np.abs(output - source).mean() < eight_bit_error(source) / 5  # ...and it survives


def test_sixteen_bit_frames_are_stylized_in_float(make_clip, tiny_style, tmp_path):
    clip = make_clip("sixteen.mkv", codec="ffv1", pixel_format="yuv444p16le", frames=3)
    out = tmp_path / "styled.mkv"
    result = stylize_video(clip, out, style=str(tiny_style), codec="ffv1", temporal="none", quiet=True)
    assert result.pixel_format == "yuv444p16le"
    stylizer = Stylizer.from_style(str(tiny_style))
    with VideoReader(clip, high_bit_depth=True) as reader:
        expected = [stylizer(f.rgb).astype(np.int64) for f in reader]
    for painted, wanted, source in zip(deep_frames(out), expected, deep_frames(clip), strict=True):
        assert np.abs(painted - wanted).mean() < 8  # a fraction of one 8-bit level (257)
        assert np.abs(painted - source).mean() > 5 * 257  # and it is stylized
        assert eight_bit_error(painted) > 50  # not squeezed through 8 bits on the way
    # the stabiliser keeps the depth too
    flow = stylize_video(clip, tmp_path / "flow.mkv", style=str(tiny_style), codec="ffv1", quiet=True)
    assert flow.pixel_format == "yuv444p16le"
    assert all(eight_bit_error(frame) > 50 for frame in deep_frames(tmp_path / "flow.mkv"))


def test_the_stylizer_keeps_the_frames_type_and_their_finer_levels(tiny_style):
    stylizer = Stylizer.from_style(str(tiny_style), StylizerOptions(precision="f32"))  # 16-bit frames always run in f32
    frames = np.random.default_rng(0).integers(0, 256, (2, 20, 28, 3), dtype=np.uint8)
    deep = frames.astype(np.uint16) * 257
    out8, out16 = stylizer(frames), stylizer(deep)
    assert (out8.dtype, out16.dtype) == (np.uint8, np.uint16)
    # the same picture at 16 bits: the same result, not rounded to 8 bits
    assert np.abs(out16.astype(int) - out8.astype(int) * 257).max() <= 257
    assert np.mean(out16 % 257 != 0) > 0.9


def test_a_ten_bit_hevc_clip_comes_out_ten_bit_by_default(cli, make_clip, tiny_style, tmp_path):
    clip = make_clip("hevc.mkv", codec="libx265", pixel_format="yuv420p10le", frames=4)
    assert (probe(clip).pixel_format, probe(clip).bit_depth) == ("yuv420p10le", 10)
    result = cli("run", clip, "--style", tiny_style, "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert (report["pixel_format"], report["warnings"]) == ("yuv420p10le", [])
    info = probe(report["output"])
    assert (info.codec, info.pixel_format) == ("h264", "yuv420p10le")
    # 8 bits when asked for, without a word
    asked = cli("run", clip, "-o", tmp_path / "eight.mkv", "--style", tiny_style, "--pix-fmt", "yuv420p", "-q")
    assert asked.code == 0 and asked.err == ""
    assert probe(tmp_path / "eight.mkv").pixel_format == "yuv420p"
    # a codec that has no more than 8 bits says so, once
    short = cli("run", clip, "-o", tmp_path / "old.avi", "--codec", "mpeg4", "-q")
    assert short.code == 0, short.err
    assert [line for line in short.err.splitlines() if "8 bits" in line] == [short.err.strip()]
    assert "10-bit" in short.err


@pytest.mark.parametrize(
    "pixel_format,codec,suffix,stored",
    [("gray", "libx264", ".mp4", "yuv420p"), ("gray10le", "libx264", ".mp4", "yuv420p10le"), ("gray16le", "ffv1", ".mkv", "yuv444p16le")],
)
def test_gray_input(make_clip, tiny_style, tmp_path, pixel_format, codec, suffix, stored):
    clip = make_clip("gray" + suffix, codec=codec, pixel_format=pixel_format, frames=3)
    result = stylize_video(clip, tmp_path / ("out" + suffix), style=str(tiny_style), codec=codec, quiet=True)
    assert (result.frames, result.pixel_format, result.warnings) == (3, stored, [])
    source, output = deep_frames(clip), deep_frames(tmp_path / ("out" + suffix))
    assert np.array_equal(source[0][..., 0], source[0][..., 2])  # gray in...
    assert np.abs(output[0][..., 0] - output[0][..., 2]).mean() > 257  # ...colour out: the style's


def test_sixteen_bit_png_sequence_in_and_out(tiny_style, tmp_path):
    plates = tmp_path / "plates"
    plates.mkdir()
    rng = np.random.default_rng(1)
    ramp = np.linspace(0, 65535, 40 * 30, dtype=np.float64).reshape(30, 40)
    written = []
    for number in range(3):
        gray = np.clip(ramp + rng.normal(0, 300, ramp.shape), 0, 65535).astype(np.uint16)
        cv2.imwrite(str(plates / f"p.{number:04d}.png"), gray)
        written.append(gray.astype(np.int64))
    out = tmp_path / "out" / "p.%04d.png"
    result = stylize_video(plates / "p.%04d.png", out, style=str(tiny_style), strength=0, quiet=True)
    assert (result.pixel_format, result.warnings) == ("rgb48be", [])
    for number, gray in enumerate(written):
        stored = cv2.imread(str(tmp_path / "out" / f"p.{number:04d}.png"), cv2.IMREAD_UNCHANGED)
        assert stored.dtype == np.uint16 and stored.shape == (30, 40, 3)
        assert np.abs(stored.astype(np.int64) - gray[..., None]).max() <= 2  # gray 16-bit in, 16-bit RGB out


# --- alpha ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "codec,name,stored,tolerance",
    [
        ("prores_ks", "out.mov", "yuva444p10le", 1 / 1023),  # ProRes 4444
        ("qtrle", "out.mov", "argb", 0),  # QuickTime Animation
        ("ffv1", "out.mkv", "yuva444p", 0),
        (None, "f.%04d.png", "rgba", 0),
        (None, "f.%04d.tif", "rgba", 0),
        (None, "f.%04d.exr", "gbrapf32le", 1e-4),
    ],
)
def test_alpha_passes_through_unchanged(make_clip, tiny_style, tmp_path, codec, name, stored, tolerance):
    clip = make_clip("matte.mov", codec="qtrle", pixel_format="argb", alpha=True, frames=3)
    out = tmp_path / name
    result = stylize_video(clip, out, style=str(tiny_style), codec=codec, quiet=True)
    assert (result.alpha, result.pixel_format, result.warnings) == (True, stored, [])
    for index, (source, output) in enumerate(zip(mattes(clip), mattes(out), strict=True)):
        assert np.abs(source - np.round(render_matte(index, 64, 48) * 255) / 255).max() < 1e-6  # the matte went in
        assert np.abs(output - source).max() <= tolerance + 1e-6
    for source, output in zip(deep_frames(clip), deep_frames(out)):
        assert np.abs(output - source).mean() > 5 * 257  # the colour is stylized


def test_alpha_goes_into_vp9_webm_and_comes_back(make_clip, tiny_style, tmp_path):
    clip = make_clip("matte.mkv", codec="ffv1", pixel_format="yuva444p16le", alpha=True, frames=3, width=64, height=48)
    result = stylize_video(clip, tmp_path / "out.webm", style=str(tiny_style), quiet=True)
    assert (result.alpha, result.pixel_format) == (True, "yuva420p")
    assert probe(tmp_path / "out.webm").has_alpha
    for source, output in zip(mattes(clip), mattes(tmp_path / "out.webm"), strict=True):
        assert np.abs(output - source).mean() < 0.01  # VP9 is lossy, its alpha too
        assert np.abs(output - source).max() < 0.1


def test_sixteen_bit_alpha_is_exact_in_png(make_clip, tiny_style, tmp_path):
    clip = make_clip("matte.mkv", codec="ffv1", pixel_format="yuva444p16le", alpha=True, frames=2)
    out = tmp_path / "f.%04d.png"
    result = stylize_video(clip, out, style=str(tiny_style), quiet=True)
    assert result.pixel_format == "rgba64be"
    for index, (source, output) in enumerate(zip(mattes(clip), mattes(out), strict=True)):
        assert np.abs(source * 65535 - np.round(render_matte(index, 64, 48).astype(np.float64) * 65535)).max() < 1e-6
        assert np.abs(output - source).max() * 65535 < 1e-6  # not one 16-bit level


def test_an_output_without_alpha_says_so_once(cli, make_clip, tiny_style, tmp_path):
    clip = make_clip("matte.mov", codec="qtrle", pixel_format="argb", alpha=True, frames=4)
    result = cli("run", clip, "-o", tmp_path / "flat.mp4", "--style", tiny_style, "-q")
    assert result.code == 0, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "alpha channel is dropped" in lines[0] and "prores_ks" in lines[0]
    assert not probe(tmp_path / "flat.mp4").has_alpha


# --- any frame size --------------------------------------------------------------


@pytest.mark.parametrize("backend", ["torch", "onnxruntime", "openvino"])
@pytest.mark.parametrize("temporal", ["flow", "none"])
@pytest.mark.parametrize("size", [(2, 2), (6, 4), (11, 13)])
def test_tiny_frames_are_stylized(cli, make_clip, tiny_style, tmp_path, size, temporal, backend):
    width, height = size
    clip = make_clip("tiny.mkv", codec="ffv1", width=width, height=height, frames=4)
    out = tmp_path / "out.mkv"
    result = cli("run", clip, "-o", out, "--style", tiny_style, "--codec", "ffv1", "--temporal", temporal, "--engine", backend, "-q")
    assert result.code == 0, result.err
    stylizer = Stylizer.from_style(str(tiny_style), StylizerOptions(engine=backend))
    with VideoReader(clip) as source, VideoReader(out) as styled:
        pairs = list(zip(source, styled, strict=True))
    assert len(pairs) == 4
    for a, b in pairs:
        assert b.rgb.shape == (height, width, 3)
        # below the flow's 12 px the stabiliser stands aside: each frame is the network's own
        assert np.abs(b.rgb.astype(int) - stylizer(a.rgb).astype(int)).max() <= 3


def test_the_stylizer_takes_frames_of_any_shape(tiny_style):
    for backend in ("torch", "onnxruntime", "openvino"):
        stylizer = Stylizer.from_style(str(tiny_style), StylizerOptions(engine=backend))
        for height, width in [(1, 1), (3, 40), (13, 11), (7, 2)]:
            frame = np.random.default_rng(height).integers(0, 256, (height, width, 3), dtype=np.uint8)
            assert stylizer(frame).shape == (height, width, 3)
    squeezed = Stylizer.from_style(str(tiny_style), StylizerOptions(max_size=16))  # the network sees 16x1
    assert squeezed(np.zeros((4, 200, 3), np.uint8)).shape == (4, 200, 3)


def test_a_codec_that_refuses_a_size_says_which(cli, make_clip, tiny_style, tmp_path):
    clip = make_clip("tiny.mkv", codec="ffv1", width=6, height=4, frames=2)
    line = one_line_error(cli("run", clip, "-o", tmp_path / "out.mkv", "--style", tiny_style, "--codec", "libx265"))
    assert "libx265 refused 6x4" in line


# --- rotation ----------------------------------------------------------------


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_sequence_frames_are_turned_upright(make_clip, tiny_style, tmp_path, rotation):
    clip = make_clip("turned.mkv", codec="ffv1", rotation=rotation, frames=2, width=64, height=48)
    assert probe(clip).rotation == rotation
    out = tmp_path / "up" / "f.%04d.png"
    result = stylize_video(clip, out, style=str(tiny_style), strength=0, quiet=True)
    assert result.warnings == []
    with VideoReader(clip) as reader:
        stored = [f.rgb for f in reader]
    for index, frame in enumerate(stored):
        written = cv2.imread(str(tmp_path / "up" / f"f.{index:04d}.png"))[:, :, ::-1]
        # as a player shows it: turned counter-clockwise by the rotation
        upright = np.rot90(frame, rotation // 90)
        assert written.shape == upright.shape
        assert np.abs(written.astype(int) - upright.astype(int)).max() <= 1
    # a video keeps the rotation as metadata, its frames as stored
    video = stylize_video(clip, tmp_path / "turned.mp4", style=str(tiny_style), quiet=True)
    assert probe(video.output).rotation == rotation and (probe(video.output).width, probe(video.output).height) == (64, 48)
