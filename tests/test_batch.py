"""`vidstyle batch`: job files, failures that stay alone, resuming, kills, Ray."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from helpers import audio_seconds, frame_times, one_line_error
from vidstyle.media.atomic import is_temporary
from vidstyle.media.images import write_image
from vidstyle.media.reader import probe
from vidstyle.temporal.metrics import read_frames

VIDSTYLE = [sys.executable, "-m", "vidstyle"]


@pytest.fixture
def style_home(tmp_path, tiny_style, monkeypatch) -> Path:
    """A user style folder with two small styles, `tiny` and `tiny2`."""
    home = tmp_path / "home"
    (home / "styles").mkdir(parents=True)
    shutil.copy(tiny_style, home / "styles" / "tiny.pth")
    shutil.copy(tiny_style, home / "styles" / "tiny2.pth")
    monkeypatch.setenv("VIDSTYLE_HOME", str(home))
    return home


def write_job(folder: Path, text: str) -> Path:
    job = folder / "job.toml"
    job.write_text(text)
    return job


def manifest(folder: Path) -> dict:
    return json.loads((folder / "vidstyle-batch.json").read_text())["tasks"]


def leftovers(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if is_temporary(p))


def test_a_bad_input_fails_alone(make_clip, tmp_path, style_home, cli):
    shots = tmp_path / "shots"
    shots.mkdir()
    for name, frames in (("a.mp4", 5), ("b.mov", 7)):
        shutil.move(make_clip(name, frames=frames, audio=True), shots / name)
    (shots / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    job = write_job(tmp_path, 'output_dir = "renders"\n[defaults]\ncrf = 20\n'
                    '[[items]]\ninput = "shots/*"\nstyles = ["tiny", "tiny2"]\n')
    result = cli("batch", job, "-q")
    assert result.code == 1, result.err
    renders = tmp_path / "renders"
    for source in ("a.mp4", "b.mov"):
        for style in ("tiny", "tiny2"):
            out = renders / f"{Path(source).stem}_{style}.mp4"
            assert frame_times(out) == pytest.approx(frame_times(shots / source), abs=1e-3)
    records = manifest(renders)
    assert {k: r["status"] for k, r in records.items()} == {
        "a_tiny.mp4": "done", "a_tiny2.mp4": "done", "b_tiny.mp4": "done", "b_tiny2.mp4": "done",
        "broken_tiny.mp4": "failed", "broken_tiny2.mp4": "failed",
    }
    assert "not a readable video" in records["broken_tiny.mp4"]["error"]
    assert "FAILED" not in result.out and "failed" in result.out  # the summary table
    assert "4 done, 2 failed" in result.out
    assert not (renders / "broken_tiny.mp4").exists() and leftovers(tmp_path) == []


def test_running_again_skips_what_is_done_and_redoes_changed_settings(make_clip, tmp_path, style_home, cli):
    make_clip("one.mp4", frames=4)
    make_clip("two.mp4", frames=4)
    text = 'output_dir = "out"\n[[items]]\ninput = "{}.mp4"\nstyles = ["tiny"]\n'
    job = write_job(tmp_path, text.format("one") + text.split("\n", 1)[1].format("two").replace('output_dir = "out"\n', ""))
    assert cli("batch", job, "-q").code == 0
    first = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").glob("*.mp4")}
    assert sorted(first) == ["one_tiny.mp4", "two_tiny.mp4"]
    dry = cli("batch", job, "--dry-run")
    assert dry.code == 0 and "0 to render, 2 up to date" in dry.out
    again = cli("batch", job, "-q")
    assert again.code == 0 and "2 skipped" in again.out
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").glob("*.mp4")} == first
    # an option that changes the pixels makes the task stale; --force redoes everything
    job.write_text(job.read_text().replace('styles = ["tiny"]\n', 'styles = ["tiny"]\nstrength = 0.5\n', 1))
    assert "1 to render, 1 up to date" in cli("batch", job, "--dry-run").out
    assert "1 done, 1 skipped" in cli("batch", job, "-q").out
    assert "2 done" in cli("batch", job, "-q", "--force").out


def test_name_template_item_options_and_image_sequence_input(make_clip, tmp_path, style_home, cli):
    clip = make_clip("plate.mp4", frames=6, width=64, height=48)
    plates = tmp_path / "plates"
    plates.mkdir()
    for index, frame in enumerate(read_frames(clip, None)):
        cv2.imwrite(str(plates / f"shot010.{1001 + index:04d}.png"), frame[:, :, ::-1])
    job = write_job(tmp_path, 'output_dir = "renders"\nname = "{style}/{stem}.mov"\n[defaults]\ncodec = "prores_ks"\n'
                    '[[items]]\ninput = "plates/shot010.%04d.png"\nstyles = ["tiny"]\nframe_rate = 12\n'
                    '[[items]]\ninput = "plate.mp4"\nstyles = ["tiny2"]\nname = "{stem}_{style}.%04d.png"\n')
    result = cli("batch", job, "-q")
    assert result.code == 0, result.out + result.err
    out = tmp_path / "renders" / "tiny" / "shot010.mov"
    assert frame_times(out) == pytest.approx([i / 12 for i in range(6)], abs=1e-3)
    assert probe(out).codec == "prores"
    frames = sorted((tmp_path / "renders").glob("plate_tiny2.*.png"))
    assert len(frames) == 6


@pytest.mark.parametrize(
    "text,expected",
    [
        ('[[items]]\ninput = "nothing*.mp4"\nstyles = ["tiny"]\n', "no files match"),
        ('[[items]]\ninput = "a.mp4"\nstyles = ["tiny"]\ncrf_typo = 1\n', "crf_typo"),
        ('outptu_dir = "x"\n[[items]]\ninput = "a.mp4"\n', "outptu_dir"),
        ('output_dir = "x"\n', "nothing to render"),
        ('name = "same.mp4"\n[[items]]\ninput = "a.mp4"\nstyles = ["tiny", "tiny2"]\n', "would both write"),
        ('[[items]]\ninput = "a.mp4"\nstyles = ["tiny:-1"]\n', "non-negative"),
        ("[[items]\n", "invalid TOML"),
    ],
)
def test_bad_job_files(tmp_path, style_home, cli, text, expected):
    (tmp_path / "a.mp4").write_bytes(b"")
    assert expected in one_line_error(cli("batch", write_job(tmp_path, text)))


def start_batch(job: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen([*VIDSTYLE, "batch", str(job), "-q"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


@pytest.mark.slow  # processes killed and resumed, or a Ray cluster: the slow tier (.ci/run runs it)
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_killed_batch_resumes_without_redoing_or_leaving_partials(make_clip, tmp_path, style_home, how):
    for index in range(4):
        make_clip(f"c{index}.mp4", frames=60, width=96, height=64)
    job = write_job(tmp_path, 'output_dir = "out"\n[[items]]\ninput = "c*.mp4"\nstyles = ["tiny"]\n')
    env = {**os.environ, "VIDSTYLE_HOME": str(style_home)}
    out = tmp_path / "out"

    def statuses() -> dict:
        try:
            return {k: r["status"] for k, r in manifest(out).items()}
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    process = start_batch(job, env)
    wait_for(lambda: "done" in statuses().values() and "running" in statuses().values())
    process.send_signal(how)
    process.wait(timeout=60)
    assert process.returncode != 0
    # the worker that was rendering removes its temporary file, even when its parent was SIGKILLed
    wait_for(lambda: leftovers(tmp_path) == [], timeout=20)
    done_before = {k for k, s in statuses().items() if s == "done"}
    mtimes = {k: (out / k).stat().st_mtime_ns for k in done_before}
    assert sorted(p.name for p in out.glob("*.mp4")) == sorted(done_before)  # only complete outputs
    rerun = subprocess.run([*VIDSTYLE, "batch", str(job), "-q"], env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(done_before)} skipped" in rerun.stdout
    assert {k: (out / k).stat().st_mtime_ns for k in done_before} == mtimes
    assert set(statuses().values()) == {"done"} and len(list(out.glob("*.mp4"))) == 4
    for index in range(4):
        assert len(frame_times(out / f"c{index}_tiny.mp4")) == 60
    assert leftovers(tmp_path) == []


def border_differences(a: Path, b: Path) -> list[float]:
    return [float(abs(x.astype(int) - y).mean()) for x, y in zip(read_frames(a, None), read_frames(b, None), strict=True)]


@pytest.mark.slow  # three renders of a long clip, whole and in parts: the slow tier (.ci/run runs it)
def test_long_clips_split_into_parts_join_like_a_single_pass(make_clip, tmp_path, style_home, cli):
    make_clip("long.mp4", frames=72, width=96, height=64, audio=True, noise=4, keyframe_interval=12)
    text = 'output_dir = "{}"\nname = "{{stem}}.mkv"\n[defaults]\ncodec = "ffv1"\nstyle = "tiny"\n[[items]]\ninput = "long.mp4"\n'
    whole = write_job(tmp_path, text.format("whole"))
    assert cli("batch", whole, "-q").code == 0
    chunked = tmp_path / "chunked.toml"
    chunked.write_text(text.format("chunked"))
    result = cli("batch", chunked, "--chunk-seconds", "1", "--workers", "2")
    assert result.code == 0, result.err
    assert "(3 parts)" in result.err
    one, parts = tmp_path / "whole" / "long.mkv", tmp_path / "chunked" / "long.mkv"
    assert frame_times(parts) == frame_times(one) and len(frame_times(parts)) == 72
    assert audio_seconds(parts) == pytest.approx(audio_seconds(one), abs=0.03)
    # the overlap primes the stabiliser: the borders (frames 24 and 48) are
    # near enough to the single pass that nobody could see a seam
    assert max(border_differences(one, parts)) < 0.6
    assert leftovers(tmp_path) == [] and not list((tmp_path / "chunked").glob(".long.part*"))


@pytest.fixture(scope="module")
def ray_node_home(tmp_path_factory) -> Path:
    """The Ray node's own VIDSTYLE_HOME: its caches are not the driver's, as
    on a node of another machine."""
    return tmp_path_factory.mktemp("ray-node-home")


@pytest.fixture(scope="module")
def ray_cluster(ray_node_home):
    """A local one-node Ray cluster, started the way a user would start one
    (shared by the module's Ray tests: starting one takes a while)."""
    import socket

    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    ray = [str(Path(sys.executable).with_name("ray"))]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "VIDSTYLE_HOME": str(ray_node_home)}
    subprocess.run(
        [*ray, "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats"],
        env=env, check=True, capture_output=True, timeout=120,
    )
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([*ray, "stop", "--force"], env=env, capture_output=True, timeout=120)


