"""Where batch work runs: one local process per unit, or Ray tasks on a cluster.

A unit is a whole task or one segment of a long clip
(:mod:`~vidstyle.apps.batch.units`, the only part of the batch the runners
know). Both runners take the same callbacks from
:func:`vidstyle.apps.batch.job.run_batch`: ``on_start(unit)``
when a unit is launched, ``on_result(result)`` when it ends (returning True
to have it run again) and ``on_progress(key, frames)`` as frames are written.
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable

from ...errors import OptionError, VidstyleError
from .units import OnProgress, OnResult, OnStart, TaskResult, Unit, unit_spec

STOP_GRACE_SECONDS = 10
PROGRESS_EVERY_SECONDS = 0.25  # how often a worker reports frames (the first report goes at once)


def render_unit(spec: dict[str, Any], on_progress: Callable[[int], None] | None = None) -> TaskResult:
    """Render one unit; errors come back as a result, never as an exception."""
    from ...media.chunks import Segment
    from ..pipeline import stylize_video
    from ..run_options import RunOptions

    segment = Segment(**spec["segment"]) if spec.get("segment") else None
    try:
        options = RunOptions(**spec["options"])
        result = stylize_video(spec["input"], spec["output"], options=options, progress=on_progress, segment=segment)
        return TaskResult(spec["key"], frames=result.frames, warnings=result.warnings)
    except VidstyleError as exc:
        return TaskResult(spec["key"], error=str(exc))
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # an unexpected failure: maybe a flaky disk or a GPU hiccup
        return TaskResult(spec["key"], error=f"{type(exc).__name__}: {exc}".splitlines()[0], transient=True)


def _throttled(send: Callable[[int], None]) -> Callable[[int], None]:
    """A progress callback that passes a frame count on at most every
    PROGRESS_EVERY_SECONDS."""
    last = [0.0]

    def progress(frames: int) -> None:
        now = time.monotonic()
        if now - last[0] > PROGRESS_EVERY_SECONDS:
            last[0] = now
            send(frames)

    return progress


# --- local processes --------------------------------------------------------


def _die_with_parent() -> None:
    """Ask Linux to send SIGTERM to this worker if the batch process dies
    (even by SIGKILL), so that the worker deletes its temporary file."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _worker_main(spec: dict[str, Any], messages: Any, parent_pid: int) -> None:
    _die_with_parent()
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        return

    def terminate(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt  # unwinds through atomic_output, which removes the temporary file

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the parent, which stops us in order
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a closed terminal too
    progress = _throttled(lambda frames: messages.put(("progress", spec["key"], frames)))
    try:
        result = render_unit(spec, progress)
    except KeyboardInterrupt:
        return
    messages.put(("result", result))


class LocalRunner:
    """Each unit in its own process, ``workers`` at a time. A process per
    unit costs a second or two of start-up against minutes of rendering, and
    buys isolation: a crash (even a segfault in a codec) fails only its task."""

    def __init__(self, workers: int = 1):
        if workers < 1:
            raise OptionError(f"--workers must be at least 1, got {workers}")
        self.workers = workers

    def run(self, units: list[Unit], on_start: OnStart, on_result: OnResult, on_progress: OnProgress) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")  # no inherited torch threads or locks
        messages = context.Queue()
        threads = max(1, (os.cpu_count() or 1) // self.workers)
        pending = list(units)
        running: dict[str, tuple[Unit, Any]] = {}
        exited: dict[str, float] = {}
        try:
            while pending or running:
                while pending and len(running) < self.workers:
                    unit = pending.pop(0)
                    process = context.Process(
                        target=_worker_main, args=(unit_spec(unit, threads), messages, os.getpid()), daemon=True
                    )
                    on_start(unit)
                    process.start()
                    running[unit.key] = (unit, process)
                try:
                    message = messages.get(timeout=0.2)
                except queue.Empty:
                    message = None
                if message is not None:
                    if message[0] == "progress":
                        on_progress(message[1], message[2])
                    else:
                        result: TaskResult = message[1]
                        if result.key not in running:  # already given up as crashed
                            continue
                        unit, process = running.pop(result.key)
                        exited.pop(result.key, None)
                        process.join()
                        if on_result(result):
                            pending.insert(0, unit)
                    continue
                now = time.monotonic()
                for key, (unit, process) in list(running.items()):
                    if process.exitcode is None:
                        continue
                    # a result sent just before exit may still be in the pipe: wait a moment
                    first_seen = exited.setdefault(key, now)
                    if now - first_seen < 1.0:
                        continue
                    running.pop(key)
                    exited.pop(key)
                    crash = TaskResult(key, error=f"worker process died (exit code {process.exitcode})", transient=True)
                    if on_result(crash):
                        pending.insert(0, unit)
        finally:
            self._stop([process for _, process in running.values()])
            messages.close()

    @staticmethod
    def _stop(processes: list[Any]) -> None:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: the worker removes its temporary output
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()


# --- Ray ----------------------------------------------------------------------


class RayRunner:
    """Units as Ray tasks on an existing cluster (``address``: host:port or
    ``auto``): one GPU each where the cluster has GPUs, else one CPU each
    (and one network thread, so that tasks sharing a node do not fight).
    Every node must see the inputs and the output folder at the same paths.
    Workers report frames as they go through a Ray queue, which the driver
    reads between results. ``looks``: looks learnt from painted keyframes,
    by task key; each goes once into Ray's object store and with its task's
    units, so that a node with a cache of its own does not learn it again."""

    def __init__(self, address: str):
        try:
            import ray  # noqa: F401
        except ImportError:
            raise OptionError("--ray needs Ray: pip install 'vidstyle[ray]'") from None
        self.address = address
        self.looks: dict[str, Path] = {}

    def run(self, units: list[Unit], on_start: OnStart, on_result: OnResult, on_progress: OnProgress) -> None:
        import ray

        if not ray.is_initialized():
            try:
                ray.init(address=self.address, log_to_driver=False)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                raise VidstyleError(f"cannot reach a Ray cluster at {self.address}: {str(exc).splitlines()[0]}") from None
        from ray.util.queue import Queue

        gpus = ray.cluster_resources().get("GPU", 0)
        remote = ray.remote(num_gpus=1 if gpus else 0, max_retries=0)(_ray_render)
        reports = Queue(actor_options={"num_cpus": 0})
        futures: dict[Any, Unit] = {}
        shipped: dict[str, Any] = {}  # a look's file name: its bytes in the object store

        def submit(unit: Unit) -> None:
            on_start(unit)
            spec = unit_spec(unit, threads=None if gpus else 1)
            spec["options"]["device"] = "cuda" if gpus else "cpu"
            look = self.looks.get(unit.task.key)
            if look is not None and look.name not in shipped:
                shipped[look.name] = ray.put(look.read_bytes())
            spec["look"] = look.name if look is not None else None
            # an object reference resolves to its bytes only as an argument of its own
            futures[remote.remote(spec, reports, shipped[look.name] if look is not None else None)] = unit

        def report() -> None:
            waiting = reports.qsize()
            for key, frames in reports.get_nowait_batch(waiting) if waiting else []:
                on_progress(key, frames)

        for unit in units:
            submit(unit)
        try:
            while futures:
                done, _ = ray.wait(list(futures), num_returns=1, timeout=PROGRESS_EVERY_SECONDS)
                report()  # before the result, so that a unit's frames are in before it ends
                if not done:
                    continue
                unit = futures.pop(done[0])
                try:
                    result = ray.get(done[0])
                except Exception as exc:  # the worker or its node died
                    result = TaskResult(unit.key, error=f"Ray task failed: {str(exc).splitlines()[0]}", transient=True)
                if on_result(result):
                    submit(unit)
        finally:
            for future in futures:
                ray.cancel(future, force=True)
            reports.shutdown()


def _ray_render(spec: dict[str, Any], reports: Any = None, look: bytes | None = None) -> TaskResult:
    if look is not None:
        from ..keyframes import install_look

        install_look(spec["look"], look)

    def send(frames: int) -> None:
        try:
            reports.put_nowait((spec["key"], frames))
        except Exception:  # the driver went away: a report is not worth failing the render over
            pass

    return render_unit(spec, _throttled(send) if reports is not None else None)

