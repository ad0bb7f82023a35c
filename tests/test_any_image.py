"""Any picture as a style: a painting made here, never seen by any training,
through the library and every command; untrusted style images; the cache."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from helpers import FLOWER, landscape_frames, one_line_error
from vidstyle import Stylizer
from vidstyle.errors import OptionError
from vidstyle.media.images import read_image, resize_long_side, write_image
from vidstyle.media.reader import VideoReader
from vidstyle.models.feature_transforms import level_statistics, whiten_and_colour
from vidstyle.stylize import style_images
from vidstyle.stylize.controls import blend_styles
from vidstyle.stylize.options import AnyImageOptions, StylizerOptions
from vidstyle.stylize.style_images import read_style_image
from vidstyle.stylize.style_mix import style_label, with_style_image
from vidstyle.temporal.metrics import palette_distance

PALETTE = np.array([[236, 120, 30], [20, 130, 140], [30, 40, 110], [240, 225, 190]], np.uint8)


def made_painting(seed: int = 0, size: tuple[int, int] = (300, 400)) -> np.ndarray:
    """Brush strokes of a four-colour palette on cream: a style image no
    network here was ever trained on."""
    rng = np.random.default_rng(seed)
    canvas = np.zeros((*size, 3), np.uint8)
    canvas[:] = PALETTE[3]
    for _ in range(220):
        colour = tuple(int(c) for c in PALETTE[rng.integers(0, 3)])
        centre = (int(rng.integers(0, size[1])), int(rng.integers(0, size[0])))
        axes = (int(rng.integers(8, 40)), int(rng.integers(3, 10)))
        cv2.ellipse(canvas, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1, cv2.LINE_AA)
    return canvas


@pytest.fixture(scope="module")
def painting_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("paintings") / "strokes.png"
    write_image(made_painting(), path)
    return path


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return resize_long_side(read_image(FLOWER), 320)


def structure(image: np.ndarray) -> np.ndarray:
    """Edges of the luminance at a coarse scale: where things are, whatever their colours."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    grey = cv2.GaussianBlur(grey, (0, 0), 2.0)
    return np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)).ravel()


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(structure(a), structure(b))[0, 1])


def test_whitening_and_colouring_gives_each_frame_the_style_covariance():
    rng = np.random.default_rng(0)
    style = rng.uniform(0.0, 3.0, (1, 24, 30, 30)).astype(np.float32)
    style[:, :4] *= 2  # unequal variances and, through the mix below, correlations
    style[:, 4:8] += style[:, :4]
    frames = rng.uniform(0.0, 1.0, (2, 24, 20, 25)).astype(np.float32)
    statistics = level_statistics(style)
    out = whiten_and_colour(frames, statistics, 1.0, (-100.0, 100.0))

    def moments(x):
        flat = x.reshape(x.shape[0], -1).astype(np.float64)
        mean = flat.mean(1, keepdims=True)
        return mean, (flat - mean) @ (flat - mean).T / (flat.shape[1] - 1)

    style_mean, style_cov = moments(style[0])
    for item in out:
        mean, cov = moments(item)
        np.testing.assert_allclose(mean, style_mean, rtol=0, atol=1e-4)
        assert np.abs(cov - style_cov).max() < 0.01 * np.abs(style_cov).max()  # the ridge aside
    np.testing.assert_array_equal(whiten_and_colour(frames, statistics, 0.0, (-100.0, 100.0)), frames)
    clamped = whiten_and_colour(frames, statistics, 1.0)
    assert clamped.min() >= 0 and clamped.max() <= 6


def test_the_folded_decoder_step_draws_the_same_image():
    from vidstyle.models.wct import DecoderConfig, FeatureDecoder, InferenceDecoder

    torch.manual_seed(0)
    decoder = FeatureDecoder(DecoderConfig("block3", 24, (16, 8))).eval()
    features = torch.rand(2, 24, 11, 14) * 3
    with torch.no_grad():
        trained, folded = decoder(features), InferenceDecoder(decoder)(features)
    assert folded.shape == trained.shape == (2, 3, 44, 56)
    assert (folded - trained)[..., 1:-1, 1:-1].abs().max() < 1e-3  # exact inside
    assert (folded - trained).abs().max() < 8  # the outermost pixels: edge padding, not reflection


