"""``run --keyframe N=FILE``: paint a clip in the look of frames painted by
hand. The painted files are checked against the clip's frames, a look is
learnt from them (:mod:`vidstyle.training.keyframes`) and kept as an
ordinary style checkpoint, which the one stylizer runs like any other.

Learnt looks are cached by what they were learnt from (the clip's frames
and the painted files), so a second render with other options starts at
once; ``--save-look NAME`` also keeps one as a style for other clips and
the preview.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

import cv2
from tqdm import tqdm

from ..config import vidstyle_home
from ..errors import OptionError
from ..media.images import read_image
from ..media.reader import FramePastEnd, VideoReader, read_frames
from ..media.sequences import DEFAULT_SEQUENCE_RATE
from ..stylize.frames import working_size
from ..stylize.styles import user_style_dir
from ..stylize.torch_support import require_torch
from ..temporal.consistency import SHORTEST_SHOT, FlowPair, FlowTracker, begins_shot

log = logging.getLogger(__name__)

# Keyframe looks are learnt and painted at the frame's own size up to this
# long side (strokes as painted); larger frames at this size, then enlarged.
KEYFRAME_MAX_SIDE = 960
# A painting whose aspect ratio differs from the frame's by more than this is refused.
ASPECT_TOLERANCE = 0.01
# Below this mean difference (in levels) a "painted" frame is the frame itself.
UNPAINTED_LEVELS = 1.0
SPEC = re.compile(r"^\s*(\d+)\s*=\s*(.+)$")
STYLE_NAME = re.compile(r"[A-Za-z0-9_-]+")


@dataclass
class KeyframeLook:
    """The learnt look, ready for ``Stylizer.from_style``, and what the
    checks had to say."""

    checkpoint: Path
    paintings: dict[int, np.ndarray] = field(default_factory=dict)  # at the frame's size, masks applied
    warnings: list[str] = field(default_factory=list)
    learnt: bool = True  # False: taken from the cache
    times: dict[int, int | None] = field(default_factory=dict)  # each keyframe's timestamp in the video stream


def parse_keyframes(specs: Sequence[str], option: str = "--keyframe") -> dict[int, Path]:
    """``["0=a.png", "120=b.png"]`` as {frame index: file}, one error per
    malformed entry or repeated index."""
    found: dict[int, Path] = {}
    for spec in specs:
        match = SPEC.match(str(spec))
        if not match:
            raise OptionError(f"{option} takes FRAME=FILE, such as 0=frame0_painted.png, got {spec!r}")
        index, path = int(match.group(1)), Path(match.group(2).strip()).expanduser()
        if index in found:
            raise OptionError(f"{option} gives frame {index} twice ({found[index]} and {path}): give one file a frame")
        if not path.is_file():
            raise OptionError(f"{option} {index}: no such file: {path}")
        found[index] = path
    return found


def _mask(path: Path) -> np.ndarray:
    """A mask file as weights in [0, 1]: its alpha where it has one, else
    its grey level (white paints)."""
    rgb, alpha = _painted_with_mask(path)
    if alpha is not None:
        return alpha
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0


def _painted_with_mask(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """The painting as RGB, and its alpha as a mask where it has one that
    is not fully opaque."""
    rgb = read_image(path)  # bounded, with a one-line error for what is not a picture
    try:
        from PIL import Image

        with Image.open(path) as picture:
            if "A" not in picture.getbands() and not (picture.mode == "P" and "transparency" in picture.info):
                return rgb, None
            alpha = np.asarray(picture.convert("RGBA"))[..., 3]
    except (OSError, ValueError):
        return rgb, None
    if alpha.min() == 255:
        return rgb, None
    return rgb, alpha.astype(np.float32) / 255.0


def resize_to(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Area averaging down, bicubic up (a mask keeps its float values)."""
    shrinking = height * width < image.shape[0] * image.shape[1]
    resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)
    return np.clip(resized, 0, 1) if image.dtype == np.float32 else resized


def _fit(painted: np.ndarray, mask: np.ndarray | None, height: int, width: int, index: int, path: Path, warnings: list[str]):
    """The painting at the frame's size: scaled with a warning when only
    the size differs, refused when the shape differs."""
    ph, pw = painted.shape[:2]
    if (ph, pw) == (height, width):
        return painted, mask
    if abs(pw / ph - width / height) > ASPECT_TOLERANCE * width / height:
        raise OptionError(
            f"--keyframe {index}: {path.name} is {pw}x{ph}, the clip's frames are {width}x{height}: "
            "a painting must have the frame's shape"
        )
    warnings.append(f"keyframe {index}: {path.name} is {pw}x{ph}; scaled to the frame's {width}x{height}")
    painted = resize_to(painted, height, width)
    if mask is not None:
        mask = resize_to(mask, height, width)
    return painted, mask


