"""Image-sequence patterns: ``shot010.%04d.png`` or ``shot010.####.png``.

Post-production hands frames around as numbered image files rather than
video files. This module only knows about names on disk (which files a
pattern stands for, which number comes first); decoding and encoding them is
left to :mod:`vidstyle.media.reader` and :mod:`vidstyle.media.writer`, so
that batch planning can use it without loading PyAV.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

from ..errors import OptionError

__all__ = [
    "SEQUENCE_EXTENSIONS",
    "DEFAULT_SEQUENCE_RATE",
    "parse_frame_rate",
    "is_image_sequence",
    "printf_pattern",
    "sequence_numbers",
    "sequence_files",
    "sequence_stem",
    "output_exists",
    "remove_output",
]

# Image formats a sequence may be made of (FFmpeg's image2 reads them all).
SEQUENCE_EXTENSIONS = {".png", ".tif", ".tiff", ".exr", ".jpg", ".jpeg"}
DEFAULT_SEQUENCE_RATE = Fraction(24)  # images carry no timing; the usual film rate
# A frame-number field: printf style (%d, %04d) or hash padding (####).
_FRAME_FIELD = re.compile(r"%(0\d+)?d|#+")


def parse_frame_rate(value: float | int | str | Fraction) -> Fraction:
    """``24``, ``23.976`` or ``"24000/1001"`` as an exact positive fraction."""
    try:
        rate = Fraction(str(value).strip())
    except (ValueError, ZeroDivisionError):
        rate = Fraction(0)
    if rate <= 0:
        raise OptionError(f"frame rate must be a positive number or fraction such as 24000/1001, got {value!r}")
    return rate


def _fields(name: str) -> list[re.Match]:
    return list(_FRAME_FIELD.finditer(name))


def is_image_sequence(path: str | Path) -> bool:
    """True for a file name with one frame-number field and an image extension;
    a video called ``take#2.mp4`` is still a plain file."""
    path = Path(path)
    return path.suffix.lower() in SEQUENCE_EXTENSIONS and len(_fields(path.name)) == 1


def _field(pattern: Path) -> re.Match:
    fields = _fields(pattern.name)
    if len(fields) != 1:
        raise ValueError(f"not an image-sequence pattern: {pattern}")
    return fields[0]


def _padding(field: re.Match) -> int:
    """Minimum digits of the frame number: ``%04d`` and ``####`` give 4, ``%d`` 1."""
    text = field.group(0)
    if text.startswith("#"):
        return len(text)
    return int(field.group(1) or "1")


def printf_pattern(pattern: str | Path) -> str:
    """The pattern as FFmpeg's image2 wants it: ``####`` becomes ``%04d``."""
    pattern = Path(pattern)
    field = _field(pattern)
    name = pattern.name
    return str(pattern.with_name(f"{name[: field.start()]}%0{_padding(field)}d{name[field.end() :]}"))


def sequence_numbers(pattern: str | Path) -> dict[int, Path]:
    """Frame number -> file, for every existing file the pattern stands for,
    in frame order. A file counts only if printing its number with the
    pattern gives its name back, as FFmpeg would (``%04d`` takes ``0007``
    and ``12345``, not ``7``)."""
    pattern = Path(pattern)
    field = _field(pattern)
    name, padding = pattern.name, _padding(field)
    prefix, suffix = name[: field.start()], name[field.end() :]
    folder = pattern.parent
    if not folder.is_dir():
        return {}
    matcher = re.compile(re.escape(prefix) + r"(\d+)" + re.escape(suffix))
    found = {}
    for entry in folder.iterdir():
        match = matcher.fullmatch(entry.name)
        if match and f"{int(match.group(1)):0{padding}d}" == match.group(1) and entry.is_file():
            found[int(match.group(1))] = entry
    return dict(sorted(found.items()))


def sequence_files(pattern: str | Path) -> list[Path]:
    """The files of a sequence that exist, sorted by frame number."""
    return list(sequence_numbers(pattern).values())


def sequence_stem(pattern: str | Path) -> str:
    """A name for the clip as a whole: ``plates/shot010.%04d.png`` -> ``shot010``
    (the folder's name when the pattern starts with the number)."""
    pattern = Path(pattern)
    stem = pattern.name[: _field(pattern).start()].rstrip("._- ")
    return stem or pattern.parent.resolve().name or "frames"


def output_exists(path: str | Path) -> bool:
    """A file exists, or at least one frame of a sequence does."""
    return bool(sequence_numbers(path)) if is_image_sequence(path) else Path(path).exists()


def remove_output(path: str | Path) -> None:
    """Delete a file, or every frame of a sequence (the folder is kept)."""
    files = sequence_files(path) if is_image_sequence(path) else [Path(path)]
    for file in files:
        file.unlink(missing_ok=True)