def test_a_new_painting_paints_and_keeps_the_content(painting_file, photo):
    painting = read_image(painting_file)
    out = Stylizer.from_style(str(painting_file))(photo)
    assert out.shape == photo.shape and out.dtype == np.uint8
    before, after = palette_distance(photo, painting), palette_distance(out, painting)
    assert after < 0.85 * before, (before, after)
    other = landscape_frames(1)[0]
    kept, unrelated = correlation(out, photo), correlation(out, cv2.resize(other, photo.shape[1::-1]))
    assert kept > 0.35 and kept > unrelated + 0.2, (kept, unrelated)


def test_a_picture_paints_with_numpy_s_blas_on_one_thread_from_any_thread(painting_file, photo):
    """The feature transforms run beside the engine's streams: OpenBLAS's
    spinning threads would take the cores the streams need. The limit must
    hold for a paint from a worker thread after the main thread changed the
    count (which OpenBLAS then ignores from other threads), as the pipeline
    paints after a still was painted in the same process."""
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads() -> set[int]:
        return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}

    stylizer = Stylizer.from_style(str(painting_file), StylizerOptions(engine="onnxruntime"))
    network = stylizer.networks[0]
    seen: list[set[int]] = []
    passes = network.passes

    def watched(streams, precise):
        seen.append(blas_threads())
        return passes(streams, precise)

    network.passes = watched
    threadpool_limits(2, user_api="blas")  # two threads, set from the main thread, whatever the machine has
    assert blas_threads() == {2}
    stylizer(photo)  # a still, from the main thread
    with ThreadPoolExecutor(1) as worker:  # then frames from another thread
        worker.submit(stylizer, np.stack([photo, photo])).result()
    assert len(seen) == 3 and all(threads == {1} for threads in seen), seen


def test_each_frame_is_stylized_alone_with_the_same_statistics(painting_file, photo):
    outputs = {}
    for engine in ("onnxruntime", "torch"):
        stylizer = Stylizer.from_style(str(painting_file), StylizerOptions(engine=engine))
        assert stylizer.engine.engine == engine
        statistics = stylizer.networks[0].style.statistics
        fixed = {tap: level.colouring.copy() for tap, level in statistics.levels.items()}
        noise = np.random.default_rng(1).integers(0, 256, photo.shape, dtype=np.uint8)
        outputs[engine] = alone = stylizer(photo)
        together = stylizer(np.stack([noise, photo, noise]))
        assert np.array_equal(together[1], alone)  # no state carried between frames
        assert all(np.array_equal(statistics.levels[tap].colouring, fixed[tap]) for tap in fixed)
    # the exported passes draw what PyTorch's modules do
    difference = np.abs(outputs["onnxruntime"].astype(int) - outputs["torch"])
    assert difference.mean() < 0.5 and difference.max() <= 8, (difference.mean(), difference.max())


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float()


def test_strength_colour_and_mixing_work_with_a_picture(painting_file, photo):
    """The controls treat a picture's output like any network's (controls.py)."""
    picture = str(painting_file)
    assert np.array_equal(Stylizer.from_style(picture, StylizerOptions(strength=0.0))(photo), photo)
    full = Stylizer.from_style(picture)(photo)
    half = Stylizer.from_style(picture, StylizerOptions(strength=0.5))(photo)
    expected = blend_styles(_tensor(photo), [_tensor(full)], [1.0], 0.5)
    assert (_tensor(half) - expected).abs().mean() < 0.5  # the output's own rounding aside
    assert np.abs(half.astype(int) - photo).mean() < np.abs(full.astype(int) - photo).mean()
    kept = Stylizer.from_style(picture, StylizerOptions(preserve_color=True))(photo)

    def chroma(image):
        return cv2.cvtColor(image, cv2.COLOR_RGB2YCrCb)[..., 1:].astype(np.float32)

    assert np.abs(chroma(kept) - chroma(photo)).mean() < 0.3 * np.abs(chroma(full) - chroma(photo)).mean()
    options = StylizerOptions(model="full")
    mosaic = Stylizer.from_style("mosaic", options)(photo)
    mixed = Stylizer.from_style(f"mosaic:0.5,{picture}:0.5", options)(photo)
    expected = blend_styles(_tensor(photo), [_tensor(mosaic), _tensor(full)], [0.5, 0.5])
    assert (_tensor(mixed) - expected).abs().mean() < 0.5


def test_style_image_flag_joins_the_mix():
    assert with_style_image(None, "a.jpg") == "a.jpg"
    assert with_style_image("mosaic", "a.jpg:0.3") == "mosaic,a.jpg:0.3"
    assert with_style_image("mosaic", None) == "mosaic"
    assert style_label("mosaic:0.5,/x/my painting.jpg:0.5") == "mosaic-0.5-my-painting-0.5"
    with pytest.raises(OptionError, match="must be a picture"):
        with_style_image(None, "udnie.pth")


