"""Finding styles by name: the bundled ones and the user's own folder.

A style is a checkpoint file ``NAME.pth``. ``--style`` takes either a name,
looked up in the user folder first (so that a user can shadow a bundled
style) and then in the package, or a path to a checkpoint file. A style's
smaller networks, distilled from that one, sit in subfolders of the same
folders: ``balanced/NAME.pth`` (the default: half the CPU time of the full
network, nearly its look) and ``fast/NAME.pth`` (real time). A style with no
balanced network runs its full one.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import vidstyle_home
from ..errors import StyleError

if TYPE_CHECKING:
    from .checkpoints import StyleCheckpoint

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "styles"
# The decoders that let any picture be a style (style_images.py); not a style itself.
ANY_IMAGE_DECODERS = BUNDLED_DIR / "any-image" / "decoders.pth"
STYLE_SUFFIX = ".pth"
MODELS = ("balanced", "full", "fast")
DEFAULT_MODEL = "balanced"


def user_style_dir() -> Path:
    return vidstyle_home() / "styles"


def style_dirs() -> list[tuple[str, Path]]:
    return [("user", user_style_dir()), ("bundled", BUNDLED_DIR)]


@dataclass(frozen=True)
class StyleEntry:
    name: str
    path: Path
    origin: str  # "user", "bundled" or "file"


def check_model(model: str) -> None:
    if model not in MODELS:
        raise StyleError(f"unknown model {model!r}: use {' or '.join(MODELS)}")


def available_styles(model: str = "full") -> list[StyleEntry]:
    """Every named style, user folder first; a user style hides a bundled
    one of the same name. ``model="fast"`` (or ``"balanced"``) lists those
    networks only."""
    check_model(model)
    found: dict[str, StyleEntry] = {}
    for origin, base in style_dirs():
        folder = base if model == "full" else base / model
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob(f"*{STYLE_SUFFIX}")):
            found.setdefault(path.stem, StyleEntry(path.stem, path, origin))
    return sorted(found.values(), key=lambda e: e.name)


def looks_like_path(spec: str) -> bool:
    return spec.endswith((".pth", ".pt", ".ckpt")) or os.sep in spec or "/" in spec


def _balanced_or_full(name: str) -> StyleEntry | None:
    """The balanced network of ``name``, else its full one, folder by folder:
    a user's own full ``mosaic`` still shadows the bundled balanced one."""
    for origin, base in style_dirs():
        for path in (base / "balanced" / f"{name}{STYLE_SUFFIX}", base / f"{name}{STYLE_SUFFIX}"):
            if path.is_file():
                return StyleEntry(name, path, origin)
    return None


def styles_for(model: str) -> list[StyleEntry]:
    """The styles ``--model MODEL`` can run: for balanced every style,
    through its full network where it has no balanced one."""
    return available_styles("full" if model == "balanced" else model)


def find_style(spec: str, model: str = "full") -> StyleEntry:
    """Resolve a ``--style`` value to a file; unknown names suggest close
    matches. A checkpoint path is used as it is, whatever ``model``."""
    spec = spec.strip()
    if not spec:
        raise StyleError("no style given")
    if looks_like_path(spec):
        path = Path(spec).expanduser()
        if not path.is_file():
            raise StyleError(f"no such style file: {spec}")
        return StyleEntry(path.stem, path, "file")
    if model == "balanced":  # the default: a style without one runs its full network
        found = _balanced_or_full(spec)
        if found:
            return found
        model = "full"  # for the error below
    styles = {entry.name: entry for entry in available_styles(model)}
    if spec in styles:
        return styles[spec]
    if model == "fast" and spec in {entry.name for entry in available_styles()}:
        have = ", ".join(styles) or "none yet"
        raise StyleError(f"style {spec!r} has no fast model (fast models: {have}); leave out --model (balanced) or use --model full")
    if not styles:
        raise StyleError(f"unknown style {spec!r}: no styles are installed")
    close = difflib.get_close_matches(spec.lower(), list(styles), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; available: {', '.join(styles)}"
    raise StyleError(f"unknown style {spec!r}{hint}")


def load_style(spec: str, model: str = "full") -> "StyleCheckpoint":
    from .checkpoints import load_checkpoint  # PyTorch, needed only from here on

    entry = find_style(spec, model)
    checkpoint = load_checkpoint(entry.path)
    if entry.origin != "file":
        checkpoint.name = entry.name
    return checkpoint
