"""The bundled styles against their paintings, on photos no training saw
(the project's own samples; the paintings as colour histograms,
tests/data/painting-palettes.npz by scripts/painting_palettes.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers import FLOWER, landscape_frames

from vidstyle import Stylizer, StylizerOptions
from vidstyle.media.images import read_image, resize_long_side
from vidstyle.stylize.styles import available_styles
from vidstyle.temporal.metrics import border_excess, colour_histogram, colourfulness, palette_distance

ROOT = Path(__file__).resolve().parents[1]
PALETTES = np.load(ROOT / "tests" / "data" / "painting-palettes.npz")


def held_out(side: int) -> dict[str, np.ndarray]:
    """Photos no network was trained on (neither is in configs/train/content.txt)."""
    return {"flower": resize_long_side(read_image(FLOWER), side), "landscape": resize_long_side(landscape_frames(1)[0], side)}



BUNDLED = [entry.name for entry in available_styles() if entry.origin == "bundled"]
# Known failures, kept visible (strict: a network that passes turns its entry
# into a failure, to be removed then).
KNOWN_PALETTE_FAILURES: set[str] = set()


def test_palette_distance_measures_shared_colours():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert palette_distance(image, image) == 0.0
    assert palette_distance(image, image[::-1, ::-1]) == 0.0  # proportions, not positions
    red, blue = np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8)
    red[..., 0], blue[..., 2] = 250, 250
    assert palette_distance(red, blue) == 1.0
    half = np.concatenate([red, blue])
    assert palette_distance(half, red) == pytest.approx(0.5)


def test_colourfulness_is_zero_for_grey_and_falls_with_chroma():
    photo = held_out(128)["flower"].astype(np.float64)
    grey = np.repeat(photo.mean(axis=2, keepdims=True), 3, axis=2)
    assert colourfulness(grey) == pytest.approx(0.0, abs=1e-9)
    paler = grey + 0.5 * (photo - grey)
    assert colourfulness(paler) == pytest.approx(0.5 * colourfulness(photo))  # linear in chroma


def test_border_excess_finds_a_band_the_photo_lacks():
    photo = np.random.default_rng(1).integers(60, 200, (64, 80, 3), dtype=np.uint8)
    assert border_excess(photo, photo) == 0.0
    banded = photo.astype(np.int16)
    banded[:4] -= 40  # a dark band along the top
    assert border_excess(banded.astype(np.uint8), photo) == pytest.approx(40, abs=0.5)
    brighter = photo.astype(np.int16) + 30  # brighter all over: no band
    assert border_excess(brighter.clip(0, 255).astype(np.uint8), photo) < 0.5
    edged = photo.copy()
    edged[:, -3:] = 0  # a photo with a dark edge of its own is measured against itself
    assert border_excess(edged, edged) == 0.0


def test_every_style_is_bundled():
    assert sorted(BUNDLED) == ["candy", "mosaic", "scream", "starry-night", "udnie", "wave"]


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason="palette moves away from the painting on a held-out photo"))
        if name in KNOWN_PALETTE_FAILURES
        else name
        for name in BUNDLED
    ],
)
def test_bundled_style_moves_the_palette_towards_its_painting(name):
    painting = PALETTES[name]
    stylizer = Stylizer.from_style(name)
    for photo_name, photo in held_out(256).items():
        before = palette_distance_to(photo, painting)
        after = palette_distance_to(stylizer(photo), painting)
        assert after < 0.9 * before, (photo_name, before, after)


def palette_distance_to(image: np.ndarray, histogram: np.ndarray) -> float:
    """``palette_distance`` against a painting given as its colour histogram."""
    return 0.5 * float(np.abs(colour_histogram(image) - histogram).sum())


def test_the_stored_palettes_are_the_measure_of_the_tests():
    image = landscape_frames(1)[0]
    assert palette_distance_to(image, colour_histogram(image)) == 0.0
    assert set(PALETTES.files) == set(BUNDLED)


# Trained without reflected borders in the loss, every bundled network drew a
# band of 20-50 levels along the top or left edge of one of these photos at
# 384 px; trained with them, the networks stay at 4-17 (docs/content-and-borders.jpg).
MAX_BORDER_EXCESS = 20.0


@pytest.mark.parametrize("model", ["full", "balanced", "fast"])
@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_networks_draw_no_band_along_the_edges(name, model):
    stylizer = Stylizer.from_style(name, StylizerOptions(model=model))
    for photo_name, photo in held_out(384).items():
        assert border_excess(stylizer(photo), photo) < MAX_BORDER_EXCESS, photo_name


# Colourfulness of the distilled networks against their full network on the
# held-out photos at 384 px. Distilled with the pixel loss alone: balanced
# 0.89-0.98, fast 0.76-0.95 (mosaic and udnie the palest); with the colour
# term (configs/train/*/: teacher_colour_weight): 0.98-1.01 and 0.93-1.00.
AS_COLOURFUL = {"balanced": 0.96, "fast": 0.9}


@pytest.mark.parametrize("name", BUNDLED)
def test_distilled_networks_are_as_colourful_as_the_full_one(name):
    photos = held_out(384).values()

    def mean_colourfulness(model: str) -> float:
        stylizer = Stylizer.from_style(name, StylizerOptions(model=model))
        return float(np.mean([colourfulness(stylizer(photo)) for photo in photos]))

    full = mean_colourfulness("full")
    for model, share in AS_COLOURFUL.items():
        assert mean_colourfulness(model) >= share * full, (model, mean_colourfulness(model), full)
