"""Content images for training: folders of photos and frames of videos,
served as random multi-scale crops with flips."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .errors import VidstyleError
from .images import IMAGE_EXTENSIONS, read_image, resize_long_side

VIDEO_EXTENSIONS = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".ts"}


def find_content_files(sources: Iterable[str | Path]) -> tuple[list[Path], list[Path]]:
    """Split sources (files or folders, searched recursively) into images and videos."""
    images: list[Path] = []
    videos: list[Path] = []
    for source in map(Path, sources):
        if not source.exists():
            raise VidstyleError(f"no such content file or folder: {source}")
        files = sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else [source]
        for f in files:
            suffix = f.suffix.lower()
            if suffix in IMAGE_EXTENSIONS:
                images.append(f)
            elif suffix in VIDEO_EXTENSIONS:
                videos.append(f)
            elif not source.is_dir():
                raise VidstyleError(f"content is neither an image nor a video: {f}")
    return images, videos


def sample_video_frames(path: Path, count: int) -> list[np.ndarray]:
    """About ``count`` frames spread evenly over a video."""
    from .video_io import VideoReader  # PyAV only when videos are used

    with VideoReader(path) as reader:
        total = reader.info.frame_count or count
        step = max(1, total // count)
        return [frame.rgb for frame in reader if frame.index % step == 0][:count]


class ContentCrops:
    """Random crops of the content set, resized to a square of ``size``.

    Images are decoded once, downscaled to ``max_side`` and kept on the
    training device; a crop covers ``scale`` (a random fraction in
    [min_scale, 1]) of the short side, so large photos give many distinct
    views at several scales. Cropping uses its own generator, so training
    resumes exactly.
    """

    def __init__(
        self,
        sources: Sequence[str | Path],
        size: int,
        device: torch.device | str = "cpu",
        max_side: int = 640,
        min_scale: float = 0.4,
        frames_per_video: int = 24,
        seed: int = 0,
    ):
        image_files, video_files = find_content_files(sources)
        arrays = [read_image(p) for p in image_files]
        for video in video_files:
            arrays.extend(sample_video_frames(video, frames_per_video))
        if not arrays:
            raise VidstyleError("the content sources hold no images or videos: " + ", ".join(map(str, sources)))
        self.images = [
            torch.from_numpy(np.ascontiguousarray(resize_long_side(a, max_side))).permute(2, 0, 1).to(device)
            for a in arrays
        ]
        self.size = size
        self.min_scale = min_scale
        self.device = device
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.images)

    def _uniform(self) -> float:
        return float(torch.rand((), generator=self.generator))

    def crop(self) -> torch.Tensor:
        image = self.images[int(torch.randint(len(self.images), (), generator=self.generator))]
        h, w = image.shape[-2:]
        side = max(8, round(min(h, w) * (self.min_scale + (1 - self.min_scale) * self._uniform())))
        top = int(self._uniform() * (h - side + 1))
        left = int(self._uniform() * (w - side + 1))
        patch = image[:, top : top + side, left : left + side][None].float()
        patch = F.interpolate(patch, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False)
        if self._uniform() < 0.5:
            patch = patch.flip(-1)
        return patch[0]

    def batch(self, batch_size: int) -> torch.Tensor:
        return torch.stack([self.crop() for _ in range(batch_size)]).clamp_(0, 255)
