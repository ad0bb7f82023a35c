"""The style side of the any-image path in NumPy: whitening and colouring
(Li et al. 2017) of feature maps, the palette level's histogram matching,
and the level-by-level painting loop, with the encoder and decoder passes
left to the caller.

Nothing here needs PyTorch, so that a frame can be painted by exported
graphs (ONNX Runtime, OpenVINO) on a machine without it. Arrays are float32
in NCHW layout. The statistics of a style (mean and colouring matrix per
level) are computed once per style image and then fixed, so a clip cannot
drift from frame to frame; they flatten to a dict of arrays for ``np.savez``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Callable, Mapping

import numpy as np

# Ridge added to every covariance, relative to its mean eigenvalue: keeps the
# inverse square root finite for flat frames and the transform smooth when
# a frame's weakest directions change from one frame to the next.
COVARIANCE_RIDGE = 1e-3
# The range of Lite0's ReLU6 activations, which the decoders were trained on.
FEATURE_RANGE = (0.0, 6.0)
# Frames are padded to a multiple of the deepest stride the encoder reads
# (stride 16 at block5's depthwise step): every level then maps sizes
# exactly, and the passes export to graphs with dynamic sizes.
PAD_MULTIPLE = 16
# A level that needs no decoder: the pixels themselves (0-1), whose
# transform moves the frame's colours to the painting's palette.
PIXEL_LEVEL = "pixels"
# Quantiles kept of the painting's colours along each principal axis.
PALETTE_QUANTILES = 64
# Points of the lookup table each frame's colour mapping is sampled at.
PALETTE_TABLE = 1024
# A frame's own colour quantiles are read from about this many pixels.
_PALETTE_SAMPLE = 16384

_F32 = np.float32


@dataclass
class LevelStatistics:
    """A style at one level: its feature mean (C, 1) and the colouring
    matrix (C, C), the square root of its feature covariance; for the pixel
    level also the principal axes (C, C) of its colours and the quantiles
    (C, Q) of the colours along them, for matching the histograms too.
    Shapes are checked on construction (ValueError), since a level may come
    from a file."""

    mean: np.ndarray
    colouring: np.ndarray
    axes: np.ndarray | None = None
    quantiles: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name, value in self.arrays().items():
            try:
                setattr(self, name, np.ascontiguousarray(value, dtype=_F32))
            except (TypeError, ValueError) as error:
                raise ValueError(f"{name}: not an array of numbers ({error})") from None
        channels = self.colouring.shape[0] if self.colouring.ndim == 2 else -1
        if self.colouring.shape != (channels, channels) or channels < 1:
            raise ValueError(f"colouring: expected a square matrix, got shape {self.colouring.shape}")
        if self.mean.shape != (channels, 1):
            raise ValueError(f"mean: expected shape ({channels}, 1), got {self.mean.shape}")
        if (self.axes is None) != (self.quantiles is None):
            raise ValueError("axes and quantiles come together or not at all")
        if self.axes is not None:
            if self.axes.shape != (channels, channels):
                raise ValueError(f"axes: expected shape ({channels}, {channels}), got {self.axes.shape}")
            if self.quantiles.ndim != 2 or self.quantiles.shape[0] != channels or self.quantiles.shape[1] < 2:
                raise ValueError(f"quantiles: expected shape ({channels}, Q >= 2), got {self.quantiles.shape}")

    def arrays(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


_LEVEL_FIELDS = tuple(f.name for f in fields(LevelStatistics))


@dataclass
class StyleStatistics:
    """A style's levels by tap, coarse to fine (the order paint runs them)."""

    levels: dict[str, LevelStatistics] = field(default_factory=dict)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """A flat dict ``{"tap/field": array}`` for ``np.savez``; levels in
        order (a .npz keeps the order its arrays were written in)."""
        return {f"{tap}/{name}": value for tap, level in self.levels.items() for name, value in level.arrays().items()}

    @classmethod
    def from_arrays(cls, values: Mapping[str, np.ndarray]) -> "StyleStatistics":
        """The inverse of :meth:`to_arrays` (also takes an ``np.load``
        result); ValueError for anything that is not a complete, finite set
        of levels."""
        grouped: dict[str, dict[str, np.ndarray]] = {}
        for key in values:
            tap, slash, name = str(key).rpartition("/")
            if not slash or not tap:
                raise ValueError(f"style statistics: key {key!r} is not 'tap/field'")
            if name not in _LEVEL_FIELDS:
                raise ValueError(f"style statistics: unknown field {name!r} in {key!r}")
            value = np.asarray(values[key])
            if value.dtype.kind not in "fiu" or not np.isfinite(value).all():
                raise ValueError(f"style statistics: {key!r} is not an array of finite numbers")
            grouped.setdefault(tap, {})[name] = value
        if not grouped:
            raise ValueError("style statistics: no levels")
        levels = {}
        for tap, arrays in grouped.items():
            missing = [name for name in ("mean", "colouring") if name not in arrays]
            if missing:
                raise ValueError(f"style statistics: level {tap!r} lacks {', '.join(missing)}")
            try:
                levels[tap] = LevelStatistics(**arrays)
            except ValueError as error:
                raise ValueError(f"style statistics: level {tap!r}: {error}") from None
        return cls(levels)


