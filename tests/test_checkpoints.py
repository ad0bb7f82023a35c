"""Style files: vidstyle's format, pytorch/examples' format, and untrusted input."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from helpers import one_line_error
from vidstyle.errors import StyleError
from vidstyle.models import TransformerConfig, TransformerNet
from vidstyle.media.images import write_image
from vidstyle.stylize.checkpoints import FORMAT, StyleCheckpoint, load_checkpoint, save_checkpoint


def pytorch_examples_state_dict() -> dict[str, torch.Tensor]:
    """A state dict shaped like pytorch/examples' published mosaic.pth:
    full width, five residual blocks, and the InstanceNorm running stats
    that old PyTorch versions saved."""
    torch.manual_seed(1)
    state = TransformerNet(TransformerConfig(base_channels=32, residual_blocks=5)).state_dict()
    legacy = dict(state)
    for key in state:
        if key.endswith(".weight") and ".in" in f".{key}" and state[key].dim() == 1:
            prefix = key[: -len("weight")]
            legacy[prefix + "running_mean"] = torch.zeros_like(state[key])
            legacy[prefix + "running_var"] = torch.ones_like(state[key])
    return legacy


def test_pytorch_examples_checkpoint_loads(tmp_path):
    legacy = pytorch_examples_state_dict()
    assert any(k.endswith("running_mean") for k in legacy)
    path = tmp_path / "mosaic.pth"
    torch.save(legacy, path)
    checkpoint = load_checkpoint(path)
    assert checkpoint.architecture == TransformerConfig(base_channels=32, residual_blocks=5, output="image")
    model = checkpoint.build_model()
    x = torch.rand(1, 3, 30, 42) * 255
    reference = TransformerNet(checkpoint.architecture)
    reference.load_state_dict({k: v for k, v in legacy.items() if "running" not in k})
    with torch.no_grad():
        assert torch.allclose(model(x), reference.eval()(x), atol=1e-4)
        assert model(x).shape == x.shape  # sizes that are not multiples of 4 work


def test_own_format_round_trip_with_metadata_and_half_precision(tmp_path):
    config = TransformerConfig(base_channels=8, residual_blocks=2, output="residual")
    model = TransformerNet(config)
    path = tmp_path / "mine.pth"
    save_checkpoint(StyleCheckpoint("mine", config, model.state_dict(), {"style_image": "art.jpg"}), path, half=True)
    loaded = load_checkpoint(path)
    assert loaded.name == "mine" and loaded.architecture == config
    assert loaded.metadata["style_image"] == "art.jpg"
    assert all(v.dtype == torch.float16 for k, v in loaded.state_dict.items() if v.is_floating_point())
    x = torch.rand(1, 3, 16, 16) * 255
    with torch.no_grad():
        assert torch.allclose(loaded.build_model()(x), model.eval()(x), atol=0.5)


class Boom:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_checkpoint_with_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    with path.open("wb") as handle:
        pickle.dump({"conv1.conv2d.weight": Boom()}, handle)
    with pytest.raises(StyleError, match="not a valid style checkpoint"):
        load_checkpoint(path)


def test_wrong_shapes_are_a_style_error(tmp_path):
    state = TransformerNet(TransformerConfig(base_channels=8, residual_blocks=1)).state_dict()
    path = tmp_path / "bad.pth"
    save_checkpoint(StyleCheckpoint("bad", TransformerConfig(base_channels=16, residual_blocks=1), state), path)
    with pytest.raises(StyleError, match="does not fit"):
        load_checkpoint(path).build_model()
    torch.save({"something": torch.zeros(2)}, tmp_path / "other.pth")
    with pytest.raises(StyleError, match="not a style checkpoint"):
        load_checkpoint(tmp_path / "other.pth")


@pytest.mark.parametrize(
    "architecture, message",
    [
        ({"base_channels": 3000}, "base_channels must be a whole number from 1 to 256"),
        ({"residual_blocks": "five"}, "residual_blocks must be a whole number"),
        ({"output": "painting"}, "output must be image or residual"),
        ({"edge_kernel": 4}, "edge_kernel must be odd"),
        ({"separable": "yes"}, "separable must be true or false"),
    ],
)
def test_a_hostile_architecture_is_refused_before_anything_is_built(tmp_path, cli, architecture, message):
    path = tmp_path / "hostile.pth"
    torch.save({"format": FORMAT, "version": 1, "name": "hostile", "architecture": architecture, "state_dict": {}}, path)
    photo = tmp_path / "photo.png"
    write_image(np.full((32, 32, 3), 128, np.uint8), photo)
    result = cli("image", photo, "-o", tmp_path / "out.png", "--style", path)
    line = one_line_error(result)
    assert message in line and "hostile.pth" in line
