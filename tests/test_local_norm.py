"""Instance norm with the neighbourhood's statistics mixed in
(``TransformerConfig.local_norm``): the graph the CPU engines run and the
banded path compute what the network computes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from vidstyle.models import TransformerConfig, TransformerNet
from vidstyle.models.inference import inference_network
from vidstyle.stylize.banded import stylize_banded
from vidstyle.stylize.engines import EngineChoice, OnnxRuntimeRunner, OpenVinoRunner
from vidstyle.stylize.torch_engine import export_onnx

LOCAL = TransformerConfig(8, 2, "image", 5, separable=True, local_norm=0.5)


def local_network(config: TransformerConfig = LOCAL, seed: int = 0) -> TransformerNet:
    """Random weights, the norms' scales and shifts included."""
    torch.manual_seed(seed)
    model = TransformerNet(config).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.InstanceNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
    return model


def network_output(model: TransformerNet, x: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return model(x)


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    model = local_network()
    path = tmp_path_factory.mktemp("graph") / "local.onnx"
    path.write_bytes(export_onnx(inference_network(model)))
    return model, path


@pytest.mark.parametrize("runner", [OnnxRuntimeRunner, OpenVinoRunner])
def test_the_graph_computes_the_network_at_any_size(graph, runner):
    """Traced at 64x64, it resamples its cells for every size, part-cells
    at the edges included (the engines are given sizes divisible by 4)."""
    model, path = graph
    run = runner(path, EngineChoice(runner.__name__, "f32", "test"), 1).run_fn()
    for height, width in [(8, 8), (36, 100), (100, 36), (272, 480)]:
        x = torch.rand(1, 3, height, width) * 255
        got = run(np.ascontiguousarray(x.numpy()))
        assert np.abs(got - network_output(model, x).numpy()).max() < 0.01, (height, width)


@pytest.mark.parametrize("height, width", [(37, 53), (16, 16), (61, 19), (130, 70)])
@pytest.mark.parametrize("band_rows", [1, 5, 13, 1000])
def test_bands_give_the_whole_frame_result(height, width, band_rows):
    model = local_network(dataclasses.replace(LOCAL, separable=False, edge_kernel=9), seed=1)
    x = torch.rand(2, 3, height, width) * 255
    out = stylize_banded(model, x, band_rows)
    assert (out - network_output(model, x)).abs().max().item() < 0.05
