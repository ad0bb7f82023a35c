"""Pictures bounded by what they hold: a header claiming a huge size is
refused before anything is decoded, with Pillow's decompression-bomb check
giving way to our own limit, and a large JPEG used as a style is decoded
reduced. Peak memory is measured in a fresh process (ru_maxrss), since
decoders allocate outside Python's reach."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from helpers import FLOWER, PEAK_WRAPPER
from vidstyle.errors import StyleError, VidstyleError
from vidstyle.media.images import PIXEL_LIMIT, picture_header, read_image
from vidstyle.media.synthetic import write_flat_png
from vidstyle.stylize.style_images import read_style_image

MIB = 2**20


def measured(call: str, *args: str) -> dict:
    """Run ``call`` (an expression over ``args``) in a fresh process with
    the decoders already imported; what it raised, and how far its peak
    resident memory rose during the call."""
    code = f"""
import json, resource, sys
import numpy as np
import PIL.Image, PIL.JpegImagePlugin, PIL.PngImagePlugin
from vidstyle.media.images import read_image
from vidstyle.stylize.style_images import read_style_image
args = sys.argv[1:]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
error = None
try:
    result = {call}
except Exception as exc:
    error, result = f"{{type(exc).__name__}}: {{exc}}", None
grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
if result is not None and len(args) > 1:
    np.save(args[-1], result)
print(json.dumps({{"error": error, "grew": grew}}))
"""
    done = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict[str, Path]:
    """30000x30000 pictures that compress to a few MB: 8-bit RGB and 16-bit RGBA."""
    folder = tmp_path_factory.mktemp("hostile")
    return {
        "rgb": write_flat_png(folder / "flat.png", 30000, 30000),
        "rgba16": write_flat_png(folder / "flat16.png", 30000, 30000, bit_depth=16, colour_type=6),
    }


def test_the_hostile_pictures_are_valid_and_small(tmp_path, hostile):
    small = write_flat_png(tmp_path / "small.png", 300, 200, bit_depth=16, colour_type=6)
    decoded = cv2.imread(str(small), cv2.IMREAD_UNCHANGED)
    assert decoded.shape == (200, 300, 4) and decoded.dtype == np.uint16 and not decoded.any()
    assert hostile["rgb"].stat().st_size < 3 * MIB and hostile["rgba16"].stat().st_size < 8 * MIB


@pytest.mark.parametrize("kind", ["rgb", "rgba16"])
def test_a_huge_style_picture_is_refused_from_its_header(hostile, kind):
    for call in ("read_style_image(args[0], 1024)", "read_image(args[0])"):
        result = measured(call, hostile[kind])
        assert result["error"] is not None and "\n" not in result["error"]
        assert f"too large: {hostile[kind]} is 30000x30000 (900 megapixels), over the limit of 134 megapixels" in result["error"]
        assert result["grew"] < 64 * MIB, result  # decoded whole, 2.5 GB (RGB) or 6.7 GB (16-bit RGBA)


def _vidstyle(tmp_path: Path, *args) -> tuple[int, str, int]:
    """Exit status, stderr and peak resident bytes of a ``vidstyle`` process."""
    peak = tmp_path / "peak"
    done = subprocess.run([sys.executable, "-c", PEAK_WRAPPER, *map(str, args)], capture_output=True, text=True,
                          env=dict(os.environ, VIDSTYLE_PEAK_FILE=str(peak)), timeout=120)
    resident = int(peak.read_text()) * 1024
    peak.unlink()
    return done.returncode, done.stderr, resident


def test_the_image_command_refuses_huge_pictures_in_one_line(tmp_path, hostile):
    for args in (
        ["image", FLOWER, "-o", tmp_path / "styled.png", "--style-image", hostile["rgba16"]],
        ["image", hostile["rgb"], "-o", tmp_path / "photo.png"],
    ):
        code, err, peak = _vidstyle(tmp_path, *args)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1, err
        assert "30000x30000" in lines[0] and "limit of 134 megapixels" in lines[0]
        assert peak < 1024 * MIB, peak
    assert not list(tmp_path.iterdir())


def test_pillows_bomb_check_gives_way_to_the_pixel_limit(tmp_path):
    """A 90-megapixel picture is over Pillow's warning threshold (89.5) and
    under ours: read without a warning, and Pillow's setting left as found."""
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    picture = write_flat_png(tmp_path / "wide.png", 13000, 7000, colour_type=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_style_image(picture, 512).shape == (276, 512, 3)
    assert Image.MAX_IMAGE_PIXELS == limit
    with pytest.raises(StyleError, match=r"^style image is too large: .*wide.png is 13000x7000 \(91 megapixels\), over the limit of 50 megapixels$"):
        picture_header(np.fromfile(picture, np.uint8), str(picture), "style image", StyleError, max_pixels=50_000_000)
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), np.zeros((100, 200, 3), np.uint8))
    with pytest.raises(VidstyleError, match=r"^image is too large: .*photo.png is 200x100"):
        read_image(photo, max_pixels=10_000)
    assert read_image(photo).shape == (100, 200, 3)
    assert PIXEL_LIMIT == 2**27


