"""Write-then-rename, so that an interrupted job never leaves a half-written
file where a good one is expected."""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import Iterator

from .errors import VidstyleError


def temporary_sibling(target: Path) -> Path:
    """A unique name next to ``target`` keeping its extension (muxers pick
    the container from it), e.g. ``clip_mosaic.tmp.3f2a.mp4``."""
    target = Path(target)
    return target.with_name(f"{target.stem}.tmp.{uuid.uuid4().hex[:8]}{target.suffix}")


@contextlib.contextmanager
def atomic_output(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` when
    the block completes, delete it when the block raises (Ctrl-C included)."""
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise VidstyleError(f"output folder does not exist: {folder}")
    if not os.access(folder, os.W_OK):
        raise VidstyleError(f"output folder is not writable: {folder}")
    temporary = temporary_sibling(target)
    try:
        yield temporary
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    os.replace(temporary, target)
