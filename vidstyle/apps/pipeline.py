"""Video stylization: decode, batch, stylize, encode.

Decoding and encoding run in their own threads joined by small bounded
queues, so that on a CPU the network is the only thing the user waits for,
and memory stays flat however long the clip. The output is written under a
temporary name (a temporary folder for an image sequence) and moved into
place only when complete.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator

import cv2
import numpy as np
from tqdm import tqdm

from ..errors import OptionError, VidstyleError
from ..media.atomic import atomic_output, atomic_sequence_output, check_overwrite
from ..media.chunks import Segment
from ..media.colour import SDR_BT709
from ..media.reader import DecodedFrame, VideoReader
from ..media.sequences import is_image_sequence, printf_pattern, sequence_stem
from ..media.writer import EXTENSION_FORMATS, VideoWriter, container_format
from ..stylize.options import DEFAULT_MEMORY_GIB
from ..stylize.style_mix import style_label
from ..stylize.stylizer import Stylizer
from ..temporal.carry import KeyframeCarry, carry_back
from ..temporal.consistency import FlowTracker, TemporalBlender
from .keyframes import ShotsWithoutKeyframe, keyframe_look
from .run_options import RunOptions

log = logging.getLogger(__name__)

QUEUE_DEPTH = 3  # batches in flight on each side of the network
FLOW_THREADS = 2  # the flow of a batch's frames side by side (bikes.mp4: 43 to 38 ms a frame)
HANDOVER_FRAMES = 48  # frames before a painted keyframe its painting is carried back to (two seconds at 24 fps)


def handover_frames(frame_bytes: int, memory_budget_gib: float | None) -> int:
    """How many frames before a painted keyframe are held back for its
    painting to be carried back to them: HANDOVER_FRAMES, or fewer where
    their outputs and inputs (``frame_bytes`` a frame) would take more than
    a quarter of the memory budget (48 frames at 1920x1080 take 600 MB; at
    3840x2160 the default budget holds 12)."""
    budget = (memory_budget_gib if memory_budget_gib is not None else DEFAULT_MEMORY_GIB) * 2**30
    return max(1, min(HANDOVER_FRAMES, int(budget / 4 // max(frame_bytes, 1))))


@dataclass
class RunResult:
    input: Path
    output: Path
    style: str
    frames: int
    seconds: float
    width: int
    height: int
    device: str
    engine: str = ""  # the engine and precision that ran, e.g. "openvino bf16"
    networks: list[str] = field(default_factory=list)  # the network files that ran (balanced, or full where none)
    skipped_packets: int = 0
    options: dict = field(default_factory=dict)
    pixel_format: str | None = None  # of the output, e.g. yuv420p10le
    alpha: bool = False  # the input's alpha channel went into the output
    warnings: list[str] = field(default_factory=list)  # what of the input the output could not keep

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict:
        """The ``--json`` report."""
        return {
            "input": str(self.input),
            "output": str(self.output),
            "size": {"width": self.width, "height": self.height},
            "frames": self.frames,
            "fps": round(self.fps, 3),
            "seconds": round(self.seconds, 3),
            "device": self.device,
            "engine": self.engine,
            "style": self.style,
            "networks": self.networks,
            "skipped_packets": self.skipped_packets,
            "pixel_format": self.pixel_format,
            "alpha": self.alpha,
            "warnings": self.warnings,
            "options": self.options,
        }


def default_output(input_path: Path, style: str) -> Path:
    """``clip.mov`` + mosaic -> ``clip_mosaic.mov`` beside the input (mp4 when
    the input's container cannot be written); frames ``shot010.%04d.png`` ->
    ``shot010_mosaic.mp4`` beside them, a file that is quick to look at."""
    suffix = input_path.suffix.lower() if input_path.suffix.lower() in EXTENSION_FORMATS else ".mp4"
    stem = sequence_stem(input_path) if is_image_sequence(input_path) else input_path.stem
    return input_path.with_name(f"{stem}_{style_label(style)}{suffix}")


@dataclass
class StageTimes:
    """Where the time of a run went, in seconds: an optional probe for
    ``benchmarks/stage_profile.py``. Pass one as ``stylize_video(...,
    timings=StageTimes())`` and the run adds to it; without one nothing is
    timed (the calls are not even wrapped).

    Each stage is time spent inside calls the pipeline makes anyway, in the
    thread that makes them: ``decode`` and ``flow`` in the decoding thread
    (reading frames, the FlowTracker), ``network`` and ``idle`` in the main
    thread (the Stylizer; waiting for a decoded batch, for room in the
    encoder's queue, or for the encoder to finish), ``blend`` and ``encode``
    in the encoding thread (the TemporalBlender; ``VideoWriter.write``, and
    the encoder's flush in ``close``, which the main thread runs at the end).
    The threads overlap, so the stages add up to more than ``wall``, the
    run's own time; ``frames`` is the frames written."""

    decode: float = 0.0
    flow: float = 0.0
    network: float = 0.0
    idle: float = 0.0
    blend: float = 0.0
    encode: float = 0.0
    wall: float = 0.0
    frames: int = 0


def _timed(fn: Callable, timings: StageTimes | None, stage: str) -> Callable:
    """``fn`` itself without ``timings``; else ``fn`` adding its time to ``stage``."""
    if timings is None:
        return fn

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            setattr(timings, stage, getattr(timings, stage) + time.perf_counter() - started)

    return timed


def _timed_iter(items: Iterator, timings: StageTimes | None, stage: str) -> Iterator:
    """``items`` itself without ``timings``; else the same items, the time
    spent producing each added to ``stage``."""
    if timings is None:
        return items
    return iter(_timed(lambda: next(items, _END), timings, stage), _END)


class _Stop(Exception):
    """Raised inside a worker thread when the job is being abandoned."""


def _put(q: queue.Queue, item: Any, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return
        except queue.Full:
            continue
    raise _Stop


def _frames_to_render(reader: VideoReader, segment: Segment | None, limit: int | None) -> Iterator[tuple[DecodedFrame, bool]]:
    """(frame, keep) in order: with a segment, up to ``segment.overlap``
    frames before its start come first with keep=False, to prime the
    stabiliser; they are stylized but not written."""
    segment = segment or Segment()
    if segment.start is not None:
        reader.seek(segment.start - 1 if segment.overlap else segment.start)
    primers: deque[DecodedFrame] = deque(maxlen=segment.overlap)
    written = 0
    for frame in reader:
        place = segment.wants(frame.pts) if frame.pts is not None else "inside"
        if place == "before":
            primers.append(frame)
            continue
        if place == "after" or (limit is not None and written >= limit):
            return
        while primers:
            yield primers.popleft(), False
        yield frame, True
        written += 1


def _batches(
    frames: Iterator[tuple[DecodedFrame, bool]], size: int, tracker: FlowTracker | None,
    flow_pool: ThreadPoolExecutor | None, wait_for_flow: Callable[[list], list],
) -> Iterator[list[tuple[DecodedFrame, Any, bool]]]:
    """Frames in batches, each with its flow back to the previous frame,
    computed while the network works: the frames of a batch side by side
    in ``flow_pool`` (one thread would fall behind the network on a busy
    CPU: its share of the cores is one thread's among the network's)."""
    batch: list[tuple[DecodedFrame, bool]] = []
    pending: list = []
    for frame, keep in frames:
        batch.append((frame, keep))
        if tracker is not None:
            pending.append(flow_pool.submit(tracker.start(frame.rgb)))
        if len(batch) == size:
            yield _with_flows(batch, wait_for_flow(pending))
            batch, pending = [], []
    if batch:
        yield _with_flows(batch, wait_for_flow(pending))


def _with_flows(batch: list[tuple[DecodedFrame, bool]], flows: list) -> list[tuple[DecodedFrame, Any, bool]]:
    return [(frame, flows[i] if flows else None, keep) for i, (frame, keep) in enumerate(batch)]


_END = object()


class _Worker(threading.Thread):
    """A thread that keeps its exception for the main thread to re-raise."""

    def __init__(self, target: Callable[[], None], name: str):
        super().__init__(name=name, daemon=True)
        self._target_fn = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._target_fn()
        except _Stop:
            pass
        except BaseException as exc:  # handed to the main thread
            self.error = exc


def stylize_video(
    input: str | Path,
    output: str | Path | None = None,
    style: str | None = None,
    *,
    stylizer: Stylizer | None = None,
    options: RunOptions | None = None,
    progress: Callable[[int], None] | None = None,
    segment: Segment | None = None,
    timings: StageTimes | None = None,
    **overrides: Any,
) -> RunResult:
    """Stylize every frame of ``input`` into ``output``, keeping size, timing
    and audio. Options are [RunOptions][vidstyle.apps.run_options.RunOptions] fields (``style``,
    ``batch_size``, ``device``, ``crf``...); pass ``stylizer`` to reuse a
    loaded network across clips. An output that exists is an error unless
    ``overwrite=True``. ``segment`` renders only part of the clip
    (video only, for joining later; see `vidstyle.media.chunks`);
    ``timings`` collects where the time goes (a `StageTimes`)."""
    if style is not None:
        overrides["style"] = style
    options = (options or RunOptions()).replace(**overrides)
    options.validate()
    input_path = Path(input)
    if output is not None:
        _check_output(input_path, Path(output), options.overwrite)
    notes: list[str] = []
    paintings: dict[int, np.ndarray] = {}
    if stylizer is None and options.keyframe:
        look = keyframe_look(
            input_path, options.keyframe, frame_rate=options.frame_rate, masks=options.keyframe_mask, max_size=options.max_size,
            save_as=options.save_look, overwrite=options.overwrite, quiet=options.quiet,
        )
        stylizer, notes, paintings = Stylizer.from_style(str(look.checkpoint), options.stylizer()), look.warnings, look.paintings
        if segment is not None:  # a segment counts its frames from its own start: find the paintings by timestamp
            paintings = {look.times[index]: painting for index, painting in paintings.items() if look.times[index] is not None}
    elif options.save_look:
        raise OptionError("--save-look keeps the look of painted keyframes: give --keyframe too")
    elif options.keyframe_carry != RunOptions.keyframe_carry:
        raise OptionError("--keyframe-carry weighs painted keyframes: give --keyframe too")
    reader = VideoReader(input_path, frame_rate=options.frame_rate)
    try:
        if stylizer is None:
            stylizer = Stylizer.from_style(options.style, options.stylizer())
        stylizer.check_frame_size(reader.info.height, reader.info.width)  # before any frame is decoded
        output_path = Path(output) if output else default_output(input_path, stylizer.name)
        _check_output(input_path, output_path, options.overwrite)
        batch_size = options.batch_size or stylizer.default_batch_size()
        atomic = atomic_sequence_output if is_image_sequence(output_path) else atomic_output
        with atomic(output_path) as temporary:
            frames, seconds, writer, shot_notes = _run(
                reader, stylizer, temporary, options, batch_size, progress, segment, timings, paintings
            )
    finally:
        reader.close()
    info = reader.info
    return RunResult(
        input=input_path,
        output=output_path,
        style=stylizer.name,
        frames=frames,
        seconds=seconds,
        width=info.width,
        height=info.height,
        device=str(stylizer.device),
        engine=stylizer.engine.label(),
        networks=[str(c.source) if c.source else c.name for c in stylizer.checkpoints],
        skipped_packets=reader.skipped_packets,
        options=asdict(options),
        pixel_format=writer.stream.pix_fmt,
        alpha=writer.keeps_alpha,
        warnings=[w for w in [options.stylizer().cap_warning()] if w] + notes + shot_notes + _media_notes(reader, writer),
    )


def _media_notes(reader: VideoReader, writer: VideoWriter) -> list[str]:
    """What the run did to the input that a user would otherwise not know:
    damage skipped, fields merged, HDR painted as it is, and what the
    output could not keep."""
    info, notes = reader.info, []
    if reader.skipped_packets:
        notes.append(f"{reader.skipped_packets} damaged packet(s) in {info.path.name} were skipped")
    notes += reader.warnings
    if info.fields:
        notes.append(
            f"interlaced input ({info.fields}): kept interlaced" if writer.keep_fields
            else f"interlaced input ({info.fields}): deinterlaced with bwdif (--fields keep keeps the fields)"
        )
    if info.colour.hdr and reader.tone_map:
        notes.append(f"HDR input ({info.colour.describe()}): tone-mapped to SDR BT.709 before painting (--hdr sdr)")
    elif info.colour.hdr:
        notes.append(
            f"HDR input ({info.colour.describe()}): painted as its code values and written with the same tags "
            "(--hdr sdr tone-maps it to SDR first)"
        )
    return notes + list(writer.warnings)


def _check_output(input_path: Path, output_path: Path, overwrite: bool = False) -> None:
    """Refuse, before any frame is decoded, an output that cannot be written
    or that would replace something unasked."""
    if output_path.is_dir():
        raise OptionError(f"the output {output_path} is a folder: give a file name, such as {output_path / input_path.stem}_out.mp4")
    container_format(output_path)  # rejects an unknown extension before any work
    if _same_target(input_path, output_path):
        raise OptionError(f"output would overwrite the input: {output_path}")
    check_overwrite(output_path, overwrite)


def _same_target(a: Path, b: Path) -> bool:
    """Whether two paths name the same file, or the same frames (``####`` and
    ``%04d`` alike)."""
    if is_image_sequence(a) and is_image_sequence(b):
        return Path(printf_pattern(a.resolve())) == Path(printf_pattern(b.resolve()))
    return a.exists() and b.exists() and a.resolve() == b.resolve()


def _run(
    reader: VideoReader,
    stylizer: Stylizer,
    temporary: Path,
    options: RunOptions,
    batch_size: int,
    progress: Callable[[int], None] | None,
    segment: Segment | None = None,
    timings: StageTimes | None = None,
    paintings: dict[int, np.ndarray] | None = None,
) -> tuple[int, float, VideoWriter, list[str]]:
    """Decode, stylize and encode on three threads. ``paintings`` (the
    painted keyframes at the frame's size, by frame index, or for a segment
    by timestamp) come back as painted, and the stabiliser carries them into
    the frames after them. Also returns what the run found worth a warning
    (shots with no painted keyframe)."""
    info = reader.info
    temporal = options.temporal_options()
    stabilise = temporal.mode == "flow" and stylizer.changes_input
    shots = ShotsWithoutKeyframe(set(paintings)) if paintings and stabilise and segment is None else None
    # Painted frames come back as painted in a full-strength render.
    exact = stylizer.options.strength == 1 and not stylizer.options.preserve_color
    paintings = (paintings or {}) if exact else {}
    painting_key = (lambda frame: frame.pts) if segment is not None else (lambda frame: frame.index)
    reader.tone_map = options.hdr == "sdr" and info.colour.hdr
    writer = VideoWriter(
        temporary,
        replace(info, colour=SDR_BT709) if reader.tone_map else info,
        options.encoder(),
        streams_source=None if segment or is_image_sequence(info.path) else info.path,
        keep_fields=options.fields == "keep",
        audio=options.audio,
    )
    reader.deinterlace = not writer.keep_fields
    # Decode no more than the output keeps: 16-bit frames only for a deep output.
    reader.high_bit_depth = writer.bit_depth > 8
    reader.alpha = writer.keeps_alpha
    decoded: queue.Queue = queue.Queue(QUEUE_DEPTH)
    stylized: queue.Queue = queue.Queue(QUEUE_DEPTH)
    stop = threading.Event()
    written = 0
    tracker = FlowTracker(temporal) if stabilise else None
    flow_pool = ThreadPoolExecutor(FLOW_THREADS, "vidstyle-flow") if tracker else None
    carry = KeyframeCarry.from_options(temporal) if paintings else None
    blender = TemporalBlender.from_options(temporal, carry) if tracker else None
    hold = blender.hold if blender else (lambda frame, frame_input, stylized: frame)
    # With timings, these calls add their time to it; without, they are the calls themselves.
    wait_for_flow = _timed(lambda pending: [p.result() for p in pending], timings, "flow")
    blender = _timed(blender, timings, "blend") if blender else None
    write = _timed(writer.write, timings, "encode")

    def decode() -> None:
        frames = _timed_iter(_frames_to_render(reader, segment, options.frames), timings, "decode")
        try:
            for batch in _batches(frames, batch_size, tracker, flow_pool, wait_for_flow):
                _put(decoded, batch, stop)
            _put(decoded, _END, stop)
        finally:
            if flow_pool is not None:
                flow_pool.shutdown(wait=False, cancel_futures=True)

    # Outputs wait here while a painted keyframe is ahead, so that its
    # painting can be carried back to the frames before it (carry_back).
    last_painting = max(paintings) if paintings and blender is not None else None
    held_back: deque = deque()  # (frame, output, keep), oldest first
    painted_held = 0  # how many of them, oldest first, a painting must not be carried back over (a keyframe and before)

    def write_held_back(leave: int) -> int:
        """Write all but the ``leave`` newest held-back frames; the count written."""
        nonlocal painted_held
        count = 0
        while len(held_back) > leave:
            frame, image, keep = held_back.popleft()
            painted_held = max(0, painted_held - 1)
            if keep:
                write(image, frame.pts, frame.time_base, frame.alpha)
                count += 1
        return count

    def encode() -> None:
        nonlocal written, painted_held
        while True:
            item = stylized.get()
            kept = 0
            if item is _END:
                kept = write_held_back(0)
            else:
                frames, images = item
                for (frame, flow, keep), image in zip(frames, images):
                    if shots is not None:
                        shots.see(frame.index, flow)
                    key = painting_key(frame)
                    painting = paintings.get(key)
                    if painting is not None:
                        painting = _as_frame(painting, image)
                        if len(held_back) > painted_held:
                            after = list(held_back)[painted_held:]
                            carried = carry_back(
                                painting, frame.rgb, image, [(f.rgb, out) for f, out, _ in after], tracker.estimator,
                                temporal.keyframe_carry, temporal.photometric_threshold,
                            )
                            for index, ((f, _, k), out) in enumerate(zip(after, carried), start=painted_held):
                                held_back[index] = (f, out, k)
                        painted_held = len(held_back) + 1  # this keyframe, appended below
                        image = hold(painting, frame.rgb, image)
                    elif blender is not None:
                        image = blender(image, flow)
                    held_back.append((frame, image, keep))
                    ahead = last_painting is not None and key is not None and key < last_painting
                    kept += write_held_back(handover_frames(image.nbytes + frame.rgb.nbytes, options.memory_budget) if ahead else 0)
            written += kept
            if bar is not None:
                bar.update(kept)
            if progress:
                progress(written)
            if item is _END:
                return

    total = None if segment else reader.estimated_frames()
    if options.frames:
        total = min(total or options.frames, options.frames)
    bar = None if options.quiet else tqdm(
        total=total, unit="frame", desc=f"{info.path.name} [{stylizer.name}]", dynamic_ncols=True
    )
    decoder = _Worker(decode, "vidstyle-decode")
    encoder = _Worker(encode, "vidstyle-encode")
    next_batch = _timed(_next, timings, "idle")
    stylize = _timed(stylizer, timings, "network")
    put_stylized = _timed(_put_checked, timings, "idle")
    join_encoder = _timed(encoder.join, timings, "idle")
    close_writer = _timed(writer.close, timings, "encode")
    network_pool: ThreadPoolExecutor | None = None
    started = time.perf_counter()
    completed = False
    # The flow runs in its own threads beside the network, which already
    # keeps every core busy: OpenCV's own worker threads would only contend
    # (3% of a 640x272 run).
    opencv_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        decoder.start()
        encoder.start()
        # A stylizer that runs each frame on a thread of its own can take the
        # next batch while the last frames of this one finish, so that no
        # core waits for the slowest frame of a batch (6% of a bikes.mp4 run).
        in_flight = stylizer.concurrent_batches(info.height, info.width, batch_size)
        pending: deque = deque()  # (batch, the future of its stylized frames), in order
        while True:
            item = next_batch(decoded, decoder)
            if item is _END:
                break
            frames_in = np.stack([frame.rgb for frame, *_ in item])
            if in_flight == 1:
                put_stylized(stylized, (item, stylize(frames_in)), encoder)
                continue
            if network_pool is None:
                network_pool = ThreadPoolExecutor(in_flight, "vidstyle-batches")
            pending.append((item, network_pool.submit(stylize, frames_in)))
            if len(pending) == in_flight:
                done, future = pending.popleft()
                put_stylized(stylized, (done, future.result()), encoder)
        while pending:
            done, future = pending.popleft()
            put_stylized(stylized, (done, future.result()), encoder)
        put_stylized(stylized, _END, encoder)
        join_encoder()
        if encoder.error:
            raise encoder.error
        close_writer(cut_audio=options.frames is not None)
        completed = True
    finally:
        stop.set()
        if network_pool is not None:
            network_pool.shutdown(wait=not completed, cancel_futures=True)
        if not completed:
            _drain(stylized)
            _put_nowait(stylized, _END)
            encoder.join(timeout=5)
            writer.abort()
        decoder.join(timeout=5)
        cv2.setNumThreads(opencv_threads)
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - started
    if timings is not None:
        timings.wall += seconds
        timings.frames += written
    return written, seconds, writer, [w for w in [shots.warning() if shots else None] if w]


def _as_frame(painting: np.ndarray, like: np.ndarray) -> np.ndarray:
    """An 8-bit painting in the dtype of the frames being written."""
    return painting.astype(np.uint16) * 257 if like.dtype == np.uint16 else painting


def _next(q: queue.Queue, producer: _Worker) -> Any:
    while True:
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            if not producer.is_alive():
                if producer.error:
                    raise producer.error
                try:
                    return q.get_nowait()
                except queue.Empty:
                    raise VidstyleError("the decoder stopped unexpectedly") from None


def _put_checked(q: queue.Queue, item: Any, consumer: _Worker) -> None:
    while True:
        if not consumer.is_alive():
            raise consumer.error or VidstyleError("the encoder stopped unexpectedly")
        try:
            q.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def _drain(q: queue.Queue) -> None:
    while True:
        try:
            q.get_nowait()
        except queue.Empty:
            return


def _put_nowait(q: queue.Queue, item: Any) -> None:
    try:
        q.put_nowait(item)
    except queue.Full:
        pass
