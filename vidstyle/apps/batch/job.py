"""Batch rendering: many clips in many styles, resumable, on a local process
pool or a Ray cluster.

A job file (TOML) lists inputs and styles; every (input, style) pair is a
task with an output path and a hash of everything that decides its look.
The manifest in the output folder records each task's outcome, so running
the job again redoes only what is missing, failed or was rendered with other
settings. Outputs are written under temporary names and renamed when
complete, and every task runs in its own process, so killing the batch loses
only the tasks in flight and a crashing input takes nothing else with it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import glob
import hashlib
import json
import os
import re
import signal
import string
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from ...config import check_types, read_toml
from ...errors import OptionError, StyleError, VidstyleError
from ...media.atomic import atomic_output, is_temporary, remove_abandoned
from ...media.chunks import Segment, plan_segments
from ...media.sequences import is_image_sequence, output_exists, sequence_files, sequence_stem
from ...media.writer import concat_video_files
from ...stylize.style_mix import StyleMix, is_style_image, rename_styles, style_label
from ...stylize.styles import ANY_IMAGE_DECODERS, find_style, looks_like_path
from ..run_options import RunOptions
from .runners import LocalRunner, RayRunner
from .units import Task, TaskResult, Unit

MANIFEST_NAME = "vidstyle-batch.json"
DEFAULT_RAY_CHUNK_SECONDS = 60.0
DEFAULT_NAME = "{stem}_{style}.mp4"
VIDEO_EXTENSIONS = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mxf", ".mts", ".m2ts", ".ts", ".mpg", ".mpeg", ".wmv", ".flv"}
# Options that change how fast a task runs, not what it renders; and
# overwrite, which the batch decides from its manifest.
UNHASHED_OPTIONS = {"quiet", "threads", "device", "batch_size", "overwrite"}
NAME_FIELDS = ("stem", "style")  # what a name template may use


@dataclass
class JobFile:
    """The top level of a job file: its keys and their types (checked as
    RunOptions' are, from these annotations)."""

    output_dir: str = "renders"
    name: str = DEFAULT_NAME  # template with {stem} and {style}
    retries: int = 1
    defaults: dict[str, Any] = field(default_factory=dict)  # RunOptions fields
    items: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class JobItem:
    """The keys of an ``[[items]]`` entry besides RunOptions fields."""

    input: str
    styles: str | list[str] | None = None
    style: str | None = None
    name: str | None = None


JOB_KEYS = {f.name for f in dataclasses.fields(JobFile)}
ITEM_KEYS = {f.name for f in dataclasses.fields(JobItem)}


@dataclass
class Job:
    path: Path
    output_dir: Path
    tasks: list[Task]
    retries: int = 1  # extra attempts after a transient failure

    @property
    def manifest_path(self) -> Path:
        return self.output_dir / MANIFEST_NAME


# --- reading the job file -------------------------------------------------


def load_job(path: str | Path, overrides: dict[str, Any] | None = None) -> Job:
    """Parse a job file into tasks; paths in it are relative to the file."""
    path = Path(path)
    values = read_toml(path)
    where = path.name
    unknown = set(values) - JOB_KEYS
    if unknown:
        raise OptionError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(JOB_KEYS))})")
    if not values.get("items"):
        raise OptionError(f"{where}: no [[items]]: nothing to render")
    if not isinstance(values.get("defaults", {}), dict):
        raise OptionError(f"{where}: [defaults] must be a table of run options")
    check_types(JobFile, values, where)
    base = path.resolve().parent
    output_dir = base / values.get("output_dir", JobFile.output_dir)
    retries = values.get("retries", JobFile.retries)
    if retries < 0:
        raise OptionError(f"{where}: retries must be at least 0, got {retries}")
    name = values.get("name", JobFile.name)
    check_name_template(name, where)
    defaults = _options(RunOptions(), values.get("defaults", {}), f"{where} [defaults]")
    defaults = defaults.replace(**(overrides or {}))
    tasks: list[Task] = []
    for number, item in enumerate(values["items"], 1):
        tasks += _item_tasks(item, base, output_dir, defaults, name, f"{where} item {number}")
    seen: dict[str, Task] = {}
    for task in tasks:
        if task.key in seen:
            raise OptionError(
                f"{where}: {seen[task.key].describe()} and {task.describe()} would both write {task.key}; "
                "use a name template with {style} and {stem}"
            )
        seen[task.key] = task
    for task in tasks:
        task.settings_hash = settings_hash(task)
    return Job(path=path, output_dir=output_dir, tasks=tasks, retries=retries)


