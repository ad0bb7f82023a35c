"""Opening a stylizer: a cached ONNX graph serves a plain run without
PyTorch, with the same frames as the full Stylizer; anything it cannot do
goes to the Stylizer."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vidstyle import Stylizer, StylizerOptions
from vidstyle.media.images import read_image
from vidstyle.media.reader import VideoReader
from vidstyle.models import TransformerConfig, TransformerNet
from vidstyle.stylize.checkpoints import StyleCheckpoint, save_checkpoint
from vidstyle.stylize import open as open_module
from vidstyle.stylize.open import GraphStylizer, cuda_may_be_present, open_stylizer

ROOT = Path(__file__).resolve().parents[1]
CPU = StylizerOptions(device="cpu")


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty cache of our own: nothing exported, nothing indexed."""
    monkeypatch.setenv("VIDSTYLE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    """Three frames of the bundled sample clip (a camera move over a photograph)."""
    with VideoReader(ROOT / "samples" / "landscape.mp4") as reader:
        decoded = [frame.rgb for _, frame in zip(range(3), reader)]
    return np.stack(decoded)


def test_the_second_open_runs_the_cached_graph_with_the_same_frames(home, frames):
    first = open_stylizer("mosaic", CPU)
    assert isinstance(first, Stylizer)  # nothing cached yet: exported, and indexed
    assert len(list((home / "onnx" / "checkpoints").glob("*.json"))) == 1
    second = open_stylizer("mosaic", CPU)
    assert isinstance(second, GraphStylizer)
    assert second.name == first.name == "mosaic"
    assert [c.source for c in second.checkpoints] == [c.source for c in first.checkpoints]
    deep = frames[:2].astype(np.uint16) * 257 + np.uint16(90)
    for batch in (frames, frames[:1, 5:118, 3:201], frames[:2, :13, :9], deep):
        got, want = second(batch), first(batch)
        assert got.dtype == want.dtype == batch.dtype and got.shape == batch.shape
        assert np.array_equal(got, want)
    assert np.array_equal(second(frames[0]), first(frames[:1])[0])  # one (H, W, 3) frame
    # ...and the frames are painted, not the input passed through
    assert np.abs(second(frames).astype(int) - frames).mean() > 20


def test_auto_is_the_graph_without_gpu_device_files_and_the_stylizer_with_them(home, tmp_path, monkeypatch):
    device = tmp_path / "nvidia0"
    monkeypatch.setattr(open_module, "GPU_DEVICE_FILES", (str(device),))
    assert not cuda_may_be_present()
    open_stylizer("candy")
    assert isinstance(open_stylizer("candy"), GraphStylizer)
    device.touch()  # as on a machine with an NVIDIA driver: PyTorch decides
    assert cuda_may_be_present()
    assert isinstance(open_stylizer("candy"), Stylizer)
    assert isinstance(open_stylizer("candy", CPU), GraphStylizer)  # --device cpu still takes the graph


@pytest.mark.parametrize(
    "style,options",
    [
        ("mosaic", StylizerOptions(device="cpu", strength=0.6)),
        ("mosaic", StylizerOptions(device="cpu", preserve_color=True)),
        ("mosaic", StylizerOptions(device="cpu", max_size=64)),
        ("mosaic", StylizerOptions(device="cpu", backend="torch")),
        ("mosaic:0.5,candy:0.5", CPU),
    ],
    ids=["strength", "preserve-color", "max-size", "torch-backend", "mix"],
)
def test_what_the_graph_alone_cannot_do_goes_to_the_stylizer(home, style, options):
    open_stylizer("mosaic", CPU)
    open_stylizer("candy", CPU)  # both indexed
    assert isinstance(open_stylizer("mosaic", CPU), GraphStylizer)
    assert isinstance(open_stylizer(style, options), Stylizer)


def _save_random_style(path: Path, seed: int) -> None:
    import torch

    torch.manual_seed(seed)
    config = TransformerConfig(base_channels=8, residual_blocks=1, output="residual")
    save_checkpoint(StyleCheckpoint("own", config, TransformerNet(config).state_dict()), path)


def test_a_style_file_is_indexed_by_its_bytes(home, tmp_path, frames):
    path = tmp_path / "my-style.pth"
    _save_random_style(path, seed=1)
    assert isinstance(open_stylizer(str(path), CPU), Stylizer)
    cached = open_stylizer(str(path), CPU)
    assert isinstance(cached, GraphStylizer) and cached.name == "own"  # the file's own name, as the Stylizer says
    _save_random_style(path, seed=2)  # other weights under the same name
    changed = open_stylizer(str(path), CPU)
    assert isinstance(changed, Stylizer)
    assert np.array_equal(open_stylizer(str(path), CPU)(frames), changed(frames))


def test_a_damaged_graph_or_index_entry_is_exported_again(home, frames):
    want = open_stylizer("wave", CPU)(frames)
    (entry,) = (home / "onnx" / "checkpoints").glob("*.json")
    graph = home / "onnx" / json.loads(entry.read_text())["graph"]
    graph.write_bytes(b"not a graph")
    assert isinstance(open_stylizer("wave", CPU), Stylizer)  # and the graph is exported again
    repaired = open_stylizer("wave", CPU)
    assert isinstance(repaired, GraphStylizer)
    assert np.array_equal(repaired(frames), want)
    entry.write_text("{not json")
    assert isinstance(open_stylizer("wave", CPU), Stylizer)
    assert isinstance(open_stylizer("wave", CPU), GraphStylizer)


def test_frames_over_the_memory_budget_go_through_the_full_stylizer(home, frames):
    options = StylizerOptions(device="cpu", memory_budget=0.25)
    open_stylizer("mosaic", options)
    graph = open_stylizer("mosaic", options)
    assert isinstance(graph, GraphStylizer)
    large = np.ascontiguousarray(np.tile(frames[:2], (1, 3, 2, 1)))  # two 720x960 frames, over 0.25 GiB
    got = graph(large)
    assert graph._stylizer is not None  # it went to the Stylizer, in parts or in bands
    assert np.array_equal(got, Stylizer.from_style("mosaic", options)(large))


_REPORT_TORCH = (
    "import sys\nfrom vidstyle.cli import main\ncode = main(sys.argv[1:])\n"
    "print('torch' in sys.modules, file=sys.stderr)\nsys.exit(code)\n"
)


def _command_loads_torch(home: Path, *args: str) -> bool:
    """Run the CLI in a fresh interpreter; whether PyTorch got imported."""
    done = subprocess.run(
        [sys.executable, "-c", _REPORT_TORCH, *args],
        capture_output=True, text=True, env={**_environment(), "VIDSTYLE_HOME": str(home)},
    )
    assert done.returncode == 0, done.stderr
    return done.stderr.strip().splitlines()[-1] == "True"


def test_a_cached_run_does_not_load_pytorch(home, tmp_path):
    """The whole command, twice on the sample clip: the first run exports and
    indexes the graph; the second never imports PyTorch and writes the
    same frames. Lossless, because x264 has been seen to encode the same
    frames a little differently in the two processes."""
    outputs, loaded = [], []
    for name in ("first.mkv", "second.mkv"):
        output = tmp_path / name
        loaded.append(
            _command_loads_torch(
                home, "run", str(ROOT / "samples" / "landscape.mp4"), "-o", str(output), "--codec", "ffv1", "-q", "--frames", "6"
            )
        )
        with VideoReader(output) as reader:
            outputs.append(np.stack([frame.rgb for frame in reader]))
    assert loaded == [True, False]
    assert outputs[0].shape[0] == 6
    assert np.array_equal(outputs[0], outputs[1])
    # a strength below 1 is the Stylizer's, PyTorch and all
    assert _command_loads_torch(home, "run", str(ROOT / "samples" / "landscape.mp4"), "-o", str(tmp_path / "weak.mp4"), "-q", "--frames", "2", "--strength", "0.5")


def test_a_cached_still_does_not_load_pytorch(home, tmp_path, shared):
    photo = str(shared / "content" / "tubingen.jpg")
    first, second = tmp_path / "first.png", tmp_path / "second.png"
    assert _command_loads_torch(home, "image", photo, "-o", str(first), "--style", "candy", "--size", "200", "-q")
    assert not _command_loads_torch(home, "image", photo, "-o", str(second), "--style", "candy", "--size", "200", "-q")
    assert np.array_equal(read_image(first), read_image(second))


def _environment() -> dict:
    import os

    return {key: value for key, value in os.environ.items() if key != "VIDSTYLE_DEBUG"}


def test_the_cache_folder_can_be_removed_between_runs(home, frames):
    open_stylizer("mosaic", CPU)
    shutil.rmtree(home / "onnx")
    assert isinstance(open_stylizer("mosaic", CPU), Stylizer)


def test_two_batches_share_the_threads_only_when_each_frame_has_one(home):
    open_stylizer("mosaic", CPU)
    two_threads = open_stylizer("mosaic", StylizerOptions(device="cpu", threads=2))
    assert two_threads.concurrent_batches(272, 640, batch=4) == 2
    assert two_threads.concurrent_batches(272, 640, batch=1) == 1  # one frame takes both threads
    assert two_threads.concurrent_batches(2160, 3840, batch=4) == 1  # banded by the Stylizer
    many = open_stylizer("mosaic", StylizerOptions(device="cpu", threads=8))
    assert many.concurrent_batches(272, 640, batch=4) == 1  # a second batch would take 8 more threads
