"""Content images for training: folders of photos and frames of videos,
served as random multi-scale crops with flips."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import VidstyleError
from ..media.images import IMAGE_EXTENSIONS, read_image, resize_long_side

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
    from ..media.reader import VideoReader  # PyAV only when videos are used

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

    With ``small_objects`` (a probability), a crop gets one to three small
    objects pasted on it: soft-edged ellipses cut from other content
    images, ``object_sizes`` pixels across. Photos rarely hold a small
    subject on a plain background (a kite in the sky, a bird over water);
    with these a network learns to keep such subjects instead of painting
    over them.
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
        small_objects: float = 0.0,
        object_sizes: tuple[int, int] = (12, 48),
    ):
        if not 0 <= small_objects <= 1:  # TrainConfig.validate says so first, as an option error
            raise ValueError(f"small_objects must be a probability, got {small_objects}")
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
        self.small_objects = small_objects
        self.object_sizes = object_sizes
        self.device = device
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.images)

    def _uniform(self) -> float:
        return float(torch.rand((), generator=self.generator))

    def crop(self) -> torch.Tensor:
        return self._crop_with_objects()[0]

    def _crop_with_objects(self) -> tuple[torch.Tensor, torch.Tensor]:
        """A crop (3, S, S) and the pasted objects' coverage (1, S, S)."""
        image = self.images[int(torch.randint(len(self.images), (), generator=self.generator))]
        h, w = image.shape[-2:]
        side = max(8, round(min(h, w) * (self.min_scale + (1 - self.min_scale) * self._uniform())))
        top = int(self._uniform() * (h - side + 1))
        left = int(self._uniform() * (w - side + 1))
        patch = image[:, top : top + side, left : left + side][None].float()
        patch = F.interpolate(patch, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False)
        if self._uniform() < 0.5:
            patch = patch.flip(-1)
        coverage = torch.zeros_like(patch[0, :1])
        if self.small_objects and self._uniform() < self.small_objects:
            for _ in range(1 + int(self._uniform() * 3)):
                self._paste_object(patch, coverage)
        return patch[0], coverage

    def _paste_object(self, patch: torch.Tensor, coverage: torch.Tensor) -> None:
        """Blend a soft ellipse cut from a random image into ``patch`` (1, 3,
        S, S) and mark it in ``coverage`` (1, S, S), in place."""
        low, high = self.object_sizes
        width = round(low + (high - low) * self._uniform())
        height = max(4, round(width * (0.5 + self._uniform())))
        width = max(4, min(width, self.size))
        height = min(height, self.size)
        source = self.images[int(torch.randint(len(self.images), (), generator=self.generator))]
        h, w = source.shape[-2:]
        # the object is cut at 2-6x its pasted size: a whole thing, shrunk
        cut = max(8, min(h, w, round(max(width, height) * (2 + 4 * self._uniform()))))
        top, left = int(self._uniform() * (h - cut + 1)), int(self._uniform() * (w - cut + 1))
        piece = source[:, top : top + cut, left : left + cut][None].float()
        piece = F.interpolate(piece, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
        ys = (torch.arange(height, device=piece.device) + 0.5) / height * 2 - 1
        xs = (torch.arange(width, device=piece.device) + 0.5) / width * 2 - 1
        radius = (ys[:, None] ** 2 + xs[None, :] ** 2).sqrt()
        edge = 2.0 / min(width, height)  # about one pixel of soft edge on either side
        alpha = ((1 - radius) / edge + 0.5).clamp(0, 1)
        y = int(self._uniform() * (self.size - height + 1))
        x = int(self._uniform() * (self.size - width + 1))
        region = patch[0, :, y : y + height, x : x + width]
        region.mul_(1 - alpha).add_(piece[0] * alpha)
        covered = coverage[:, y : y + height, x : x + width]
        torch.maximum(covered, alpha[None], out=covered)

    def batch(self, batch_size: int) -> torch.Tensor:
        return self.batch_with_objects(batch_size)[0]

    def batch_with_objects(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Crops (N, 3, S, S) and their pasted objects' coverage (N, 1, S, S)."""
        crops, coverage = zip(*(self._crop_with_objects() for _ in range(batch_size)))
        return torch.stack(crops).clamp_(0, 255), torch.stack(coverage)


class FramePairs:
    """Consecutive frames of the content videos, with the optical flow
    between them and its reliable pixels: real motion for the temporal loss
    (output t+1 should be output t moved along the flow of the inputs).

    Flow is computed once, here, with the same DIS estimator and
    forward-backward check the stabiliser uses, on frames downscaled to
    ``max_side``; crops keep that scale, so the flow needs no rescaling.
    """

    def __init__(
        self,
        video_files: Sequence[Path],
        size: int,
        device: torch.device | str = "cpu",
        max_side: int = 360,
        pairs_per_video: int = 48,
        seed: int = 0,
    ):
        from ..media.reader import VideoReader
        from ..temporal.consistency import FlowEstimator, TemporalOptions

        estimator = FlowEstimator(TemporalOptions(flow_size=max_side))
        self.previous: list[torch.Tensor] = []
        self.current: list[torch.Tensor] = []
        self.flows: list[torch.Tensor] = []
        self.reliable: list[torch.Tensor] = []
        for video in video_files:
            with VideoReader(video) as reader:
                total = reader.info.frame_count or pairs_per_video
                step = max(1, total // pairs_per_video)
                last = None
                for frame in reader:
                    rgb = resize_long_side(frame.rgb, max_side)
                    if last is not None and frame.index % step == 0 and min(rgb.shape[:2]) >= size:
                        self._add(estimator, last, rgb, device)
                    last = rgb
        self.size = size
        self.generator = torch.Generator().manual_seed(seed)

    def _add(self, estimator, previous: np.ndarray, current: np.ndarray, device) -> None:
        backward, unreliable = estimator.flow_with_occlusions(estimator.gray(current), estimator.gray(previous))
        to_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1).to(device)  # noqa: E731
        self.previous.append(to_tensor(previous))
        self.current.append(to_tensor(current))
        self.flows.append(to_tensor(backward.astype(np.float32)))
        self.reliable.append(torch.from_numpy(~unreliable)[None].to(device))

    def __len__(self) -> int:
        return len(self.flows)

    def batch(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Crops of (frame t-1, frame t, flow t -> t-1, reliable mask), with
        random flips; pixels whose flow leaves the crop are not reliable."""
        picks = [self._crop() for _ in range(batch_size)]
        return tuple(torch.stack(parts) for parts in zip(*picks))  # type: ignore[return-value]

    def _crop(self):
        index = int(torch.randint(len(self), (), generator=self.generator))
        flow = self.flows[index]
        h, w = flow.shape[-2:]
        top = int(torch.randint(h - self.size + 1, (), generator=self.generator))
        left = int(torch.randint(w - self.size + 1, (), generator=self.generator))
        window = (..., slice(top, top + self.size), slice(left, left + self.size))
        previous, current = self.previous[index][window].float(), self.current[index][window].float()
        flow, reliable = flow[window].clone(), self.reliable[index][window].clone()
        ys, xs = torch.meshgrid(torch.arange(self.size), torch.arange(self.size), indexing="ij")
        lands_x, lands_y = xs.to(flow) + flow[0], ys.to(flow) + flow[1]
        reliable &= (lands_x >= 0) & (lands_x <= self.size - 1) & (lands_y >= 0) & (lands_y <= self.size - 1)
        if float(torch.rand((), generator=self.generator)) < 0.5:
            previous, current, flow, reliable = (t.flip(-1) for t in (previous, current, flow, reliable))
            flow[0] = -flow[0]
        return previous, current, flow, reliable.float()
