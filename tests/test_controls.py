"""Strength, colour preservation, style mixing, the style sheet, --json and info."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from helpers import one_line_error
from vidstyle import Stylizer, StylizerOptions
from vidstyle.apps.sheet import LABEL_HEIGHT, fit
from vidstyle.media.images import read_image
from vidstyle.media.reader import probe
from vidstyle.media.synthetic import render_scene
from vidstyle.stylize.controls import StyleMix
from vidstyle.temporal.consistency import TemporalOptions, warping_error
from vidstyle.temporal.metrics import read_frames

PHOTO = render_scene(3, 96, 64)


def chroma(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)[..., 1:].astype(float)


def mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(float) - b.astype(float)).mean())


def test_strength_zero_is_the_input_and_one_is_the_plain_style():
    plain = Stylizer.from_style("mosaic")(PHOTO)
    assert mean_difference(plain, PHOTO) > 20  # the bundled style changes the picture a lot
    zero = Stylizer.from_style("mosaic", StylizerOptions(strength=0.0))(PHOTO)
    assert np.array_equal(zero, PHOTO)
    one = Stylizer.from_style("mosaic", StylizerOptions(strength=1.0))(PHOTO)
    assert np.array_equal(one, plain)
    distances = [
        mean_difference(Stylizer.from_style("mosaic", StylizerOptions(strength=s))(PHOTO), PHOTO) for s in (0.25, 0.5, 0.75)
    ]
    assert 0 < distances[0] < distances[1] < distances[2] < mean_difference(plain, PHOTO)



def test_strength_zero_does_not_run_the_networks(monkeypatch):
    stylizer = Stylizer.from_style("mosaic:0.5,candy:0.5", StylizerOptions(strength=0.0))

    def refuse(*args):
        raise AssertionError("a network ran at strength 0")

    for network in stylizer.networks:
        monkeypatch.setattr(network, "__call__", refuse)
    monkeypatch.setattr(type(stylizer.networks[0]), "__call__", refuse)
    assert np.array_equal(stylizer(PHOTO), PHOTO)
    stylizer.options = StylizerOptions(strength=0.5)  # as the preview's slider does
    with pytest.raises(AssertionError, match="a network ran"):
        stylizer(PHOTO)


def test_strength_zero_gives_the_video_back(make_clip, tmp_path, cli):
    clip = make_clip(width=128, height=96, frames=8, noise=6)
    out = tmp_path / "zero.mkv"
    assert cli("run", clip, "-o", out, "--style", "mosaic", "--strength", "0", "--codec", "ffv1", "-q").code == 0
    for a, b in zip(read_frames(clip, None), read_frames(out, None), strict=True):
        assert mean_difference(a, b) < 1.0  # the RGB <-> YUV 4:4:4 round trip of ffv1


def test_preserve_color_keeps_the_input_chroma():
    plain = Stylizer.from_style("mosaic")(PHOTO)
    kept = Stylizer.from_style("mosaic", StylizerOptions(preserve_color=True))(PHOTO)
    assert mean_difference(chroma(plain), chroma(PHOTO)) > 8
    # Only where the style's luminance pushes the input's colour out of the
    # RGB gamut does clipping move the chroma; everywhere else it is kept.
    ideal = cv2.cvtColor(plain, cv2.COLOR_RGB2YCrCb).astype(np.float32) / 255  # float: OpenCV's 0-1 scale
    ideal[..., 1:] = cv2.cvtColor(PHOTO, cv2.COLOR_RGB2YCrCb)[..., 1:] / 255
    ideal_rgb = cv2.cvtColor(ideal, cv2.COLOR_YCrCb2RGB) * 255  # unclipped
    in_gamut = ((ideal_rgb >= 0) & (ideal_rgb <= 255)).all(axis=-1)
    assert in_gamut.mean() > 0.25
    assert mean_difference(chroma(kept)[in_gamut], chroma(PHOTO)[in_gamut]) < 0.5
    outside = ~in_gamut  # clipped, but still nearer the input's chroma than the plain style's
    assert mean_difference(chroma(kept)[outside], chroma(PHOTO)[outside]) < 0.5 * mean_difference(chroma(plain)[outside], chroma(PHOTO)[outside])
    luma = lambda rgb: cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)[..., 0]  # noqa: E731
    assert mean_difference(luma(kept)[in_gamut], luma(plain)[in_gamut]) < 1  # brightness pattern is the style's


def test_mixing_a_style_with_itself_is_that_style(tiny_style):
    plain = Stylizer.from_style("mosaic")(PHOTO)
    for spec in ("mosaic:0.3,mosaic:0.7", "mosaic:5,mosaic:1", f"mosaic:1,{tiny_style}:0"):
        assert np.abs(Stylizer.from_style(spec)(PHOTO).astype(int) - plain).max() <= 1, spec


def test_a_mix_lies_between_its_styles(tiny_style):
    a = Stylizer.from_style("mosaic")(PHOTO)
    b = Stylizer.from_style(str(tiny_style))(PHOTO)
    mixed = Stylizer.from_style(f"mosaic:0.5,{tiny_style}:0.5")(PHOTO)
    assert mean_difference(mixed, a) > 3 and mean_difference(mixed, b) > 3
    assert mean_difference(mixed, a) < mean_difference(a, b) and mean_difference(mixed, b) < mean_difference(a, b)


def test_style_mix_parsing():
    assert StyleMix.parse("mosaic").components == (("mosaic", 1.0),)
    mix = StyleMix.parse("mosaic:3, candy:1")
    assert mix.names == ["mosaic", "candy"] and mix.weights == pytest.approx([0.75, 0.25])
    assert StyleMix.parse("styles/my.pth:0.5,mosaic:0.5").names == ["styles/my.pth", "mosaic"]


def test_controls_stay_flicker_free_in_video(make_clip, tmp_path, cli):
    """Half strength and preserved colour keep the stabiliser's gain over
    per-frame output on a moving textured clip."""
    clip = make_clip(width=128, height=96, frames=12, noise=6)
    inputs = read_frames(clip, None)
    flow = TemporalOptions(preset="medium", flow_size=512)
    errors = {}
    for name, extra in {"half": ["--strength", "0.5"], "color": ["--preserve-color"]}.items():
        for temporal in ("flow", "none"):
            out = tmp_path / f"{name}_{temporal}.mkv"
            args = ["run", clip, "-o", out, "--style", "mosaic", "--codec", "ffv1", "--temporal", temporal, "-q", *extra]
            assert cli(*args).code == 0
            errors[name, temporal] = warping_error(inputs, read_frames(out, None), flow)
    for name in ("half", "color"):
        assert errors[name, "flow"] < 0.7 * errors[name, "none"], errors


def test_run_json_matches_the_file_written(make_clip, tiny_style, tmp_path, cli):
    clip = make_clip(width=64, height=48, frames=7, audio=True)
    out = tmp_path / "out.mp4"
    result = cli("run", clip, "-o", out, "--style", f"{tiny_style}:0.6,mosaic:0.4", "--strength", "0.8", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)  # the whole of stdout is one JSON object
    info = probe(out)
    assert report["output"] == str(out)
    assert report["frames"] == len(read_frames(out, None)) == 7
    assert report["size"] == {"width": info.width, "height": info.height}
    assert report["style"] == "tiny:0.6,mosaic:0.4"
    assert report["options"]["strength"] == 0.8
    assert report["fps"] > 0 and report["device"] == "cpu"


def test_image_json_and_controls(tmp_path, cli):
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), PHOTO[:, :, ::-1])
    out = tmp_path / "out.png"
    result = cli("image", photo, "-o", out, "--style", "mosaic", "--strength", "0", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["output"] == str(out) and report["size"] == {"width": 96, "height": 64}
    assert np.array_equal(read_image(out), PHOTO)


def test_sheet_has_one_labelled_tile_per_style(tmp_path, tiny_style, monkeypatch, cli):
    home = tmp_path / "home"
    (home / "styles").mkdir(parents=True)
    (home / "styles" / "tiny.pth").write_bytes(tiny_style.read_bytes())
    monkeypatch.setenv("VIDSTYLE_HOME", str(home))
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), render_scene(5, 300, 200)[:, :, ::-1])
    out = tmp_path / "sheet.png"
    result = cli("sheet", photo, "-o", out, "--tile", "120", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    styles = json.loads(cli("styles", "--json").out)["styles"]
    names = [s["name"] for s in styles]
    assert {"mosaic", "tiny"} <= set(names)
    assert report["labels"] == ["input"] + [f"--style {n}" for n in names]
    sheet = read_image(out)
    tile_w, tile_h = report["tile"]["width"], report["tile"]["height"]
    assert (tile_w, tile_h) == (120, 80)
    small = fit(read_image(photo), tile_w, tile_h)
    for index, name in enumerate(["input"] + names):
        row, column = divmod(index, report["columns"])
        tile = sheet[row * tile_h : (row + 1) * tile_h, column * tile_w : (column + 1) * tile_w]
        expected = small if name == "input" else Stylizer.from_style(name)(small)
        body = slice(LABEL_HEIGHT + 1, None)
        assert mean_difference(tile[body], expected[body]) < 1.0, name  # the right style in the right place
        assert tile[:LABEL_HEIGHT].max() == 255 and np.median(tile[:LABEL_HEIGHT]) == 0  # white text on black


def test_info_reports_versions_device_styles_and_encoders(cli):
    report = json.loads(cli("info", "--json").out)
    assert report["versions"]["vidstyle"] and report["versions"]["ffmpeg"]
    assert report["device"]["auto"] == "cpu"
    bundled = next(f for f in report["style_folders"] if f["origin"] == "bundled")
    assert bundled["styles"] >= 1 and "mosaic" in report["styles"]
    assert {"libx264", "prores_ks", "ffv1"} <= set(report["encoders"])
    text = cli("info").out
    assert "FFmpeg" in text and "libx264" in text


@pytest.mark.parametrize(
    "args,expected",
    [
        (["--strength", "1.5"], "--strength must be in [0, 1]"),
        (["--strength", "-0.1"], "--strength must be in [0, 1]"),
        (["--style", "mosaic:0.5,nosuch:0.5"], "unknown style 'nosuch'"),
        (["--style", "mosaic:-1,mosaic:2"], "non-negative"),
        (["--style", "mosaic:0,mosaic:0"], "all zero"),
        (["--json", "-o", "-"], "cannot be '-'"),
    ],
)
def test_bad_control_options(make_clip, tmp_path, cli, args, expected):
    clip = make_clip(frames=2)
    if "-o" not in args:
        args = [*args, "-o", str(tmp_path / "out.mp4")]
    assert expected in one_line_error(cli("run", clip, *args))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]
