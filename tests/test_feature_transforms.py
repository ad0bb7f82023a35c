"""The NumPy style transforms (models/feature_transforms.py), on frames of
the sample clip: each against a float64 reference written here from the
formulas (the statistics, the whitening and colouring map, the palette's
histogram mapping, paint's padding and order of levels), and what the
transforms are for, checked on their own."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from vidstyle.models import feature_transforms as ft

CLIP = Path(__file__).resolve().parents[1] / "samples" / "landscape.mp4"
# A posterising palette for a style image whose colours are a few flat blobs, not a Gaussian cloud.
PALETTE = np.array([[236, 120, 30], [20, 130, 140], [30, 40, 110], [240, 225, 190]], np.float32)
# Stand-in levels for the encoder taps: a space-to-depth "encoder" at each stride.
STRIDES = {"coarse": 8, "fine": 2}


@pytest.fixture(scope="module")
def frames() -> tuple[np.ndarray, np.ndarray]:
    """Two frames of the sample clip, 2.5 s apart, as (1, 3, 270, 480) float32 in [0, 255]."""
    wanted, found = (0, 60), []
    with av.open(str(CLIP)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                found.append(frame.to_ndarray(format="rgb24").transpose(2, 0, 1)[None].astype(np.float32))
            if len(found) == len(wanted):
                break
    return found[0], found[1]


@pytest.fixture(scope="module")
def painting(frames) -> np.ndarray:
    """The second frame, cropped to 256 x 480 and posterised to PALETTE: a
    style image with a palette of its own."""
    style = frames[1][:, :, 7:263]
    pixels = style[0].reshape(3, -1).T
    scaled = pixels * (PALETTE.max(0) - PALETTE.min(0)) / 255.0 + PALETTE.min(0)
    nearest = np.argmin(((scaled[:, None, :] - PALETTE[None]) ** 2).sum(-1), axis=1)
    return np.ascontiguousarray(PALETTE[nearest].T.reshape(style.shape))


def space_to_depth(image: np.ndarray, stride: int) -> np.ndarray:
    n, c, h, w = image.shape
    blocks = image.reshape(n, c, h // stride, stride, w // stride, stride)
    blocks = blocks.transpose(0, 1, 3, 5, 2, 4)
    return np.ascontiguousarray(blocks.reshape(n, c * stride * stride, h // stride, w // stride))


def depth_to_space(features: np.ndarray, stride: int) -> np.ndarray:
    n, c, h, w = features.shape
    blocks = features.reshape(n, c // (stride * stride), stride, stride, h, w)
    return np.ascontiguousarray(blocks.transpose(0, 1, 4, 2, 5, 3).reshape(n, -1, h * stride, w * stride))


def encode(tap: str, image: np.ndarray) -> np.ndarray:
    """An identity-ish encoder pass: the image's pixel blocks, scaled to the ReLU6 range."""
    return space_to_depth(image, STRIDES[tap]) * np.float32(6.0 / 255.0)


def decode(tap: str, features: np.ndarray) -> np.ndarray:
    return depth_to_space(features, STRIDES[tap]) * np.float32(255.0 / 6.0)