@pytest.mark.slow  # processes killed and resumed, or a Ray cluster: the slow tier (.ci/run runs it)
def test_ray_renders_like_the_local_path(make_clip, tmp_path, tiny_style, ray_cluster):
    make_clip("long.mp4", frames=48, width=96, height=64, audio=True, keyframe_interval=12)
    make_clip("short.mp4", frames=5, width=64, height=48)
    text = f'output_dir = "{{}}"\n[[items]]\ninput = "*.mp4"\nstyles = ["{tiny_style}"]\n'
    (tmp_path / "local.toml").write_text(text.format("local"))
    (tmp_path / "ray.toml").write_text(text.format("ray"))
    local = subprocess.run([*VIDSTYLE, "batch", str(tmp_path / "local.toml"), "-q"], capture_output=True, text=True, timeout=300)
    assert local.returncode == 0, local.stderr
    cluster = subprocess.run(
        [*VIDSTYLE, "batch", str(tmp_path / "ray.toml"), "--ray", ray_cluster, "--chunk-seconds", "1"],
        capture_output=True, text=True, timeout=600,
    )
    assert cluster.returncode == 0, cluster.stderr
    assert "(2 parts)" in cluster.stderr  # the long clip went out as parts
    for name in ("long_tiny.mp4", "short_tiny.mp4"):
        times = frame_times(tmp_path / "ray" / name)
        assert times == frame_times(tmp_path / "local" / name) and len(times) in (48, 5)
    assert audio_seconds(tmp_path / "ray" / "long_tiny.mp4") == pytest.approx(audio_seconds(tmp_path / "local" / "long_tiny.mp4"), abs=0.03)
    assert {r["status"] for r in manifest(tmp_path / "ray").values()} == {"done"}


