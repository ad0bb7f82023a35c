"""User-facing errors.

Everything that a user can cause (a bad path, a corrupt file, an impossible
option) raises a :class:`VidstyleError`. The CLI prints its message as one
line and exits non-zero; anything else is a bug and keeps its traceback.
"""


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
