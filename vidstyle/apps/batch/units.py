"""What the batch hands its runners: a unit of work (a whole task, or one
segment of a long clip), the plain data a worker renders it from, the result
that comes back, and the callbacks a runner reports through.

:mod:`~vidstyle.apps.batch.job` plans units and keeps the books on their
results, :mod:`~vidstyle.apps.batch.runners` runs them; both depend on this
interface, and the runners on nothing else of the batch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ...media.chunks import Segment
from ..run_options import RunOptions


@dataclass
class Task:
    """One input rendered in one style."""

    key: str  # the output path relative to the output folder: unique in a job
    input: str  # a file or an image-sequence pattern
    style: str
    output: Path
    options: RunOptions
    settings_hash: str = ""

    def describe(self) -> str:
        return f"{Path(self.input).name} [{self.style}]"


@dataclass
class Unit:
    """What one worker renders: a whole task, or one segment of a long clip
    (joined into the task's output when every segment is done)."""

    key: str
    task: Task
    output: Path
    segment: Segment | None = None


@dataclass
class TaskResult:
    key: str
    frames: int = 0
    error: str | None = None
    transient: bool = False  # worth another attempt (not a bad input or option)
    warnings: list[str] = dataclasses.field(default_factory=list)  # what the output could not keep


OnStart = Callable[[Unit], None]
OnResult = Callable[[TaskResult], bool]
OnProgress = Callable[[str, int], None]


def unit_spec(unit: Unit, threads: int | None = None) -> dict[str, Any]:
    """What a worker needs, as plain data that pickles anywhere."""
    options = dataclasses.asdict(unit.task.options)
    # The batch decides what to render from its manifest; a worker replaces what it is given.
    options.update(quiet=True, threads=options["threads"] or threads, overwrite=True)
    segment = dataclasses.asdict(unit.segment) if unit.segment is not None else None
    return {"key": unit.key, "input": unit.task.input, "output": str(unit.output), "options": options, "segment": segment}
