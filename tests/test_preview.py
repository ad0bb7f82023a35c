"""`vidstyle preview`: a clip file stands in for the camera; headless runs
are deterministic because a file is then read frame by frame in order."""

from __future__ import annotations

import json

import logging
import re
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import torch

from helpers import frame_times, one_line_error
from vidstyle.apps.preview.capture import FrameGrabber, open_source
from vidstyle.apps.preview.session import FrameSettings, PreviewOptions, run_preview, style_cycle
from vidstyle.media.atomic import is_temporary
from vidstyle.media.images import read_image
from vidstyle.media.reader import VideoReader, probe
from vidstyle.media.synthetic import render_scene
from vidstyle.media.writer import EncoderSettings
from vidstyle.models import TransformerNet
from vidstyle.stylize.checkpoints import StyleCheckpoint, load_checkpoint, save_checkpoint
from vidstyle.stylize.stylizer import Stylizer, StylizerOptions

SUMMARY = re.compile(r"^processed (\d+) frames at \d+\.\d fps \(mean latency \d+ ms\)$")


def cv2_frames(path) -> list[np.ndarray]:
    """The clip as the preview sees it: decoded by OpenCV, in RGB."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    capture.release()
    return frames


def decoded(path) -> list[np.ndarray]:
    with VideoReader(path) as reader:
        return [frame.rgb for frame in reader]


def mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(int) - b.astype(int)).mean())


@pytest.fixture
def style_home(tmp_path, tiny_style, monkeypatch):
    """A user style folder with two different styles, a and b."""
    folder = tmp_path / "home" / "styles"
    folder.mkdir(parents=True)
    (folder / "a.pth").write_bytes(tiny_style.read_bytes())
    checkpoint = load_checkpoint(tiny_style)
    torch.manual_seed(1)
    other = TransformerNet(checkpoint.architecture).state_dict()
    save_checkpoint(StyleCheckpoint("b", checkpoint.architecture, other), folder / "b.pth")
    monkeypatch.setenv("VIDSTYLE_HOME", str(tmp_path / "home"))
    return folder


def test_headless_prints_one_line_and_records_every_frame(cli, make_clip, tiny_style, tmp_path):
    clip = make_clip(width=64, height=48, frames=12)
    out = tmp_path / "rec.mp4"
    result = cli("preview", "--source", clip, "--style", tiny_style, "--headless", "--record", out)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert len(lines) == 1 and SUMMARY.match(lines[0]).group(1) == "12", result.out
    assert f"wrote {out}" in result.err
    assert (probe(out).width, probe(out).height) == (64, 48)
    # every frame, at the time it has in the file
    assert frame_times(out) == pytest.approx(frame_times(clip), abs=1e-3)
    assert sorted(p.name for p in tmp_path.iterdir() if is_temporary(p)) == []

    small = tmp_path / "small.mkv"
    result = cli("preview", "--source", clip, "--style", tiny_style, "--headless", "--frames", "5", "--size", "32x24", "--record", small)
    assert SUMMARY.match(result.out.strip()).group(1) == "5", result.err
    assert len(frame_times(small)) == 5
    assert (probe(small).width, probe(small).height) == (32, 24)

    result = cli("preview", "--source", clip, "--style", tiny_style, "--headless", "--frames", "6", "--json")
    report = json.loads(result.out)
    assert report["frames"] == 6 and report["fps"] > 0 and report["recordings"] == []


def test_keys_switch_style_and_strength(make_clip, style_home, tmp_path):
    """n/p/+/- from a script act frame-exactly: each recorded frame is the
    expected style at the expected strength (ffv1 is lossless but for the
    RGB/YUV conversion)."""
    clip = make_clip(width=64, height=48, frames=12)
    out = tmp_path / "keys.mkv"
    options = PreviewOptions(
        source=str(clip), style="a", headless=True, temporal="none", record=out, encoder=EncoderSettings(codec="ffv1")
    )
    stats = run_preview(options, keys={0: "+", 4: "n", 8: "p-----", 10: "-" * 7})
    assert stats.frames == 12 and stats.dropped == 0
    expected = [(0, "a", 1.0), (4, "b", 1.0), (8, "a", 0.5), (10, "a", 0.0)]
    assert stats.timeline == [(start, FrameSettings(style, strength, False)) for start, style, strength in expected]
    assert stats.settings_at(6).style == "b"

    inputs, recorded = cv2_frames(clip), decoded(out)
    assert len(recorded) == 12
    for index, (source, frame) in enumerate(zip(inputs, recorded)):
        settings = stats.settings_at(index)
        other = "b" if settings.style == "a" else "a"
        want = Stylizer.from_style(settings.style, StylizerOptions(strength=settings.strength))(source)
        wrong = Stylizer.from_style(other, StylizerOptions(strength=max(settings.strength, 0.5)))(source)
        assert mean_difference(frame, want) < 2.5, index
        if settings.strength > 0:
            assert mean_difference(frame, wrong) > 5, index
        else:  # strength 0 is the input itself
            assert mean_difference(frame, source) < 2.5, index


def test_snapshot_recording_toggle_and_quit(cli, make_clip, tiny_style, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    clip = make_clip(width=64, height=48, frames=12)
    result = cli("preview", "--source", clip, "--style", tiny_style, "--headless", "--keys", "2:space,3:r,6:r,8:q")
    assert result.code == 0, result.err
    assert SUMMARY.match(result.out.strip()).group(1) == "8"  # q ended it before the file did
    [snapshot] = tmp_path.glob("vidstyle-snapshot-*.png")
    [recording] = tmp_path.glob("vidstyle-recording-*.mp4")
    assert read_image(snapshot).shape == (48, 64, 3)
    assert mean_difference(read_image(snapshot), cv2_frames(clip)[1]) > 5  # stylized, not the camera frame
    assert len(frame_times(recording)) == 3  # frames 3, 4 and 5
    assert f"wrote {recording.name}" in result.err and f"wrote {snapshot.name}" in result.err


def test_r_stops_the_record_file_and_starts_another_beside_it(make_clip, tiny_style, tmp_path):
    clip = make_clip(width=64, height=48, frames=12)
    folder = tmp_path / "takes"
    folder.mkdir()
    options = PreviewOptions(source=str(clip), style=str(tiny_style), headless=True, record=folder / "take.mkv")
    stats = run_preview(options, keys={2: " ", 4: "r", 6: "r"})
    [snapshot] = folder.glob("vidstyle-snapshot-*.png")
    [second] = folder.glob("vidstyle-recording-*.mkv")
    assert stats.recordings == [folder / "take.mkv", second] and stats.snapshots == [snapshot]
    assert len(frame_times(folder / "take.mkv")) == 4
    assert len(frame_times(second)) == 6


def test_window_keys_go_through_the_same_handler(make_clip, style_home, monkeypatch):
    """The window loop, with OpenCV's window calls replaced: s shows the
    original beside the stylized frame, n switches style, Esc quits."""
    monkeypatch.setenv("DISPLAY", ":99")
    pressed = iter([ord("s"), -1, ord("n"), 27])
    shown = []
    monkeypatch.setattr(cv2, "namedWindow", lambda *args: None)
    monkeypatch.setattr(cv2, "imshow", lambda title, image: shown.append(image.shape))
    monkeypatch.setattr(cv2, "waitKey", lambda delay: next(pressed))
    monkeypatch.setattr(cv2, "getWindowProperty", lambda *args: 1.0)
    monkeypatch.setattr(cv2, "destroyWindow", lambda *args: None)
    clip = make_clip(width=64, height=48, frames=48)  # two seconds: played in real time, like a camera
    stats = run_preview(PreviewOptions(source=str(clip), style="a"))
    assert stats.frames == 4
    assert shown == [(48, 64, 3)] + [(48, 128, 3)] * 3
    assert [settings.style for _, settings in stats.timeline] == ["a", "b"]
    assert stats.timeline[1][0] == 3


def test_live_capture_keeps_only_the_newest_frame(make_clip):
    clip = make_clip(width=64, height=48, frames=12)
    grabber = FrameGrabber(open_source(str(clip)), None, in_order=False)
    grabber.start()
    try:
        first = grabber.get()
        deadline = time.monotonic() + 30
        while not grabber.ended and time.monotonic() < deadline:
            time.sleep(0.01)
        newest = grabber.get()
        assert grabber.get() is None
    finally:
        grabber.stop()
    assert first.time_ms == pytest.approx(0)
    assert newest.time_ms == pytest.approx(11 * 1000 / 24, abs=1)  # the last frame; the ten before it were dropped
    assert (grabber.frames_read, grabber.dropped) == (12, 10)


class LosingCamera:
    """A camera that delivers a few frames at 50 fps, then goes away."""

    def __init__(self, index, frames=6):
        self.remaining = frames

    def isOpened(self):
        return True

    def read(self):
        time.sleep(0.02)
        if self.remaining == 0:
            return False, None
        self.remaining -= 1
        return True, render_scene(6 - self.remaining, 64, 48)[:, :, ::-1].copy()

    def get(self, prop):
        return 0.0

    def release(self):
        pass


def test_camera_lost_mid_run_ends_cleanly_and_keeps_the_recording(tiny_style, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(cv2, "VideoCapture", LosingCamera)
    out = tmp_path / "lost.mp4"
    with caplog.at_level(logging.WARNING, logger="vidstyle.apps.preview"):
        stats = run_preview(PreviewOptions(source="0", style=str(tiny_style), headless=True, record=out))
    assert 1 <= stats.frames <= 6
    assert stats.recordings == [out]
    times = frame_times(out)
    assert len(times) == stats.frames and times == sorted(times)
    assert "camera 0 stopped delivering frames after 6" in caplog.text


def test_bad_sources_and_options_are_one_line_errors(cli, make_clip, tiny_style, tmp_path, monkeypatch):
    clip = make_clip(frames=3)
    headless = ["--style", tiny_style, "--headless"]
    assert one_line_error(cli("preview", "--source", "42", *headless)) == "vidstyle: error: cannot open camera 42"
    garbage = tmp_path / "garbage.mp4"
    garbage.write_text("not a video")
    assert one_line_error(cli("preview", "--source", garbage, *headless)) == f"vidstyle: error: cannot open video file {garbage}"
    assert "no such file or device" in one_line_error(cli("preview", "--source", tmp_path / "missing.mp4", *headless))
    assert "unknown style 'nosuchstyle'" in one_line_error(cli("preview", "--source", clip, "--style", "nosuchstyle", "--headless"))
    assert "--size" in one_line_error(cli("preview", "--source", clip, *headless, "--size", "320by240"))
    assert "--keys" in one_line_error(cli("preview", "--source", clip, *headless, "--keys", "n,+"))
    assert "--strength" in one_line_error(cli("preview", "--source", clip, *headless, "--strength", "1.5"))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    # checked before the camera is opened
    assert "--headless" in one_line_error(cli("preview", "--source", "42", "--style", tiny_style))


def test_fast_model_comes_from_the_fast_folder(cli, make_clip, style_home, tiny_style):
    clip = make_clip(frames=3)
    error = one_line_error(cli("preview", "--source", clip, "-s", "a", "--headless", "--model", "fast"))
    assert "style 'a' has no fast model" in error and "--model full" in error
    (style_home / "fast").mkdir()
    (style_home / "fast" / "a.pth").write_bytes(tiny_style.read_bytes())
    full, fast = style_cycle("a", "full"), style_cycle("a", "fast")
    assert full[:2] == ["a", "b"]
    assert fast[0] == "a" and "b" not in fast  # only styles with a fast network
    result = cli("preview", "--source", clip, "-s", "a", "--headless", "--model", "fast")
    assert result.code == 0 and SUMMARY.match(result.out.strip()).group(1) == "3"


def test_opencv_loads_before_pyav_so_that_the_window_can_open():
    """PyAV's wheels bundle xcb libraries under the same file names as
    OpenCV's; loaded first, they make OpenCV's Qt window hang for ever in
    cv2.namedWindow (PyAV issues 978 and 1050). Importing vidstyle, as the
    command does, must load cv2 before av, however the commands' own modules
    are imported after it."""
    code = (
        "import sys, vidstyle.cli, vidstyle.apps.preview.session; names = list(sys.modules); "
        "print(names.index('cv2') < names.index('av'))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "True"


def test_live_stabiliser_steadies_a_moving_clip(make_clip, tmp_path):
    """The preview's own (one-flow, photometric-mask) stabiliser cuts the
    warping error of a moving textured clip well below per-frame output."""
    from vidstyle.temporal.consistency import TemporalOptions, warping_error

    clip = make_clip(width=128, height=96, frames=12, noise=6)
    errors = {}
    for temporal in ("flow", "none"):
        out = tmp_path / f"{temporal}.mkv"
        options = PreviewOptions(
            source=str(clip), style="mosaic", temporal=temporal, headless=True, record=out,
            encoder=EncoderSettings(codec="ffv1"),
        )
        assert run_preview(options).frames == 12
        errors[temporal] = warping_error(cv2_frames(clip), decoded(out), TemporalOptions(flow_size=512))
    # mosaic's balanced network before its colour refit 0.70, after 0.71;
    # a stabiliser that did nothing would be near 1
    assert errors["flow"] < 0.75 * errors["none"], errors
