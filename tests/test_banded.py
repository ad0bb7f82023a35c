"""Banded inference (vidstyle/stylize/banded.py) gives the plain network's
output, for every architecture, size and batch, and its budget arithmetic
holds."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
import torch

from helpers import FLOWER, landscape_frames
from vidstyle.errors import OptionError
from vidstyle.media.images import read_image, to_tensor
from vidstyle.models import TransformerConfig, TransformerNet
from vidstyle.stylize.banded import stylize_banded
from vidstyle.stylize.budget import band_rows_for_budget, banded_peak_bytes, estimate_peak_bytes
from vidstyle.stylize.styles import load_style

TOLERANCE = 0.05  # on the 0-255 scale: float round-off, far below one grey level
GIB = 2**30


def plain(model: TransformerNet, x: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return model(x)


def random_network(config: TransformerConfig, seed: int = 0) -> TransformerNet:
    """Random weights, instance-norm scales and shifts included (their defaults,
    one and zero, would hide a mistake in applying them)."""
    torch.manual_seed(seed)
    model = TransformerNet(config).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.InstanceNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
    return model


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small tensors: one thread is as fast, and far faster on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    """tubingen.jpg at 150x199 (odd width), as a (1, 3, H, W) batch."""
    rgb = cv2.resize(read_image(FLOWER), (199, 150), interpolation=cv2.INTER_AREA)
    return to_tensor(rgb)[None]


@pytest.mark.parametrize("model_kind", ["full", "fast"])
def test_bundled_style_on_a_photo_matches_the_plain_network(photo, model_kind):
    model = load_style("mosaic", model_kind).build_model()
    expected = plain(model, photo)
    before = photo.clone()
    out = stylize_banded(model, photo, band_rows=8)  # 19 bands at every resolution: 8, 4 and 2 rows
    assert out.shape == expected.shape and out.dtype == expected.dtype
    assert (out - expected).abs().max().item() < TOLERANCE
    assert torch.equal(photo, before), "the input must not be changed"
    assert (out - photo).abs().mean().item() > 10, "the style did something (not an identity by accident)"


@pytest.mark.parametrize(
    "separable, edge_kernel, output, base_channels, decoder_channels",
    [*itertools.product([False, True], [3, 5, 9], ["image", "residual"], [8, 16], [None]), (True, 5, "residual", 16, 8)],
)
def test_every_variant_matches(separable, edge_kernel, output, base_channels, decoder_channels):
    config = TransformerConfig(base_channels, 2, output, edge_kernel, separable, decoder_channels)
    model = random_network(config)
    x = torch.rand(1, 3, 37, 53) * 255
    expected = plain(model, x)
    out = stylize_banded(model, x, band_rows=12)
    assert out.shape == (1, 3, 37, 53)
    assert (out - expected).abs().max().item() < TOLERANCE


@pytest.mark.parametrize("height, width", [(37, 53), (40, 41), (33, 64), (16, 16), (61, 19)])
@pytest.mark.parametrize("band_rows", [1, 4, 8, 13, 1000])
def test_odd_sizes_and_band_heights(height, width, band_rows):
    model = random_network(TransformerConfig(8, 1, "residual", 9), seed=1)
    x = torch.rand(1, 3, height, width) * 255
    out = stylize_banded(model, x, band_rows)
    assert out.shape == (1, 3, height, width)
    assert (out - plain(model, x)).abs().max().item() < TOLERANCE


def test_a_batch_is_normalised_frame_by_frame():
    model = random_network(TransformerConfig(8, 2, "image", 5), seed=2)
    x = torch.stack([torch.rand(3, 45, 60) * 255, torch.rand(3, 45, 60) * 60 + 100])  # unlike statistics
    out = stylize_banded(model, x, band_rows=8)
    assert (out - plain(model, x)).abs().max().item() < TOLERANCE
    assert (out[1:] - plain(model, x[1:])).abs().max().item() < TOLERANCE


def test_tiles_normalised_on_their_own_would_seam(photo):
    """Why bands and not tiles: the top half stylized alone is not the top
    half of the whole frame stylized."""
    model = load_style("mosaic", "full").build_model()
    whole = plain(model, photo)
    top = plain(model, photo[..., :80, :])
    assert (top[..., :72, :] - whole[..., :72, :]).abs().mean().item() > 5.0  # about 30 measured


@pytest.mark.gpu
def test_cuda_tensors_stay_on_the_device(photo):
    model = load_style("mosaic", "full").build_model().cuda()
    x = photo.cuda()
    out = stylize_banded(model, x, band_rows=8)
    assert out.device == x.device
    assert (out - plain(model, x)).abs().max().item() < TOLERANCE


def test_bad_arguments_are_one_line_errors():
    model = random_network(TransformerConfig(8, 1))
    with pytest.raises(OptionError):
        stylize_banded(model, torch.rand(1, 3, 16, 16), band_rows=0)
    with pytest.raises(OptionError):
        stylize_banded(model, torch.rand(3, 16, 16), band_rows=8)


FULL = TransformerConfig(16, 5, "residual", 9)
FAST = TransformerConfig(8, 5, "residual", 3)


@pytest.mark.parametrize("config", [FULL, FAST])
def test_band_rows_grow_with_the_budget_and_fit_it(config):
    height, width = 2160, 3840
    budgets = [GIB * b for b in (1.0, 1.5, 2, 3, 4, 8, 64)]
    rows = [band_rows_for_budget(config, height, width, b) for b in budgets]
    assert rows == sorted(rows), rows
    assert rows[-1] == height, "a large budget takes the frame in one band"
    for budget, r in zip(budgets, rows):
        assert r % 4 == 0 and r >= 8
        assert banded_peak_bytes(config, height, width, r) <= budget
        if r < height:
            assert banded_peak_bytes(config, height, width, r + 4) > budget, "the largest band that fits"


def test_band_rows_shrink_as_the_frame_widens():
    rows = [band_rows_for_budget(FULL, 2160, w, 2 * GIB) for w in (1920, 2560, 3840, 5120)]
    assert rows == sorted(rows, reverse=True) and rows[0] > rows[-1], rows


def test_an_impossible_budget_is_a_one_line_error():
    with pytest.raises(OptionError) as error:
        band_rows_for_budget(FULL, 2160, 3840, 256 * 2**20)
    message = str(error.value)
    assert "\n" not in message and "3840x2160" in message and "MiB" in message
    band_rows_for_budget(FULL, 2160, 3840, banded_peak_bytes(FULL, 2160, 3840, 8))  # exactly the minimum fits


def test_the_plain_estimate_grows_with_pixels_width_and_batch():
    small, large = estimate_peak_bytes(FULL, 720, 1280), estimate_peak_bytes(FULL, 2160, 3840)
    assert small < large
    assert estimate_peak_bytes(FAST, 2160, 3840) < large
    assert estimate_peak_bytes(FULL, 720, 1280, batch=4) > 3 * (small - estimate_peak_bytes(FULL, 8, 8))
    # the reason for bands: 4K through the full network does not fit 4 GiB whole, but does in bands
    assert large > 4 * GIB
    assert banded_peak_bytes(FULL, 2160, 3840, band_rows_for_budget(FULL, 2160, 3840, 3 * GIB)) <= 3 * GIB


def test_the_stylizer_goes_to_bands_over_its_memory_budget(monkeypatch):
    """A frame too large for the budget whole goes through bands, with the
    result of the whole-frame network."""
    from vidstyle import Stylizer, StylizerOptions
    from vidstyle.media.images import resize_long_side
    from vidstyle.stylize import banded

    photo = resize_long_side(read_image(FLOWER), 240)
    frames = np.stack([photo, photo[::-1].copy()])
    want = Stylizer.from_style("mosaic", StylizerOptions(model="fast", precision="f32"))(frames)
    tight = Stylizer.from_style("mosaic", StylizerOptions(model="fast", memory_budget=0.25))
    rows = []
    real = banded.stylize_banded
    monkeypatch.setattr("vidstyle.stylize.torch_engine.stylize_banded", lambda *a: rows.append(a[2]) or real(*a))
    monkeypatch.setattr("vidstyle.stylize.stylizer.plain_network_bytes", lambda *a: 2**40)  # nothing fits whole
    monkeypatch.setattr("vidstyle.stylize.torch_engine.plain_network_bytes", lambda *a: 2**40)
    got = tight(frames)
    assert rows and all(r <= 64 for r in rows)
    assert got.shape == want.shape
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 2


def test_a_batch_too_large_for_the_budget_goes_in_parts_that_fit(monkeypatch):
    from vidstyle import Stylizer, StylizerOptions
    from vidstyle.media.images import resize_long_side

    photo = resize_long_side(landscape_frames(1)[0], 96)
    frames = np.stack([photo, photo[::-1].copy(), photo[:, ::-1].copy(), photo])
    stylizer = Stylizer.from_style("mosaic", StylizerOptions(model="fast", engine="torch"))
    want = stylizer(frames)
    sizes = []
    network = stylizer.networks[0]
    model = network.model
    network.model = lambda x: sizes.append(len(x)) or model(x)
    # two frames at a time fit, three do not
    monkeypatch.setattr("vidstyle.stylize.torch_engine.plain_network_bytes", lambda config, h, w, n=1: n * 2**30)
    monkeypatch.setattr(network, "_budget", lambda: 2 * 2**30)
    got = stylizer(frames)
    assert sizes == [2, 2]
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
