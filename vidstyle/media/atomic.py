"""Write-then-rename, so that an interrupted job never leaves a half-written
file (or half a sequence of frames) where a good one is expected."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Iterator

from ..errors import VidstyleError
from .sequences import sequence_files, sequence_stem


def temporary_sibling(target: Path) -> Path:
    """A unique name next to ``target`` keeping its extension (muxers pick
    the container from it), e.g. ``clip_mosaic.tmp.3f2a.mp4``."""
    target = Path(target)
    return target.with_name(f"{target.stem}.tmp.{uuid.uuid4().hex[:8]}{target.suffix}")


def is_temporary(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a temporary file of ``temporary_sibling``'s making,
    left by a run that was killed before it could remove it: never an input."""
    return re.search(r"\.tmp\.[0-9a-f]{8}(\.[^.]*)?$", Path(path).name) is not None


def _check_writable(folder: Path) -> None:
    if not folder.is_dir():
        raise VidstyleError(f"output folder does not exist: {folder}")
    if not os.access(folder, os.W_OK):
        raise VidstyleError(f"output folder is not writable: {folder}")


@contextlib.contextmanager
def atomic_output(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` when
    the block completes, delete it when the block raises (Ctrl-C included)."""
    target = Path(target)
    _check_writable(target.parent if str(target.parent) else Path("."))
    temporary = temporary_sibling(target)
    try:
        yield temporary
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    os.replace(temporary, target)


@contextlib.contextmanager
def atomic_sequence_output(pattern: str | os.PathLike) -> Iterator[Path]:
    """Yield the same pattern inside a fresh temporary folder; when the block
    completes, its frames replace the sequence at ``pattern`` (frames of an
    earlier, longer render are removed, other files are left alone); when it
    raises, the temporary folder goes and nothing else changes.

    A missing (or empty) target folder is replaced by the temporary one in a
    single rename, so all frames appear at once. A target folder that holds
    other files gets the temporary folder inside it, so that each frame is
    moved by a rename within one file system."""
    pattern = Path(os.path.abspath(pattern))
    folder = pattern.parent
    if folder.is_dir():
        _check_writable(folder)
        whole = not any(folder.iterdir()) and os.access(folder.parent, os.W_OK)
    elif folder.exists():
        raise VidstyleError(f"output folder is a file: {folder}")
    elif folder.parent.is_dir():
        _check_writable(folder.parent)  # the folder itself is made by the rename
        whole = True
    else:
        raise VidstyleError(f"output folder does not exist: {folder} (nor its parent, so it cannot be made)")
    # Named without the frame field: FFmpeg would read a "%04d" in a folder name too.
    token = uuid.uuid4().hex[:8]
    if whole:
        temporary = folder.parent / f"{folder.name}.tmp.{token}"
    else:
        temporary = folder / f"{sequence_stem(pattern)}.tmp.{token}"
    temporary.mkdir()
    try:
        yield temporary / pattern.name
        if not (whole and _replace_folder(temporary, folder)):
            _move_frames(temporary, pattern)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)  # already gone after a whole-folder rename


def _replace_folder(temporary: Path, folder: Path) -> bool:
    """Rename ``temporary`` onto ``folder``; False when ``folder`` has gained
    files in the meantime (then the frames are moved one by one)."""
    try:
        os.replace(temporary, folder)
        return True
    except OSError:
        if folder.is_dir():
            return False
        raise


def _move_frames(temporary: Path, pattern: Path) -> None:
    """Move every frame into the target folder, then remove the target's
    frames that this render did not write. An interruption half way takes
    the frames already moved back out."""
    frames = sorted(temporary.iterdir())
    names = {frame.name for frame in frames}
    moved: list[Path] = []
    try:
        for frame in frames:
            os.replace(frame, pattern.parent / frame.name)
            moved.append(pattern.parent / frame.name)
    except BaseException:
        for frame in moved:
            frame.unlink(missing_ok=True)
        raise
    for stale in sequence_files(pattern):
        if stale.name not in names:
            stale.unlink(missing_ok=True)
