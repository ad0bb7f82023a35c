"""Outputs are never replaced unasked (`-y/--overwrite`, FFmpeg's convention),
and nothing is left behind: temporary names say whose they are, a run removes
those of killed runs of its output, and a full disk is a one-line error."""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys

import pytest

from helpers import frame_times, one_line_error
from vidstyle import stylize_video
from vidstyle.errors import OptionError
from vidstyle.media.atomic import atomic_sequence_output, is_temporary, temporary_sibling
from vidstyle.media.images import read_image, write_image
from vidstyle.media.synthetic import render_scene


def hidden_leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if is_temporary(p))


def test_run_keeps_an_existing_output_unless_told(cli, make_clip, tiny_style, tmp_path):
    """The quick look (`--frames 2`) under the default name would replace the
    full render made before it."""
    clip = make_clip(frames=4, width=64, height=48)
    full = cli("run", clip, "--style", tiny_style, "-q")
    assert full.code == 0, full.err
    output = clip.with_name("clip_tiny.mp4")
    before = output.read_bytes()
    error = one_line_error(cli("run", clip, "--style", tiny_style, "--frames", "2", "-q"))
    assert error == "vidstyle: error: " + f"{output} exists: add -y (--overwrite) to replace it"
    assert output.read_bytes() == before
    assert hidden_leftovers(tmp_path) == []
    replaced = cli("run", clip, "--style", tiny_style, "--frames", "2", "-q", "-y")
    assert replaced.code == 0, replaced.err
    assert len(frame_times(output)) == 2


def test_run_refuses_before_any_work(cli, make_clip, tiny_style, tmp_path, monkeypatch):
    from vidstyle import Stylizer

    clip = make_clip(frames=2, width=64, height=48)
    out = tmp_path / "out.mkv"
    out.write_bytes(b"an earlier render")
    monkeypatch.setattr(Stylizer, "from_style", lambda *a, **k: pytest.fail("a network was loaded"))
    assert "exists: add -y (--overwrite)" in one_line_error(cli("run", clip, "-o", out, "--style", tiny_style))
    assert out.read_bytes() == b"an earlier render"


def test_a_sequence_exists_when_any_of_its_frames_does(cli, make_clip, tiny_style, tmp_path):
    clip = make_clip(frames=3, width=64, height=48)
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "f.0002.png").write_bytes(b"one frame of an earlier render")
    (frames / "notes.txt").write_text("not a frame")
    error = one_line_error(cli("run", clip, "-o", frames / "f.%04d.png", "--style", tiny_style, "-q"))
    assert "f.%04d.png exists: add -y (--overwrite)" in error
    assert sorted(p.name for p in frames.iterdir()) == ["f.0002.png", "notes.txt"]
    # other files do not count as the sequence
    assert cli("run", clip, "-o", frames / "g.%04d.png", "--style", tiny_style, "-q").code == 0
    result = cli("run", clip, "-o", frames / "f.####.png", "--style", tiny_style, "-q", "--overwrite")
    assert result.code == 0, result.err
    assert sorted(p.name for p in frames.glob("f.*.png")) == ["f.0000.png", "f.0001.png", "f.0002.png"]
    assert read_image(frames / "f.0002.png").shape == (48, 64, 3)


def test_the_library_refuses_the_same_way(make_clip, tiny_style, tmp_path):
    clip = make_clip(frames=2, width=64, height=48)
    out = tmp_path / "out.mp4"
    stylize_video(clip, out, style=str(tiny_style), quiet=True)
    with pytest.raises(OptionError, match="out.mp4 exists"):
        stylize_video(clip, out, style=str(tiny_style), quiet=True, frames=1)
    assert len(frame_times(out)) == 2
    stylize_video(clip, out, style=str(tiny_style), quiet=True, frames=1, overwrite=True)
    assert len(frame_times(out)) == 1


def test_image_keeps_an_existing_output_unless_told(cli, tiny_style, tmp_path):
    photo, out = tmp_path / "photo.png", tmp_path / "painted.png"
    write_image(render_scene(1, 40, 30), photo)
    write_image(render_scene(2, 20, 10), out)
    error = one_line_error(cli("image", photo, "-o", out, "--style", tiny_style, "-q"))
    assert error == f"vidstyle: error: {out} exists: add -y (--overwrite) to replace it"
    assert read_image(out).shape == (10, 20, 3)
    assert cli("image", photo, "-o", out, "--style", tiny_style, "-q", "-y").code == 0
    assert read_image(out).shape == (30, 40, 3)


def test_an_output_that_is_a_folder_is_refused_even_with_overwrite(cli, tiny_style, tmp_path):
    photo = tmp_path / "photo.png"
    write_image(render_scene(1, 40, 30), photo)
    folder = tmp_path / "painted.png"
    folder.mkdir()
    assert "is a folder" in one_line_error(cli("image", photo, "-o", folder, "--style", tiny_style, "-y"))