def _covariance(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(C, N) features to their mean (C, 1) and ridged covariance (C, C).
    The products run in float32 (centred first, they lose nothing that
    matters); both come back in float64 for the eigensolver."""
    f = np.asarray(features, dtype=_F32)
    mean = f.mean(axis=1, keepdims=True, dtype=_F32)
    centred = f - mean
    if len(f) <= 4:
        # a few long rows (the pixel level): OpenBLAS's syrk is ten times slower there than one dot per pair
        products = np.empty((len(f), len(f)), _F32)
        for i in range(len(f)):
            for j in range(i + 1):
                products[i, j] = products[j, i] = np.dot(centred[i], centred[j])
    else:
        products = centred @ centred.T
    cov = products.astype(np.float64) / max(1, f.shape[1] - 1)
    ridge = COVARIANCE_RIDGE * max(float(np.diagonal(cov).mean()), 1e-8)
    cov[np.diag_indices_from(cov)] += ridge
    return mean.astype(np.float64), cov


def _matrix_power(cov: np.ndarray, power: float) -> np.ndarray:
    """A symmetric positive matrix to a power, through its eigenvectors (float64)."""
    values, vectors = np.linalg.eigh(cov)
    return (vectors * np.maximum(values, 1e-12) ** power) @ vectors.T


def level_statistics(features: np.ndarray) -> LevelStatistics:
    """The style side of one level from (1, C, H, W) features."""
    mean, cov = _covariance(features[0].reshape(features.shape[1], -1))
    return LevelStatistics(mean.astype(_F32), _matrix_power(cov, 0.5).astype(_F32))


def palette_statistics(pixels: np.ndarray) -> LevelStatistics:
    """The pixel level from (1, 3, H, W) colours in [0, 1]: the transform's
    statistics, plus the quantiles of the colours along their principal axes."""
    flat = np.asarray(pixels[0], dtype=_F32).reshape(pixels.shape[1], -1)
    level = level_statistics(pixels)
    _, axes = np.linalg.eigh(level.colouring.astype(np.float64))
    axes = axes.astype(_F32)
    projected = axes.T @ (flat - level.mean)
    points = np.linspace(0.0, 1.0, PALETTE_QUANTILES, dtype=_F32)
    quantiles = np.quantile(projected, points, axis=1).T
    return LevelStatistics(level.mean, level.colouring, axes, quantiles)


def _interpolate(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """numpy.interp in float32 (``xp`` increasing; flat stretches kept apart by a hair)."""
    xp = xp + np.arange(len(xp), dtype=_F32) * _F32(1e-6)
    index = np.clip(np.searchsorted(xp, x), 1, len(xp) - 1)
    left, right = xp[index - 1], xp[index]
    weight = np.clip((x - left) / (right - left), 0, 1)
    return fp[index - 1] + weight * (fp[index] - fp[index - 1])


def match_palette_histograms(pixels: np.ndarray, style: LevelStatistics) -> np.ndarray:
    """(N, 3, H, W) colours in [0, 1], already given the style's mean and
    covariance, with their distribution along each of the style's principal
    axes mapped onto the style's (piecewise linear through each frame's own
    quantiles): flat, separate colours of a painting stay separate instead
    of blending into one Gaussian cloud. The mapping is sampled into a
    table per axis, so each pixel costs a lookup, not a search."""
    if style.axes is None or style.quantiles is None:
        raise ValueError("match_palette_histograms needs a pixel level (with axes and quantiles)")
    out = np.empty(pixels.shape, _F32)
    axes, mean, quantiles = style.axes, style.mean, style.quantiles
    channels, count = quantiles.shape
    unit = np.linspace(0.0, 1.0, PALETTE_TABLE, dtype=_F32)
    for i, item in enumerate(pixels):
        flat = np.asarray(item, dtype=_F32).reshape(channels, -1)
        projected = axes.T @ (flat - mean)
        sample = projected[:, :: max(1, projected.shape[1] // _PALETTE_SAMPLE)]  # a frame's quantiles need no more
        ordered = np.sort(sample, axis=1)
        picks = np.rint(np.linspace(0, ordered.shape[1] - 1, count)).astype(np.intp)
        ours = ordered[:, picks]  # (C, count)
        low, high = ours[:, :1], ours[:, -1:]
        span = np.maximum(high - low, _F32(1e-6))
        grid = low + span * unit  # (C, T)
        for a in range(channels):
            table = _interpolate(grid[a], ours[a], quantiles[a])
            _lookup(projected[a], low[a, 0], span[a, 0], table)
        np.matmul(axes, projected, out=out[i].reshape(channels, -1))
        out[i] += mean.reshape(channels, 1, 1)
    return out


# Values per step of the table lookup: its buffers stay in the cache, and
# no full-size temporary is made (a frame's worth costs as much in page
# faults as in arithmetic).
_LOOKUP_CHUNK = 32768


def _lookup(values: np.ndarray, low: np.float32, span: np.float32, table: np.ndarray) -> None:
    """``values`` (1-D, contiguous) replaced in place by ``table`` read
    linearly between its points, ``table`` spanning ``low`` to ``low + span``."""
    last = len(table) - 1
    step = np.zeros_like(table)
    step[:-1] = table[1:] - table[:-1]
    below = np.empty(min(len(values), _LOOKUP_CHUNK), _F32)
    index = np.empty(len(below), np.intp)
    slope = np.empty(len(below), _F32)
    for start in range(0, len(values), _LOOKUP_CHUNK):
        position = values[start : start + _LOOKUP_CHUNK]
        n = len(position)
        b, k, s = below[:n], index[:n], slope[:n]
        position -= low
        position /= span
        position *= _F32(last)
        np.clip(position, 0, last, out=position)
        np.floor(position, out=b)
        np.minimum(b, last - 1, out=b)
        np.copyto(k, b, casting="unsafe")
        position -= b  # now the weight of the point above
        np.take(step, k, out=s, mode="clip")
        s *= position
        np.take(table, k, out=position, mode="clip")
        position += s


def whiten_and_colour(
    features: np.ndarray, style: LevelStatistics, alpha: float, value_range: tuple[float, float] = FEATURE_RANGE
) -> np.ndarray:
    """Each (C, H, W) item of a batch with its own covariance replaced by the
    style's, blended with the original features by ``alpha``: one affine map
    per item, ``alpha * (colour @ whiten) + (1 - alpha) * I``. Float32 out."""
    out = np.empty(features.shape, _F32)
    channels = features.shape[1]
    eye = np.eye(channels)
    colouring, style_mean = style.colouring.astype(np.float64), style.mean.astype(np.float64)
    for i, item in enumerate(features):
        flat = np.asarray(item, dtype=_F32).reshape(channels, -1)
        mean, cov = _covariance(flat)
        transform = colouring @ _matrix_power(cov, -0.5)
        shift = style_mean - transform @ mean
        transform, shift = alpha * transform + (1.0 - alpha) * eye, alpha * shift
        target = out[i].reshape(channels, -1)
        np.matmul(transform.astype(_F32), flat, out=target)
        target += shift.astype(_F32)
    return np.clip(out, *value_range, out=out)


Pass = Callable[[str, np.ndarray], np.ndarray]


def paint(
    x: np.ndarray,
    style: StyleStatistics,
    encode: Pass,
    decode: Pass,
    alpha: float = 1.0,
    palette_histograms: bool = True,
) -> np.ndarray:
    """(N, 3, H, W) frames in [0, 255] to the same, stylized, level by level
    (in the order of ``style.levels``) with the style's fixed statistics.
    ``encode(tap, image)`` gives a tap's features of a padded image and
    ``decode(tap, features)`` the image back (any runner of the exported
    graphs); ``alpha`` is how far each level moves to the style (1: all the
    way); ``palette_histograms``: whether the pixel level matches the
    colours' histograms or only their covariance."""
    height, width = x.shape[-2:]
    pad_h, pad_w = -height % PAD_MULTIPLE, -width % PAD_MULTIPLE
    y = np.asarray(x, dtype=_F32)
    if pad_h or pad_w:
        # reflect needs the padding shorter than the frame; tiny frames repeat their edge
        mode = "reflect" if pad_h < height and pad_w < width else "edge"
        y = np.pad(y, ((0, 0), (0, 0), (0, pad_h), (0, pad_w)), mode=mode)
    for tap, level in style.levels.items():
        if tap == PIXEL_LEVEL:
            y = y / _F32(255.0)
            coloured = whiten_and_colour(y, level, 1.0, (-1.0, 2.0))
            if palette_histograms:
                coloured = match_palette_histograms(coloured, level)
            if alpha != 1.0:
                coloured *= _F32(alpha)
                coloured += _F32(1.0 - alpha) * y
            np.clip(coloured, 0.0, 1.0, out=coloured)
            coloured *= _F32(255.0)
            y = coloured
        else:
            y = np.asarray(decode(tap, whiten_and_colour(encode(tap, y), level, alpha)), dtype=_F32)
    return np.ascontiguousarray(y[..., :height, :width]).astype(x.dtype, copy=False)


def style_statistics(features_by_tap: Mapping[str, np.ndarray], image: np.ndarray, taps: list[str]) -> StyleStatistics:
    """Statistics of a (1, 3, H, W) style image in [0, 255] at each tap, from
    the encoder's (1, C, h, w) features of that image at every tap but
    PIXEL_LEVEL (computed by the caller's encoder pass)."""
    missing = [tap for tap in taps if tap != PIXEL_LEVEL and tap not in features_by_tap]
    if missing:
        raise ValueError(f"no features given for {', '.join(missing)}")
    levels = {}
    for tap in taps:
        if tap == PIXEL_LEVEL:
            levels[tap] = palette_statistics(np.asarray(image, dtype=_F32) / _F32(255.0))
        else:
            levels[tap] = level_statistics(np.asarray(features_by_tap[tap], dtype=_F32))
    return StyleStatistics(levels)