def _options(base: RunOptions, values: dict[str, Any], where: str) -> RunOptions:
    if not isinstance(values, dict):
        raise OptionError(f"{where}: expected a table of run options")
    unknown = set(values) - set(RunOptions.__dataclass_fields__)
    if unknown:
        raise OptionError(f"{where}: unknown option(s) {', '.join(sorted(unknown))}")
    if "overwrite" in values:
        raise OptionError(f"{where}: overwrite is not a job option: a batch renders what its manifest finds missing or stale (--force: everything)")
    check_types(RunOptions, values, where)
    options = dataclasses.replace(base, **values)
    options.validate()
    return options


def _item_tasks(item: Any, base: Path, output_dir: Path, defaults: RunOptions, name: str, where: str) -> list[Task]:
    if not isinstance(item, dict) or "input" not in item:
        raise OptionError(f"{where}: needs an input")
    check_types(JobItem, item, where)
    styles = item.get("styles", item.get("style", defaults.style))
    styles = [styles] if isinstance(styles, str) else list(styles)
    if not styles:
        raise OptionError(f"{where}: empty styles list")
    styles = [_style_files_relative_to(style, base) for style in styles]
    for style in styles:
        StyleMix.parse(style)  # a malformed mix is a job-file error; an unknown style fails its tasks
    options = _options(defaults, {k: v for k, v in item.items() if k not in ITEM_KEYS}, where)
    template = item.get("name", name)
    check_name_template(template, where)
    tasks = []
    for source in expand_input(item["input"], base, where):
        for style in styles:
            relative = output_name(template, source, style, where)
            task_options = dataclasses.replace(options, style=style)
            if is_image_sequence(relative):  # a job-wide video codec does not apply to image frames
                task_options = dataclasses.replace(task_options, codec=None, pixel_format=None)
            tasks.append(Task(relative, source, style, output_dir / relative, task_options))
    return tasks


def _style_files_relative_to(style: str, base: Path) -> str:
    """A style whose checkpoint files and pictures are named relative to
    the job file, with those paths made absolute (names stay names)."""

    def resolve(name: str) -> str:
        if not (looks_like_path(name) or is_style_image(name)):
            return name
        path = Path(name).expanduser()
        return str(path if path.is_absolute() else base / path)

    return rename_styles(style, resolve)


def expand_input(spec: str, base: Path, where: str = "job") -> list[str]:
    """A file, a glob, a folder of videos or an image-sequence pattern, as a
    list of inputs. A missing plain file is kept: its task fails alone."""
    path = Path(spec).expanduser()
    path = path if path.is_absolute() else base / path
    if is_image_sequence(path):
        return [str(path)]
    if any(ch in spec for ch in "*?["):
        matches = sorted(p for p in glob.glob(str(path), recursive=True) if Path(p).is_file() and not is_temporary(p))
        if not matches:
            raise OptionError(f"{where}: no files match {spec}")
        return matches
    if path.is_dir():
        videos = sorted(str(p) for p in path.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file() and not is_temporary(p))
        if not videos:
            raise OptionError(f"{where}: no videos in folder {spec}")
        return videos
    return [str(path)]


def _stem(source: str) -> str:
    return sequence_stem(source) if is_image_sequence(source) else Path(source).stem


