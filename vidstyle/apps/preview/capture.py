"""The preview's sources: a camera, device, stream or video file opened with
OpenCV, and the thread that reads it (:class:`FrameGrabber`)."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ...errors import VideoError
from ...media.images import resize_long_side

log = logging.getLogger(__name__)

LIVE_MAX_SIDE = 640  # without --size: live use wants frame rate more than pixels


@dataclass
class Source:
    capture: cv2.VideoCapture
    description: str  # "camera 0", "video file clip.mp4"...
    is_file: bool


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """OpenCV and its FFmpeg print warnings on stderr when a source cannot
    be opened; the error vidstyle raises says it in one line (``--debug``
    keeps them)."""
    if log.isEnabledFor(logging.DEBUG):
        yield
        return
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # read when OpenCV first loads FFmpeg
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


def open_source(source: int | str) -> Source:
    """Open a camera index, device path, video file or stream URL."""
    if isinstance(source, str) and source.strip().isdigit():
        source = int(source)
    if isinstance(source, int):
        description, is_file = f"camera {source}", False
    else:
        path = Path(source).expanduser()
        is_file = path.is_file()
        if "://" in source:
            description = f"stream {source}"
        elif not path.exists():
            raise VideoError(f"no such file or device: {source}")
        else:
            description, source = f"{'video file' if is_file else 'device'} {source}", str(path)
    with _quiet_opencv():
        capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        capture.release()
        raise VideoError(f"cannot open {description}")
    return Source(capture, description, is_file)


@dataclass
class Captured:
    rgb: np.ndarray  # at the preview's size
    time_ms: float  # a file's own timestamp; for a live source, since capture began
    captured_at: float  # time.perf_counter() when read


class FrameGrabber:
    """Reads the source in its own thread. Live, it keeps only the newest
    frame: one the loop has not taken when the next arrives is dropped. In
    order (a file without a window), it reads a frame only when the loop
    asks, so none is dropped. A file shown in a window plays at its own
    frame rate, as a camera would deliver it."""

    def __init__(self, source: Source, size: tuple[int, int] | None, in_order: bool):
        self.source = source
        self.size = size
        self.in_order = in_order
        self._paced = source.is_file and not in_order
        self._started = 0.0  # perf_counter at start(): a live source's time 0
        self._origin: float | None = None  # perf_counter time of a paced file's time 0
        self._condition = threading.Condition()
        self._latest: Captured | None = None
        self._wanted = False
        self._stopping = False
        self.ended = False
        self.error: BaseException | None = None
        self.frames_read = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="vidstyle-capture", daemon=True)

    def start(self) -> None:
        self._started = time.perf_counter()
        self._thread.start()

    def _fit(self, bgr: np.ndarray) -> np.ndarray:
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        if self.size is None:
            return resize_long_side(rgb, LIVE_MAX_SIDE)
        if (rgb.shape[1], rgb.shape[0]) == self.size:
            return rgb
        return cv2.resize(rgb, self.size, interpolation=cv2.INTER_AREA)

    def _run(self) -> None:
        capture = self.source.capture
        try:
            while True:
                with self._condition:
                    if self.in_order:
                        self._condition.wait_for(lambda: self._wanted or self._stopping)
                    if self._stopping:
                        return
                ok, bgr = capture.read()
                if not ok or bgr is None:
                    return
                now = time.perf_counter()
                if self.source.is_file:
                    time_ms = capture.get(cv2.CAP_PROP_POS_MSEC)
                else:
                    time_ms = (now - self._started) * 1000.0
                frame = Captured(self._fit(bgr), time_ms, now)
                if self._paced:
                    self._wait_until_due(time_ms, now)
                    frame.captured_at = time.perf_counter()
                with self._condition:
                    if self._latest is not None:
                        self.dropped += 1
                    self._latest, self._wanted = frame, False
                    self.frames_read += 1
                    self._condition.notify_all()
        except BaseException as exc:  # handed to the main thread by get()
            self.error = exc
        finally:
            with self._condition:
                self.ended = True
                self._condition.notify_all()

    def _wait_until_due(self, time_ms: float, now: float) -> None:
        """Hold a file's frame until its time comes, counted from the first."""
        if self._origin is None:
            self._origin = now - time_ms / 1000.0
        with self._condition:
            self._condition.wait_for(lambda: self._stopping, self._origin + time_ms / 1000.0 - now)

    def get(self) -> Captured | None:
        """The newest frame not yet taken, waiting for one; None once the
        source has ended (or stopped delivering) and every frame was taken."""
        with self._condition:
            self._wanted = True
            self._condition.notify_all()
            self._condition.wait_for(lambda: self._latest is not None or self.ended)
            frame, self._latest = self._latest, None
        if frame is None and self.error is not None:
            raise self.error
        return frame

    def stop(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        self._thread.join(timeout=2)
        if not self._thread.is_alive():  # never release a capture that a read is still using
            self.source.capture.release()
