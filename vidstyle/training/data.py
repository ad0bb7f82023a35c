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