def test_sheet_keeps_an_existing_output_unless_told(cli, tmp_path):
    photo, out = tmp_path / "photo.png", tmp_path / "sheet.png"
    write_image(render_scene(1, 48, 32), photo)
    write_image(render_scene(2, 20, 10), out)
    assert "sheet.png exists: add -y" in one_line_error(cli("sheet", photo, "-o", out, "--style", "mosaic", "--tile", "64"))
    assert read_image(out).shape == (10, 20, 3)
    result = cli("sheet", photo, "-o", out, "--style", "mosaic", "--tile", "64", "-y")
    assert result.code == 0, result.err
    assert read_image(out).shape != (10, 20, 3)


def test_preview_keeps_an_existing_recording_unless_told(cli, make_clip, tiny_style, tmp_path):
    clip = make_clip(width=64, height=48, frames=3)
    out = tmp_path / "rec.mp4"
    out.write_bytes(b"yesterday's recording")
    args = ["preview", "--source", clip, "--style", tiny_style, "--headless", "--record", out]
    assert "rec.mp4 exists: add -y (--overwrite)" in one_line_error(cli(*args))
    assert out.read_bytes() == b"yesterday's recording"
    result = cli(*args, "-y")
    assert result.code == 0, result.err
    assert len(frame_times(out)) == 3


# --- temporary names and leftovers -----------------------------------------


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def with_pid(path, pid: int):
    """``path``, a temporary name of this process's, as if ``pid`` wrote it."""
    return path.with_name(re.sub(rf"-{os.getpid()}-", f"-{pid}-", path.name))


def test_temporary_names_are_hidden_and_derived_from_the_output(tmp_path):
    temporary = temporary_sibling(tmp_path / "clip_mosaic.mp4")
    assert temporary.name.startswith(".clip_mosaic.mp4.vidstyle-") and temporary.suffix == ".mp4"
    assert f"-{os.getpid()}-" in temporary.name
    assert is_temporary(temporary) and is_temporary(tmp_path / "clip_mosaic.tmp.3f2a9c1b.mp4")  # an older version's
    assert not is_temporary(tmp_path / "clip_mosaic.mp4") and not is_temporary(tmp_path / ".clip.mp4")


def test_a_run_removes_what_killed_runs_of_its_output_left(cli, make_clip, tiny_style, tmp_path):
    clip = make_clip(frames=2, width=64, height=48)
    out = tmp_path / "out.mp4"
    dead = with_pid(temporary_sibling(out), dead_pid())
    other_output = with_pid(temporary_sibling(tmp_path / "other.mp4"), dead_pid())
    frames_left = with_pid(temporary_sibling(tmp_path / "frames"), dead_pid())  # a sequence's temporary folder
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        in_progress = with_pid(temporary_sibling(out), sleeper.pid)  # another render, still writing
        for leftover in (dead, other_output, in_progress):
            leftover.write_bytes(b"half a video")
        frames_left.mkdir()
        (frames_left / "f.0000.png").write_bytes(b"half a frame")
        assert cli("run", clip, "-o", out, "--style", tiny_style, "-q").code == 0
        assert hidden_leftovers(tmp_path) == sorted([other_output.name, in_progress.name, frames_left.name])
        assert cli("run", clip, "-o", tmp_path / "frames" / "f.%04d.png", "--style", tiny_style, "-q").code == 0
        assert hidden_leftovers(tmp_path) == sorted([other_output.name, in_progress.name])
        assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == ["f.0000.png", "f.0001.png"]
    finally:
        sleeper.kill()
        sleeper.wait()


def test_sequence_temporaries_stay_on_the_output_folders_file_system(tmp_path, monkeypatch):
    """An empty output folder that is a mount point cannot be renamed onto:
    the frames are rendered inside it and moved within its file system."""
    import vidstyle.media.atomic as atomic

    folder = tmp_path / "mounted"
    folder.mkdir()
    monkeypatch.setattr(atomic, "_same_file_system", lambda a, b: False)
    with atomic_sequence_output(folder / "f.%04d.png") as temporary:
        assert temporary.parent.parent == folder and is_temporary(temporary.parent)
        (temporary.parent / "f.0000.png").write_bytes(b"frame")
    assert sorted(p.name for p in folder.iterdir()) == ["f.0000.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mounted"]


# --- a full disk ----------------------------------------------------------


@pytest.mark.parametrize("output", ["out.mp4", "frames/f.%04d.png"])
@pytest.mark.parametrize("code,reason", [(errno.ENOSPC, "no space left on device"), (errno.EDQUOT, "disk quota exceeded")])
def test_a_full_disk_is_one_line_naming_the_output(cli, make_clip, tiny_style, tmp_path, monkeypatch, output, code, reason):
    from vidstyle.apps import pipeline

    clip = make_clip(frames=3, width=64, height=48)
    (tmp_path / "frames").mkdir()
    written = []

    def write(self, *args, **kwargs):
        if written:
            raise OSError(code, os.strerror(code))
        written.append(True)
        return original(self, *args, **kwargs)

    original = pipeline.VideoWriter.write
    monkeypatch.setattr(pipeline.VideoWriter, "write", write)
    error = one_line_error(cli("run", clip, "-o", tmp_path / output, "--style", tiny_style, "--batch-size", "1", "-q"))
    assert error == f"vidstyle: error: {reason} writing {tmp_path / output}"
    assert sorted(p.name for p in tmp_path.rglob("*") if p != clip) == ["frames"]  # no temporary file or folder left
