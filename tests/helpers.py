"""Measurements shared by the tests (what a video file actually contains,
what a failed command printed) and the real photographs they use."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from vidstyle.media.reader import VideoReader


def frame_times(path) -> list[float]:
    """Presentation time of every decoded frame, in seconds."""
    with VideoReader(path) as reader:
        return [float(f.pts * f.time_base) for f in reader]


def audio_seconds(path) -> float:
    """Duration of the first audio stream, counted in decoded samples."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return sum(f.samples for f in container.decode(stream)) / stream.codec_context.sample_rate


def one_line_error(result) -> str:
    """The single stderr line of a command that failed with a user error."""
    assert result.code == 2, (result.code, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err
    return lines[0]


# Real photographs the project ships (samples/README.md), for tests that need
# real content rather than a drawn scene.
SAMPLES = Path(__file__).resolve().parents[1] / "samples"
FLOWER = SAMPLES / "flower.jpg"  # 480x361, a flower filling the frame
LANDSCAPE = SAMPLES / "landscape.mp4"  # 480x270, 72 frames: a camera move over a photo of dunes


def landscape_frames(count: int | None = None) -> list[np.ndarray]:
    """The first ``count`` frames of samples/landscape.mp4 (all: None), RGB uint8."""
    frames = []
    with VideoReader(LANDSCAPE) as reader:
        for frame in reader:
            frames.append(frame.rgb)
            if count and len(frames) == count:
                break
    return frames


# `python -m vidstyle` reporting its own peak (VmHWM) as it exits: Linux
# carries the parent's peak into a child's ru_maxrss across fork and exec,
# so os.wait4 would give the caller's own peak.
PEAK_WRAPPER = """
import atexit, os, runpy, sys
def report():
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(os.environ["VIDSTYLE_PEAK_FILE"], "w") as out:
        out.write(peak)
atexit.register(report)
sys.argv[0] = "vidstyle"
runpy.run_module("vidstyle", run_name="__main__", alter_sys=True)
"""


class RunningStudio:
    """``vidstyle studio`` in a process of its own on a free port, as a
    user starts it; ``stop`` ends it as Ctrl-C does."""

    def __init__(self, workdir: Path, *args: str):
        import os
        import re
        import subprocess
        import sys

        self.workdir = workdir
        command = [sys.executable, "-m", "vidstyle", "studio", "--port", "0", "--no-browser", "--workdir", str(workdir), *map(str, args)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        line = self.process.stdout.readline()
        found = re.search(r"http://\S+/", line)
        if not found:
            self.process.kill()
            raise AssertionError(f"the studio did not start: {line}{self.process.stderr.read()}")
        self.url = found.group(0)

    def request(self, path: str, body: bytes | None = None, headers: dict | None = None, method: str | None = None):
        """(status, headers, body) of one request."""
        import urllib.error
        import urllib.request

        request = urllib.request.Request(self.url + path.lstrip("/"), data=body, headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def json(self, path: str, body: bytes | None = None, **kwargs):
        import json

        status, _, data = self.request(path, body, **kwargs)
        return status, json.loads(data)

    def stop(self) -> int:
        import signal

        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except Exception:
                self.process.kill()
                raise
        return self.process.returncode
