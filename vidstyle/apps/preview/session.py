"""Live stylized preview of a camera, stream or file (``vidstyle preview``):
its options, its state and what each key does (:class:`PreviewSession`), and
:func:`run_preview`, which feeds it frames from
:mod:`~vidstyle.apps.preview.capture` and shows the result through
:mod:`~vidstyle.apps.preview.window`.

A capture thread keeps only the newest frame, so however slow the network
is, the picture lags the camera by one network call and never falls further
behind; the main loop stylizes that frame, stabilises it against the
previously displayed one (:class:`~vidstyle.temporal.consistency.FlowTracker` and
:class:`~vidstyle.temporal.consistency.TemporalBlender`, as ``run`` does) and shows it.
A file read without a window is the exception: it is handed over frame by
frame, in order, so that a headless run is deterministic.

Every key press, from the window or from a script, goes through
:meth:`PreviewSession.handle_key`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Mapping

import numpy as np

from ...errors import OptionError, StyleError, VideoError
from ...media.atomic import atomic_output, check_overwrite
from ...media.images import write_image
from ...media.reader import SEQUENCE_FORMAT, VideoInfo
from ...media.writer import EncoderSettings, VideoWriter, container_format
from ...stylize.styles import DEFAULT_MODEL, styles_for
from ...stylize.options import StylizerOptions
from ...stylize.stylizer import Stylizer
from ...temporal.consistency import FlowTracker, TemporalBlender, TemporalOptions
from .capture import FrameGrabber, open_source
from .window import Meter, Window, check_display, compose

log = logging.getLogger(__name__)

MIN_SIDE = 16
STRENGTH_STEP = 0.1
KEY_NAMES = {"space": " ", "esc": "\x1b"}  # for --keys, where these are awkward to type
# Live use trades flow quality for speed: one DIS "ultrafast" flow at 240 px
# with a photometric occlusion check costs a fraction of run's two "medium"
# flows at 360 px (benchmarks/preview_speed.py).
LIVE_TEMPORAL = TemporalOptions(preset="ultrafast", flow_size=240, occlusion="photometric")
# Recordings carry each frame's real time (milliseconds); the rate is only the stream's nominal one.
RECORD_TIME_BASE = Fraction(1, 1000)
RECORD_RATE = Fraction(30)


@dataclass
class PreviewOptions:
    """Every option of ``vidstyle preview``."""

    source: int | str = 0  # camera index (also as a string: "0"), device path, video file or stream URL
    style: str = "mosaic"  # where n/p start; a name, checkpoint or mix
    size: tuple[int, int] | None = None  # (width, height); None: the source's, long side at most 640
    model: str = DEFAULT_MODEL  # "balanced"; "full": the style's largest network; "fast": real time
    device: str = "auto"
    engine: str = "auto"
    precision: str = "auto"
    strength: float = 1.0
    preserve_color: bool = False
    stroke_scale: float = 1.0  # stroke size relative to the frame (stylize/options.py)
    temporal: str = "flow"  # "flow" or "none"; t toggles it
    headless: bool = False  # no window
    frames: int | None = None  # stop after this many frames
    record: Path | None = None  # record the whole run here (r stops and starts recordings)
    overwrite: bool = False  # replace a ``record`` file that exists
    encoder: EncoderSettings = EncoderSettings()

    def __post_init__(self) -> None:
        if self.temporal == "off":  # a synonym of "none", as for run
            self.temporal = "none"

    def validate(self) -> None:
        self.stylizer_options().validate()
        TemporalOptions(mode=self.temporal).validate()
        self.encoder.validate()
        if self.frames is not None and self.frames < 1:
            raise OptionError(f"--frames must be at least 1, got {self.frames}")
        if self.size is not None and min(self.size) < MIN_SIDE:
            raise OptionError(f"--size must be at least {MIN_SIDE}x{MIN_SIDE}, got {self.size[0]}x{self.size[1]}")
        if self.record is not None and container_format(Path(self.record)) == SEQUENCE_FORMAT:
            raise OptionError("--record needs a video file (.mp4, .mkv...), not an image sequence")
        if self.record is not None:
            check_overwrite(self.record, self.overwrite)

    def stylizer_options(self) -> StylizerOptions:
        return StylizerOptions.taken_from(self)


def parse_size(text: str) -> tuple[int, int]:
    """``"320x240"`` -> ``(320, 240)``."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match:
        raise OptionError(f"--size must be WIDTHxHEIGHT such as 320x240, got {text!r}")
    return int(match[1]), int(match[2])


