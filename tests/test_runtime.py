"""Execution backends: ONNX Runtime on the CPU against PyTorch."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from helpers import one_line_error
from vidstyle import Stylizer, StylizerOptions
from vidstyle.errors import OptionError
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
