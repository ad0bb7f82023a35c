"""Training the any-image decoders: each learns to turn one Lite0 tap back
into the photo it came from (pixels and the encoder's own features), so no
painting is ever needed. Each level trains into a file of its own (the
decoder and the state to resume it from), so levels can train side by
side; scripts/bundle_decoders.py joins them into the shipped file."""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from ..config import build, merge, read_toml
from ..errors import OptionError
from ..models.feature_transforms import PAD_MULTIPLE
from ..models.losses import load_loss_network, relative_mse
from ..models.wct import DecoderConfig, FeatureDecoder
from ..stylize.devices import resolve_device
from ..stylize.torch_engine import load_decoders, save_decoder_level
from .data import ContentCrops
from .transplant import narrow_feature_decoder

log = logging.getLogger(__name__)

@dataclass
class DecoderTrainConfig:
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    content: list[str] = field(default_factory=list)
    output: str | None = None  # the decoder and its optimiser state, to resume from; default runs/any-image/TAP.pth
    steps: int = 4000
    image_size: int = 256
    batch_size: int = 4
    learning_rate: float = 1e-3
    final_learning_rate: float = 1e-4  # cosine decay to this
    pixel_weight: float = 1.0  # mean absolute error, 0-1 scale
    feature_weight: float = 0.5  # relative squared error of every tap up to the decoder's
    checkpoint_every: int = 200
    seed: int = 0
    device: str = "auto"
    max_minutes: float | None = None
    # A trained decoders file whose decoder at this tap is at least as wide:
    # a fresh run starts from its strongest channels (narrow_feature_decoder).
    init_from: str | None = None

    @classmethod
    def from_toml(cls, path: str | Path, **overrides) -> "DecoderTrainConfig":
        values = read_toml(path)
        if isinstance(values.get("decoder"), dict):
            values["decoder"] = DecoderConfig.from_dict(values["decoder"])
        return merge(build(cls, values, str(path)), **overrides)


def feature_taps(tap: str) -> list[str]:
    """The taps the reconstruction is compared at: the stem and every
    stride's first expansion up to the decoder's own tap."""
    if not re.fullmatch(r"block\d+", tap):
        raise OptionError(f"a decoder inverts a block tap such as block5, got {tap!r}")
    depth = int(tap.removeprefix("block"))
    return ["stem"] + [t for t in ("block1", "block3", "block5", "block8") if int(t[5:]) <= depth]


def train_decoder(config: DecoderTrainConfig, resume: bool = True) -> Path:
    """Train (or resume) one level's decoder; checkpoints every
    ``checkpoint_every`` steps and at the end or at ``max_minutes``."""
    if not config.content:
        raise OptionError("no content given for decoder training")
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    encoder = load_loss_network(device)
    decoder = FeatureDecoder(config.decoder).to(device)
    optimiser = torch.optim.Adam(decoder.parameters(), lr=config.learning_rate)
    output = Path(config.output or f"runs/any-image/{config.decoder.tap}.pth")
    step, seconds = 0, 0.0
    if config.image_size % PAD_MULTIPLE:
        raise OptionError(f"image_size must be a multiple of {PAD_MULTIPLE}, got {config.image_size}")
    crops = ContentCrops(config.content, config.image_size, device=device, seed=config.seed)
    if resume and output.is_file():
        levels = torch.load(output, map_location="cpu", weights_only=True)["levels"]
        if config.decoder.tap in levels:
            level = levels[config.decoder.tap]
            training = level.get("training", {})
            if "optimiser" not in training:
                raise OptionError(f"{output} holds a bundled decoder, not a training state: choose another output")
            if DecoderConfig.from_dict(level["config"]) != config.decoder:
                raise OptionError(f"{output} was trained with another [decoder] ({level['config']}): choose another output")
            decoder.load_state_dict({k: v.float() for k, v in level["state_dict"].items()})
            optimiser.load_state_dict(training["optimiser"])
            crops.generator.set_state(training["generator"])
            step, seconds = training["step"], training["seconds"]
            log.info("resuming %s at step %d", config.decoder.tap, step)
    if step == 0 and config.init_from:
        wide = load_decoders(config.init_from)[0].get(config.decoder.tap)
        if wide is None:
            raise OptionError(f"{config.init_from} has no {config.decoder.tap} decoder to start from")
        try:
            decoder.load_state_dict(narrow_feature_decoder(wide, config.decoder).state_dict())
        except ValueError as error:
            raise OptionError(f"init_from {config.init_from}: {error}") from None
        log.info("starting %s from the strongest channels of %s", config.decoder.tap, config.init_from)
    taps = feature_taps(config.decoder.tap)
    started = time.monotonic()

    def save() -> None:
        training = {
            "step": step,
            "seconds": seconds + time.monotonic() - started,
            "optimiser": optimiser.state_dict(),
            "generator": crops.generator.get_state(),
            "config": asdict(config),
        }
        save_decoder_level(output, config.decoder, decoder, training)

    bar = tqdm(total=config.steps, initial=step, desc=f"decoder {config.decoder.tap}", unit="step")
    while step < config.steps:
        progress = step / max(1, config.steps)
        lr = config.final_learning_rate + 0.5 * (config.learning_rate - config.final_learning_rate) * (1 + math.cos(math.pi * progress))
        for group in optimiser.param_groups:
            group["lr"] = lr
        images = crops.batch(config.batch_size)
        with torch.no_grad():
            targets = encoder.features(images, taps)
        rebuilt = decoder(targets[config.decoder.tap])
        pixel = (rebuilt - images).abs().mean() / 255.0
        features = encoder.features(rebuilt, taps)
        feature = sum(relative_mse(features[t], targets[t]).mean() for t in taps) / len(taps)
        loss = config.pixel_weight * pixel + config.feature_weight * feature
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        step += 1
        bar.update(1)
        bar.set_postfix(pixel=f"{pixel.item():.4f}", feature=f"{feature.item():.4f}")
        if step % config.checkpoint_every == 0 or step == config.steps:
            save()
        if config.max_minutes and time.monotonic() - started > 60 * config.max_minutes:
            save()
            break
    bar.close()
    return output
