"""Style checkpoint files: vidstyle's own format and pytorch/examples'.

A style file is untrusted input, so it is read with ``weights_only=True``:
plain containers of tensors, strings and numbers, never pickled code.

vidstyle's format is a dict::

    {"format": "vidstyle.style", "version": 1, "name": "mosaic",
     "architecture": {...TransformerConfig...}, "state_dict": {...},
     "metadata": {...free-form: source image, licence, training settings...}}

A training checkpoint is the same dict plus a ``"training"`` entry (optimizer
and random states) that ``strip_training_state`` drops for shipping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import StyleError
from ..media.atomic import atomic_output
from ..models import TransformerConfig, TransformerNet

FORMAT = "vidstyle.style"
VERSION = 1


@dataclass
class StyleCheckpoint:
    name: str
    architecture: TransformerConfig
    state_dict: dict[str, torch.Tensor]
    metadata: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] | None = None
    source: Path | None = None  # the file it was loaded from (not saved): which network ran, for reports

    def build_model(self) -> TransformerNet:
        model = TransformerNet(self.architecture)
        state = {k: v.float() for k, v in self.state_dict.items()}
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0]
            raise StyleError(f"style {self.name!r} does not fit its architecture: {first}") from exc
        return model.eval()


def save_checkpoint(checkpoint: StyleCheckpoint, path: str | Path, half: bool = False) -> None:
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu() for k, v in checkpoint.state_dict.items()}
    payload: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "name": checkpoint.name,
        "architecture": checkpoint.architecture.to_dict(),
        "state_dict": state,
        "metadata": checkpoint.metadata,
    }
    if checkpoint.training is not None:
        payload["training"] = checkpoint.training
    with atomic_output(path) as temporary:
        torch.save(payload, temporary)


def load_checkpoint(path: str | Path) -> StyleCheckpoint:
    path = Path(path)
    if not path.is_file():
        raise StyleError(f"no such style file: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise StyleError(f"not a valid style checkpoint: {path} ({reason})") from exc
    if isinstance(payload, dict) and payload.get("format") == FORMAT:
        if payload.get("version", 0) > VERSION:
            raise StyleError(f"{path} needs a newer vidstyle (checkpoint version {payload['version']})")
        try:
            architecture = TransformerConfig.from_dict(payload.get("architecture", {}))
        except ValueError as exc:
            raise StyleError(f"not a usable style checkpoint: {path} ({exc})") from None
        return StyleCheckpoint(
            name=str(payload.get("name") or path.stem),
            architecture=architecture,
            state_dict=payload["state_dict"],
            metadata=dict(payload.get("metadata") or {}),
            training=payload.get("training"),
            source=path,
        )
    if isinstance(payload, dict) and payload and all(isinstance(v, torch.Tensor) for v in payload.values()):
        legacy = from_legacy_state_dict(payload, name=path.stem)
        legacy.source = path
        return legacy
    raise StyleError(f"not a style checkpoint: {path}")


_RESIDUAL_KEY = re.compile(r"^res(\d+)\.")


def from_legacy_state_dict(state: dict[str, torch.Tensor], name: str) -> StyleCheckpoint:
    """A pytorch/examples fast_neural_style state dict. Those files were saved
    with an old InstanceNorm that tracked ``running_mean``/``running_var``;
    the statistics are unused in instance normalisation, so they are dropped."""
    state = {k: v for k, v in state.items() if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))}
    if "conv1.conv2d.weight" not in state:
        raise StyleError(f"not a style checkpoint: {name} (no conv1.conv2d.weight)")
    blocks = {int(m.group(1)) for k in state if (m := _RESIDUAL_KEY.match(k))}
    architecture = TransformerConfig(
        base_channels=int(state["conv1.conv2d.weight"].shape[0]), residual_blocks=len(blocks), output="image"
    )
    return StyleCheckpoint(name=name, architecture=architecture, state_dict=state, metadata={"source": "pytorch/examples format"})


def strip_training_state(checkpoint: StyleCheckpoint) -> StyleCheckpoint:
    return StyleCheckpoint(checkpoint.name, checkpoint.architecture, checkpoint.state_dict, checkpoint.metadata, None)
