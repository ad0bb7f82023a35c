"""Optical-flow stabilisation: flow, warping, masks, cuts and the metric."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidstyle import stylize_video
from vidstyle.media.reader import VideoReader
from vidstyle.media.synthetic import render_scene
from vidstyle.temporal.consistency import (
    FlowEstimator,
    FlowTracker,
    TemporalBlender,
    TemporalOptions,
    input_change,
    starts_new_shot,
    warp,
    warping_error,
)
from vidstyle.temporal.losses import warp_tensor


def textured(height=96, width=128, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 4, width // 4, 3), dtype=np.uint8)
    import cv2

    return cv2.GaussianBlur(cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC), (3, 3), 0)


def test_flow_and_warp_recover_a_known_translation():
    big = textured(140, 180)
    previous = big[20:116, 20:148]
    current = big[22:118, 23:151]  # content moved by (-3, -2): current(x) = previous(x + (3, 2))
    estimator = FlowEstimator(TemporalOptions(flow_size=512))
    flow = estimator.flow_gray(estimator.gray(current), estimator.gray(previous))
    interior = flow[10:-10, 10:-10]
    assert np.abs(interior[..., 0] - 3).mean() < 0.3
    assert np.abs(interior[..., 1] - 2).mean() < 0.3
    exact = np.zeros_like(flow)
    exact[..., 0], exact[..., 1] = 3, 2
    warped = warp(previous, exact)
    assert np.abs(warped[:-4, :-4].astype(int) - current[:-4, :-4]).max() == 0


def test_frame_pairs_carry_the_motion_between_real_frames(make_clip):
    from vidstyle.training.data import FramePairs

    clip = make_clip(width=200, height=120, frames=10, noise=2)
    pairs = FramePairs([clip], size=64, max_side=200, pairs_per_video=9)
    assert len(pairs) == 9
    previous, current, flow, reliable = pairs.batch(16)
    assert previous.shape == current.shape == (16, 3, 64, 64) and flow.shape == (16, 2, 64, 64)
    mask = reliable.bool().expand_as(current)
    assert mask.float().mean() > 0.5
    moved = (warp_tensor(previous, flow) - current).abs()[mask].mean()
    still = (previous - current).abs()[mask].mean()
    assert moved < 0.4 * still  # the flow explains the pan, flipped crops included


def test_tensor_warp_matches_image_warp():
    image = textured(32, 40).astype(np.float32)
    rng = np.random.default_rng(3)
    flow = rng.uniform(-2, 2, (32, 40, 2)).astype(np.float32)
    expected = warp(image, flow)
    got = warp_tensor(torch.from_numpy(image).permute(2, 0, 1)[None], torch.from_numpy(flow).permute(2, 0, 1)[None])
    got = got[0].permute(1, 2, 0).numpy()
    assert np.abs(got - expected)[2:-2, 2:-2].max() < 1e-3


@pytest.mark.parametrize("check", ["consistency", "photometric"])
def test_occlusion_mask_flags_disoccluded_region(check):
    background = textured(96, 128, seed=1)
    square = textured(32, 32, seed=2)
    previous = background.copy()
    previous[32:64, 40:72] = square
    current = background.copy()
    current[32:64, 52:84] = square  # the square moved 12 px right, uncovering x in [40, 52)
    estimator = FlowEstimator(TemporalOptions(flow_size=512, occlusion=check))
    _, unreliable = estimator.flow_with_occlusions(estimator.gray(current), estimator.gray(previous))
    uncovered = unreliable[36:60, 42:50].mean()
    static = unreliable[70:, :].mean()
    assert uncovered > 0.5, uncovered
    assert static < 0.1, static


def test_blender_resets_at_a_cut_and_keeps_no_ghost():
    tracker = FlowTracker(TemporalOptions())
    blender = TemporalBlender(0.8)
    day = [render_scene(i, 96, 64) for i in range(3)]
    night = 255 - render_scene(40, 96, 64, seed=5)[::-1]
    outputs = []
    for frame in day + [np.ascontiguousarray(night)]:
        stylized = (255 - frame) // 2  # any deterministic "style"
        outputs.append((blender(stylized, tracker(frame)), stylized))
    assert blender.resets == 1
    after_cut, plain = outputs[-1]
    assert np.array_equal(after_cut, plain)  # nothing of the previous shot


def test_sixteen_bit_frames_take_the_same_flow_and_blend():
    """The stabiliser on uint16 frames does what it does on uint8 ones, at 16 bits."""
    frames = [render_scene(i, 96, 64) for i in range(4)]
    results = {}
    for name, scale in (("8", None), ("16", 257)):
        tracker, blender = FlowTracker(TemporalOptions()), TemporalBlender(0.7)
        outputs = []
        for frame in frames:
            data = frame if scale is None else frame.astype(np.uint16) * scale
            stylized = np.iinfo(data.dtype).max - data  # any deterministic "style", the same at both depths
            outputs.append(blender(stylized, tracker(data)))
        results[name] = outputs
    for eight, sixteen in zip(results["8"], results["16"]):
        assert sixteen.dtype == np.uint16
        difference = np.abs(sixteen.astype(int) - eight.astype(int) * 257)
        assert difference.mean() < 100 and difference.max() <= 2 * 257  # 8-bit rounding, compounded by the recursion
    assert not np.array_equal(results["16"][-1], 65535 - frames[-1].astype(np.uint16) * 257)  # it did blend


def test_frames_smaller_than_the_flow_minimum_are_not_tracked():
    tracker = FlowTracker(TemporalOptions())
    assert [tracker(render_scene(i, 11, 40)) for i in range(3)] == [None, None, None]
    wide = FlowEstimator(TemporalOptions(flow_size=360))
    assert wide.working_size(20, 4000) == (360, 12)  # the short side is not squeezed below the minimum


def stylize_both_ways(clip, style, folder) -> dict[str, list[np.ndarray]]:
    """Output frames of the clip with ``--temporal none`` and ``flow`` (lossless)."""
    outputs = {}
    for mode in ("none", "flow"):
        out = folder / f"{clip.stem}_{mode}.mkv"
        stylize_video(clip, out, style=str(style), codec="ffv1", temporal=mode, quiet=True)
        with VideoReader(out) as reader:
            outputs[mode] = [f.rgb for f in reader]
    return outputs


def test_default_run_flickers_less_than_per_frame(make_clip, tiny_style, tmp_path):
    clip = make_clip("noisy.mkv", codec="ffv1", width=128, height=96, frames=12, noise=10.0)
    with VideoReader(clip) as source:
        inputs = [f.rgb for f in source]
    results = {}
    for mode, outputs in stylize_both_ways(clip, tiny_style, tmp_path).items():
        results[mode] = (warping_error(inputs, outputs), np.mean([np.abs(o.astype(int) - i).mean() for i, o in zip(inputs, outputs)]))
    assert results["flow"][0] < 0.6 * results["none"][0], results
    # the style is not washed out: the change from the input stays within 10%
    assert results["flow"][1] == pytest.approx(results["none"][1], rel=0.1), results


def test_cut_in_a_clip_resets_the_state(make_clip, tiny_style, tmp_path):
    clip = make_clip("cut.mkv", codec="ffv1", width=96, height=64, frames=8, cut_at=4)
    outs = {mode: [f.astype(int) for f in frames] for mode, frames in stylize_both_ways(clip, tiny_style, tmp_path).items()}
    # the first frame after the cut is the plain stylized frame, no ghost of the day scene
    assert np.abs(outs["flow"][4] - outs["none"][4]).max() <= 2


def test_bad_temporal_options(cli, make_clip, tiny_style):
    result = cli("run", make_clip(), "--style", tiny_style, "--temporal", "magic")
    assert result.code == 2 and "--temporal" in result.err
    result = cli("run", make_clip(), "--style", tiny_style, "--temporal-strength", "1.5")
    assert result.code == 2 and "temporal-strength" in result.err


def test_warping_error_leaves_out_the_shot_cut_of_real_footage(shared):
    """bikes.mp4 cuts from a bus roof to a cyclist at frame 30. Counted as a
    pair, the cut's few "reliable" pixels outweighed a whole shot of motion;
    left out, a clip's error is the pair-weighted mean of its shots'."""
    from vidstyle.temporal.metrics import METRIC_FLOW, read_frames

    frames = read_frames(shared / "clips" / "bikes.mp4", 36)[24:]
    noise = np.random.default_rng(0)
    outputs = [np.clip(f.astype(np.int16) + noise.integers(-12, 13, f.shape), 0, 255).astype(np.uint8) for f in frames]
    estimator = FlowEstimator(METRIC_FLOW)
    cut = []
    for previous, current in zip(frames, frames[1:]):
        gray, before = estimator.gray(current), estimator.gray(previous)
        cut.append(starts_new_shot(input_change(gray, before), estimator.flow_with_occlusions(gray, before)[1], METRIC_FLOW))
    assert cut.index(True) == 5 and cut.count(True) == 1, cut  # frame 30 only
    first, second = warping_error(frames[:6], outputs[:6], METRIC_FLOW), warping_error(frames[6:], outputs[6:], METRIC_FLOW)
    whole = warping_error(frames, outputs, METRIC_FLOW)
    assert whole == pytest.approx((5 * first + 5 * second) / 10, rel=1e-6)
    assert whole < 0.5 * warping_error(frames[5:7], outputs[5:7], TemporalOptions(flow_size=100_000, occlusion_reset=1.0))


@pytest.mark.parametrize("style", ["udnie", "scream"])
def test_default_run_halves_the_flicker_of_a_bundled_style_on_real_footage(style, shared, tmp_path):
    """The guarantee the README states, on bikes.mp4 across its shot cut:
    the default (flow) output's warping error at most half of plain
    per-frame output's. Scream is the steadiest style per frame (least for
    the stabiliser to remove); udnie was retrained in session 11. Both
    missed the line (0.55x, 0.64x) while the metric counted the cut."""
    from vidstyle.temporal.metrics import METRIC_FLOW, read_frames

    clip, frames = shared / "clips" / "bikes.mp4", 40
    inputs = read_frames(clip, frames)
    errors = {}
    for mode in ("none", "flow"):
        out = tmp_path / f"{mode}.mkv"
        stylize_video(clip, out, style=style, codec="ffv1", temporal=mode, quiet=True, audio=False, max_frames=frames)
        errors[mode] = warping_error(inputs, read_frames(out, None), METRIC_FLOW)
    assert errors["flow"] <= 0.5 * errors["none"], errors
