"""Parsing ``--style`` values and checking ``--strength``: plain Python, so
that options can be checked before PyTorch is loaded (or without it at all,
on a run from a cached ONNX graph)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import OptionError


@dataclass(frozen=True)
class StyleMix:
    """A parsed ``--style`` value: ``mosaic``, ``mosaic:0.7,candy:0.3`` or checkpoint paths."""

    components: tuple[tuple[str, float], ...]

    @classmethod
    def parse(cls, spec: str) -> "StyleMix":
        spec = spec.strip()
        if not spec:
            raise OptionError("no style given")
        parts = [part.strip() for part in spec.split(",")]
        if len(parts) == 1 and _split_weight(parts[0])[1] is None:
            return cls(((parts[0], 1.0),))
        components = []
        for part in parts:
            name, weight = _split_weight(part)
            if not name:
                raise OptionError(f"empty style name in mix {spec!r}")
            weight = 1.0 if weight is None else weight
            if weight < 0 or not math.isfinite(weight):
                raise OptionError(f"style weights must be non-negative numbers, got {name}:{weight:g}")
            components.append((name, weight))
        total = sum(w for _, w in components)
        if total <= 0:
            raise OptionError(f"the weights of style mix {spec!r} are all zero")
        return cls(tuple((name, w / total) for name, w in components))

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.components]

    @property
    def weights(self) -> list[float]:
        return [weight for _, weight in self.components]


_WEIGHT = re.compile(r"^(.*):\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)$")


def _split_weight(part: str) -> tuple[str, float | None]:
    """``candy:0.3`` -> ("candy", 0.3); ``candy`` -> ("candy", None)."""
    match = _WEIGHT.match(part)
    if not match:
        return part, None
    return match.group(1).strip(), float(match.group(2))


def is_style_image(spec: str) -> bool:
    """Whether a style component names a picture (by its extension) rather
    than a style network."""
    from ..media.images import IMAGE_EXTENSIONS  # OpenCV's module, not PyTorch

    return Path(spec.strip()).suffix.lower() in IMAGE_EXTENSIONS


def rename_styles(style: str, rename: Callable[[str], str]) -> str:
    """``style`` with each component's name replaced by ``rename(name)``,
    weights kept as written."""
    parts = []
    for part in style.split(","):
        name, _ = _split_weight(part.strip())
        parts.append(part.strip().replace(name, rename(name), 1) if name else part)
    return ",".join(parts)


def style_label(style: str) -> str:
    """A style for a file name: a checkpoint or a picture by its stem, and
    nothing a file system would mind (``mosaic:0.7,candy:0.3`` ->
    ``mosaic-0.7-candy-0.3``)."""
    stems = rename_styles(style, lambda name: Path(name).stem if name.endswith(".pth") or is_style_image(name) else name)
    return re.sub(r"[^\w.-]+", "-", stems).strip("-") or "styled"


def with_style_image(style: str | None, style_image: str | Path | None) -> str | None:
    """``--style`` and ``--style-image FILE[:WEIGHT]`` as one style: the
    picture alone, or joined to the mix (at weight 1 unless given, so that
    ``--style mosaic --style-image painting.jpg`` is half of each)."""
    if style_image is None:
        return style
    image = check_style_image(style_image)
    return f"{style},{image}" if style else image


def check_style_image(style_image: str | Path) -> str:
    """A ``--style-image FILE[:WEIGHT]`` value, refused unless it names a picture."""
    image = str(style_image).strip()
    if not is_style_image(_split_weight(image)[0]):
        raise OptionError(f"--style-image must be a picture (.jpg, .png...), got {image}")
    return image


def check_strength(strength: float) -> None:
    if not 0.0 <= strength <= 1.0:
        raise OptionError(f"--strength must be in [0, 1], got {strength:g}")