@pytest.mark.slow  # processes killed and resumed, or a Ray cluster: the slow tier (.ci/run runs it)
def test_ray_streams_frame_progress_while_a_unit_renders(make_clip, tmp_path, tiny_style, ray_cluster):
    import ray

    from vidstyle.apps.batch.job import load_job, split_task
    from vidstyle.apps.batch.runners import RayRunner

    make_clip("clip.mp4", frames=40, width=96, height=64)
    job = load_job(write_job(tmp_path, f'[[items]]\ninput = "clip.mp4"\nstyles = ["{tiny_style}"]\nbatch_size = 1\n'))
    units = split_task(job.tasks[0], 0)
    job.output_dir.mkdir()
    events = []
    try:
        RayRunner(ray_cluster).run(
            units,
            on_start=lambda unit: events.append(("start", 0, None)),
            on_result=lambda result: events.append(("result", result.frames, result.error)) and False,
            on_progress=lambda key, frames: events.append(("progress", frames, None)),
        )
    finally:
        ray.shutdown()
    assert events[0] == ("start", 0, None) and events[-1] == ("result", 40, None)
    reported = [frames for kind, frames, _ in events if kind == "progress"]
    assert reported and 0 < reported[0] < 40  # the first frames were reported while the rest rendered
    assert reported == sorted(reported)