# --- untrusted style images ------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def test_style_images_of_every_kind_are_read_or_refused(tmp_path):
    rgb = made_painting(2, (64, 80))
    grey = tmp_path / "grey.png"
    cv2.imwrite(str(grey), cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    assert read_style_image(grey).shape == (64, 80, 3)
    deep = tmp_path / "deep.png"
    cv2.imwrite(str(deep), rgb[:, :, ::-1].astype(np.uint16) * 257)
    assert np.abs(read_style_image(deep).astype(int) - rgb).max() <= 1
    # half transparent: laid over white
    rgba = np.dstack([rgb[:, :, ::-1], np.full(rgb.shape[:2], 128, np.uint8)])
    alpha = tmp_path / "alpha.png"
    cv2.imwrite(str(alpha), rgba)
    expected = rgb * (128 / 255) + 255 * (1 - 128 / 255)
    assert np.abs(read_style_image(alpha).astype(float) - expected).max() <= 1.0
    from PIL import Image

    grey_alpha = tmp_path / "grey-alpha.png"  # two channels: grey and transparency
    grey_level = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    Image.fromarray(np.dstack([grey_level, np.full_like(grey_level, 0)]), "LA").save(grey_alpha)
    assert (read_style_image(grey_alpha) == 255).all()  # fully transparent: white paper
    cmyk = tmp_path / "cmyk.jpg"
    Image.fromarray(rgb).convert("CMYK").save(cmyk, quality=95)
    assert np.abs(read_style_image(cmyk).astype(float) - rgb).mean() < 12

    tiny = tmp_path / "tiny.png"
    cv2.imwrite(str(tiny), rgb[:8, :8])
    with pytest.raises(Exception, match="too small"):
        read_style_image(tiny)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff not really a jpeg")
    with pytest.raises(Exception, match="not a readable image"):
        read_style_image(broken)
    # a header claiming 100000 x 100000 pixels, with almost no data behind it
    huge = tmp_path / "huge.png"
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    huge.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _png_chunk(b"IEND", b""))
    with pytest.raises(Exception, match="too large: .*huge.png is 100000x100000"):
        read_style_image(huge)
    narrow = tmp_path / "narrow.png"
    cv2.imwrite(str(narrow), np.zeros((20, 2000, 3), np.uint8))
    with pytest.raises(Exception, match="too narrow"):
        load_style_image(str(narrow))


@pytest.mark.parametrize(
    "picture, message",
    [("missing.jpg", "no such style image"), ("broken.jpg", "not a readable image"), ("tiny.png", "too small")],
)
def test_a_bad_style_image_is_one_line_and_leaves_no_output(cli, make_clip, tmp_path, picture, message):
    (tmp_path / "broken.jpg").write_bytes(b"GIF89a, not a jpeg")
    cv2.imwrite(str(tmp_path / "tiny.png"), np.zeros((4, 4, 3), np.uint8))
    clip = make_clip(frames=4, width=64, height=48)
    output = tmp_path / "out.mp4"
    result = cli("run", clip, "--style-image", tmp_path / picture, "-o", output)
    assert message in one_line_error(result)
    assert not output.exists() and not list(tmp_path.glob("*.tmp*"))


# --- the statistics cache --------------------------------------------------


def load_style_image(path: str, options: AnyImageOptions = AnyImageOptions()):
    """The style image as the stylizer loads it (statistics through the bundled encoder graphs)."""
    return Stylizer.from_style(path, StylizerOptions(any_image=options)).networks[0].style


def test_statistics_are_computed_once_per_picture_content(painting_file, tmp_path, monkeypatch):
    monkeypatch.setattr(style_images, "_MEMORY_CACHE", {})
    first = load_style_image(str(painting_file))
    entries = list(style_images.statistics_cache_dir().glob("*.npz"))
    assert entries
    # the same bytes under another name: from the disk cache, never recomputed
    copy = tmp_path / "renamed.png"
    copy.write_bytes(painting_file.read_bytes())
    monkeypatch.setattr(style_images, "_MEMORY_CACHE", {})

    def never(*args, **kwargs):
        raise AssertionError("statistics recomputed")

    with monkeypatch.context() as patch:
        patch.setattr(style_images, "style_statistics", never)
        second = load_style_image(str(copy))
    assert second.digest == first.digest and second.name == "renamed"
    for tap, level in first.statistics.levels.items():
        assert np.array_equal(second.statistics.levels[tap].colouring, level.colouring)
    # a damaged entry is recomputed, not trusted
    for entry in style_images.statistics_cache_dir().glob(f"{first.digest[:32]}*.npz"):
        entry.write_bytes(b"damaged")
    monkeypatch.setattr(style_images, "_MEMORY_CACHE", {})
    third = load_style_image(str(copy))
    for tap, level in first.statistics.levels.items():
        assert np.allclose(third.statistics.levels[tap].colouring, level.colouring, atol=1e-5)
    # another picture is another entry, and so are other settings
    other = tmp_path / "other.png"
    write_image(made_painting(5), other)
    assert load_style_image(str(other)).digest != first.digest
    before = set(style_images.statistics_cache_dir().glob("*.npz"))
    larger = load_style_image(str(copy), AnyImageOptions(style_size=640))
    assert len(set(style_images.statistics_cache_dir().glob("*.npz")) - before) == 1
    assert not np.array_equal(larger.statistics.levels["block5"].colouring, first.statistics.levels["block5"].colouring)


