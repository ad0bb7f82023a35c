"""Finding styles by name: the bundled ones and the user's own folder.

A style is a checkpoint file ``NAME.pth``. ``--style`` takes either a name,
looked up in the user folder first (so that a user can shadow a bundled
style) and then in the package, or a path to a checkpoint file.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path

from .checkpoints import StyleCheckpoint, load_checkpoint
from .errors import StyleError

BUNDLED_DIR = Path(__file__).resolve().parent / "styles"
STYLE_SUFFIX = ".pth"


def user_style_dir() -> Path:
    home = os.environ.get("VIDSTYLE_HOME")
    base = Path(home).expanduser() if home else Path("~/.cache/vidstyle").expanduser()
    return base / "styles"


def style_dirs() -> list[tuple[str, Path]]:
    return [("user", user_style_dir()), ("bundled", BUNDLED_DIR)]


@dataclass(frozen=True)
class StyleEntry:
    name: str
    path: Path
    origin: str  # "user", "bundled" or "file"


def available_styles() -> list[StyleEntry]:
    """Every named style, user folder first; a user style hides a bundled
    one of the same name."""
    found: dict[str, StyleEntry] = {}
    for origin, folder in style_dirs():
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob(f"*{STYLE_SUFFIX}")):
            found.setdefault(path.stem, StyleEntry(path.stem, path, origin))
    return sorted(found.values(), key=lambda e: e.name)


def looks_like_path(spec: str) -> bool:
    return spec.endswith((".pth", ".pt", ".ckpt")) or os.sep in spec or "/" in spec


def find_style(spec: str) -> StyleEntry:
    """Resolve a ``--style`` value to a file; unknown names suggest close matches."""
    spec = spec.strip()
    if not spec:
        raise StyleError("no style given")
    if looks_like_path(spec):
        path = Path(spec).expanduser()
        if not path.is_file():
            raise StyleError(f"no such style file: {spec}")
        return StyleEntry(path.stem, path, "file")
    styles = {entry.name: entry for entry in available_styles()}
    if spec in styles:
        return styles[spec]
    if not styles:
        raise StyleError(f"unknown style {spec!r}: no styles are installed")
    close = difflib.get_close_matches(spec.lower(), list(styles), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; available: {', '.join(styles)}"
    raise StyleError(f"unknown style {spec!r}{hint}")


def load_style(spec: str) -> StyleCheckpoint:
    entry = find_style(spec)
    checkpoint = load_checkpoint(entry.path)
    if entry.origin != "file":
        checkpoint.name = entry.name
    return checkpoint