def _clip_frames(input_path: Path, indices: set[int], frame_rate) -> tuple[dict[int, np.ndarray], dict[int, int | None]]:
    """The clip's frames at ``indices``, decoded as the run decodes them,
    and their timestamps (a segment of the clip knows its frames by those)."""
    try:
        frames = read_frames(input_path, indices, frame_rate)
    except FramePastEnd as error:
        raise OptionError(f"--keyframe {error.index}: the clip has only {error.count} frames (0 to {error.count - 1})") from None
    return {i: f.rgb for i, f in frames.items()}, {i: f.pts for i, f in frames.items()}


def _cache_key(frames: dict[int, np.ndarray], files: list[dict[int, Path]], side: int, settings) -> str:
    digest = hashlib.sha256(repr((side, settings)).encode())
    for index in sorted(frames):
        digest.update(str(index).encode())
        digest.update(hashlib.sha256(frames[index].tobytes()).digest())
        for found in files:
            if index in found:
                digest.update(hashlib.sha256(found[index].read_bytes()).digest())
    return digest.hexdigest()[:20]


def looks_folder() -> Path:
    """Where learnt looks are cached, by what they were learnt from."""
    return vidstyle_home() / "looks"


def install_look(name: str, data: bytes) -> None:
    """Put a look learnt elsewhere (a batch's driver, for a node of another
    machine) into this machine's cache, unless it is there already."""
    target = looks_folder() / Path(name).name
    if target.is_file():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        partial.write_bytes(data)
        os.replace(partial, target)  # whole or not at all, whoever else writes it
    finally:
        partial.unlink(missing_ok=True)


def keyframe_look(
    input_path: str | Path,
    specs: Sequence[str],
    *,
    frame_rate=24,
    masks: Sequence[str] = (),
    max_size: int | None = None,
    save_as: str | None = None,
    overwrite: bool = False,
    quiet: bool = False,
    settings=None,
) -> KeyframeLook:
    """Check the painted keyframes against the clip, learn their look (or
    take it from the cache) and return the checkpoint to paint with.
    ``masks`` (``FRAME=FILE`` as for the keyframes) say where each painting
    applies, in place of its alpha. ``save_as`` keeps the look as a user
    style of that name (an existing one only with ``overwrite``). ``settings``: a :class:`~vidstyle.training.keyframes.KeyframeTraining`
    (None: its defaults)."""
    require_torch("painting from keyframes (--keyframe)")
    from ..stylize.checkpoints import load_checkpoint, save_checkpoint
    from ..training.keyframes import Keyframe, KeyframeTraining

    paintings = parse_keyframes(specs)
    if not paintings:
        raise OptionError("no keyframes given")
    mask_files = parse_keyframes(masks, option="--keyframe-mask")
    orphans = sorted(set(mask_files) - set(paintings))
    if orphans:
        raise OptionError(f"--keyframe-mask {orphans[0]}: no --keyframe {orphans[0]} to go with it")
    if save_as is not None:
        if not STYLE_NAME.fullmatch(save_as):
            raise OptionError(f"--save-look takes a name of letters, digits, - and _, got {save_as!r}")
        if (user_style_dir() / f"{save_as}.pth").exists() and not overwrite:
            raise OptionError(f"a style named {save_as} exists: add -y (--overwrite) to replace it")
    input_path = Path(input_path)
    frames, times = _clip_frames(input_path, set(paintings), frame_rate)
    warnings: list[str] = []
    height, width = next(iter(frames.values())).shape[:2]
    side = min(KEYFRAME_MAX_SIDE, max_size or KEYFRAME_MAX_SIDE)
    work_h, work_w = working_size(height, width, max_size=side, native=True)
    keyframes, targets = [], {}
    for index, path in sorted(paintings.items()):
        painted, mask = _painted_with_mask(path)
        if index in mask_files:
            mask = _mask(mask_files[index])
            if mask.shape != painted.shape[:2]:
                mask = resize_to(mask, *painted.shape[:2])
        painted, mask = _fit(painted, mask, height, width, index, path, warnings)
        frame = frames[index]
        if frame.dtype != np.uint8:
            frame = (frame >> 8).astype(np.uint8)
        if np.abs(painted.astype(np.int16) - frame).mean() < UNPAINTED_LEVELS:
            warnings.append(f"keyframe {index}: {path.name} is the clip's frame itself, unpainted")
        targets[index] = Keyframe(index, frame, painted, mask).target()
        if (work_h, work_w) != (height, width):
            frame, painted = resize_to(frame, work_h, work_w), resize_to(painted, work_h, work_w)
            mask = resize_to(mask, work_h, work_w) if mask is not None else None
        keyframes.append(Keyframe(index, frame, painted, mask))
    settings = settings or KeyframeTraining()
    key = _cache_key(frames, [paintings, mask_files], side, settings)
    cached = looks_folder() / f"{key}.pth"
    learnt = not cached.is_file()
    if learnt:
        checkpoint = _learn(keyframes, settings, save_as or "keyframes", quiet)
        cached.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(checkpoint, cached)
    if save_as:
        target = user_style_dir() / f"{save_as}.pth"
        target.parent.mkdir(parents=True, exist_ok=True)
        checkpoint = load_checkpoint(cached)
        checkpoint.name = save_as
        save_checkpoint(checkpoint, target)
        log.info("saved the look as %s (use it with --style %s)", target, save_as)
    return KeyframeLook(cached, targets, warnings, learnt, times)


