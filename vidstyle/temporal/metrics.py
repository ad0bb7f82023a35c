"""Measuring stylized video and images: flicker (warping error), style
strength, how close the palette comes to the painting's, and bands along
the frame's edges."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from ..errors import VidstyleError
from ..media.images import read_image, resize_long_side, to_tensor
from ..media.reader import VideoReader
from ..models.losses import LossConfig, PerceptualLoss, load_loss_network, load_style_image_tensor
from .consistency import TemporalOptions, warping_error

# The metric's own flow: full resolution and the careful preset, independent
# of whatever the stabiliser under test uses.
METRIC_FLOW = TemporalOptions(preset="medium", flow_size=100_000)


@dataclass
class VideoScores:
    frames: int
    warping_error: float  # Lai et al. 2018; lower is steadier
    change_from_input: float  # mean absolute difference, 0-255 scale
    style_loss: float | None  # Gram loss against the style image, on sampled frames

    def to_dict(self) -> dict:
        return asdict(self)


def read_frames(path: str | Path, limit: int | None) -> list[np.ndarray]:
    frames = []
    with VideoReader(path) as reader:
        for frame in reader:
            frames.append(frame.rgb)
            if limit and len(frames) >= limit:
                break
    return frames


def colour_histogram(rgb: np.ndarray, bins: int = 8) -> np.ndarray:
    """Normalised joint RGB histogram with ``bins`` levels per channel."""
    levels = (rgb.reshape(-1, 3).astype(np.int64) * bins) // 256
    index = (levels[:, 0] * bins + levels[:, 1]) * bins + levels[:, 2]
    counts = np.bincount(index, minlength=bins**3).astype(np.float64)
    return counts / counts.sum()


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler and Suesstrunk's colourfulness (2003): the spread and mean of
    the red-green and yellow-blue opponent channels, 0-255 scale; about 33
    for Udnie, 92 for Candy."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    red_green, yellow_blue = r - g, 0.5 * (r + g) - b
    return float(np.hypot(red_green.std(), yellow_blue.std()) + 0.3 * np.hypot(red_green.mean(), yellow_blue.mean()))


def palette_distance(image: np.ndarray, painting: np.ndarray, bins: int = 8) -> float:
    """Total-variation distance between the colour histograms, 0 (the same
    colours in the same proportions) to 1 (no colour in common)."""
    return 0.5 * float(np.abs(colour_histogram(image, bins) - colour_histogram(painting, bins)).sum())


def border_excess(output: np.ndarray, photo: np.ndarray, edge: int = 4, inside: tuple[int, int] = (8, 24)) -> float:
    """The strongest band along a side of ``output`` that ``photo`` (the
    same size) does not have: per side, the mean luminance of the outer
    ``edge`` pixels minus that of the strip ``inside`` pixels in, compared
    with the same for the photo; the largest absolute difference over the
    four sides, in 0-255 levels. A painted frame has no reason to darken or
    brighten at its edges."""
    if output.shape != photo.shape:
        raise ValueError(f"output {output.shape} and photo {photo.shape} differ in size")

    def side_contrasts(rgb: np.ndarray) -> np.ndarray:
        lum = rgb.astype(np.float64).mean(axis=2)
        near, far = inside
        sides = (lum, lum[::-1], lum.T, lum.T[::-1])  # top, bottom, left, right
        return np.array([side[:edge].mean() - side[near:far].mean() for side in sides])

    return float(np.abs(side_contrasts(output) - side_contrasts(photo)).max())


def content_kept(output: np.ndarray, photo: np.ndarray, blur: float = 2.0) -> float:
    """How much of the photo's structure a painted frame keeps: the Pearson
    correlation of their edge maps (Sobel gradient magnitude of the gray
    image, blurred by ``blur`` px so that an edge moved by a stroke still
    counts), -1 to 1. A subject lost under strokes as large as itself
    scores near 0; a plain photo 1."""
    if output.shape[:2] != photo.shape[:2]:
        raise ValueError(f"output {output.shape} and photo {photo.shape} differ in size")

    def edges(rgb: np.ndarray) -> np.ndarray:
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
        magnitude = cv2.magnitude(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))
        return cv2.GaussianBlur(magnitude, (0, 0), blur).ravel()

    return float(np.corrcoef(edges(output), edges(photo))[0, 1])


def stroke_contrast(rgb: np.ndarray) -> float:
    """The contrast of strokes 1-2 px wide: the standard deviation of the
    gray image's band between Gaussians of 1 and 2 px. Against the same
    frame painted on its own it shows whether the stabiliser draws strokes
    harder (above 1) or softer than the network did."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float((cv2.GaussianBlur(gray, (0, 0), 1.0) - cv2.GaussianBlur(gray, (0, 0), 2.0)).std())


def style_loss_of_frames(frames: list[np.ndarray], style_image: str | Path, samples: int = 8, size: int = 384) -> float:
    network = load_loss_network()
    style = load_style_image_tensor(to_tensor(read_image(style_image)), size)
    loss = PerceptualLoss(network, style, LossConfig())
    picks = np.linspace(0, len(frames) - 1, min(samples, len(frames))).round().astype(int)
    values = []
    with torch.no_grad():
        for i in picks:
            x = to_tensor(resize_long_side(frames[i], size))[None]
            values.append(loss.style_loss(loss.features(x)).item())
    return float(np.mean(values))


def evaluate_video(
    input: str | Path, stylized: str | Path, style_image: str | Path | None = None, max_frames: int | None = None
) -> VideoScores:
    """Compare a stylized video with its input, frame by frame in order."""
    inputs = read_frames(input, max_frames)
    outputs = read_frames(stylized, max_frames)
    if len(inputs) != len(outputs):
        raise VidstyleError(f"frame counts differ: {len(inputs)} in {input}, {len(outputs)} in {stylized}")
    if inputs[0].shape != outputs[0].shape:
        raise VidstyleError(f"frame sizes differ: {inputs[0].shape[:2]} and {outputs[0].shape[:2]}")
    change = float(np.mean([np.abs(o.astype(np.int16) - i).mean() for i, o in zip(inputs, outputs)]))
    return VideoScores(
        frames=len(inputs),
        warping_error=warping_error(inputs, outputs, METRIC_FLOW),
        change_from_input=change,
        style_loss=style_loss_of_frames(outputs, style_image) if style_image else None,
    )