def test_an_unwritable_cache_costs_only_the_recomputation(painting_file, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / "style-images").write_text("a file where the cache folder should be")  # unwritable, even for root
    monkeypatch.setenv("VIDSTYLE_HOME", str(home))
    monkeypatch.setattr(style_images, "_MEMORY_CACHE", {})
    assert load_style_image(str(painting_file)).statistics.levels
    assert (home / "style-images").is_file()


# --- the commands ----------------------------------------------------------


def test_run_with_a_style_image_keeps_every_frame(cli, make_clip, painting_file, tmp_path):
    clip = make_clip(frames=9, width=96, height=64)
    output = tmp_path / "painted.mp4"
    result = cli("run", clip, "--style-image", painting_file, "-o", output, "-q")
    assert result.code == 0, result.err
    with VideoReader(output) as reader:
        frames = [frame.rgb for frame in reader]
    with VideoReader(clip) as reader:
        inputs = [frame.rgb for frame in reader]
    assert len(frames) == 9 and frames[0].shape == (64, 96, 3)
    painting = read_image(painting_file)
    assert palette_distance(frames[4], painting) < palette_distance(inputs[4], painting)


def test_image_and_sheet_take_a_style_image(cli, painting_file, photo, tmp_path):
    source = tmp_path / "photo.png"
    write_image(photo, source)
    result = cli("image", source, "--style-image", painting_file, "-o", tmp_path / "out.png", "--json")
    assert result.code == 0, result.err
    assert '"style": "strokes"' in result.out
    result = cli("sheet", source, "--style", "mosaic", "--style-image", painting_file, "-o", tmp_path / "sheet.png", "--json")
    assert result.code == 0, result.err
    assert "--style-image strokes.png" in result.out


def test_batch_paints_with_pictures_named_relative_to_the_job(cli, make_clip, painting_file, tmp_path):
    make_clip("shot.mp4", frames=5, width=64, height=48)
    (tmp_path / "art").mkdir()
    picture = tmp_path / "art" / "strokes.png"
    picture.write_bytes(painting_file.read_bytes())
    job = tmp_path / "job.toml"
    job.write_text('output_dir = "renders"\n[[items]]\ninput = "shot.mp4"\nstyles = ["art/strokes.png", "mosaic:0.5,art/strokes.png:0.5"]\n')
    result = cli("batch", str(job), "-q")
    assert result.code == 0, result.out + result.err
    for name in ("shot_strokes.mp4", "shot_mosaic-0.5-strokes-0.5.mp4"):
        with VideoReader(tmp_path / "renders" / name) as reader:
            assert sum(1 for _ in reader) == 5
    assert "0 to render, 2 up to date" in cli("batch", str(job), "--dry-run").out
    write_image(made_painting(9), picture)  # another picture under the same name: both tasks are stale
    assert "2 to render, 0 up to date" in cli("batch", str(job), "--dry-run").out


def test_the_stabiliser_holds_a_picture_style_under_half_the_flicker(make_clip, painting_file, tmp_path):
    """A camera move over a real photo, with sensor noise: the default
    output's warping error at most half of plain per-frame output's."""
    from test_temporal import stylize_both_ways
    from vidstyle.temporal.metrics import warping_error

    clip = make_clip("move.mkv", codec="ffv1", width=160, height=96, frames=10, noise=2.0,
                     photo=str(FLOWER))
    with VideoReader(clip) as source:
        inputs = [frame.rgb for frame in source]
    outputs = stylize_both_ways(clip, painting_file, tmp_path)
    errors = {mode: warping_error(inputs, frames) for mode, frames in outputs.items()}
    assert errors["flow"] <= 0.5 * errors["none"], errors