def _learn(keyframes, settings, name: str, quiet: bool):
    from ..training.keyframes import learn_look

    described = f"learning the look of {len(keyframes)} keyframe{'s' * (len(keyframes) > 1)}"
    with tqdm(total=settings.steps, desc=described, unit="step", disable=quiet, dynamic_ncols=True) as bar:

        def progress(step: int, steps: int, loss: float) -> None:
            if steps != bar.total:  # fewer steps fit in the time budget
                bar.total = steps
            bar.update(step - bar.n)

        return learn_look(keyframes, name, settings, progress=progress)


def shot_openings(
    path: Path, frame_rate=DEFAULT_SEQUENCE_RATE, quiet: bool = False
) -> Iterator[tuple[int, int, np.ndarray]]:
    """The clip's shots as a run cuts them (the stabiliser's cuts), each
    as (first frame, last frame, the first frame's picture), in order;
    those under ``SHORTEST_SHOT`` frames are left out, unless no shot is
    longer (then the clip is one shot). The frames to paint: a keyframe
    early in each shot carries through it."""
    tracker = FlowTracker()
    clip_opening = shot_opening = None  # (first frame, its picture): the clip's, and the current shot's
    last, found = -1, 0
    with VideoReader(path, frame_rate=frame_rate) as reader:
        frames = tqdm(reader, total=reader.estimated_frames(), unit="frame", desc=f"{path.name} [shots]", disable=quiet)
        for frame in frames:
            if begins_shot(tracker(frame.rgb)) or shot_opening is None:
                if shot_opening is not None and last - shot_opening[0] + 1 >= SHORTEST_SHOT:
                    found += 1
                    yield shot_opening[0], last, shot_opening[1]
                shot_opening = (frame.index, frame.rgb)
                clip_opening = clip_opening or shot_opening
            last = frame.index
    if shot_opening is not None and last - shot_opening[0] + 1 >= SHORTEST_SHOT:
        yield shot_opening[0], last, shot_opening[1]
    elif clip_opening is not None and not found:
        yield clip_opening[0], last, clip_opening[1]


class ShotsWithoutKeyframe:
    """The shots of a keyframe run (as the stabiliser cuts them) that hold
    no painted keyframe. The look carries within a shot, so in these the
    learnt network paints alone, guessing for content the keyframes never
    showed; the run names them so that the user can paint one frame each."""

    SHOWN = 4  # shots named in the warning; the rest are counted

    def __init__(self, keyframes: set[int]):
        self.keyframes = keyframes
        self.shots: list[list[int]] = []  # [first frame, last frame]

    def see(self, index: int, pair: FlowPair | None) -> None:
        """Frame ``index`` was painted; ``pair``: its flow back (``begins_shot``)."""
        if begins_shot(pair) or not self.shots:
            self.shots.append([index, index])
        else:
            self.shots[-1][1] = index

    def unpainted(self) -> list[tuple[int, int]]:
        return [
            (first, last) for first, last in self.shots
            if last - first + 1 >= SHORTEST_SHOT and not any(first <= k <= last for k in self.keyframes)
        ]

    def warning(self) -> str | None:
        missing = self.unpainted()
        if not missing:
            return None
        ranges = ", ".join(f"{first}-{last}" for first, last in missing[: self.SHOWN])
        if len(missing) > self.SHOWN:
            ranges += f" and {len(missing) - self.SHOWN} more"
        first = missing[0][0]
        return (
            f"{len(missing)} of {len(self.shots)} shots have no painted keyframe (frames {ranges}): the learnt look "
            f"guesses there; paint a frame of each, e.g. --keyframe {first}=FILE (vidstyle image CLIP --shots "
            "writes each shot's first frame)"
        )