def parse_keys(spec: str) -> dict[int, str]:
    """``"3:n,5:+,5:+,9:space"`` -> ``{3: "n", 5: "++", 9: " "}``: key presses
    by frame number, for :func:`run_preview`'s ``keys``."""
    keys: dict[int, str] = {}
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        frame, colon, key = entry.partition(":")
        key = KEY_NAMES.get(key.strip().lower(), key.strip())
        if not colon or not frame.strip().isdigit() or len(key) != 1:
            raise OptionError(f"bad --keys entry {entry!r}: use FRAME:KEY, e.g. 10:n,20:+,30:space")
        keys[int(frame)] = keys.get(int(frame), "") + key
    return keys


def style_cycle(start: str, model: str) -> list[str]:
    """The styles n/p go through: the installed ones that have a network for
    ``model``, and ``start`` first when it is not one of them (a file or a mix)."""
    styles = [entry.name for entry in styles_for(model)]
    return styles if start in styles else [start, *styles]


def unique_path(folder: Path, prefix: str, suffix: str) -> Path:
    """``folder/PREFIX-YYYYmmdd-HHMMSS.SUFFIX``, with -2, -3... when taken
    (several snapshots within a second)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path, number = folder / f"{prefix}-{stamp}{suffix}", 2
    while path.exists():
        path, number = folder / f"{prefix}-{stamp}-{number}{suffix}", number + 1
    return path


class Recorder:
    """One recording, encoded like ``run``'s output into a temporary file
    beside ``path`` (:func:`~vidstyle.media.atomic.atomic_output`) and renamed
    onto it by :meth:`close`. Frames keep the time they were captured at."""

    def __init__(self, path: Path, width: int, height: int, settings: EncoderSettings):
        self.path = Path(path)
        info = VideoInfo(
            path=self.path, width=width, height=height, frame_rate=RECORD_RATE, time_base=RECORD_TIME_BASE,
            frame_count=None, duration=None, codec="rawvideo", rotation=0, has_audio=False,
        )
        with contextlib.ExitStack() as stack:  # the temporary file goes if the encoder refuses
            temporary = stack.enter_context(atomic_output(self.path))
            self._writer = VideoWriter(temporary, info, settings)
            self._output = stack.pop_all()  # kept open until close()
        self._start_ms: float | None = None

    def write(self, rgb: np.ndarray, time_ms: float) -> None:
        if self._start_ms is None:
            self._start_ms = time_ms
        self._writer.write(rgb, round(time_ms - self._start_ms))

    def close(self) -> Path:
        with self._output:  # renamed onto the target; removed if finishing the file fails
            self._writer.close()
        return self.path


@dataclass(frozen=True)
class FrameSettings:
    """What shaped a frame (the timeline in :class:`PreviewStats`)."""

    style: str
    strength: float
    temporal: bool


class PreviewSession:
    """The preview's state (style, strength, stabiliser, recording) and what
    each key does to it; capture and display are not its business, so the
    window and a headless script drive it alike."""

    def __init__(self, options: PreviewOptions):
        self.options = options
        self.styles = style_cycle(options.style, options.model)
        self.style_index = self.styles.index(options.style)
        self.strength = options.strength
        self.temporal = options.temporal == "flow"
        self.side_by_side = False
        self.folder = Path(options.record).parent if options.record else Path(".")
        self._stylizers: dict[str, Stylizer] = {}
        self._load(self.style)  # an unknown style fails before the camera opens
        self._tracker = FlowTracker(LIVE_TEMPORAL)
        self._blender = TemporalBlender.from_options(LIVE_TEMPORAL)
        # optical flow runs beside the network on the same frame, as in `run`
        self._flow_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vidstyle-flow")
        self.recorder: Recorder | None = None
        self._record_to: Path | None = options.record  # opened at the next frame, whose size it takes
        self.recordings: list[Path] = []
        self.snapshots: list[Path] = []
        self.last_output: np.ndarray | None = None
        self.frames = 0
        self.timeline: list[tuple[int, FrameSettings]] = []  # (first frame, settings) at each change

    @property
    def style(self) -> str:
        return self.styles[self.style_index]

    @property
    def recording(self) -> bool:
        return self._record_to is not None or self.recorder is not None

    def _load(self, style: str) -> Stylizer:
        """Each style's network is loaded once, so that cycling is instant."""
        if style not in self._stylizers:
            self._stylizers[style] = Stylizer.from_style(style, self.options.stylizer_options())
        return self._stylizers[style]

    def stylizer(self) -> Stylizer:
        """The current style's network, at the current strength."""
        stylizer = self._load(self.style)
        if stylizer.options.strength != self.strength:
            stylizer.options = dataclasses.replace(stylizer.options, strength=self.strength)
        return stylizer

    def handle_key(self, key: str) -> bool:
        """Apply one key press (a character: " " is space, "\\x1b" Esc);
        False means quit."""
        if key in ("q", "\x1b"):
            return False
        if key in ("n", "p"):
            self._switch_style(1 if key == "n" else -1)
        elif key in ("+", "=", "-", "_"):  # = and _ share the keys of + and -
            step = STRENGTH_STEP if key in ("+", "=") else -STRENGTH_STEP
            self.strength = round(min(1.0, max(0.0, self.strength + step)), 6)
        elif key == "s":
            self.side_by_side = not self.side_by_side
        elif key == "t":
            self.temporal = not self.temporal
            self._reset_temporal()
        elif key == " ":
            self.snapshot()
        elif key == "r":
            self.toggle_recording()
        return True

    def _switch_style(self, step: int) -> None:
        index = (self.style_index + step) % len(self.styles)
        try:
            self._load(self.styles[index])
        except StyleError as exc:  # a broken file in the style folder should not end the preview
            log.warning("%s; staying with %s", exc, self.style)
            return
        self.style_index = index
        self._reset_temporal()  # a new style starts clean instead of ghosting the old one

    def _reset_temporal(self) -> None:
        self._tracker.reset()
        self._blender.reset()

    def snapshot(self) -> Path | None:
        """Save the last stylized frame as a PNG."""
        if self.last_output is None:
            log.info("no frame to save yet")
            return None
        path = unique_path(self.folder, "vidstyle-snapshot", ".png")
        write_image(self.last_output, path)
        self.snapshots.append(path)
        return path

    def toggle_recording(self) -> None:
        if self.recording:
            self.stop_recording()
        else:
            suffix = Path(self.options.record).suffix if self.options.record else ".mp4"
            self._record_to = unique_path(self.folder, "vidstyle-recording", suffix)

    def stop_recording(self) -> None:
        """Finish the recording in progress (renamed into place)."""
        self._record_to = None
        recorder, self.recorder = self.recorder, None
        if recorder is not None:
            self.recordings.append(recorder.close())

    def process(self, rgb: np.ndarray, time_ms: float) -> np.ndarray:
        """Stylize, stabilise and record one captured frame."""
        stylizer = self.stylizer()
        steady = self.temporal and stylizer.changes_input
        flow = self._flow_worker.submit(self._tracker, rgb) if steady else None
        out = stylizer(rgb)
        if flow is not None:
            out = self._blender(out, flow.result())
        else:
            self._reset_temporal()
        if self._record_to is not None:
            height, width = out.shape[:2]
            self.recorder = Recorder(self._record_to, width, height, self.options.encoder)
            self._record_to = None
        if self.recorder is not None:
            self.recorder.write(out, time_ms)
        settings = FrameSettings(self.style, self.strength, self.temporal)
        if not self.timeline or self.timeline[-1][1] != settings:
            self.timeline.append((self.frames, settings))
        self.last_output = out
        self.frames += 1
        return out

    def status(self) -> str:
        """The overlay's first line."""
        parts = [self.style, f"strength {self.strength:.1f}", "flow" if self.temporal else "no flow"]
        return "  ".join(parts + (["REC"] if self.recording else []))

    def close(self) -> None:
        self._flow_worker.shutdown(wait=True)
        self.stop_recording()