@pytest.mark.slow  # processes killed and resumed, or a Ray cluster: the slow tier (.ci/run runs it)
def test_a_look_learnt_by_the_driver_goes_to_ray_nodes_with_caches_of_their_own(make_clip, tmp_path, ray_cluster, ray_node_home, monkeypatch):
    import ray

    from vidstyle.apps import keyframes as keyframes_app
    from vidstyle.apps.batch.job import load_job, run_batch
    from vidstyle.training.keyframes import KeyframeTraining, learn_look
    from vidstyle.models import TransformerConfig

    clip = make_clip("clip.mkv", frames=12, width=96, height=64, codec="ffv1")
    write_image(255 - read_frames(clip, 1)[0], tmp_path / "f0.png")  # 1 frame
    # the driver learns briefly (a node learning it again would take the default's minutes and make another network)
    quick = KeyframeTraining(steps=20, crop=64, architecture=TransformerConfig(base_channels=8, residual_blocks=1, output="residual"))
    monkeypatch.setattr(keyframes_app, "_learn", lambda keyframes, settings, name, quiet: learn_look(keyframes, name, quick))
    painting = tmp_path / "f0.png"
    job = load_job(write_job(tmp_path, f'[[items]]\ninput = "clip.mkv"\nkeyframe = ["0={painting}"]\n'))
    try:
        report = run_batch(job, ray_address=ray_cluster, progress=False, chunk_seconds=0.25)
    finally:
        ray.shutdown()
    assert report.ok, report.summary()
    learnt = list(keyframes_app.looks_folder().glob("*.pth"))
    assert len(learnt) == 1
    # the node's cache holds the driver's network, byte for byte: it was sent, not learnt again
    assert (ray_node_home / "looks" / learnt[0].name).read_bytes() == learnt[0].read_bytes()
    assert not list((ray_node_home / "looks").glob(".*"))  # no partial file left


def test_failed_parts_are_not_counted_as_done(make_clip, tmp_path, style_home):
    from vidstyle.apps.batch.job import _BatchRun, load_job, split_task
    from vidstyle.apps.batch.units import TaskResult

    make_clip("long.mp4", frames=72, width=64, height=48, keyframe_interval=12)
    job = load_job(write_job(tmp_path, 'retries = 1\n[[items]]\ninput = "long.mp4"\nstyles = ["tiny", "tiny2"]\n'))
    units = [unit for task in job.tasks for unit in split_task(task, 1)]
    assert len(units) == 6  # two tasks of three parts
    run = _BatchRun(job, job.tasks, [], units, progress=False)
    bar = run.bar
    assert (bar.done, bar.total) == (0, 144)
    first, second, third = units[:3]
    run.on_start(first)
    bar.advance(first.key, 10)
    run.on_result(TaskResult(first.key, frames=24))
    run.on_start(second)
    bar.advance(second.key, 20)
    assert bar.done == 44
    assert run.on_result(TaskResult(second.key, error="disk hiccup", transient=True))  # retried...
    assert bar.done == 24  # ...and its frames are no longer counted
    run.on_start(second)
    bar.advance(second.key, 5)
    run.on_start(third)
    bar.advance(third.key, 7)
    assert not run.on_result(TaskResult(second.key, error="not a readable video"))  # the task fails
    assert (bar.done, bar.total) == (0, 72)  # none of its frames are done, and none are to come
    bar.advance(third.key, 12)  # a late report of a failed task's part changes nothing
    assert bar.done == 0
    for unit in units[3:]:
        run.on_start(unit)
        bar.advance(unit.key, 3)
    assert bar.done == 9
    assert [o.status for o in run.report.outcomes] == ["failed"]


