"""User-facing errors.

Everything that a user can cause (a bad path, a corrupt file, an impossible
option) raises a :class:`VidstyleError`. The CLI prints its message as one
line and exits non-zero; anything else is a bug and keeps its traceback.
"""

import errno
import os


class VidstyleError(Exception):
    """A problem with the user's input, reported as one line."""


class VideoError(VidstyleError):
    """A video file that cannot be read or written."""


class StyleError(VidstyleError):
    """An unknown style or an unreadable style checkpoint."""


class OptionError(VidstyleError):
    """An option value that cannot work."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has
    none), for one-line errors that quote a library."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def out_of_space(exc: BaseException, path: str | os.PathLike | None = None) -> "VidstyleError | None":
    """A full disk (or an exhausted quota) met while writing ``path``, as a
    one-line error naming the file; None for any other exception. PyAV's
    errors are OSErrors too, so an encoder's failed write is caught alike."""
    reasons = {errno.ENOSPC: "no space left on device", getattr(errno, "EDQUOT", -1): "disk quota exceeded"}
    if not isinstance(exc, OSError) or exc.errno not in reasons:
        return None
    where = path if path is not None else exc.filename
    return VidstyleError(f"{reasons[exc.errno]} writing {where}" if where else reasons[exc.errno])