@dataclass
class PreviewStats:
    frames: int
    seconds: float  # from the first capture to the last display
    mean_latency_ms: float  # capture to display
    dropped: int  # frames the capture replaced before the loop took them
    recordings: list[Path] = field(default_factory=list)
    snapshots: list[Path] = field(default_factory=list)
    timeline: list[tuple[int, FrameSettings]] = field(default_factory=list)  # (first frame, settings) at each change

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def settings_at(self, frame: int) -> FrameSettings:
        return [settings for start, settings in self.timeline if start <= frame][-1]

    def summary(self) -> str:
        return f"processed {self.frames} frames at {self.fps:.1f} fps (mean latency {self.mean_latency_ms:.0f} ms)"

    def to_dict(self) -> dict:
        """The ``--json`` report."""
        return {
            "frames": self.frames,
            "fps": round(self.fps, 3),
            "seconds": round(self.seconds, 3),
            "mean_latency_ms": round(self.mean_latency_ms, 2),
            "dropped": self.dropped,
            "recordings": [str(p) for p in self.recordings],
            "snapshots": [str(p) for p in self.snapshots],
        }


def run_preview(options: PreviewOptions, keys: Mapping[int, str] | None = None) -> PreviewStats:
    """Run until q or Esc, ``options.frames``, or the end of the source.

    ``keys`` scripts key presses: ``{4: "n+"}`` presses n, then +, just
    before the fifth frame is stylized, through the same
    `PreviewSession.handle_key` as the keyboard. Recordings are
    finished whenever the preview ends (a lost camera, Ctrl-C, an error)."""
    options.validate()
    if not options.headless:
        check_display()
    session = PreviewSession(options)
    source = open_source(options.source)
    grabber = FrameGrabber(source, options.size, in_order=source.is_file and options.headless)
    grabber.start()
    meter = Meter()
    window = None
    try:
        window = None if options.headless else Window()
        while options.frames is None or session.frames < options.frames:
            if not all(session.handle_key(key) for key in (keys or {}).get(session.frames, "")):
                break
            frame = grabber.get()
            if frame is None:
                if grabber.frames_read == 0:
                    raise VideoError(f"no frames could be read from {source.description}")
                if not source.is_file:
                    log.warning("%s stopped delivering frames after %d; ending the preview", source.description, grabber.frames_read)
                break
            stylized = session.process(frame.rgb, frame.time_ms)
            key = None
            if window is not None:
                key = window.show(compose(frame.rgb, stylized, session.side_by_side, [session.status(), meter.recent()]))
            meter.add(frame.captured_at)
            if key is not None and not session.handle_key(key):
                break
    finally:
        grabber.stop()
        if window is not None:
            window.close()
        session.close()
    return PreviewStats(
        frames=session.frames,
        seconds=meter.seconds,
        mean_latency_ms=meter.mean_latency_ms,
        dropped=grabber.dropped,
        recordings=session.recordings,
        snapshots=session.snapshots,
        timeline=session.timeline,
    )