@pytest.mark.slow  # processes killed and resumed, or a Ray cluster: the slow tier (.ci/run runs it)
def test_a_killed_chunked_batch_reuses_the_parts_it_finished(make_clip, tmp_path, style_home):
    make_clip("long.mp4", frames=96, width=96, height=64, noise=4, keyframe_interval=12)
    text = 'output_dir = "{}"\nname = "{{stem}}.mkv"\n[defaults]\ncodec = "ffv1"\nstyle = "tiny"\n[[items]]\ninput = "long.mp4"\n'
    job = write_job(tmp_path, text.format("out"))
    env = {**os.environ, "VIDSTYLE_HOME": str(style_home)}
    out = tmp_path / "out"

    def finished_parts() -> list[Path]:
        return sorted(p for p in out.glob(".long.part*.mkv") if not is_temporary(p)) if out.is_dir() else []

    process = subprocess.Popen([*VIDSTYLE, "batch", str(job), "--chunk-seconds", "1", "-q"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for(lambda: len(finished_parts()) >= 1)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    wait_for(lambda: leftovers(tmp_path) == [], timeout=20)  # the part in flight is gone, the finished ones stay
    kept = {p.name: p.stat().st_mtime_ns for p in finished_parts()}
    assert 1 <= len(kept) < 4 and not (out / "long.mkv").exists()
    rerun = subprocess.run([*VIDSTYLE, "batch", str(job), "--chunk-seconds", "1"], env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"(4 parts, {len(kept)} done by an earlier run)" in rerun.stderr
    assert manifest(out)["long.mkv"]["reused_parts"] == len(kept)
    # the result is what one uninterrupted chunked render gives
    (tmp_path / "again.toml").write_text(text.format("again"))
    assert subprocess.run([*VIDSTYLE, "batch", str(tmp_path / "again.toml"), "--chunk-seconds", "1", "-q"], env=env,
                          capture_output=True, timeout=300).returncode == 0
    assert frame_times(out / "long.mkv") == frame_times(tmp_path / "again" / "long.mkv") and len(frame_times(out / "long.mkv")) == 96
    assert max(border_differences(out / "long.mkv", tmp_path / "again" / "long.mkv")) == 0
    assert finished_parts() == [] and leftovers(tmp_path) == []


def test_transient_failures_are_retried_and_bad_input_is_not(make_clip, tmp_path, style_home):
    from vidstyle.apps.batch.job import _BatchRun, load_job, split_task
    from vidstyle.apps.batch.units import TaskResult

    make_clip("a.mp4", frames=2)
    job = load_job(write_job(tmp_path, 'retries = 2\n[[items]]\ninput = "a.mp4"\nstyles = ["tiny", "tiny2"]\n'))
    units = [unit for task in job.tasks for unit in split_task(task, 0)]
    run = _BatchRun(job, job.tasks, [], units, progress=False)
    flaky, bad = units
    outcomes = []
    for unit, results in ((flaky, [True, True, None]), (bad, [False])):
        for transient in results:
            run.on_start(unit)
            error = None if transient is None else "disk hiccup" if transient else "not a readable video"
            outcomes.append(run.on_result(TaskResult(unit.key, frames=2, error=error, transient=bool(transient))))
    assert outcomes == [True, True, False, False]  # retried twice, then done; the bad input not retried
    status = {o.task.key: (o.status, o.attempts) for o in run.report.outcomes}
    assert status == {flaky.key: ("done", 3), bad.key: ("failed", 1)}
    assert manifest(job.output_dir)[bad.key]["error"] == "not a readable video"


def test_a_killed_runs_temporary_file_is_never_an_input(make_clip, tmp_path):
    """A run killed by SIGKILL cannot remove its temporary file
    (.NAME.vidstyle-HOST-PID-TOKEN.mp4); a batch over that folder (or a
    glob) leaves it out."""
    from vidstyle.apps.batch.job import expand_input
    from vidstyle.media.atomic import temporary_sibling

    folder = tmp_path / "shots"
    folder.mkdir()
    clip = make_clip("shots/a.mp4")
    leftover = temporary_sibling(folder / "a_mosaic.mp4")
    leftover.write_bytes(clip.read_bytes())
    assert expand_input("shots", tmp_path) == [str(clip)]
    assert expand_input("shots/*.mp4", tmp_path) == [str(clip)]
