"""Johnson et al. (2016) training: a transformer network learns one style
from random crops of content images with perceptual losses."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
from tqdm import tqdm

from ..config import build, merge, read_toml
from ..errors import OptionError, StyleError, VidstyleError
from ..media.images import read_image, resize_long_side, to_array, to_tensor, write_image
from ..models import TransformerConfig, TransformerNet
from ..models.losses import LossConfig, PerceptualLoss, colour_spread_gap, detail_energy_gap, load_loss_network, load_style_image_tensor
from ..stylize.checkpoints import StyleCheckpoint, load_checkpoint, save_checkpoint
from ..stylize.devices import resolve_device
from ..stylize.styles import load_style, user_style_dir
from ..temporal.losses import pair_temporal_loss, random_smooth_flow, temporal_loss
from .data import ContentCrops, FramePairs, find_content_files
from .transplant import transplant

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    name: str = ""  # default: from the style image's file name
    style_image: str = ""
    style_credit: str = ""  # the work and its author, for the model card
    style_license: str = ""
    content: list[str] = field(default_factory=list)
    output: str | None = None  # default: NAME.pth in the working folder
    # Defaults are the recipe the bundled styles were trained with (see
    # configs/train/): half-width network, 128 px crops, covariance Gram loss.
    steps: int = 20000
    image_size: int = 128
    batch_size: int = 4
    learning_rate: float = 1e-3
    # long side of the style image when its statistics are taken; None keeps its size
    style_size: int | None = 384
    min_crop_scale: float = 0.4
    # probability that a crop gets small objects pasted on it (see ContentCrops)
    small_objects: float = 0.0
    architecture: TransformerConfig = field(
        default_factory=lambda: TransformerConfig(base_channels=16, residual_blocks=5, output="residual")
    )
    loss: LossConfig = field(default_factory=LossConfig)
    checkpoint_every: int = 500
    preview_every: int = 1000
    preview_images: list[str] = field(default_factory=list)
    preview_size: int = 384
    seed: int = 0
    device: str = "auto"
    max_minutes: float | None = None  # checkpoint and stop after this much wall time
    # weight of the output-level temporal losses (0: off): on crops moved by
    # random smooth flows, and on consecutive frames of the content videos
    temporal_weight: float = 0.0
    temporal_max_shift: float = 4.0  # pixels, at training crop size
    # Distillation: learn to reproduce this style network (a name or a
    # checkpoint) instead of learning from a style image. Much cheaper per step
    # (no loss network), which is how the small real-time networks are made.
    teacher: str = ""
    # weight of the colour term when distilling (0: off): the student's
    # per-image colour mean and spread against the teacher's (colour_spread_gap)
    teacher_colour_weight: float = 0.0
    # weight of the detail term when distilling (0: off): the student's
    # fine-detail strength, patch by patch, against the teacher's
    # (detail_energy_gap)
    teacher_detail_weight: float = 0.0
    # Start from this network's weights (a style name, or a checkpoint; its
    # architecture must match) with a fresh optimiser, instead of at random:
    # a refit after a recipe change costs far fewer steps than a new network.
    init_weights: str = ""

    def validate(self) -> None:
        if not self.style_image and not self.teacher:
            raise OptionError("a style image (or a teacher network to distil) is required")
        if not self.content:
            raise OptionError("at least one content folder or video is required (--content)")
        for name in ("steps", "image_size", "batch_size", "checkpoint_every", "preview_every"):
            if getattr(self, name) <= 0:
                raise OptionError(f"{name.replace('_', '-')} must be positive, got {getattr(self, name)}")
        if self.image_size < 16:
            raise OptionError("image-size must be at least 16")
        if self.learning_rate <= 0:
            raise OptionError("learning rate must be positive")
        for name in ("style_weight", "content_weight", "tv_weight"):
            if getattr(self.loss, name) < 0:
                raise OptionError(f"{name.replace('_', '-')} must not be negative")
        if self.temporal_weight < 0:
            raise OptionError("temporal-weight must not be negative")
        for name in ("teacher_colour_weight", "teacher_detail_weight"):
            if getattr(self, name) < 0:
                raise OptionError(f"{name.replace('_', '-')} must not be negative")
            if getattr(self, name) and not self.teacher:
                raise OptionError(f"{name.replace('_', '-')} applies to distillation: give a teacher network too")
        try:  # the same checks as a checkpoint's: a config's output = "imag" must not train something else
            TransformerConfig.from_dict(self.architecture.to_dict())
        except ValueError as exc:
            raise OptionError(str(exc)) from None
        if not 0 <= self.small_objects <= 1:
            raise OptionError(f"small-objects must be a probability between 0 and 1, got {self.small_objects}")

    @classmethod
    def load(cls, config: str | Path | None = None, **overrides) -> "TrainConfig":
        """Defaults, then a TOML file, then overrides that are not None.
        ``style_weight``, ``content_weight`` and ``tv_weight`` go to the loss."""
        values = read_toml(config) if config else {}
        base = build(cls, values, where=str(config or "config"))
        loss_overrides = {k: overrides.pop(k) for k in ("style_weight", "content_weight", "tv_weight") if k in overrides}
        base = merge(base, **overrides)
        base.loss = merge(base.loss, **loss_overrides)
        if not base.name:
            if base.style_image:
                base.name = Path(base.style_image).stem.replace("_", "-")
            else:
                base.name = f"{Path(base.teacher).stem}-student" if base.teacher else "style"
        return base

    @property
    def output_path(self) -> Path:
        """``output``, or NAME.pth in the user's style folder, where
        ``--style NAME`` finds it."""
        return Path(self.output) if self.output else user_style_dir() / f"{self.name}.pth"


@dataclass
class TrainResult:
    path: Path
    step: int
    losses: dict[str, float]
    seconds: float


class Trainer:
    def __init__(self, config: TrainConfig, resume: str | Path | None = None):
        config.validate()
        self.config = config
        self.device = resolve_device(config.device)
        self.teacher: TransformerNet | None = None
        self.loss: PerceptualLoss | None = None
        if config.teacher:
            teacher = load_style(config.teacher)
            self.teacher_metadata = teacher.metadata
            self.teacher = teacher.build_model().to(self.device).eval().requires_grad_(False)
        else:
            style = to_tensor(read_image(config.style_image)).to(self.device)
            network = load_loss_network(self.device)
            self.loss = PerceptualLoss(network, load_style_image_tensor(style, config.style_size), config.loss)
        self.crops = ContentCrops(
            config.content,
            config.image_size,
            self.device,
            min_scale=config.min_crop_scale,
            seed=config.seed,
            small_objects=config.small_objects,
        )
        self.pairs: FramePairs | None = None
        if config.temporal_weight:
            videos = find_content_files(config.content)[1]
            pairs = FramePairs(videos, config.image_size, self.device, seed=config.seed) if videos else None
            self.pairs = pairs if pairs else None  # a video too small for a crop gives no pairs
        # draws the random views of the loss (see losses.random_view)
        self.views = torch.Generator().manual_seed(config.seed + 1)
        # seeded here, after the loss network (whose first, uncached load draws
        # from the global generator), so that a config always starts the same
        torch.manual_seed(config.seed)
        self.model = TransformerNet(config.architecture).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.learning_rate)
        self.step = 0
        self.seconds = 0.0
        self.smoothed: dict[str, float] = {}
        self.previews = [resize_long_side(read_image(p), config.preview_size) for p in config.preview_images]
        if resume:
            self._resume(resume)
        elif config.init_weights:
            self._initialise(config.init_weights)

    # -- state ------------------------------------------------------------
    def _resume(self, path: str | Path) -> None:
        checkpoint = load_checkpoint(path)
        if checkpoint.training is None:
            raise VidstyleError(f"{path} holds no training state to resume from")
        if checkpoint.architecture != self.config.architecture:
            raise VidstyleError(f"{path} was trained with another architecture: {checkpoint.architecture}")
        self.model.load_state_dict({k: v.float() for k, v in checkpoint.state_dict.items()})
        state = checkpoint.training
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        self.seconds = float(state["seconds"])
        self.smoothed = dict(state.get("smoothed", {}))
        self.crops.generator.set_state(state["crop_rng"])
        if "view_rng" in state:
            self.views.set_state(state["view_rng"])
        if self.pairs is not None and "pair_rng" in state:
            self.pairs.generator.set_state(state["pair_rng"])
        torch.set_rng_state(state["torch_rng"])

    def _start_network(self, spec: str) -> StyleCheckpoint:
        """``spec``'s network of this training's shape (a style name has up to
        three), else its full one to transplant from."""
        for model in ("full", "balanced", "fast"):
            try:
                candidate = load_style(spec, model)
            except StyleError:
                continue
            if candidate.architecture == self.config.architecture:
                return candidate
        return load_style(spec, "full")

    def _initialise(self, spec: str) -> None:
        """Start from a trained network's weights: the same shape loads as it
        is; another shape (a smaller student of a full network) takes what
        transplant() can carry over."""
        start = self._start_network(spec)
        if start.architecture == self.config.architecture:
            self.model.load_state_dict({k: v.float() for k, v in start.state_dict.items()})
            return
        left = transplant(start.build_model(), self.model)
        if len(left) > len(self.model.state_dict()) // 2:
            raise VidstyleError(f"{spec} shares too little with this architecture to start from: {start.architecture}")
        log.info("started from %s (%s), transplanted; new: %s", spec, start.architecture, ", ".join(left) or "nothing")

    def checkpoint(self, final: bool = False) -> StyleCheckpoint:
        training = None
        if not final:
            training = {
                "optimizer": self.optimizer.state_dict(),
                "step": self.step,
                "seconds": self.seconds,
                "smoothed": self.smoothed,
                "crop_rng": self.crops.generator.get_state(),
                "view_rng": self.views.get_state(),
                "torch_rng": torch.get_rng_state(),
            }
            if self.pairs is not None:
                training["pair_rng"] = self.pairs.generator.get_state()
        config = asdict(self.config)
        metadata = {
            "style_image": self._style_image_name(),
            "steps": self.step,
            "wall_seconds": round(self.seconds, 1),
            "device": str(self.device),
            "losses": {k: round(v, 5) for k, v in self.smoothed.items()},
            "train_config": {k: v for k, v in config.items() if k not in ("architecture",)},
            "content_images": len(self.crops),
        }
        return StyleCheckpoint(self.config.name, self.config.architecture, self.model.state_dict(), metadata, training)

    def _style_image_name(self) -> str:
        if self.teacher is not None:
            return self.teacher_metadata.get("style_image", "")
        return Path(self.config.style_image).name

    def save(self) -> None:
        self.config.output_path.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(self.checkpoint(), self.config.output_path)

    # -- work ---------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        content, objects = self.crops.batch_with_objects(self.config.batch_size)
        objects = objects if self.config.small_objects else None
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda")
        with autocast:
            output = self.model(content)
            if self.teacher is not None:
                with torch.no_grad():
                    target = self.teacher(content).float().clamp(0, 255)
                distill = (output.float() - target).abs().mean() / 255.0
                losses = {"total": distill, "distill": distill}
                if self.config.teacher_colour_weight:
                    losses["colour"] = colour_spread_gap(output.float(), target)
                    losses["total"] = losses["total"] + self.config.teacher_colour_weight * losses["colour"]
                if self.config.teacher_detail_weight:
                    losses["detail"] = detail_energy_gap(output.float(), target)
                    losses["total"] = losses["total"] + self.config.teacher_detail_weight * losses["detail"]
            else:
                losses = self.loss(output.float(), content, views=self.views, objects=objects)
            if self.config.temporal_weight:
                flow = random_smooth_flow(
                    content.shape[0], *content.shape[-2:], self.config.temporal_max_shift, self.crops.generator
                ).to(self.device)
                losses["temporal"] = temporal_loss(self.model, content, output.float(), flow)
                stability = losses["temporal"]
                if self.pairs is not None:
                    pairs = self.pairs.batch(max(1, self.config.batch_size // 2))
                    losses["temporal_video"] = pair_temporal_loss(self.model, *pairs)
                    stability = stability + losses["temporal_video"]
                losses["total"] = losses["total"] + self.config.temporal_weight * stability
        self.optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        self.optimizer.step()
        values = {k: float(v.detach()) for k, v in losses.items()}
        if not all(math.isfinite(v) for v in values.values()):
            raise VidstyleError(f"training diverged at step {self.step} (loss {values['total']}); lower the learning rate")
        return values

    def render_preview(self) -> torch.Tensor | None:
        """Originals on the top row, stylized below, for judging by eye."""
        if not self.previews:
            return None
        self.model.eval()
        columns = []
        with torch.no_grad():
            for rgb in self.previews:
                x = to_tensor(rgb)[None].to(self.device)
                y = self.model(x).clamp(0, 255)
                columns.append(torch.cat([x[0], y[0]], dim=1))
        self.model.train()
        height = max(c.shape[1] for c in columns)
        padded = [torch.nn.functional.pad(c, (0, 0, 0, height - c.shape[1]), value=255) for c in columns]
        return torch.cat(padded, dim=2)

    def save_preview(self) -> Path | None:
        grid = self.render_preview()
        if grid is None:
            return None
        path = self.config.output_path.with_suffix(".preview.png")
        write_image(to_array(grid), path)
        return path

    def run(self, progress: bool = True, on_step: Callable[[int, dict], None] | None = None) -> TrainResult:
        config = self.config
        self.model.train()
        bar = tqdm(total=config.steps, initial=self.step, disable=not progress, unit="step", dynamic_ncols=True)
        started = time.perf_counter()
        base_seconds = self.seconds
        try:
            while self.step < config.steps:
                values = self.train_step()
                self.step += 1
                self.seconds = base_seconds + time.perf_counter() - started
                for k, v in values.items():
                    self.smoothed[k] = v if k not in self.smoothed else 0.98 * self.smoothed[k] + 0.02 * v
                bar.update(1)
                bar.set_postfix({k: f"{v:.3g}" for k, v in self.smoothed.items()}, refresh=False)
                if on_step:
                    on_step(self.step, values)
                if self.step % config.checkpoint_every == 0:
                    self.save()
                if self.step % config.preview_every == 0:
                    self.save_preview()
                if config.max_minutes and self.seconds - base_seconds > 60 * config.max_minutes:
                    break
        except KeyboardInterrupt:
            self.save()
            bar.close()
            raise
        bar.close()
        self.save()
        self.save_preview()
        return TrainResult(config.output_path, self.step, dict(self.smoothed), self.seconds)