def relu6_features(image: np.ndarray, stride: int, channels: int, seed: int) -> np.ndarray:
    """Encoder-like features of a frame: a fixed random projection of its
    pixel blocks through ReLU6 (correlated channels, many exact zeros)."""
    h, w = (image.shape[2] // stride) * stride, (image.shape[3] // stride) * stride
    blocks = space_to_depth(image[:, :, :h, :w] / 255.0, stride)
    rng = np.random.default_rng(seed)
    weight = (rng.normal(size=(channels, blocks.shape[1])) * 4.0 / np.sqrt(blocks.shape[1])).astype(np.float32)
    bias = rng.normal(size=(channels, 1, 1)).astype(np.float32)
    return np.clip(np.einsum("oc,nchw->nohw", weight, blocks) + bias, 0.0, 6.0).astype(np.float32)


# -- float64 references, from the formulas --------------------------------------


def reference_moments(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(C, N) features to their mean (C, 1) and covariance (C, C), the ridge
    (COVARIANCE_RIDGE times the mean variance) on its diagonal; float64."""
    flat = np.asarray(flat, dtype=np.float64)
    mean = flat.mean(1, keepdims=True)
    cov = (flat - mean) @ (flat - mean).T / (flat.shape[1] - 1)
    return mean, cov + ft.COVARIANCE_RIDGE * np.diagonal(cov).mean() * np.eye(len(cov))


def reference_power(cov: np.ndarray, power: float) -> np.ndarray:
    values, vectors = np.linalg.eigh(cov)
    return (vectors * values**power) @ vectors.T


def exact_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean and colouring matrix (the covariance's square root) of (1, C, H, W) features."""
    mean, cov = reference_moments(features[0].reshape(features.shape[1], -1))
    return mean, reference_power(cov, 0.5)


def reference_whiten_and_colour(
    features: np.ndarray, style: ft.LevelStatistics, alpha: float, value_range: tuple[float, float]
) -> np.ndarray:
    """Each item x to ``A x + b``: A = alpha * colouring @ cov^-1/2 + (1 - alpha) * I,
    b = alpha * (style mean - colouring @ cov^-1/2 @ mean), then clamped."""
    out = np.empty(features.shape)
    colouring, style_mean = style.colouring.astype(np.float64), style.mean.astype(np.float64)
    for i, item in enumerate(features):
        flat = item.reshape(item.shape[0], -1).astype(np.float64)
        mean, cov = reference_moments(flat)
        transform = colouring @ reference_power(cov, -0.5)
        affine = alpha * transform + (1.0 - alpha) * np.eye(len(cov))
        out[i] = (affine @ flat + alpha * (style_mean - transform @ mean)).reshape(item.shape)
    return np.clip(out, *value_range)


def reference_palette_matching(pixels: np.ndarray, style: ft.LevelStatistics) -> np.ndarray:
    """Along each of the style's principal axes, each frame's colours mapped
    piecewise linearly (np.interp) from the frame's own quantiles onto the
    style's; the frame's quantiles read, as documented, from every k-th
    pixel (k: the pixels over _PALETTE_SAMPLE), at evenly spaced ranks."""
    axes, mean, quantiles = (np.asarray(a, dtype=np.float64) for a in (style.axes, style.mean, style.quantiles))
    count = quantiles.shape[1]
    out = np.empty(pixels.shape)
    for i, item in enumerate(pixels):
        projected = axes.T @ (item.reshape(3, -1).astype(np.float64) - mean)
        ordered = np.sort(projected[:, :: max(1, projected.shape[1] // ft._PALETTE_SAMPLE)], axis=1)
        frame = ordered[:, np.rint(np.linspace(0, ordered.shape[1] - 1, count)).astype(int)]
        frame += np.arange(count) * 1e-6  # flat stretches kept apart by a hair
        mapped = np.stack([np.interp(projected[a], frame[a], quantiles[a]) for a in range(3)])
        out[i] = (axes @ mapped + mean).reshape(item.shape)
    return out


def reference_pad(x: np.ndarray) -> np.ndarray:
    """Bottom and right up to a multiple of PAD_MULTIPLE: mirrored, or the
    edge repeated where the padding is not shorter than the frame."""
    height, width = x.shape[-2:]
    pad_h, pad_w = -height % ft.PAD_MULTIPLE, -width % ft.PAD_MULTIPLE
    mode = "reflect" if pad_h < height and pad_w < width else "edge"
    return np.pad(x, ((0, 0), (0, 0), (0, pad_h), (0, pad_w)), mode=mode)


def assert_close_relative(actual: np.ndarray, expected: np.ndarray, tolerance: float) -> None:
    """Elementwise within ``tolerance`` of the expected array's largest magnitude."""
    np.testing.assert_allclose(actual, expected, rtol=0, atol=tolerance * float(np.abs(expected).max()))


def assert_statistics_exact(ours: ft.LevelStatistics, features: np.ndarray) -> None:
    """Float32, of the right shapes, and within 1e-4 of the float64 statistics
    (the products run in float32)."""
    mean, colouring = exact_statistics(features)
    assert ours.mean.dtype == ours.colouring.dtype == np.float32
    assert ours.mean.shape == mean.shape and ours.colouring.shape == colouring.shape
    assert_close_relative(ours.mean, mean, 1e-4)
    assert_close_relative(ours.colouring, colouring, 1e-4)


def moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flat = x.reshape(x.shape[0], -1).astype(np.float64)
    mean = flat.mean(1, keepdims=True)
    return mean, (flat - mean) @ (flat - mean).T / (flat.shape[1] - 1)


# -- against the references ---------------------------------------------------


@pytest.mark.parametrize("stride, channels", [(8, 240), (4, 40)])
def test_level_statistics_match_the_reference(frames, stride, channels):
    features = relu6_features(frames[1], stride, channels, seed=stride)
    ours = ft.level_statistics(features)
    assert_statistics_exact(ours, features)
    # the colouring matrix is the covariance's square root: symmetric, and squares back to it
    np.testing.assert_allclose(ours.colouring, ours.colouring.T, rtol=0, atol=1e-6 * np.abs(ours.colouring).max())
    cov = reference_moments(features[0].reshape(channels, -1))[1]
    assert_close_relative(ours.colouring.astype(np.float64) @ ours.colouring, cov, 1e-4)


def test_palette_statistics_match_the_reference(painting):
    pixels = painting / 255.0
    ours = ft.palette_statistics(pixels)
    assert_statistics_exact(ours, pixels)
    mean, cov = reference_moments(pixels[0].reshape(3, -1))
    _, axes = np.linalg.eigh(cov)  # the colouring matrix's eigenvectors too
    projected = axes.T @ (pixels[0].reshape(3, -1) - mean)
    quantiles = np.quantile(projected, np.linspace(0.0, 1.0, ft.PALETTE_QUANTILES), axis=1).T
    assert ours.axes.dtype == ours.quantiles.dtype == np.float32
    assert ours.axes.shape == (3, 3) and ours.quantiles.shape == (3, ft.PALETTE_QUANTILES)
    # An eigenvector's sign is the solver's choice; the flip negates and reverses its quantiles.
    found, stored = ours.axes.astype(np.float64), ours.quantiles.astype(np.float64)
    for a in range(3):
        if found[:, a] @ axes[:, a] < 0:
            found[:, a], stored[a] = -found[:, a], -stored[a, ::-1]
    np.testing.assert_allclose(found, axes, rtol=0, atol=1e-3)
    np.testing.assert_allclose(stored, quantiles, rtol=0, atol=1e-3)
    assert (np.diff(ours.quantiles, axis=1) >= 0).all()


def test_style_statistics_match_the_reference(frames):
    taps = ["coarse", "fine", ft.PIXEL_LEVEL]
    style = np.ascontiguousarray(frames[1][:, :, 7:263])
    ours = ft.style_statistics({tap: encode(tap, style) for tap in STRIDES}, style, taps)
    assert list(ours.levels) == taps
    for tap in taps:
        features = style / 255.0 if tap == ft.PIXEL_LEVEL else encode(tap, style)
        assert_statistics_exact(ours.levels[tap], features)
        assert (ours.levels[tap].axes is not None) == (tap == ft.PIXEL_LEVEL)
    with pytest.raises(ValueError, match="fine"):
        ft.style_statistics({"coarse": encode("coarse", style)}, style, taps)


@pytest.mark.parametrize(
    "stride, channels, alpha, tolerance",
    [
        (8, 40, 1.0, 1e-3),
        (4, 40, 0.6, 1e-3),
        # 240 ReLU6 channels of 192 inputs, like Lite0's expansions: whitening
        # its near-null directions magnifies the float32 rounding of the products
        (8, 240, 1.0, 5e-3),
    ],
)
def test_whiten_and_colour_matches_the_reference(frames, stride, channels, alpha, tolerance):
    content = np.concatenate([relu6_features(f, stride, channels, seed=1) for f in frames])  # a batch of two
    style = ft.level_statistics(relu6_features(frames[1][:, ::-1], stride, channels, seed=2))
    expected = reference_whiten_and_colour(content, style, alpha, ft.FEATURE_RANGE)
    ours = ft.whiten_and_colour(content, style, alpha)
    assert ours.dtype == np.float32 and ours.shape == content.shape
    assert np.abs(expected - content).mean() > 0.1  # the features moved
    np.testing.assert_allclose(ours, expected, rtol=0, atol=tolerance)
    assert np.abs(ours - expected).mean() < 1e-4


def test_palette_matching_matches_the_reference(frames, painting):
    """The module reads the mapping from a table of PALETTE_TABLE points, not
    exactly: most pixels land within a millionth, the few on the steep
    stretches between a posterised style's colours (where a small step of
    the input is a large one out) up to a few hundredths away."""
    style = ft.palette_statistics(painting / 255.0)
    coloured = ft.whiten_and_colour(np.concatenate(frames) / 255.0, style, 1.0, (-1.0, 2.0))
    expected = reference_palette_matching(coloured, style)
    ours = ft.match_palette_histograms(coloured, style)
    assert ours.dtype == np.float32 and ours.shape == coloured.shape
    assert np.abs(expected - coloured).mean() > 0.02  # the colours moved
    difference = np.abs(ours - expected)
    assert difference.mean() < 2e-4 and np.quantile(difference, 0.99) < 5e-3, (difference.mean(), difference.max())
    assert difference.max() < 0.05
    with pytest.raises(ValueError, match="pixel level"):
        ft.match_palette_histograms(coloured, ft.level_statistics(painting / 255.0))


@pytest.mark.parametrize(
    "rows, columns, alpha, histograms, taps",
    [
        (slice(None), slice(None), 1.0, False, ["coarse", "fine", ft.PIXEL_LEVEL]),  # 270 x 480: reflected to 272
        (slice(None), slice(None), 1.0, True, ["coarse", "fine", ft.PIXEL_LEVEL]),
        (slice(3, 266), slice(5, 475), 0.6, True, ["coarse", "fine", ft.PIXEL_LEVEL]),  # odd sizes on both sides
        (slice(3, 266), slice(5, 475), 0.6, False, [ft.PIXEL_LEVEL, "fine"]),  # the levels in the style's order
        # smaller than the padding: the edge repeated (too few blocks left for the coarse level)
        (slice(100, 105), slice(200, 230), 1.0, False, ["fine", ft.PIXEL_LEVEL]),
    ],
)
def test_paint_pads_and_runs_the_levels_in_order(frames, rows, columns, alpha, histograms, taps):
    """paint against the composition written out here: the frame padded by
    the rule of reference_pad, each level in the style's order (a tap's
    features whitened and coloured by alpha and decoded; the pixels coloured
    all the way, matched to the palette if asked, then blended by alpha and
    clamped to 0-255), and the padding cropped. The transforms themselves
    are the module's (checked against their references above)."""
    style_image = np.ascontiguousarray(frames[1][:, ::-1, 7:263])  # another frame, its red and blue swapped
    content = np.ascontiguousarray(frames[0][:, :, rows, columns])
    found = ft.style_statistics({tap: encode(tap, style_image) for tap in STRIDES}, style_image, taps)
    statistics = ft.StyleStatistics({tap: found.levels[tap] for tap in taps})
    encoded = []

    def recording_encode(tap: str, image: np.ndarray) -> np.ndarray:
        encoded.append((tap, image.copy()))
        return encode(tap, image)

    y = reference_pad(content).astype(np.float32)
    assert y.shape[-2] % ft.PAD_MULTIPLE == 0 and y.shape[-1] % ft.PAD_MULTIPLE == 0
    expected_inputs = []
    for tap, level in statistics.levels.items():
        if tap == ft.PIXEL_LEVEL:
            coloured = ft.whiten_and_colour(y / np.float32(255.0), level, 1.0, (-1.0, 2.0))
            if histograms:
                coloured = ft.match_palette_histograms(coloured, level)
            y = 255.0 * np.clip(alpha * coloured + (1.0 - alpha) * y / 255.0, 0.0, 1.0)
        else:
            expected_inputs.append((tap, y.copy()))
            y = decode(tap, ft.whiten_and_colour(encode(tap, y), level, alpha))
    expected = y[..., : content.shape[-2], : content.shape[-1]]

    ours = ft.paint(content, statistics, recording_encode, decode, alpha=alpha, palette_histograms=histograms)
    assert ours.shape == content.shape and ours.dtype == np.float32
    assert np.abs(ours - content).mean() > 5.0  # the frame was repainted, not passed through
    assert [tap for tap, _ in encoded] == [tap for tap, _ in expected_inputs]
    for (_, seen), (_, wanted) in zip(encoded, expected_inputs):
        np.testing.assert_allclose(seen, wanted, rtol=0, atol=1e-3)
    difference = np.abs(ours - expected)
    assert difference.max() < 1e-3, difference.max()


def test_paint_needs_no_torch():
    """The module imports, and paints, in a process where PyTorch cannot be
    imported; and nowhere in it is PyTorch imported, not even lazily."""
    tree = ast.parse(Path(ft.__file__).read_text())
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    imported += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert not [name for name in imported if name.split(".")[0] == "torch"]
    assert "import_module" not in Path(ft.__file__).read_text()
    script = (
        "import sys; sys.modules['torch'] = None\n"
        "import numpy as np\n"
        "from vidstyle.models import feature_transforms as ft\n"
        "rng = np.random.default_rng(0)\n"
        "style = ft.style_statistics({}, rng.uniform(0, 255, (1, 3, 40, 30)).astype(np.float32), [ft.PIXEL_LEVEL])\n"
        "out = ft.paint(rng.uniform(0, 255, (1, 3, 20, 24)).astype(np.float32), style, None, None)\n"
        "assert out.shape == (1, 3, 20, 24)\n"
        "assert not [m for m, module in sys.modules.items() if module and m.split('.')[0] == 'torch']\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


# -- what the transforms do ---------------------------------------------------


def mixed_features(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """Random features with unequal variances and correlated channels (a well-conditioned covariance)."""
    rng = np.random.default_rng(seed)
    channels = shape[1]
    mixing = np.eye(channels) + 0.3 * rng.normal(size=(channels, channels)) / np.sqrt(channels)
    mixing *= rng.uniform(0.5, 3.0, size=(channels, 1))
    noise = rng.uniform(0.0, 1.0, size=(shape[0], channels, int(np.prod(shape[2:]))))
    features = np.einsum("oc,ncp->nop", mixing, noise) + rng.uniform(0, 3, (channels, 1))
    return features.reshape(shape).astype(np.float32)


def test_whiten_and_colour_gives_the_style_moments_and_blends_by_alpha():
    content = mixed_features(1, (2, 40, 30, 40))
    style = ft.level_statistics(mixed_features(2, (1, 40, 36, 48)))
    wide = (-1e3, 1e3)
    full = ft.whiten_and_colour(content, style, 1.0, wide)
    target = style.colouring.astype(np.float64) @ style.colouring  # the style's covariance, ridge included
    for before, after in zip(content, full):
        mean, cov = moments(after)
        np.testing.assert_allclose(mean, style.mean, rtol=0, atol=1e-4 * np.abs(style.mean).max())
        assert np.linalg.norm(cov - target) < 5e-3 * np.linalg.norm(target)
        assert np.linalg.norm(moments(before)[1] - target) > 0.3 * np.linalg.norm(target)
    np.testing.assert_allclose(ft.whiten_and_colour(content, style, 0.0, wide), content, rtol=0, atol=1e-6)
    partway = ft.whiten_and_colour(content, style, 0.3, wide)
    np.testing.assert_allclose(partway, 0.3 * full + 0.7 * content, rtol=0, atol=1e-4)
    assert full.min() < 0.0  # so the clamp to ReLU6's range below has work to do
    np.testing.assert_array_equal(ft.whiten_and_colour(content, style, 1.0), np.clip(full, *ft.FEATURE_RANGE))


def test_palette_matching_moves_the_colour_quantiles_to_the_style(frames, painting):
    style = ft.palette_statistics(painting / 255.0)
    coloured = ft.whiten_and_colour(frames[0] / 255.0, style, 1.0, (-1.0, 2.0))
    matched = ft.match_palette_histograms(coloured, style)

    reference = style.axes.T @ (painting[0].reshape(3, -1) / 255.0 - style.mean)
    levels = np.linspace(0.0, 1.0, 1001)

    def projected(pixels: np.ndarray) -> np.ndarray:
        return style.axes.T @ (pixels[0].reshape(3, -1) - style.mean)

    def quantile_distance(pixels: np.ndarray) -> np.ndarray:
        """Per axis, the mean gap between the frame's and the painting's
        quantiles (the 1-Wasserstein distance): robust to the steps of a
        few-colour painting, where a quantile jumps from one colour to the next."""
        return np.abs(np.quantile(projected(pixels), levels, axis=1) - np.quantile(reference, levels, axis=1)).mean(0)

    def palette_distance(pixels: np.ndarray) -> float:
        colours = pixels[0].reshape(3, -1).T * 255.0
        return float(np.sqrt(((colours[:, None, :] - PALETTE[None]) ** 2).sum(-1)).min(1).mean())

    before, after = quantile_distance(coloured), quantile_distance(matched)
    assert (after < before / 4).all() and after.max() < 0.01, (before, after)
    points = np.linspace(0, 1, ft.PALETTE_QUANTILES)
    stored = np.abs(np.quantile(projected(matched), points, axis=1) - style.quantiles.T)
    assert (stored < 0.005).mean() > 0.9, stored.max(0)  # all but those at a jump between two colours
    # the covariance alone blends the painting's four colours; the histograms bring them back
    assert palette_distance(matched) < palette_distance(coloured) / 2
    np.testing.assert_allclose(moments(matched[0])[0], style.mean, rtol=0, atol=0.01)


# -- storing a style's statistics ---------------------------------------------


@pytest.fixture(scope="module")
def statistics(painting) -> ft.StyleStatistics:
    taps = ["coarse", "fine", ft.PIXEL_LEVEL]
    return ft.style_statistics({tap: encode(tap, painting) for tap in STRIDES}, painting, taps)


def test_statistics_round_trip_through_npz(statistics, tmp_path):
    arrays = statistics.to_arrays()
    assert list(arrays)[:3] == ["coarse/mean", "coarse/colouring", "fine/mean"]
    assert {"pixels/axes", "pixels/quantiles"} <= set(arrays) and "coarse/axes" not in arrays
    np.savez(tmp_path / "style.npz", **arrays)
    with np.load(tmp_path / "style.npz") as stored:
        loaded = ft.StyleStatistics.from_arrays(stored)
    assert list(loaded.levels) == list(statistics.levels)
    for tap, level in statistics.levels.items():
        assert loaded.levels[tap].arrays().keys() == level.arrays().keys()
        for name, value in level.arrays().items():
            assert loaded.levels[tap].arrays()[name].dtype == np.float32
            np.testing.assert_array_equal(loaded.levels[tap].arrays()[name], value)


def _without(arrays, key):
    return {k: v for k, v in arrays.items() if k != key}


@pytest.mark.parametrize(
    "damage",
    [
        lambda a: {},
        lambda a: _without(a, "fine/colouring"),
        lambda a: _without(a, "pixels/quantiles"),
        lambda a: {**a, "fine/bias": a["fine/mean"]},
        lambda a: {**_without(a, "coarse/mean"), "coarse": a["coarse/mean"]},
        lambda a: {**a, "coarse/mean": a["coarse/mean"][:, 0]},
        lambda a: {**a, "coarse/mean": a["fine/mean"]},
        lambda a: {**a, "fine/colouring": a["fine/colouring"][:, :-1]},
        lambda a: {**a, "pixels/quantiles": a["pixels/quantiles"][:2]},
        lambda a: {**a, "fine/colouring": np.full_like(a["fine/colouring"], np.nan)},
        lambda a: {**a, "fine/mean": np.array(["x"] * len(a["fine/mean"]))[:, None]},
    ],
    ids=[
        "empty", "no-colouring", "axes-alone", "unknown-field", "no-slash", "flat-mean",
        "other-level-mean", "non-square", "quantile-rows", "nan", "strings",
    ],
)
def test_malformed_statistics_are_refused(statistics, damage):
    with pytest.raises(ValueError, match="style statistics"):
        ft.StyleStatistics.from_arrays(damage(statistics.to_arrays()))
