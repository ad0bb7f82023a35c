"""The pipeline's optional timing hook (StageTimes), which
benchmarks/stage_profile.py reads: filled in by a real run, and absent (the
plain calls) when not asked for."""

from __future__ import annotations

import pytest

from helpers import LANDSCAPE
from vidstyle import RunOptions, stylize_video
from vidstyle.apps.pipeline import StageTimes, _timed, _timed_iter

STAGES = ("decode", "flow", "network", "idle", "blend", "encode")


def test_a_run_fills_in_every_stage(tiny_style, tmp_path):
    timings = StageTimes()
    options = RunOptions(style=str(tiny_style), device="cpu", engine="torch", batch_size=2, frames=6, quiet=True)
    result = stylize_video(LANDSCAPE, tmp_path / "out.mp4", options=options, timings=timings)

    assert result.frames == timings.frames == 6
    assert timings.wall == pytest.approx(result.seconds, rel=0.05)
    for stage in STAGES:
        assert getattr(timings, stage) > 0, stage
    # Each thread's stages are spans of that thread inside the run, so none adds up to more than the run.
    assert timings.network + timings.idle <= timings.wall  # the main thread
    assert timings.decode + timings.flow <= timings.wall  # the decoding thread
    assert timings.blend + timings.encode <= timings.wall  # the encoding thread, and the writer's close after it


def test_one_object_adds_up_several_runs(tiny_style, tmp_path):
    timings = StageTimes()
    options = RunOptions(style=str(tiny_style), device="cpu", engine="torch", frames=3, quiet=True)
    first = stylize_video(LANDSCAPE, tmp_path / "a.mp4", options=options, timings=timings)
    network_after_first = timings.network
    second = stylize_video(LANDSCAPE, tmp_path / "b.mp4", options=options, timings=timings)
    assert timings.frames == 6
    assert timings.network > network_after_first
    assert timings.wall == pytest.approx(first.seconds + second.seconds, rel=0.05)


def test_without_timings_the_calls_are_not_wrapped():
    def double(x):
        return 2 * x

    items = iter([1, 2, 3])
    assert _timed(double, None, "network") is double
    assert _timed_iter(items, None, "decode") is items

    timings = StageTimes()
    assert _timed(double, timings, "network")(4) == 8
    assert list(_timed_iter(iter([1, 2, 3]), timings, "decode")) == [1, 2, 3]
    assert timings.network > 0 and timings.decode > 0
