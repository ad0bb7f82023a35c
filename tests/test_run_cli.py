"""`vidstyle run` end to end through the real CLI entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import av
import numpy as np
import pytest
import torch

from helpers import audio_seconds, frame_times, one_line_error
from vidstyle import Stylizer, StylizerOptions, stylize_video
from vidstyle.media.atomic import is_temporary
from vidstyle.media.reader import VideoReader, probe
from vidstyle.models import TransformerConfig, TransformerNet
from vidstyle.stylize.checkpoints import StyleCheckpoint, load_checkpoint, save_checkpoint
from vidstyle.temporal.metrics import read_frames


@pytest.mark.parametrize("suffix,size", [(".mp4", (64, 48)), (".mov", (65, 47)), (".mkv", (50, 38))])
def test_run_keeps_frames_size_timing_and_audio(cli, make_clip, tiny_style, suffix, size):
    clip = make_clip("clip" + suffix, width=size[0], height=size[1], frames=9, audio=True)
    result = cli("run", clip, "--style", tiny_style, "--batch-size", "4")
    assert result.code == 0, result.err
    output = clip.with_name(f"clip_tiny{suffix}")
    assert output.is_file()
    info = probe(output)
    assert (info.width, info.height) == size
    assert frame_times(output) == pytest.approx(frame_times(clip), abs=1e-3)
    assert audio_seconds(output) == pytest.approx(audio_seconds(clip), abs=0.03)
    assert [p.name for p in clip.parent.iterdir() if is_temporary(p)] == []


def test_output_frames_are_the_network_applied_to_input_frames(make_clip, tiny_style, tmp_path):
    clip = make_clip(frames=4, width=64, height=48)
    out = tmp_path / "styled.mkv"
    stylize_video(clip, out, style=str(tiny_style), codec="ffv1", temporal="none", quiet=True)
    stylizer = Stylizer.from_style(str(tiny_style))
    with VideoReader(clip) as source, VideoReader(out) as styled:
        for a, b in zip(source, styled):
            expected = stylizer(a.rgb).astype(int)
            # ffv1 is lossless; only the RGB/YUV 4:4:4 conversion differs
            assert np.abs(b.rgb.astype(int) - expected).mean() < 2.5
            assert np.abs(b.rgb.astype(int) - a.rgb.astype(int)).mean() > 5  # it did change


def test_variable_frame_rate_survives_the_pipeline(cli, make_clip, tiny_style, tmp_path):
    stamps = [0, 10, 12, 30, 31, 55, 90, 91]
    clip = make_clip("vfr.mkv", codec="ffv1", timestamps=stamps)
    out = tmp_path / "vfr.mp4"
    assert cli("run", clip, "-o", out, "--style", tiny_style, "-q").code == 0
    assert frame_times(out) == pytest.approx([s / 240 for s in stamps], abs=1e-3)


def test_max_size_keeps_output_size(make_clip, tiny_style, tmp_path):
    clip = make_clip(width=96, height=64, frames=3)
    result = stylize_video(clip, tmp_path / "small.mp4", style=str(tiny_style), max_size=32, quiet=True)
    assert (result.width, result.height) == (96, 64)
    assert (probe(tmp_path / "small.mp4").width, probe(tmp_path / "small.mp4").height) == (96, 64)


def test_batching_does_not_change_frames(tiny_style):
    stylizer = Stylizer.from_style(str(tiny_style))
    frames = np.random.default_rng(0).integers(0, 256, (3, 40, 56, 3), dtype=np.uint8)
    together = stylizer(frames)
    apart = np.stack([stylizer(f) for f in frames])
    assert np.abs(together.astype(int) - apart.astype(int)).max() <= 1


def test_out_of_memory_halves_the_batch_and_carries_on(tiny_style, monkeypatch):
    stylizer = Stylizer.from_style(str(tiny_style), StylizerOptions(engine="torch"))
    network = stylizer.networks[0]
    original = type(network)._run
    sizes = []

    def limited(self, batch):
        sizes.append(len(batch))
        if len(batch) > 2:
            raise torch.OutOfMemoryError("simulated")
        return original(self, batch)

    monkeypatch.setattr(type(network), "_run", limited)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    frames = np.random.default_rng(1).integers(0, 256, (8, 16, 16, 3), dtype=np.uint8)
    assert stylizer(frames).shape == frames.shape
    assert network.max_batch == 2
    assert sizes[0] == 8 and set(sizes[1:]) <= {4, 2}


def test_interrupted_run_leaves_no_output(make_clip, tiny_style, tmp_path, interrupt_second_batch, cli):
    clip = make_clip(frames=12)
    result = cli("run", clip, "-o", tmp_path / "out.mp4", "--style", tiny_style, "--batch-size", "2", "-q")
    assert result.code == 130
    assert "interrupted" in result.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


@pytest.mark.parametrize(
    "case,expected",
    [
        ("missing", "no such file"),
        ("not_video", "not a readable video"),
        ("truncated", "video"),
        ("audio_only", "no video stream"),
        ("unknown_style", "unknown style"),
        ("corrupt_style", "not a valid style checkpoint"),
        ("batch_zero", "--batch-size"),
        ("negative_crf", "--crf"),
        ("same_as_input", "overwrite the input"),
        ("bad_extension", "extension"),
        ("missing_folder", "output folder does not exist"),
        ("unknown_device", "unknown device"),
    ],
)
def test_bad_input_gets_one_line_and_leaves_nothing(cli, make_clip, tiny_style, tmp_path, case, expected):
    clip = make_clip(frames=4, audio=True)
    out = tmp_path / "out.mp4"
    style = str(tiny_style)
    args = None
    if case == "missing":
        args = ["run", tmp_path / "nope.mp4", "-o", out]
    elif case == "not_video":
        fake = tmp_path / "fake.mp4"
        fake.write_text("hello\n" * 100)
        args = ["run", fake, "-o", out]
    elif case == "truncated":
        cut = tmp_path / "cut.mp4"
        cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 3])
        args = ["run", cut, "-o", out]
    elif case == "audio_only":
        audio = tmp_path / "audio.m4a"
        with av.open(str(clip)) as source, av.open(str(audio), "w") as target:
            stream = target.add_stream_from_template(source.streams.audio[0])
            for packet in source.demux(source.streams.audio[0]):
                if packet.dts is not None:
                    packet.stream = stream
                    target.mux(packet)
        args = ["run", audio, "-o", out]
    elif case == "unknown_style":
        args = ["run", clip, "-o", out, "--style", "no-such-style"]
    elif case == "corrupt_style":
        broken = tmp_path / "broken.pth"
        broken.write_bytes(tiny_style.read_bytes()[:200])
        style = str(broken)
    elif case == "batch_zero":
        args = ["run", clip, "-o", out, "--style", style, "--batch-size", "0"]
    elif case == "negative_crf":
        args = ["run", clip, "-o", out, "--style", style, "--crf", "-3"]
    elif case == "same_as_input":
        args = ["run", clip, "-o", clip, "--style", style]
    elif case == "bad_extension":
        args = ["run", clip, "-o", tmp_path / "out.xyz", "--style", style]
    elif case == "missing_folder":
        args = ["run", clip, "-o", tmp_path / "no" / "such" / "out.mp4", "--style", style]
    elif case == "unknown_device":
        args = ["run", clip, "-o", out, "--style", style, "--device", "tpu"]
    if args is None:
        args = ["run", clip, "-o", out, "--style", style]
    before = sorted(p.name for p in tmp_path.iterdir())
    line = one_line_error(cli(*args))
    assert expected in line
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_unwritable_output_folder(cli, make_clip, tiny_style, tmp_path):
    if os.geteuid() == 0:
        # root writes anywhere; a path under a regular file is unwritable for everyone
        target = tmp_path / "a_file" / "out.mp4"
        (tmp_path / "a_file").write_text("x")
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        target = locked / "out.mp4"
    line = one_line_error(cli("run", make_clip(), "-o", target, "--style", tiny_style))
    assert "output folder" in line


def test_unknown_style_suggests_close_matches(cli, make_clip, tiny_style, tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / "styles").mkdir(parents=True)
    (home / "styles" / "tinystar.pth").write_bytes(tiny_style.read_bytes())
    monkeypatch.setenv("VIDSTYLE_HOME", str(home))
    line = one_line_error(cli("run", make_clip(), "--style", "tinystr"))
    assert "did you mean" in line and "tinystar" in line


def test_debug_flag_shows_the_traceback(make_clip, tmp_path):
    command = [sys.executable, "-m", "vidstyle", "run", str(tmp_path / "nope.mp4"), "--debug"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "Traceback" in done.stderr


def test_console_script_runs_end_to_end(make_clip, tiny_style, tmp_path):
    clip = make_clip(frames=5, audio=True)
    out = tmp_path / "console.mp4"
    command = [sys.executable, "-m", "vidstyle", "run", str(clip), "-o", str(out), "--style", str(tiny_style)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "frame" in done.stderr  # the progress bar
    assert len(frame_times(out)) == 5


def test_user_style_folder_and_styles_listing(cli, tiny_style, tmp_path, monkeypatch):
    home = tmp_path / "vh"
    (home / "styles").mkdir(parents=True)
    (home / "styles" / "mine.pth").write_bytes(tiny_style.read_bytes())
    monkeypatch.setenv("VIDSTYLE_HOME", str(home))
    result = cli("styles")
    assert result.code == 0
    names = [line.split()[0] for line in result.out.splitlines()]
    assert "mine" in names
    assert load_checkpoint(home / "styles" / "mine.pth").name == "tiny"


def test_config_file_sets_defaults(cli, make_clip, tiny_style, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(f'[run]\nstyle = "{tiny_style}"\ncodec = "ffv1"\n')
    out = tmp_path / "cfg.mkv"
    assert cli("run", make_clip(frames=3), "-o", out, "--config", config, "-q").code == 0
    assert probe(out).codec == "ffv1"
    config.write_text('[run]\nstyle = "x"\ncrf_typo = 3\n')
    assert "crf_typo" in one_line_error(cli("run", make_clip(frames=3), "--config", config))


def test_frames_option_cuts_video_and_audio(cli, make_clip, tiny_style, tmp_path):
    clip = make_clip(frames=24, audio=True)
    out = tmp_path / "short.mp4"
    assert cli("run", clip, "-o", out, "--style", tiny_style, "--frames", "6", "-q").code == 0
    assert len(frame_times(out)) == 6
    assert audio_seconds(out) == pytest.approx(6 / 24, abs=0.05)


def test_the_default_model_is_balanced_where_a_style_has_one(cli, make_clip, tiny_style, tmp_path, monkeypatch):
    """A style with a balanced network runs it by default; one without runs
    its full network; --model full always runs the full one."""
    from vidstyle.stylize.styles import find_style

    home = tmp_path / "vh"
    (home / "styles" / "balanced").mkdir(parents=True)
    for name in ("both", "only-full"):
        (home / "styles" / f"{name}.pth").write_bytes(tiny_style.read_bytes())
    torch.manual_seed(5)
    other = TransformerNet(TransformerConfig(base_channels=8, residual_blocks=1, output="residual", separable=True))
    save_checkpoint(StyleCheckpoint("both", other.config, other.state_dict(), {}), home / "styles" / "balanced" / "both.pth")
    monkeypatch.setenv("VIDSTYLE_HOME", str(home))
    assert find_style("both", "balanced").path == home / "styles" / "balanced" / "both.pth"
    assert find_style("only-full", "balanced").path == home / "styles" / "only-full.pth"
    # A user's own full network shadows a bundled balanced one of the same name.
    (home / "styles" / "mosaic.pth").write_bytes(tiny_style.read_bytes())
    assert find_style("mosaic", "balanced").path == home / "styles" / "mosaic.pth"
    (home / "styles" / "mosaic.pth").unlink()
    assert find_style("mosaic", "balanced").origin == "bundled"
    listing = {line.split()[0]: line.split()[2] for line in cli("styles").out.splitlines()}
    assert listing["both"] == "full+balanced" and listing["only-full"] == "full"
    clip = make_clip(frames=3)
    outputs = {}
    for args in ((), ("--model", "full"), ("--model", "balanced")):
        out = tmp_path / f"both{'-'.join(args)}.mkv"
        assert cli("run", clip, "-o", out, "--style", "both", "--codec", "ffv1", "--temporal", "none", "-q", *args).code == 0
        outputs[args] = read_frames(out, None)
    assert np.array_equal(outputs[()][0], outputs[("--model", "balanced")][0])
    report = json.loads(cli("run", clip, "-o", tmp_path / "report.mkv", "--style", "both,only-full", "--codec", "ffv1", "-q", "--json").out)
    assert report["networks"] == [str(home / "styles" / "balanced" / "both.pth"), str(home / "styles" / "only-full.pth")]
    assert np.abs(outputs[()][0].astype(int) - outputs[("--model", "full")][0].astype(int)).mean() > 1


def _commands():
    import typer

    from vidstyle.cli import app

    return typer.main.get_command(app).commands


@pytest.mark.parametrize("name", ["run", "image", "preview", "sheet", "batch", "train", "eval"])
def test_help_shows_each_default_once_and_plain_placeholders(cli, name, monkeypatch):
    """Issue 29: `[default: 1].  [default: 1.0]` and `{input}` in the help."""
    import re

    import typer

    monkeypatch.setenv("COLUMNS", "80")
    command = _commands()[name]
    context = typer._click.Context(command, info_name=name)
    for param in command.params:
        record = param.get_help_record(context)
        if record:
            assert record[1].count("[default:") <= 1, (name, record)
    result = cli(name, "--help")
    assert result.code == 0, result.err
    text = " ".join(result.out.split())
    assert not re.search(r"\[default: [^\]]*\][.\s]*\[default:", text), text
    usage = result.out.splitlines()[0]
    assert usage.startswith(f"Usage: vidstyle {name} [OPTIONS]")
    assert not re.search(r"[{}]|list\[", result.out), result.out


def test_top_level_help_lists_every_command_whole_and_shows_debug(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    result = cli("--help")
    assert result.code == 0, result.err
    assert "--debug" in result.out and "traceback" in result.out
    listed = result.out.split("Commands:")[1].strip().splitlines()
    assert sorted(line.split()[0] for line in listed) == sorted(_commands())
    assert not any(line.rstrip().endswith("...") for line in listed), listed
    # --debug still works anywhere, before the command too
    assert cli("--debug", "version").code == 0


def test_fp16_on_the_cpu_warns_once(cli, make_clip, tiny_style, tmp_path):
    out = tmp_path / "half.mp4"
    result = cli("run", make_clip(frames=2), "-o", out, "--style", tiny_style, "--device", "cpu", "--fp16", "-q")
    assert result.code == 0, result.err
    assert result.err.count("--fp16 applies on CUDA only; ignored on the CPU") == 1, result.err
    assert out.is_file()
    quiet = cli("run", make_clip(frames=2), "-o", tmp_path / "full.mp4", "--style", tiny_style, "--device", "cpu", "-q")
    assert "--fp16" not in quiet.err


def test_unsupported_image_extension_lists_extensions_plainly(cli, tiny_style, tmp_path):
    from vidstyle.media.images import write_image
    from vidstyle.media.synthetic import render_scene

    photo = tmp_path / "photo.png"
    write_image(render_scene(1, 32, 24), photo)
    line = one_line_error(cli("image", photo, "-o", tmp_path / "out.xyz", "--style", tiny_style, "-q"))
    assert "use one of .bmp, .jpeg, .jpg" in line and "[" not in line and "'" not in line, line


def test_temporal_off_is_a_synonym_of_none(cli, make_clip, tiny_style, tmp_path):
    from vidstyle.apps.run_options import RunOptions
    from vidstyle.apps.preview.session import PreviewOptions

    assert RunOptions.load(temporal="off").temporal == "none"
    assert PreviewOptions(temporal="off").temporal == "none"
    clip = make_clip(frames=3, width=48, height=32)
    result = cli("run", clip, "-o", tmp_path / "off.mkv", "--style", tiny_style, "--codec", "ffv1", "--temporal", "off", "-q", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["options"]["temporal"] == "none"
    preview = cli("preview", "--source", clip, "--style", tiny_style, "--headless", "--temporal", "off")
    assert preview.code == 0, preview.err
    assert preview.out.startswith("processed 3 frames"), preview.out


def test_a_still_image_is_refused_with_a_pointer_to_image(cli, tiny_style, tmp_path):
    from vidstyle.media.images import write_image
    from vidstyle.media.synthetic import render_scene

    photo = tmp_path / "photo.jpg"
    write_image(render_scene(2, 32, 24), photo)
    before = sorted(p.name for p in tmp_path.iterdir())
    line = one_line_error(cli("run", photo, "--style", tiny_style))
    assert "still image" in line and f"vidstyle image {photo} -o OUT.png" in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written
    # an image sequence is still a video input
    for number in (1, 2):
        write_image(render_scene(number, 32, 24), tmp_path / f"shot.{number:04d}.png")
    result = cli("run", tmp_path / "shot.####.png", "-o", tmp_path / "seq.mp4", "--style", tiny_style, "-q")
    assert result.code == 0, result.err


def test_optimize_comes_back_at_the_input_size(cli, tmp_path, monkeypatch):
    """Gatys paints at its own working size; the CLI scales the result back
    (the optimisation itself is stubbed: only the CLI's resizing is tested)."""
    import vidstyle.training.gatys as gatys
    from vidstyle.media.images import read_image, write_image
    from vidstyle.media.synthetic import render_scene

    monkeypatch.setattr(gatys, "optimize_image", lambda content, style, config, progress=False: render_scene(3, 16, 12))
    photo, style = tmp_path / "photo.png", tmp_path / "style.png"
    write_image(render_scene(1, 40, 30), photo)
    write_image(render_scene(2, 40, 30), style)
    out = tmp_path / "out.png"
    result = cli("image", photo, "-o", out, "--method", "optimize", "--style-image", style, "--steps", "2", "-q")
    assert result.code == 0, result.err
    assert read_image(out).shape == (30, 40, 3)


def test_every_run_option_is_a_flag_of_the_same_name(cli, monkeypatch):
    """A job file's keys are RunOptions fields; each is the `run` flag of the
    same name (dashes for underscores), so `frames = 30` in a job file is
    `--frames 30` on the command line."""
    import dataclasses

    from vidstyle.apps.run_options import RunOptions

    monkeypatch.setenv("COLUMNS", "200")
    help_text = cli("run", "--help").out
    missing = [
        field.name
        for field in dataclasses.fields(RunOptions)
        if f"--{field.name.replace('_', '-')}" not in help_text
    ]
    assert missing == []


def test_a_config_key_and_its_flag_give_the_same_run(cli, make_clip, tiny_style, tmp_path):
    """Each key of a --config file is the flag of its name; a switch left
    off the command line (-q) leaves the file's value alone."""
    clip = make_clip(frames=3, width=48, height=32)
    config = tmp_path / "run.toml"
    config.write_text('strength = 0.5\nstroke_scale = 2.0\naudio = false\nframes = 2\ntemporal = "none"\nquiet = true\n')
    common = ("--style", tiny_style, "--codec", "ffv1", "--json")
    by_file = cli("run", clip, "-o", tmp_path / "file.mkv", *common, "--config", config)
    by_flags = cli(
        "run", clip, "-o", tmp_path / "flags.mkv", *common,
        "--strength", "0.5", "--stroke-scale", "2", "--no-audio", "--frames", "2", "--temporal", "none", "-q",
    )
    assert by_file.code == 0 and by_flags.code == 0, by_file.err + by_flags.err
    from_file, from_flags = json.loads(by_file.out), json.loads(by_flags.out)
    assert from_file["options"] == from_flags["options"]
    assert from_file["options"]["stroke_scale"] == 2.0 and from_file["options"]["audio"] is False
    assert from_file["frames"] == 2
    assert by_file.err == "" == by_flags.err  # quiet: no progress bar


def test_every_flag_shows_the_default_its_field_has(cli, monkeypatch):
    """The help's defaults come from RunOptions: change a default there and
    the help follows."""
    monkeypatch.setenv("COLUMNS", "400")
    help_text = " ".join(cli("run", "--help").out.split())
    for flag, default in (("--crf", "18"), ("--temporal-strength", "0.7"), ("--model", "balanced"), ("--audio / --no-audio", "on")):
        after_flag = help_text.split(f" {flag} ", 1)[1]
        assert after_flag.split("[default: ", 1)[1].startswith(default + "]"), flag


def test_an_output_that_is_a_folder_is_refused_before_any_work(cli, make_clip, tmp_path):
    clip = make_clip()
    folder = tmp_path / "renders"
    folder.mkdir()
    result = cli("run", clip, "-o", folder, "--style", "mosaic")
    assert "is a folder" in one_line_error(result)
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("how,code,said", [("SIGTERM", 143, "terminated"), ("SIGHUP", 129, "terminated by SIGHUP")])
def test_sigterm_ends_a_run_like_ctrl_c_leaving_nothing(make_clip, tmp_path, how, code, said):
    """SIGTERM (`kill`, schedulers) and SIGHUP (a closed terminal or SSH
    session) unwind like Ctrl-C: the temporary file goes."""
    import signal
    import time

    clip = make_clip("long.mp4", width=320, height=240, frames=400)
    out = tmp_path / "out" / "painted.mp4"
    out.parent.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "vidstyle", "run", str(clip), "-o", str(out), "--style", "mosaic", "-q"],
        stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 60
    while not any(out.parent.iterdir()) and time.monotonic() < deadline:  # writing has begun
        time.sleep(0.05)
    assert any(out.parent.iterdir()), "the run never started writing"
    process.send_signal(getattr(signal, how))
    _, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert err.strip().splitlines() == [f"vidstyle: {said}; no output was left behind"]
    assert list(out.parent.iterdir()) == []
