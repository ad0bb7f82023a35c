"""Whole-clip renders, one at a time, each a ``vidstyle run`` process.

A render is exactly the command the page shows for it, so what a user
scripts later gives the same file. A process of its own also means that
cancelling is the signal ``run`` already handles (it removes its partial
output), and that a render that fails cannot take the studio, or another
user's render, with it. Progress is read from the bar ``run`` prints on
stderr: frames, or the steps of learning a painted keyframe's look."""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ...stylize.style_mix import style_label
from ..run_options import RunOptions
from .workspace import new_id

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
_BAR = re.compile(r"(?P<done>\d+)/(?P<total>\d+) \[.*?(?P<unit>frame|step)")
_COUNT = re.compile(r"(?P<done>\d+)(?P<unit>frame|step)s? \[")
STOP_SECONDS = 10  # a cancelled render has this long to clean up before it is killed
RENDER_NICENESS = 10  # renders yield the CPU to the page, which a user is waiting on


def _lower_priority() -> None:
    os.nice(RENDER_NICENESS)


@dataclass
class Render:
    id: str
    clip_id: str
    clip_name: str
    input: Path
    output: Path
    options: RunOptions
    shown_options: RunOptions  # with file names the user knows in place of the workspace's
    status: str = QUEUED
    stage: str = "frames"  # "frames", or "learning" a painted keyframe's look first
    done: int = 0
    total: int | None = None
    queued_at: float = field(default_factory=time.time)
    started_at: float | None = None
    stage_started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    process: subprocess.Popen | None = field(default=None, repr=False)
    cancel_asked: bool = False

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "vidstyle", "run", str(self.input), *self.options.arguments(), "-o", str(self.output), "--json", "-y"]

    @property
    def command(self) -> str:
        """The same render as a command a user can type."""
        return shlex.join(["vidstyle", "run", self.clip_name, *self.shown_options.arguments(), "-o", self.output.name])

    def seconds_left(self) -> float | None:
        """From the pace of the current stage so far; None until there is one."""
        if self.status != RUNNING or not self.total or not self.done or self.stage_started_at is None:
            return None
        elapsed = time.time() - self.stage_started_at
        return elapsed / self.done * (self.total - self.done)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "clip": self.clip_id,
            "clip_name": self.clip_name,
            "style": style_label(self.shown_options.style) if not self.options.keyframe else "painted keyframe",
            "status": self.status,
            "stage": self.stage,
            "done": self.done,
            "total": self.total,
            "seconds_left": self.seconds_left(),
            "elapsed": (self.finished_at or time.time()) - self.started_at if self.started_at else 0.0,
            "error": self.error,
            "warnings": self.warnings,
            "command": self.command,
            "file": self.output.name if self.status == DONE else None,
        }


class RenderQueue:
    """Renders in the order they were asked for, on one worker thread."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.renders: dict[str, Render] = {}
        self._waiting: queue.Queue[Render | None] = queue.Queue()
        self._lock = threading.Lock()
        self.version = 0  # goes up with every change a page should see
        self._worker = threading.Thread(target=self._work, name="studio-renders", daemon=True)
        self._worker.start()

    def submit(self, clip_id: str, clip_name: str, input: Path, options: RunOptions, shown: RunOptions) -> Render:
        render_id = new_id()
        folder = self.folder / render_id
        folder.mkdir(parents=True)
        output = folder / f"{Path(clip_name).stem}_{style_label(shown.style) if not options.keyframe else 'keyframe'}.mp4"
        render = Render(render_id, clip_id, clip_name, input, output, options, shown)
        with self._lock:
            self.renders[render_id] = render
            self._changed()
        self._waiting.put(render)
        return render

    def cancel(self, render_id: str) -> Render | None:
        with self._lock:
            render = self.renders.get(render_id)
            if render is None:
                return None
            if render.status == QUEUED:
                render.status, render.finished_at = CANCELLED, time.time()
            elif render.status == RUNNING:
                render.cancel_asked = True
                if render.process is not None and render.process.poll() is None:
                    render.process.send_signal(signal.SIGTERM)
            self._changed()
            return render

    def snapshot(self) -> tuple[int, list[dict]]:
        with self._lock:
            return self.version, [r.to_dict() for r in self.renders.values()]

    def close(self) -> None:
        """Stop the running render (its partial file is removed) and the worker."""
        with self._lock:
            for render in self.renders.values():
                if render.status == QUEUED:
                    render.status = CANCELLED
        for render in list(self.renders.values()):
            if render.status == RUNNING:
                self.cancel(render.id)
        self._waiting.put(None)
        self._worker.join(timeout=STOP_SECONDS + 2)

    def _changed(self) -> None:
        self.version += 1

    def _work(self) -> None:
        while True:
            render = self._waiting.get()
            if render is None:
                return
            with self._lock:
                if render.status != QUEUED:
                    continue
                render.status, render.started_at = RUNNING, time.time()
                render.stage_started_at = render.started_at
                self._changed()
            try:
                self._run(render)
            except Exception as exc:  # a render's failure is its own, never the studio's
                with self._lock:
                    render.status, render.error = FAILED, f"could not run the render: {exc}"
                    render.finished_at = time.time()
                    self._changed()

    def _run(self, render: Render) -> None:
        process = subprocess.Popen(
            render.argv(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            preexec_fn=_lower_priority if hasattr(os, "nice") else None,
        )
        with self._lock:
            render.process = process
            if render.cancel_asked:
                process.send_signal(signal.SIGTERM)
        report: list[bytes] = []
        reader = threading.Thread(target=lambda: report.append(process.stdout.read()), daemon=True)
        reader.start()
        errors = self._follow(render, process)
        try:
            process.wait(timeout=STOP_SECONDS if render.cancel_asked else None)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join()
        with self._lock:
            render.finished_at = time.time()
            if render.cancel_asked:
                render.status = CANCELLED
                render.output.unlink(missing_ok=True)
            elif process.returncode == 0:
                render.status = DONE
                render.done = render.total or render.done
                try:
                    render.warnings = json.loads(b"".join(report) or b"{}").get("warnings", [])
                except json.JSONDecodeError:
                    pass
            else:
                render.status = FAILED
                render.error = next((line.removeprefix("vidstyle: error: ") for line in reversed(errors) if line.startswith("vidstyle:")), None) \
                    or (errors[-1] if errors else f"vidstyle run exited with status {process.returncode}")
            render.process = None
            self._changed()

    def _follow(self, render: Render, process: subprocess.Popen) -> list[str]:
        """Read the progress bars on stderr until the process closes it; the
        lines that are not bars are returned (the error, if any)."""
        lines: list[str] = []
        pending = b""
        while chunk := process.stderr.read1(4096):
            pending += chunk
            *complete, pending = re.split(rb"[\r\n]", pending)
            for raw in complete:
                line = raw.decode("utf-8", "replace").strip()
                if line and not self._progress(render, line):
                    lines.append(line)
        if pending.strip():
            lines.append(pending.decode("utf-8", "replace").strip())
        return lines

    def _progress(self, render: Render, line: str) -> bool:
        match = _BAR.search(line) or _COUNT.search(line)
        if not match:
            return False
        stage = "learning" if match["unit"] == "step" else "frames"
        total = match.groupdict().get("total")
        with self._lock:
            if stage != render.stage:
                render.stage, render.stage_started_at, render.total = stage, time.time(), None
            render.done = int(match["done"])
            render.total = int(total) if total else render.total
            self._changed()
        return True
