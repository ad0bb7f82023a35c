"""Execution backends: ONNX Runtime on the CPU against PyTorch."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from helpers import one_line_error
from vidstyle import Stylizer, StylizerOptions
from vidstyle.errors import OptionError
from vidstyle.models import TransformerConfig, TransformerNet
from vidstyle.models.inference import RowSumConv, SubPixelUpsampleConv, inference_network
from vidstyle.media.images import read_image, resize_long_side
from vidstyle.stylize import runtime
from vidstyle.stylize.styles import load_style

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def photo(shared) -> np.ndarray:
    return resize_long_side(read_image(shared / "content" / "golden_gate.jpg"), 160)


@pytest.mark.parametrize("model", ["full", "fast"])
def test_onnx_network_matches_pytorch(model, photo):
    network = load_style("mosaic", model).build_model().eval()
    x = torch.from_numpy(photo).permute(2, 0, 1)[None].float()
    with torch.no_grad():
        expected = network(x)
    onnx = runtime.OnnxNetwork(network)
    # One session serves other sizes and batch sizes (dynamic axes).
    for batch in (x, torch.cat([x, x.flip(-1)])[..., :97, :131]):
        with torch.no_grad():
            want = network(batch)
        got = onnx(batch)
        assert got.shape == want.shape
        assert float((got - want).abs().max()) < 0.05  # float rounding, on a 0-255 scale
    assert float((onnx(x) - expected).abs().mean()) < 1e-3


def test_stylizer_backends_agree_on_a_photo(photo):
    by_onnx = Stylizer.from_style("candy", StylizerOptions(backend="onnx"))
    by_torch = Stylizer.from_style("candy", StylizerOptions(backend="torch"))
    assert (by_onnx.backend, by_torch.backend) == ("onnx", "torch")
    a, b = by_onnx(photo).astype(int), by_torch(photo).astype(int)
    assert np.abs(a - photo).mean() > 20  # the style did something
    assert np.abs(a - b).max() <= 1  # and both backends did the same thing


def test_auto_picks_onnx_on_the_cpu_and_torch_elsewhere(monkeypatch):
    assert runtime.resolve_backend("auto", CPU) == "onnx"
    assert runtime.resolve_backend("auto", torch.device("cuda")) == "torch"
    assert runtime.resolve_backend("torch", CPU) == "torch"
    with pytest.raises(OptionError, match="CPU only"):
        runtime.resolve_backend("onnx", torch.device("cuda"))
    monkeypatch.setattr(runtime, "onnx_runtime_available", lambda: False)
    assert runtime.resolve_backend("auto", CPU) == "torch"
    with pytest.raises(OptionError, match="pip install onnxruntime"):
        runtime.resolve_backend("onnx", CPU)


def test_a_failed_export_falls_back_to_pytorch_only_under_auto(monkeypatch, photo):
    def broken(*args, **kwargs):
        raise RuntimeError("unsupported operator")

    monkeypatch.setattr(runtime, "OnnxNetwork", broken)
    stylizer = Stylizer.from_style("mosaic", StylizerOptions(backend="auto"))
    assert stylizer.backend == "torch"
    assert stylizer(photo).shape == photo.shape
    with pytest.raises(OptionError, match="unsupported operator"):
        Stylizer.from_style("mosaic", StylizerOptions(backend="onnx"))


def test_cli_reports_the_backend_and_rejects_an_unknown_one(make_clip, tmp_path, cli):
    clip = make_clip(width=96, height=64, frames=4)
    out = tmp_path / "out.mp4"
    result = cli("run", clip, "-o", out, "--model", "fast", "--frames", "4", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["backend"] == "onnx"
    result = cli("run", clip, "-o", tmp_path / "other.mp4", "--backend", "tensorrt")
    assert "unknown backend 'tensorrt'" in one_line_error(result)
    assert not (tmp_path / "other.mp4").exists()
    info = json.loads(cli("info", "--json").out)
    assert info["device"]["backend"] == "onnx" and info["versions"]["onnxruntime"]


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


def test_a_batch_runs_one_frame_per_thread_with_the_same_result(photo):
    network = inference_network(load_style("mosaic", "fast").build_model())
    x = torch.from_numpy(np.stack([photo, photo[::-1], photo[:, ::-1]]).copy()).permute(0, 3, 1, 2).float()
    onnx = runtime.OnnxNetwork(network, threads=2)
    batched = onnx(x)
    assert 1 in onnx.runner._sessions  # the batch took the per-frame path: single-threaded sessions
    one_by_one = torch.cat([onnx(frame[None]) for frame in x])
    assert float((batched - one_by_one).abs().max()) < 1e-3


def test_the_exported_graph_is_cached_by_the_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("VIDSTYLE_HOME", str(tmp_path))
    network = load_style("candy", "fast").build_model().eval().requires_grad_(False)
    runtime.OnnxNetwork(network)
    cached = list((tmp_path / "onnx").glob("*.onnx"))
    assert len(cached) == 1

    def no_export(model):
        raise AssertionError("exported again although cached")

    with monkeypatch.context() as patch:
        patch.setattr(runtime, "export_onnx", no_export)
        again = runtime.OnnxNetwork(load_style("candy", "fast").build_model().eval())
    x = torch.rand(1, 3, 32, 48) * 255
    with torch.no_grad():
        assert float((again(x) - network(x)).abs().max()) < 0.05
    # Other weights are another graph.
    other = load_style("candy", "fast").build_model().eval()
    other.conv1.conv2d.bias.data += 1.0
    assert runtime.network_digest(other) != runtime.network_digest(network)
    # A damaged cache file is exported again and replaced.
    cached[0].write_bytes(b"not an onnx graph")
    repaired = runtime.OnnxNetwork(network)
    assert float((repaired(x) - network(x)).abs().max()) < 0.05
    assert cached[0].read_bytes().startswith(b"\x08")  # a protobuf again


def test_an_unwritable_cache_is_skipped(monkeypatch, tmp_path):
    blocker = tmp_path / "home"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv("VIDSTYLE_HOME", str(blocker))
    network = load_style("mosaic", "fast").build_model().eval()
    x = torch.rand(1, 3, 32, 48) * 255
    with torch.no_grad():
        assert float((runtime.OnnxNetwork(network)(x) - network(x)).abs().max()) < 0.05
