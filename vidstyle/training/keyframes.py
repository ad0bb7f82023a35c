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


BFLOAT16_NETWORK = TransformerConfig(base_channels=32, residual_blocks=3, output="residual", edge_kernel=5)
FLOAT32_NETWORK = TransformerConfig(base_channels=24, residual_blocks=3, output="residual", edge_kernel=5)


@dataclass(frozen=True)
class KeyframeTraining:
    """How a keyframe look is learnt. The defaults were chosen on held-out
    clips and looks (docs/keyframes.md): at most ``seconds`` on any machine
    (all ``steps`` in about four minutes on two cores with bfloat16),
    whatever the frame size and the number of keyframes."""

    steps: int = 500  # the most: 600 took 272-319 s on the reference CPU, too near the five-minute budget
    # Learning stops within this many seconds: where the steps run slower
    # (a CPU without native bfloat16, a busy machine) there are fewer of
    # them, so that set-up stays within five minutes anywhere.
    seconds: float = 255.0
    crop: int = 256  # pixels a side; instance normalisation wants crops near the frame's scale
    batch: int = 2
    learning_rate: float = 2e-3
    l1_weight: float = 4.0  # against the perceptual term's weight of 1
    taps: tuple[str, ...] = ("stem", "block1", "block3")
    architecture: TransformerConfig | None = None  # None: the one for this CPU (network())
    # bfloat16 arithmetic where the CPU has it natively (AMX, AVX512-BF16):
    # 1.6x faster steps here, with the weights and the optimiser in float32
    bf16: bool = True
    seed: int = 0

    def low_precision(self) -> bool:
        return self.bf16 and native_bf16()

    def network(self) -> TransformerConfig:
        """``architecture``, or the network that learns most in the time
        budget on this CPU: 32 base channels in bfloat16; in float32 (a
        2-core AVX2 CPU takes 1.2-1.45 s a step of it, about 190 steps in the
        budget), 24, whose steps take half as long."""
        if self.architecture is not None:
            return self.architecture
        return BFLOAT16_NETWORK if self.low_precision() else FLOAT32_NETWORK


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


class _StepBudget:
    """How many steps fit in ``settings.seconds``: timed over the first
    steps and checked again as learning goes on, never more than
    ``settings.steps``. A lowered count gets the learning-rate schedule of
    that many steps, taken up at the step reached (before the first check
    the schedule is the full count's, whose warm-up starts the same way)."""

    FIRST_CHECK = 10  # steps timed before the first estimate (the first two, slower, left out)
    CHECK_EVERY = 50
    MIN_STEPS = 2 * FIRST_CHECK

    def __init__(self, settings: KeyframeTraining):
        self.settings = settings
        self.total = settings.steps
        self.started = time.perf_counter()
        self._timed_from: tuple[int, float] | None = None

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def schedule(self, optimiser: torch.optim.Optimizer, done: int = 0) -> torch.optim.lr_scheduler.OneCycleLR:
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimiser, self.settings.learning_rate, total_steps=self.total, pct_start=0.1
        )
        for _ in range(done):
            schedule.step()
        return schedule

    def refit(self, step: int) -> bool:
        """After ``step`` steps: whether the count was lowered to fit."""
        if step == 2:
            self._timed_from = (step, time.perf_counter())
        if step < self.FIRST_CHECK or (step - self.FIRST_CHECK) % self.CHECK_EVERY or self._timed_from is None:
            return False
        first, at = self._timed_from
        per_step = (time.perf_counter() - at) / (step - first)
        fits = step + int((self.settings.seconds - self.elapsed()) / per_step)
        fits = max(self.MIN_STEPS, step + 1, fits)
        if fits >= self.total:
            return False
        self.total = fits
        return True


def learn_look(
    keyframes: list[Keyframe],
    name: str = "keyframes",
    settings: KeyframeTraining = KeyframeTraining(),
    progress: Callable[[int, int, float], None] | None = None,
) -> StyleCheckpoint:
    """Train a style network that paints frames as ``keyframes`` were
    painted. ``progress(step, steps, loss)`` is called after every step
    (``steps``: how many there will be, which the time budget may lower)."""
    if not keyframes:
        raise ValueError("no keyframes to learn from")
    torch.manual_seed(settings.seed)
    crops = _Crops(keyframes, settings.crop, np.random.default_rng(settings.seed))
    architecture = settings.network()
    network = TransformerNet(architecture)
    loss_network = load_loss_network()
    optimiser = torch.optim.Adam(network.parameters(), settings.learning_rate)
    budget = _StepBudget(settings)
    schedule = budget.schedule(optimiser)
    low_precision = settings.low_precision()
    network.train()
    step = 0
    while step < budget.total:
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
        step += 1
        if budget.refit(step):
            schedule = budget.schedule(optimiser, done=step)
        if progress:
            progress(step, budget.total, loss.item())
    network.eval()
    recipe = {
        "kind": "keyframes",
        "keyframes": [k.index for k in keyframes],
        "steps": step,
        "crop": settings.crop,
        "batch": settings.batch,
        "learning_rate": settings.learning_rate,
        "seconds": round(budget.elapsed(), 1),
    }
    return StyleCheckpoint(name, architecture, network.state_dict(), {"note": "learnt from painted keyframes"}, recipe)
