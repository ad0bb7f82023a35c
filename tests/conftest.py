"""Shared fixtures: tiny clips made by the tests, a small random style
checkpoint, and a helper that runs the real CLI entry point."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from vidstyle.cli import main
from vidstyle.media.synthetic import ClipSpec, write_clip
from vidstyle.models import TransformerConfig, TransformerNet
from vidstyle.stylize.checkpoints import StyleCheckpoint, save_checkpoint



@pytest.fixture(scope="session", autouse=True)
def isolated_home(tmp_path_factory):
    """vidstyle's caches (exported ONNX graphs) in a folder of the test
    session's, not the user's; tests that need a style folder set their own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VIDSTYLE_HOME", str(tmp_path_factory.mktemp("vidstyle-home")))
        yield


@pytest.fixture(scope="session")
def tiny_style(tmp_path_factory) -> Path:
    """A small randomly initialised style network in vidstyle's format."""
    torch.manual_seed(0)
    config = TransformerConfig(base_channels=8, residual_blocks=1, output="residual")
    model = TransformerNet(config)
    path = tmp_path_factory.mktemp("styles") / "tiny.pth"
    save_checkpoint(StyleCheckpoint("tiny", config, model.state_dict(), {"note": "random test weights"}), path)
    return path


@pytest.fixture
def interrupt_second_batch(monkeypatch):
    """Ctrl-C while the second batch of frames is being stylized."""
    from vidstyle import Stylizer

    calls = []
    original = Stylizer.__call__

    def interrupt_on_second_batch(self, frames):
        calls.append(len(frames))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, frames)

    monkeypatch.setattr(Stylizer, "__call__", interrupt_on_second_batch)


@pytest.fixture
def make_clip(tmp_path):
    def make(name: str = "clip.mp4", **spec) -> Path:
        return write_clip(tmp_path / name, ClipSpec(**spec))

    return make


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys):
    """Run ``vidstyle ARGS`` in-process through the console entry point."""

    def run(*args: str) -> CliResult:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
