"""Single frames painted for the page, fast enough to follow a slider.

Strength and colour preservation act on a network's output, not inside it
(:mod:`vidstyle.stylize.controls`), so the painter keeps each full-strength
output and a strength or colour move costs a blend, not a network call; a
new frame, style or stroke size runs the network once. One network call
runs at a time: on two cores, two at once would each take twice as long."""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Hashable

import numpy as np

from ...stylize.controls import blend_styles, preserve_color
from ...stylize.frames import to_pixels
from ...stylize.options import StylizerOptions
from ...stylize.styles import DEFAULT_MODEL
from ...stylize.stylizer import Stylizer

KEPT_STYLIZERS = 12  # every bundled style and a few paintings
KEPT_OUTPUTS = 96  # full-strength outputs: a sheet of cards and the large view, for several frames


@dataclass(frozen=True)
class Look:
    """What the page's controls set: the same names and ranges as ``run``'s options."""

    style: str  # for the network: a style name or a picture's path
    strength: float = 1.0
    preserve_color: bool = False
    stroke_scale: float = 1.0

    def check(self) -> None:
        StylizerOptions(strength=self.strength, stroke_scale=self.stroke_scale).validate()


class Kept(OrderedDict):
    """A dict that forgets its least recently used entries beyond ``size``."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def get_or_make(self, key: Hashable, make: Callable[[], object]) -> object:
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = make()
        self[key] = value
        while len(self) > self.size:
            self.popitem(last=False)
        return value


class FramePainter:
    def __init__(self, threads: int | None = None, model: str = DEFAULT_MODEL):
        self.threads = threads
        self.model = model
        self._stylizers = Kept(KEPT_STYLIZERS)
        self._outputs = Kept(KEPT_OUTPUTS)
        self._network = threading.Lock()

    def paint(self, frame: np.ndarray, frame_key: Hashable, look: Look) -> np.ndarray:
        """``frame`` (RGB uint8) in ``look``; ``frame_key`` names the frame
        (clip, number, size) so that its network output can be reused."""
        look.check()
        if look.strength == 0:
            return frame
        full = self._full_strength(frame, frame_key, look.style, look.stroke_scale)
        painted = blend_styles(frame.astype(np.float32), [full.astype(np.float32)], [1.0], look.strength)
        if look.preserve_color:
            painted = preserve_color(frame, painted)
        return to_pixels(painted, np.uint8)

    def _full_strength(self, frame: np.ndarray, frame_key: Hashable, style: str, stroke_scale: float) -> np.ndarray:
        with self._network:
            return self._outputs.get_or_make((frame_key, style, stroke_scale), lambda: self._stylizer(style, stroke_scale)(frame))

    def _stylizer(self, style: str, stroke_scale: float) -> Stylizer:
        """The style's network, loaded once: a stroke size is only another
        working size for it (and the engine keeps what it compiled for each)."""
        stylizer = self._stylizers.get_or_make(
            style, lambda: Stylizer.from_style(style, StylizerOptions(model=self.model, threads=self.threads))
        )
        stylizer.options = dataclasses.replace(stylizer.options, stroke_scale=stroke_scale)
        return stylizer

    def warm_up(self, styles: list[str], frame: np.ndarray, until: threading.Event) -> None:
        """Load each style and run it once at the default stroke size, so
        that the first look at each on the page is not its slowest; stops
        between styles once ``until`` is set."""
        for style in styles:
            if until.is_set():
                return
            self._full_strength(frame, ("warm-up",), style, 1.0)
