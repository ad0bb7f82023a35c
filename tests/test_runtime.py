"""The rearranged network for CPU engines, and the cache of exported graphs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidstyle.media.reader import VideoReader
from vidstyle.models import TransformerConfig, TransformerNet
from vidstyle.models.inference import RowSumConv, SubPixelUpsampleConv, inference_network
from vidstyle.stylize import torch_engine
from vidstyle.stylize.engines import EngineChoice, OnnxRuntimeRunner
from vidstyle.stylize.styles import load_style
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "landscape.mp4"
ORT = EngineChoice("onnxruntime", "f32", "test")


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A frame of the bundled sample clip, 160 px wide."""
    with VideoReader(SAMPLE) as reader:
        frame = next(iter(reader)).rgb
    return np.ascontiguousarray(frame[::3, ::3])


@pytest.mark.parametrize(
    "config",
    [
        TransformerConfig(base_channels=16, residual_blocks=2, output="residual", edge_kernel=9),
        TransformerConfig(base_channels=8, residual_blocks=1, output="image", edge_kernel=3, separable=True),
        TransformerConfig(base_channels=4, residual_blocks=1, output="residual", edge_kernel=5),
        TransformerConfig(base_channels=16, residual_blocks=1, output="residual", edge_kernel=5, separable=True, decoder_channels=8),
    ],
)
def test_the_rearranged_network_computes_the_same_function(config):
    torch.manual_seed(1)
    network = TransformerNet(config).eval()
    for layer in network.modules():  # trained-looking affine norms, not the identity they start as
        if isinstance(layer, torch.nn.InstanceNorm2d):
            layer.weight.data.uniform_(0.5, 1.5)
            layer.bias.data.uniform_(-0.5, 0.5)
    rearranged = inference_network(network)
    assert isinstance(rearranged.deconv1, SubPixelUpsampleConv) and isinstance(rearranged.deconv3, RowSumConv)
    for height, width in ((64, 96), (37, 53), (8, 12)):
        x = torch.rand(2, 3, height, width) * 255
        with torch.no_grad():
            assert float((rearranged(x) - network(x)).abs().max()) < 0.02


def test_the_bundled_networks_rearranged_match_on_a_photo(photo):
    x = torch.from_numpy(photo).permute(2, 0, 1)[None].float()
    for model in ("full", "fast"):
        network = load_style("wave", model).build_model().eval()
        with torch.no_grad():
            assert float((inference_network(network)(x) - network(x)).abs().max()) < 0.02


def _graph_output(path: Path, x: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(OnnxRuntimeRunner(path, ORT, 1).run_fn()(x.numpy()))


def test_the_exported_graph_is_cached_by_the_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("VIDSTYLE_HOME", str(tmp_path))
    network = load_style("candy", "fast").build_model().eval().requires_grad_(False)
    path = torch_engine.cached_export(network)
    assert list((tmp_path / "onnx").glob("*.onnx")) == [path]

    def no_export(model, example=None):
        raise AssertionError("exported again although cached")

    with monkeypatch.context() as patch:
        patch.setattr(torch_engine, "export_onnx", no_export)
        again = torch_engine.cached_export(load_style("candy", "fast").build_model().eval())
    assert again == path
    x = torch.rand(1, 3, 32, 48) * 255
    with torch.no_grad():
        assert float((_graph_output(path, x) - network(x)).abs().max()) < 0.05
    other = load_style("candy", "fast").build_model().eval()
    other.conv1.conv2d.bias.data += 1.0
    assert torch_engine.network_digest(other) != torch_engine.network_digest(network)  # other weights, another graph


def test_an_unwritable_cache_is_skipped(monkeypatch, tmp_path):
    blocker = tmp_path / "home"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv("VIDSTYLE_HOME", str(blocker))
    network = load_style("mosaic", "fast").build_model().eval()
    path = torch_engine.cached_export(network)
    assert path.is_file() and not path.is_relative_to(blocker)
    x = torch.rand(1, 3, 32, 48) * 255
    with torch.no_grad():
        assert float((_graph_output(path, x) - network(x)).abs().max()) < 0.05
