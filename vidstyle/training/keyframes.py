"""A look learnt from painted keyframes: a small style network trained on
crops of (frame, painted frame) pairs, after few-shot patch-based training
(Texler et al. 2020), with this project's network, loss network and engines.

The network sees only local neighbourhoods, so what it learns is how each
kind of patch was painted; it then paints every frame of the clip the same
way, and patches the keyframes did not show get the nearest thing they
did. Several keyframes pool their crops into one training set, so that one
network paints the whole clip and there is no seam where their frames meet.
Where a keyframe's mask is clear, the target is the frame itself: the
network learns to leave those parts alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..models import TransformerConfig, TransformerNet
from ..models.losses import extract, load_loss_network
from ..stylize.checkpoints import StyleCheckpoint
from ..stylize.engines import native_bf16


@dataclass(frozen=True)
class KeyframeTraining:
    """How a keyframe look is learnt. The defaults were chosen on held-out
    clips and looks (docs/keyframes.md): about four minutes on two cores,
    whatever the frame size and the number of keyframes."""

    steps: int = 500  # 600 took 272-319 s on the reference CPU, too near the five-minute budget
    crop: int = 256  # pixels a side; instance normalisation wants crops near the frame's scale
    batch: int = 2
    learning_rate: float = 2e-3
    l1_weight: float = 4.0  # against the perceptual term's weight of 1
    taps: tuple[str, ...] = ("stem", "block1", "block3")
    architecture: TransformerConfig = TransformerConfig(
        base_channels=32, residual_blocks=3, output="residual", edge_kernel=5
    )
    # bfloat16 arithmetic where the CPU has it natively (AMX, AVX512-BF16):
    # 1.6x faster steps here, with the weights and the optimiser in float32
    bf16: bool = True
    seed: int = 0


@dataclass
class Keyframe:
    """One painted frame: the clip's frame, the painting, and where it applies."""

    index: int
    frame: np.ndarray  # (H, W, 3) uint8, the clip's own frame
    painted: np.ndarray  # (H, W, 3) uint8, the same size
    mask: np.ndarray | None = None  # (H, W) float in [0, 1]: 1 where painted; None: everywhere

    def target(self) -> np.ndarray:
        """The painting where the mask says so, the frame elsewhere."""
        if self.mask is None:
            return self.painted
        weight = self.mask[..., None].astype(np.float32)
        return np.clip(self.painted * weight + self.frame * (1 - weight) + 0.5, 0, 255).astype(np.uint8)


def _tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float()


class _Crops:
    """Random aligned crops of the keyframe pairs, each keyframe drawn in
    proportion to its area."""

    def __init__(self, keyframes: list[Keyframe], crop: int, generator: np.random.Generator):
        self.pairs = [(_tensor(k.frame), _tensor(k.target())) for k in keyframes]
        areas = np.array([k.frame.shape[0] * k.frame.shape[1] for k in keyframes], float)
        self.weights = areas / areas.sum()
        self.crop = crop
        self.random = generator

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        inputs, targets = [], []
        for _ in range(size):
            source, target = self.pairs[self.random.choice(len(self.pairs), p=self.weights)]
            height, width = source.shape[-2:]
            ch, cw = min(self.crop, height), min(self.crop, width)
            top, left = self.random.integers(0, height - ch + 1), self.random.integers(0, width - cw + 1)
            inputs.append(source[:, top : top + ch, left : left + cw])
            targets.append(target[:, top : top + ch, left : left + cw])
        if len({tuple(t.shape) for t in inputs}) > 1:  # keyframes smaller than a crop: one at a time
            inputs, targets = inputs[:1], targets[:1]
        return torch.stack(inputs), torch.stack(targets)


def learn_look(
    keyframes: list[Keyframe],
    name: str = "keyframes",
    settings: KeyframeTraining = KeyframeTraining(),
    progress: Callable[[int, float], None] | None = None,
) -> StyleCheckpoint:
    """Train a style network that paints frames as ``keyframes`` were
    painted. ``progress(step, loss)`` is called after every step."""
    if not keyframes:
        raise ValueError("no keyframes to learn from")
    torch.manual_seed(settings.seed)
    crops = _Crops(keyframes, settings.crop, np.random.default_rng(settings.seed))
    network = TransformerNet(settings.architecture)
    loss_network = load_loss_network()
    optimiser = torch.optim.Adam(network.parameters(), settings.learning_rate)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, settings.learning_rate, total_steps=settings.steps, pct_start=0.1
    )
    low_precision = settings.bf16 and native_bf16()
    started = time.perf_counter()
    network.train()
    for step in range(settings.steps):
        inputs, targets = crops.batch(settings.batch)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=low_precision):
            outputs = network(inputs)
            painted = extract(loss_network, outputs, settings.taps)
            wanted = extract(loss_network, targets, settings.taps)
        loss = settings.l1_weight * F.l1_loss(outputs.float(), targets) / 255.0
        loss = loss + sum(F.mse_loss(painted[tap].float(), wanted[tap].float()) for tap in settings.taps)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        if progress:
            progress(step + 1, loss.item())
    network.eval()
    recipe = {
        "kind": "keyframes",
        "keyframes": [k.index for k in keyframes],
        "steps": settings.steps,
        "crop": settings.crop,
        "batch": settings.batch,
        "learning_rate": settings.learning_rate,
        "seconds": round(time.perf_counter() - started, 1),
    }
    return StyleCheckpoint(name, settings.architecture, network.state_dict(), {"note": "learnt from painted keyframes"}, recipe)