def check_name_template(template: str, where: str) -> None:
    """A name template may use ``{stem}`` and ``{style}`` as they are: no
    attributes, indexes, conversions or format specs, which would let a job
    file reach into Python objects (``{stem.__class__}``)."""
    allowed = ", ".join(f"{{{name}}}" for name in NAME_FIELDS)
    try:
        fields = [(name, conversion, spec) for _, name, spec, conversion in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise OptionError(f"{where}: malformed name template {template!r} ({exc}; fields: {allowed})") from None
    for name, conversion, spec in fields:
        if name not in NAME_FIELDS or conversion or spec:
            shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise OptionError(f"{where}: name template {template!r} uses {shown}: only {allowed} are allowed")


def output_name(template: str, source: str, style: str, where: str) -> str:
    check_name_template(template, where)
    name = template.format(stem=_stem(source), style=style_label(style))
    if Path(name).is_absolute() or ".." in Path(name).parts:
        raise OptionError(f"{where}: name template must stay inside output_dir, got {name}")
    return name


# --- settings hash and manifest -------------------------------------------


def _file_digest(path: Path) -> str:
    stat = path.stat()
    return _digest_of(path.resolve(), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _digest_of(path: Path, size: int, mtime_ns: int) -> str:  # noqa: ARG001 (size and mtime key the cache)
    """Every task of a style hashes the same checkpoint: read it once."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def _input_fingerprint(source: str) -> Any:
    files = sequence_files(source) if is_image_sequence(source) else [Path(source)]
    stats = [(f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.is_file()]
    return [len(stats), sum(s for s, _ in stats), max((m for _, m in stats), default=0)]


def _style_fingerprint(style: str, model: str) -> list[Any]:
    """The digest of each network the run loads: retraining one, or a
    balanced network appearing for a style, changes the output."""
    parts = []
    for name, weight in StyleMix.parse(style).components:
        try:
            parts.append([name, weight, _file_digest(find_style(name, model).path)])
        except StyleError:
            parts.append([name, weight, None])
        if is_style_image(name) and ANY_IMAGE_DECODERS.is_file():  # a picture paints through the decoders
            parts[-1].append(_file_digest(ANY_IMAGE_DECODERS))
    return parts


def settings_hash(task: Task) -> str:
    """Everything that decides what the output looks like: input file,
    style weights and every option that changes the pixels or the file."""
    options = {k: v for k, v in dataclasses.asdict(task.options).items() if k not in UNHASHED_OPTIONS}
    payload = {
        "input": task.input,
        "input_files": _input_fingerprint(task.input),
        "style": _style_fingerprint(task.style, task.options.model),
        "options": options,
        "output": task.key,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Manifest:
    """``<output_dir>/vidstyle-batch.json``: one record per task, rewritten
    atomically after every change so that a kill never corrupts it."""

    def __init__(self, path: Path):
        self.path = path
        self.records: dict[str, dict[str, Any]] = {}
        if path.is_file():
            try:
                self.records = json.loads(path.read_text()).get("tasks", {})
            except (json.JSONDecodeError, AttributeError, OSError):
                self.records = {}  # unreadable: every task is redone

    def is_complete(self, task: Task) -> bool:
        record = self.records.get(task.key, {})
        return record.get("status") == "done" and record.get("settings_hash") == task.settings_hash and output_exists(task.output)

    def update(self, task: Task, **fields: Any) -> None:
        record = self.records.setdefault(task.key, {})
        record.update(
            input=task.input, style=task.style, output=str(task.output), settings_hash=task.settings_hash, **fields
        )
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps({"updated": _now(), "tasks": self.records}, indent=2, default=str))
        os.replace(temporary, self.path)


# --- running --------------------------------------------------------------


@dataclass
class TaskOutcome:
    task: Task
    status: str  # "done", "skipped" (up to date), "failed" or "interrupted"
    seconds: float = 0.0
    frames: int = 0
    attempts: int = 0
    error: str | None = None


@dataclass
class BatchReport:
    outcomes: list[TaskOutcome] = field(default_factory=list)
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(o.status in ("done", "skipped") for o in self.outcomes)

    def summary(self) -> str:
        """A table of every task, then the totals."""
        rows = [("status", "task", "frames", "seconds", "output / error")]
        for o in self.outcomes:
            detail = o.error if o.error else str(o.task.output)
            rows.append((o.status, o.task.describe(), str(o.frames or ""), f"{o.seconds:.1f}" if o.seconds else "", detail))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths)) + "  " + row[4] for row in rows]
        counts = {s: sum(o.status == s for o in self.outcomes) for s in ("done", "skipped", "failed", "interrupted")}
        lines.append(", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no tasks")
        return "\n".join(lines)


def plan(job: Job, force: bool = False) -> tuple[list[Task], list[Task]]:
    """(to render, already up to date)."""
    manifest = Manifest(job.manifest_path)
    todo, up_to_date = [], []
    for task in job.tasks:
        (up_to_date if not force and manifest.is_complete(task) else todo).append(task)
    return todo, up_to_date


def split_task(task: Task, chunk_seconds: float) -> list[Unit]:
    """One unit per segment of the input cut at keyframes about every
    ``chunk_seconds``; a single unit when chunking is off or cannot apply."""
    whole = [Unit(task.key, task, task.output)]
    if chunk_seconds <= 0 or task.options.frames or is_image_sequence(task.input) or is_image_sequence(task.output):
        return whole
    try:
        segments = plan_segments(task.input, chunk_seconds)
    except VidstyleError:
        return whole  # rendering it will report the problem
    if len(segments) == 1:
        return whole
    return [Unit(f"{task.key}#{i}", task, _part_path(task, i, segment), segment) for i, segment in enumerate(segments)]


def _part_path(task: Task, index: int, segment: Segment) -> Path:
    """``.NAME.part001.TOKEN.ext`` beside the output. The token hashes the
    task's settings and the segment's bounds, so a part left by a killed run
    is reused only by a run that would render it the same way (parts are
    renamed into place when complete, so one that exists is whole)."""
    bounds = json.dumps([task.settings_hash, dataclasses.asdict(segment)], sort_keys=True)
    token = hashlib.sha256(bounds.encode()).hexdigest()[:8]
    return task.output.with_name(f".{task.output.stem}.part{index:03d}.{token}{task.output.suffix}")


def _learn_looks(tasks: list[Task], progress: bool) -> dict[str, Path]:
    """Learn each painted-keyframe look once, here, before any worker
    starts: the parts of a long clip, rendered side by side, then find it in
    the cache instead of each learning it (on Ray, the cached file goes with
    the parts to nodes whose cache lacks it). A keyframe that is wrong is
    left for its task to report. Returns the cached look by task key."""
    from ..keyframes import keyframe_look

    looks = {}
    for task in tasks:
        options = task.options
        if options.keyframe:
            with contextlib.suppress(VidstyleError):
                looks[task.key] = keyframe_look(
                    task.input, options.keyframe, frame_rate=options.frame_rate, masks=options.keyframe_mask,
                    max_size=options.max_size, quiet=not progress,
                ).checkpoint
    return looks


def run_batch(
    job: Job,
    workers: int = 1,
    ray_address: str | None = None,
    force: bool = False,
    progress: bool = True,
    chunk_seconds: float | None = None,
) -> BatchReport:
    """Render every task of ``job`` that is not already up to date.
    ``chunk_seconds`` (default: 60 on Ray, off locally) splits long clips
    into segments rendered in parallel."""
    if workers < 1:
        raise OptionError(f"--workers must be at least 1, got {workers}")
    if chunk_seconds is None:
        chunk_seconds = DEFAULT_RAY_CHUNK_SECONDS if ray_address else 0.0
    job.output_dir.mkdir(parents=True, exist_ok=True)
    todo, up_to_date = plan(job, force)
    units = [unit for task in todo for unit in split_task(task, chunk_seconds)]
    parts = {unit.output.name for unit in units if unit.segment is not None and not force}
    for task in todo:
        remove_stale_temporaries(task.output, keep=parts)
        task.output.parent.mkdir(parents=True, exist_ok=True)
    runner = RayRunner(ray_address) if ray_address else LocalRunner(workers)
    looks = _learn_looks(todo, progress)
    if isinstance(runner, RayRunner):
        runner.looks = looks
    state = _BatchRun(job, todo, up_to_date, units, progress)
    try:
        with _signals_as_interrupts():
            to_render = state.reuse_parts()
            runner.run(to_render, state.on_start, state.on_result, state.bar.advance)
    except KeyboardInterrupt:
        state.interrupted()
    finally:
        state.bar.close()
    order = {t.key: i for i, t in enumerate(job.tasks)}
    state.report.outcomes.sort(key=lambda o: order[o.task.key])
    return state.report


class _BatchRun:
    """Bookkeeping of one batch run: attempts, parts, manifest and bar."""

    def __init__(self, job: Job, todo: list[Task], up_to_date: list[Task], units: list[Unit], progress: bool):
        self.job = job
        self.todo = todo
        self.manifest = Manifest(job.manifest_path)
        self.report = BatchReport([TaskOutcome(t, "skipped") for t in up_to_date])
        self.units = {unit.key: unit for unit in units}
        self.units_of: dict[str, list[Unit]] = {task.key: [] for task in todo}
        for unit in units:
            self.units_of[unit.task.key].append(unit)
        self.parts_left = {key: {u.key for u in task_units} for key, task_units in self.units_of.items()}
        self.frames = {task.key: 0 for task in todo}
        self.warnings: dict[str, list[str]] = {task.key: [] for task in todo}  # once each, over all parts
        self.attempts: dict[str, int] = {}
        self.started: dict[str, float] = {}
        self.finished: set[str] = set()
        # parts a killed or failed run finished with the same settings: frames in each
        self.earlier = {unit.key: _finished_part(unit) for unit in units if unit.segment is not None}
        self.earlier = {key: frames for key, frames in self.earlier.items() if frames is not None}
        self.bar = _ProgressBar(todo, len(job.tasks), enabled=progress)

    def reuse_parts(self) -> list[Unit]:
        """Count the parts finished earlier as done now (a task whose parts
        are all there is joined); the units left to render."""
        for key, frames in self.earlier.items():
            self.on_start(self.units[key])
            self.on_result(TaskResult(key, frames=frames))
        return [unit for key, unit in self.units.items() if key not in self.earlier]

    def _attempts(self, task: Task) -> int:
        return max(self.attempts.get(u.key, 0) for u in self.units_of[task.key])

    def on_start(self, unit: Unit) -> None:
        self.attempts[unit.key] = self.attempts.get(unit.key, 0) + 1
        task = unit.task
        if task.key in self.started:
            self.manifest.update(task, attempts=self._attempts(task))
            return
        self.started[task.key] = time.time()
        parts = len(self.units_of[task.key])
        reused = sum(u.key in self.earlier for u in self.units_of[task.key])
        self.manifest.update(task, status="running", started=_now(), parts=parts, reused_parts=reused, attempts=1, error=None)
        detail = f" ({parts} parts" + (f", {reused} done by an earlier run" if reused else "") + ")" if parts > 1 else ""
        self.bar.write(f"start  {task.describe()} -> {task.key}{detail}")

    def on_result(self, result: TaskResult) -> bool:
        """Record a unit's result; True asks the runner to run it again."""
        unit = self.units[result.key]
        task = unit.task
        if task.key in self.finished:
            return False  # another part of this task already failed
        if result.error is not None:
            self.bar.forget(unit.key)  # a failed attempt's frames are not done
            retry = result.transient and self.attempts[unit.key] <= self.job.retries
            if retry:
                self.manifest.update(task, status="retrying", error=result.error)
                self.bar.write(f"retry  {task.describe()}: {result.error}")
                return True
            self._finish(task, "failed", result.error)
            return False
        self.frames[task.key] += result.frames
        self.warnings[task.key] += [w for w in result.warnings if w not in self.warnings[task.key]]
        self.bar.advance(unit.key, result.frames)
        self.parts_left[task.key].discard(unit.key)
        if self.parts_left[task.key]:
            return False
        error = None
        if unit.segment is not None:
            try:
                self._join(task)
            except (VidstyleError, OSError) as exc:
                error = f"joining the parts failed: {exc}"
            self._remove_parts(task)  # joined, or not joinable: no use to a later run
        self._finish(task, "failed" if error else "done", error)
        return False

    def _remove_parts(self, task: Task) -> None:
        for part in self.units_of[task.key]:
            with contextlib.suppress(FileNotFoundError):
                part.output.unlink()

    def _join(self, task: Task) -> None:
        parts = [u.output for u in self.units_of[task.key]]
        with atomic_output(task.output) as temporary:
            concat_video_files(parts, temporary, streams_source=task.input, audio=task.options.audio)

    def _finish(self, task: Task, status: str, error: str | None) -> None:
        self.finished.add(task.key)
        seconds = time.time() - self.started.get(task.key, time.time())
        frames = self.frames[task.key] if status == "done" else 0
        warnings = self.warnings[task.key]
        self.manifest.update(
            task, status=status, finished=_now(), seconds=round(seconds, 2), frames=frames, error=error, warnings=warnings
        )
        for warning in warnings:
            self.bar.write(f"warn   {task.describe()}: {warning}")
        self.report.outcomes.append(TaskOutcome(task, status, seconds, frames, self._attempts(task), error))
        line = f"done   {task.describe()}: {frames} frames in {seconds:.1f} s" if status == "done" else f"FAILED {task.describe()}: {error}"
        self.bar.finish_task(task, [u.key for u in self.units_of[task.key]], line, done=status == "done")

    def interrupted(self) -> None:
        self.report.interrupted = True
        for task in self.todo:
            if task.key not in self.finished:
                status = "interrupted" if task.key in self.started else "pending"
                self.manifest.update(task, status=status, error=None)
                self.report.outcomes.append(TaskOutcome(task, status))


def remove_stale_temporaries(output: Path, keep: set[str] | frozenset[str] = frozenset()) -> None:
    """Parts of chunked renders (``.NAME.part000.TOKEN.ext``) left beside
    ``output`` by a batch that was killed or failed, but for the finished
    ones named in ``keep`` (to be reused); and the temporary files of the
    output and of its parts whose process is gone."""
    stem, suffix = re.escape(output.stem), re.escape(output.suffix)
    part = re.compile(rf"\.{stem}\.part\d{{3}}(\.[0-9a-f]{{8}})?{suffix}")
    older = re.compile(rf"({stem}|\.{stem}\.part\d{{3}}(\.[0-9a-f]{{8}})?)\.tmp\.[0-9a-f]{{8}}{suffix}")  # NAME.tmp.TOKEN.ext
    folder = output.parent
    if not folder.is_dir():
        return
    for candidate in folder.iterdir():
        name = candidate.name
        if ((part.fullmatch(name) and name not in keep) or older.fullmatch(name)) and candidate.is_file():
            with contextlib.suppress(OSError):
                candidate.unlink()
    remove_abandoned(folder, lambda name: name == output.name or part.fullmatch(name) is not None)


def _finished_part(unit: Unit) -> int | None:
    """The frames of a part an earlier run finished, or None."""
    from ...media.reader import count_packets

    if not unit.output.is_file():
        return None
    try:
        return count_packets(unit.output)
    except VidstyleError:
        return None


@contextlib.contextmanager
def _signals_as_interrupts() -> Iterator[None]:
    """SIGTERM (what schedulers and `kill` send) and SIGHUP (a closed
    terminal) end the batch like Ctrl-C: workers are stopped, their
    temporary files removed, the manifest kept."""

    def interrupt(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    signals = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {number: signal.signal(number, interrupt) for number in signals}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _estimated_frames(task: Task) -> int | None:
    from ...media.reader import VideoReader

    try:
        with VideoReader(task.input, frame_rate=task.options.frame_rate) as reader:
            return reader.estimated_frames()
    except VidstyleError:
        return None  # the task will fail and say why


class _ProgressBar:
    """One overall bar counting frames (with ETA), tasks in its label, and a
    line per task event above it. Only frames of work that may still succeed
    count: a failed attempt's frames come off again, and a task's share of
    the total becomes what it really rendered when it ends (nothing, when it
    failed)."""

    def __init__(self, todo: list[Task], total_tasks: int, enabled: bool):
        from tqdm import tqdm

        self.done_tasks = total_tasks - len(todo)
        self.total_tasks = total_tasks
        self.frames_of: dict[str, int] = {}
        self.seen: dict[str, int] = {}
        self.closed: set[str] = set()  # units of finished tasks: late reports are ignored
        total = 0
        estimates: dict[tuple[str, Any], int | None] = {}  # an input rendered in several styles is probed once
        for task in todo:
            source = (task.input, task.options.frame_rate)
            if source not in estimates:
                estimates[source] = _estimated_frames(task)
            count = estimates[source] or 0
            if task.options.frames:
                count = min(count, task.options.frames) if count else task.options.frames
            self.frames_of[task.key] = count
            total += count
        self.total = total
        self.done = 0
        self.bar = tqdm(total=total or None, unit="frame", dynamic_ncols=True, disable=not enabled)
        self._label()

    def _label(self) -> None:
        self.bar.set_description(f"tasks {self.done_tasks}/{self.total_tasks}")

    def write(self, line: str) -> None:
        if not self.bar.disable:
            self.bar.write(line, file=sys.stderr)

    def _count(self, frames: int) -> None:
        self.done += frames
        self.bar.update(frames)

    def advance(self, key: str, frames: int) -> None:
        step = frames - self.seen.get(key, 0)
        if step > 0 and key not in self.closed:
            self.seen[key] = frames
            self._count(step)

    def forget(self, key: str) -> None:
        """A unit's attempt failed: its frames are not done (a retry counts afresh)."""
        self._count(-self.seen.pop(key, 0))

    def finish_task(self, task: Task, unit_keys: list[str], line: str, done: bool = True) -> None:
        """Make the task's share of the total what it rendered: all its
        frames when it is done (a clip shorter or longer than estimated
        too), none when it failed."""
        if not done:
            for key in unit_keys:
                self.forget(key)
        self.closed.update(unit_keys)
        shown = sum(self.seen.get(key, 0) for key in unit_keys)
        self.total += shown - self.frames_of.get(task.key, 0)
        if self.bar.total is not None:
            self.bar.total = self.total
            self.bar.refresh()
        self.done_tasks += 1
        self._label()
        self.write(line)

    def close(self) -> None:
        self.bar.close()
