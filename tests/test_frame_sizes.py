"""One look at every frame size: the working size, enlarging, and the options around them."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from helpers import one_line_error
from vidstyle import Stylizer, StylizerOptions
from vidstyle.media.images import read_image, scale_long_side
from vidstyle.media.reader import VideoReader
from vidstyle.stylize.frames import LOOK_SIDE, enlarge_crisp, fine_detail, to_frame_size, working_size
from vidstyle.stylize.styles import available_styles
from vidstyle.temporal.metrics import content_kept

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "landscape.mp4"
FLOWER = SAMPLE.with_name("flower.jpg")


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A frame of the bundled sample: a real photograph, 480x270."""
    with VideoReader(SAMPLE) as reader:
        return next(iter(reader)).rgb


def sharpness(image: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(np.clip(image, 0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def test_the_working_size_follows_the_stroke_scale_not_the_frame():
    assert LOOK_SIDE == 480
    assert working_size(2160, 3840) == (270, 480)
    assert working_size(240, 320) == (360, 480)  # small frames are enlarged for the network
    assert working_size(1080, 1920, stroke_scale=2) == (135, 240)
    assert working_size(1080, 1920, stroke_scale=0.5) == (540, 960)
    assert working_size(1080, 1920, max_size=320) == (180, 320)  # a cap binds
    assert working_size(1080, 1920, max_size=4000) == (270, 480)  # ...or not
    assert working_size(270, 480, native=True) == (270, 480)


@pytest.mark.parametrize("style", ["mosaic", "candy"])
def test_one_look_at_every_frame_size(photo, style):
    """The same photo at 480 and 1440 px, scaled to one size, is the same
    picture at the working size, and two pictures at the frame's own size."""
    big = scale_long_side(photo, 1440)

    def spread(options: StylizerOptions) -> float:
        stylizer = Stylizer.from_style(style, options)
        small, large = stylizer(photo), scale_long_side(stylizer(big), photo.shape[1])
        return float(np.abs(small.astype(np.float32) - large).mean())

    same, native = spread(StylizerOptions()), spread(StylizerOptions(native_size=True))
    assert same < 8.0 and same < 0.4 * native, (same, native)


@pytest.mark.parametrize("side", [256, 320])
def test_small_frames_keep_their_subject_in_every_style(side):
    """The bundled flower photo: a subject that strokes as large as itself
    would hide."""
    small = scale_long_side(read_image(FLOWER), side)
    for entry in available_styles():
        kept = content_kept(Stylizer.from_style(entry.name)(small), small)
        assert kept >= 0.3, (entry.name, kept)


def kite_in_a_sky(width: int = 320, height: int = 200) -> tuple[np.ndarray, tuple[slice, slice]]:
    """A four-coloured kite, 1/16 of the frame wide (30 px at the
    working size), in a blue sky with soft clouds; and the box around it."""
    y = np.linspace(0, 1, height)[:, None, None]
    sky = np.array([40, 90, 190]) * (1 - y) + np.array([120, 170, 230]) * y
    clouds = cv2.GaussianBlur(np.random.default_rng(0).normal(0, 1, (height, width)).astype(np.float32), (0, 0), 12)
    image = np.clip(sky + 300 * clouds[..., None], 0, 255).astype(np.uint8)
    x, y, half = int(width * 0.65), int(height * 0.35), width // 32
    corners = [(x - half, y), (x, y - half), (x + half, y), (x, y + 3 * half // 2)]
    for i, colour in enumerate([(230, 40, 40), (250, 210, 30), (40, 160, 60), (150, 50, 180)]):
        triangle = np.array([corners[i], corners[(i + 1) % 4], (x, y)])
        cv2.fillConvexPoly(image, triangle, colour, lineType=cv2.LINE_AA)
    return image, (slice(y - 2 * half, y + 2 * half), slice(x - 2 * half, x + 2 * half))


# mosaic draws its lead lines across the kite; retrained with small objects,
# it kept the kite but lost content on the flower photo (docs/frame-sizes.md)
KITE_PAINTED_OVER = {"mosaic"}
# the kite's box's edge correlation, mean over three frame sizes: candy
# before its small-object training 0.59, after 0.84; wave 0.77 -> 0.81;
# mosaic 0.43
KITE_KEPT = 0.7


@pytest.mark.parametrize(
    "style",
    [
        pytest.param(e.name, marks=pytest.mark.xfail(strict=True, reason="lead lines over a small subject"))
        if e.name in KITE_PAINTED_OVER
        else e.name
        for e in available_styles()
        if e.origin == "bundled"
    ],
)
def test_a_small_subject_in_a_plain_sky_is_kept(style):
    """candy, udnie and wave were trained with small objects pasted into
    their crops (configs/train/: small_objects); scream and starry-night
    keep small subjects without: a kite a few strokes wide keeps its edges
    instead of being painted over like the sky."""
    stylizer = Stylizer.from_style(style)
    kept = []
    for width, height in ((256, 160), (320, 200), (480, 300)):
        sky, box = kite_in_a_sky(width, height)
        kept.append(content_kept(stylizer(sky)[box], sky[box], blur=1.0))
    assert np.mean(kept) >= KITE_KEPT, kept


def test_enlarging_keeps_strokes_crisp_without_halos(photo):
    painted = Stylizer.from_style("mosaic", StylizerOptions(native_size=True))(photo).astype(np.float32)
    height, width = 4 * photo.shape[0], 4 * photo.shape[1]
    crisp = enlarge_crisp(painted, height, width)
    bicubic = cv2.resize(painted, (width, height), interpolation=cv2.INTER_CUBIC)
    assert sharpness(crisp) > 1.5 * sharpness(bicubic)
    assert crisp.min() >= bicubic.min() and crisp.max() <= bicubic.max()  # sharper, with no overshoot of its own
    # shrunk back, it is the painting it came from
    back = cv2.resize(crisp, (photo.shape[1], photo.shape[0]), interpolation=cv2.INTER_AREA)
    assert np.abs(back - painted).mean() < 4.0


def test_a_big_frame_keeps_its_own_fine_edges():
    """Half the frame's detail beyond the working size comes back: the
    enlarged painting's fine detail follows the frame's."""
    frame = read_image(FLOWER).astype(np.float32)  # 480 px: 4x the detail of a 120 px working size
    painted = cv2.resize(frame, (120, 90), interpolation=cv2.INTER_AREA)
    target = fine_detail(frame, 90, 120).ravel()

    def follows(image: np.ndarray) -> float:
        return float(np.corrcoef(fine_detail(image, 90, 120).ravel(), target)[0, 1])

    assert follows(to_frame_size(painted, *frame.shape[:2], frame)) > follows(to_frame_size(painted, *frame.shape[:2])) + 0.2


def test_a_4k_frame_is_painted_at_the_working_size_within_the_budget(photo):
    frame = cv2.resize(photo, (3840, 2160), interpolation=cv2.INTER_CUBIC)
    stylizer = Stylizer.from_style("mosaic", StylizerOptions(memory_budget=0.5))
    out = stylizer(frame)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert stylizer.engine.engine != "torch"  # not the banded path: the working size fits


def test_deep_frames_come_back_deep_at_any_size(photo):
    deep = scale_long_side(photo, 1600).astype(np.uint16) * 257
    out = Stylizer.from_style("wave")(deep)
    assert out.dtype == np.uint16 and out.shape == deep.shape
    assert len(np.unique(out[..., 1])) > 256  # more levels than 8 bits hold


def test_image_size_enlarges_and_the_look_stays(cli, tmp_path, photo):
    source = tmp_path / "photo.png"
    cv2.imwrite(str(source), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    result = cli("image", str(source), "-o", str(tmp_path / "big.png"), "--size", "1200", "--style", "candy")
    assert result.code == 0, result.err
    big = read_image(tmp_path / "big.png")
    assert max(big.shape[:2]) == 1200
    assert cli("image", str(source), "-o", str(tmp_path / "own.png"), "--style", "candy").code == 0
    own = read_image(tmp_path / "own.png")
    assert np.abs(scale_long_side(big, 480).astype(np.float32) - own).mean() < 8.0


@pytest.mark.parametrize("args, message", [(["--stroke-scale", "9"], "--stroke-scale must be between"), (["--size", "5"], "--size must be between")])
def test_impossible_sizes_are_one_line(cli, tmp_path, photo, args, message):
    source = tmp_path / "photo.png"
    cv2.imwrite(str(source), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    result = cli("image", str(source), "-o", str(tmp_path / "out.png"), *args)
    assert message in one_line_error(result)
    assert not (tmp_path / "out.png").exists()


def test_a_max_size_that_changes_the_look_says_so(cli, tmp_path):
    out = tmp_path / "out.mp4"
    result = cli("run", str(SAMPLE), "-o", str(out), "--frames", "3", "--max-size", "240", "-q", "--no-audio")
    assert result.code == 0, result.err
    assert "--max-size 240 is below the working size 480" in result.err
    quiet = cli("run", str(SAMPLE), "-o", str(tmp_path / "b.mp4"), "--frames", "3", "--max-size", "500", "-q", "--no-audio")
    assert "max-size" not in quiet.err


def test_frames_too_large_to_finish_within_the_budget_are_refused_in_one_line(make_clip, cli, tmp_path):
    """Bringing a frame back to its size takes memory in proportion to its
    pixels; beyond the budget the run stops before decoding a frame."""
    clip = make_clip("big.mkv", codec="ffv1", width=2880, height=1620, frames=2)  # 0.28 GiB to finish
    result = cli("run", clip, "-o", tmp_path / "out.mkv", "--memory-budget", "0.25")
    assert "need about" in one_line_error(result) and "memory budget" in one_line_error(result)
    assert not (tmp_path / "out.mkv").exists()
    assert cli("run", clip, "-o", tmp_path / "ok.mkv", "--memory-budget", "0.5", "-q").code == 0
