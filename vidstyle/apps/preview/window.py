"""The preview's window: the picture with its overlay, the keys pressed, and
the frame rate and latency it shows (:class:`Meter`)."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections import deque

import cv2
import numpy as np

from ...errors import OptionError

WINDOW_TITLE = "vidstyle preview"


class Meter:
    """Frame rate and capture-to-display latency: recent ones for the
    overlay, over the whole run for the summary."""

    def __init__(self, recent: int = 30):
        self.first_capture: float | None = None
        self.last_display: float | None = None
        self.frames = 0
        self.total_latency = 0.0
        self._recent: deque[tuple[float, float]] = deque(maxlen=recent)  # (displayed at, latency s)

    def add(self, captured_at: float) -> None:
        now = time.perf_counter()
        if self.first_capture is None:
            self.first_capture = captured_at
        self.last_display = now
        self.frames += 1
        self.total_latency += now - captured_at
        self._recent.append((now, now - captured_at))

    @property
    def seconds(self) -> float:
        return self.last_display - self.first_capture if self.frames else 0.0

    @property
    def mean_latency_ms(self) -> float:
        return 1000.0 * self.total_latency / self.frames if self.frames else 0.0

    def recent(self) -> str:
        """The overlay's second line."""
        if len(self._recent) < 2:
            return ""
        span = self._recent[-1][0] - self._recent[0][0]
        fps = (len(self._recent) - 1) / span if span > 0 else 0.0
        latency = 1000.0 * sum(latency for _, latency in self._recent) / len(self._recent)
        return f"{fps:.1f} fps  {latency:.0f} ms"


def check_display() -> None:
    """A window needs a display; on Linux that is an X11 or Wayland session."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise OptionError("no display to show the preview on (DISPLAY is not set): use --headless, and --record FILE to keep the result")


def compose(original: np.ndarray, stylized: np.ndarray, side_by_side: bool, lines: list[str]) -> np.ndarray:
    """The window's picture (BGR): the stylized frame, or the original beside
    it, with the overlay lines in white on a darkened band, readable over
    any style."""
    image = np.hstack([original, stylized]) if side_by_side else stylized
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    lines = [line for line in lines if line]
    if not lines:
        return bgr
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, max(0.35, min(0.8, stylized.shape[1] / 1280))
    sizes = [cv2.getTextSize(line, font, scale, 1)[0] for line in lines]
    step = max(height for _, height in sizes) + 6
    band = bgr[: step * len(lines) + 6, : max(width for width, _ in sizes) + 12]
    band //= 2
    for row, line in enumerate(lines, start=1):
        cv2.putText(bgr, line, (6, row * step), font, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return bgr


class Window:
    """The OpenCV window: shows a picture, returns the key pressed, if any."""

    def __init__(self) -> None:
        cv2.namedWindow(WINDOW_TITLE, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO)

    def show(self, bgr: np.ndarray) -> str | None:
        cv2.imshow(WINDOW_TITLE, bgr)
        code = cv2.waitKey(1)
        if cv2.getWindowProperty(WINDOW_TITLE, cv2.WND_PROP_VISIBLE) < 1:
            return "q"  # closed with the mouse
        return chr(code) if 0 <= code < 256 else None  # special keys (arrows...) have larger codes

    def close(self) -> None:
        with contextlib.suppress(cv2.error):
            cv2.destroyWindow(WINDOW_TITLE)