def _textured(width: int, height: int, seed: int = 0) -> np.ndarray:
    """Smooth colour fields with some texture, BGR: a picture whose
    reductions can be compared level by level."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (height // 100, width // 100, 3), np.uint8)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)


def _full_then_shrunk(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    full = cv2.imread(str(path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)[:, :, ::-1]
    return cv2.resize(full, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)


def test_a_large_jpeg_style_is_decoded_reduced(tmp_path):
    """8000x6000 at a 1024 px need: libjpeg decodes 1/4 of each side, so the
    peak is a fraction of the 144 MB a whole decode takes, and the result is
    that of a whole decode shrunk, within a level or two."""
    picture = tmp_path / "large.jpg"
    cv2.imwrite(str(picture), _textured(8000, 6000), [cv2.IMWRITE_JPEG_QUALITY, 90])
    result = measured("read_style_image(args[0], 1024)", picture, tmp_path / "reduced.npy")
    assert result["error"] is None, result
    assert result["grew"] < 8000 * 6000 * 3 / 2, result
    reduced = np.load(tmp_path / "reduced.npy")
    assert reduced.shape == (768, 1024, 3)
    difference = np.abs(reduced.astype(int) - _full_then_shrunk(picture, reduced.shape))
    assert difference.mean() < 1.0 and np.percentile(difference, 99) <= 3


def test_reduced_and_whole_pictures_of_every_kind_still_convert(tmp_path):
    from PIL import Image

    bgr = _textured(2400, 1800, seed=1)
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    # JPEGs reduced as they are decoded: CMYK and grey
    cmyk = tmp_path / "cmyk.jpg"
    Image.fromarray(rgb).convert("CMYK").save(cmyk, quality=92)
    grey = tmp_path / "grey.jpg"
    Image.fromarray(rgb[:, :, 1]).save(grey, quality=92)
    for path in (cmyk, grey):
        reduced = read_style_image(path, 512)
        assert reduced.shape == (384, 512, 3)
        difference = np.abs(reduced.astype(int) - _full_then_shrunk(path, reduced.shape))
        assert difference.mean() < 2.0 and np.percentile(difference, 99) <= 5, path
    assert (np.ptp(read_style_image(grey, 512), axis=2) == 0).all()
    # decoded whole, then shrunk: palette with a transparent entry, 16-bit grey
    palette = tmp_path / "palette.png"
    indices = np.zeros((120, 160), np.uint8)
    indices[:, 80:] = 1
    picture = Image.fromarray(indices, "P")
    picture.putpalette([200, 30, 20, 10, 90, 200] + [0] * 762)
    picture.save(palette, transparency=0)
    read = read_style_image(palette, 64)
    assert read.shape == (48, 64, 3)
    assert (read[:, :30] == 255).all() and (np.abs(read[:, 34:].astype(int) - [10, 90, 200]) <= 1).all()
    deep_grey = tmp_path / "deep-grey.png"
    cv2.imwrite(str(deep_grey), (bgr[:, :, 0].astype(np.uint16) * 257))
    read = read_style_image(deep_grey, 512)
    expected = cv2.resize(bgr[:, :, 0], (512, 384), interpolation=cv2.INTER_AREA)
    assert np.abs(read[:, :, 0].astype(int) - expected).max() <= 1
