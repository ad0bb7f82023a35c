"""Write-then-rename, so that an interrupted job never leaves a half-written
file (or half a sequence of frames) where a good one is expected.

Temporary names are hidden and start with the output's name, then carry the
host and process that write them (``.clip_mosaic.mp4.vidstyle-HOST-PID-TOKEN.mp4``):
a run that was killed (SIGKILL, a power cut) cannot remove its own, so the
next run of the same output removes those whose process is gone, and never
one that another render is still writing."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import uuid
from pathlib import Path
from typing import Callable, Iterator

from ..errors import OptionError, VidstyleError, out_of_space
from .sequences import is_image_sequence, output_exists, sequence_files, sequence_stem

# .TARGET.vidstyle-HOST-PID-TOKEN[.ext]: the target's name, then who writes it
_TEMPORARY = re.compile(r"\.(?P<target>.+)\.vidstyle-(?P<host>[A-Za-z0-9]+)-(?P<pid>\d+)-[0-9a-f]{8}(?P<suffix>\.[^.]*)?")
_OLD_TEMPORARY = re.compile(r".*\.tmp\.[0-9a-f]{8}(\.[^.]*)?")  # NAME.tmp.TOKEN.ext, before names said who wrote them


def _host() -> str:
    """This machine's name as it goes into a temporary name: letters and
    digits only, so that the name parses back."""
    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname().split(".")[0])[:16] or "host"


def _temporary_name(target_name: str, suffix: str = "") -> str:
    return f".{target_name}.vidstyle-{_host()}-{os.getpid()}-{uuid.uuid4().hex[:8]}{suffix}"


def temporary_sibling(target: Path) -> Path:
    """A unique hidden name next to ``target``, derived from it and ending
    in its extension (muxers pick the container from it), e.g.
    ``.clip_mosaic.mp4.vidstyle-studio1-4242-3f2a9c1b.mp4``."""
    target = Path(target)
    return target.with_name(_temporary_name(target.name, target.suffix))


def is_temporary(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a temporary file or folder of this module's making
    (or of an older version's, ``NAME.tmp.XXXXXXXX.ext``), left by a run
    that was killed before it could remove it: never an input."""
    name = Path(path).name
    return _TEMPORARY.fullmatch(name) is not None or _OLD_TEMPORARY.fullmatch(name) is not None


def _process_alive(pid: int) -> bool:
    """Whether a process of this machine is running; when that cannot be
    told, yes (a temporary file kept is cheap, a render's file deleted is not)."""
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill would end the process there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: someone else's, alive
        return True
    return True


def abandoned(path: str | os.PathLike) -> bool:
    """A temporary written on this machine by a process that is gone."""
    match = _TEMPORARY.fullmatch(Path(path).name)
    return match is not None and match["host"] == _host() and not _process_alive(int(match["pid"]))


def remove_abandoned(folder: Path, targets: Callable[[str], bool]) -> list[Path]:
    """Delete the abandoned temporaries in ``folder`` of every output whose
    name ``targets`` accepts; the paths removed."""
    removed = []
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        match = _TEMPORARY.fullmatch(entry.name)
        if match is None or not targets(match["target"]) or not abandoned(entry):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry)
    return removed


def check_overwrite(path: str | os.PathLike, overwrite: bool) -> None:
    """Refuse an output that exists (for a sequence: any frame of it) unless
    ``overwrite``, FFmpeg's convention: a render is not replaced unasked.
    A folder is refused either way, since it is never replaced."""
    path = Path(path)
    if not is_image_sequence(path) and path.is_dir():
        raise OptionError(f"the output {path} is a folder: give a file name inside it")
    if not overwrite and output_exists(path):
        raise OptionError(f"{path} exists: add -y (--overwrite) to replace it")


def _check_writable(folder: Path) -> None:
    if not folder.is_dir():
        raise VidstyleError(f"output folder does not exist: {folder}")
    if not os.access(folder, os.W_OK):
        raise VidstyleError(f"output folder is not writable: {folder}")


@contextlib.contextmanager
def atomic_output(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` when
    the block completes, delete it when the block raises (Ctrl-C included).
    Abandoned temporaries of the same target go first; a full disk is a
    one-line error naming ``target``."""
    target = Path(target)
    _check_writable(target.parent if str(target.parent) else Path("."))
    remove_abandoned(target.parent if str(target.parent) else Path("."), lambda name: name == target.name)
    temporary = temporary_sibling(target)
    try:
        yield temporary
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        full = out_of_space(exc, target)
        if full is not None:
            raise full from exc
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
    other files, or that is a mount point (another file system than its
    parent's), gets the temporary folder inside it, so that each frame is
    moved by a rename within one file system."""
    pattern = Path(os.path.abspath(pattern))
    folder = pattern.parent
    stem = sequence_stem(pattern)
    if folder.is_dir():
        _check_writable(folder)
        whole = not any(folder.iterdir()) and os.access(folder.parent, os.W_OK) and _same_file_system(folder, folder.parent)
    elif folder.exists():
        raise VidstyleError(f"output folder is a file: {folder}")
    elif folder.parent.is_dir():
        _check_writable(folder.parent)  # the folder itself is made by the rename
        whole = True
    else:
        raise VidstyleError(f"output folder does not exist: {folder} (nor its parent, so it cannot be made)")
    remove_abandoned(folder.parent, lambda name: name == folder.name)
    remove_abandoned(folder, lambda name: name == stem)
    # Named without the frame field: FFmpeg would read a "%04d" in a folder name too.
    if whole:
        temporary = folder.parent / _temporary_name(folder.name)
    else:
        temporary = folder / _temporary_name(stem)
    temporary.mkdir()
    try:
        yield temporary / pattern.name
        if not (whole and _replace_folder(temporary, folder)):
            _move_frames(temporary, pattern)
    except BaseException as exc:
        full = out_of_space(exc, pattern)
        if full is not None:
            raise full from exc
        raise
    finally:
        shutil.rmtree(temporary, ignore_errors=True)  # already gone after a whole-folder rename


def _same_file_system(a: Path, b: Path) -> bool:
    return os.stat(a).st_dev == os.stat(b).st_dev


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
