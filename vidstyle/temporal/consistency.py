"""Temporal consistency with optical flow (OpenCV).

Per-frame stylization flickers: small changes in the input move the painted
texture around. Following Ruder et al. (2016), the previous *stylized* frame
is warped into the current frame along the optical flow of the *input*
frames, and blended into the current stylized frame wherever the flow is
reliable (not occluded, not on a motion boundary). The same flow and masks
give the warping error of Lai et al. (2018), the standard flicker metric.

Flow convention: ``flow[y, x] = (dx, dy)`` maps a pixel of the frame being
built to where it was in the reference frame, so ``warp(reference, flow)``
is the reference seen from the current frame (backward warping).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Protocol
from functools import lru_cache

import cv2
import numpy as np

from ..errors import OptionError

DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


@dataclass(frozen=True)
class TemporalOptions:
    mode: str = "flow"  # "flow" or "none"
    strength: float = 0.7  # weight of the warped previous frame where the flow is reliable
    method: str = "dis"  # "dis" or "farneback"
    preset: str = "medium"  # DIS preset; "fast" misses small disocclusions
    flow_size: int = 360  # flow is computed with the long side scaled to at most this
    cut_threshold: float = 0.4  # a frame whose input changes this much (mean abs, 0-1 scale) starts a new shot
    occlusion_reset: float = 0.6  # ...or whose occluded fraction is above this
    # "consistency": forward-backward check (two flows, the reference);
    # "photometric": where the warped previous frame does not match (one flow,
    # for live use, where the second flow costs too much)
    occlusion: str = "consistency"
    photometric_threshold: float = 24.0  # gray levels (0-255)
    # The stabiliser's detail layer (TemporalBlender). Averaging two textures
    # that do not match keeps only part of their contrast (s^2 + (1-s)^2 of
    # the variance: 0.58 at s = 0.7), so the detail is averaged only where
    # the two frames agree, and its contrast is then restored.
    detail_sigma: float = 1.5  # px: the Gaussian that splits the (averaged) colour layer from the detail layer
    detail_gain: float = 2.0  # the most the averaged detail is amplified to get the stylized frame's contrast back (1: never)
    # gray levels (0-255): as the detail of the warped previous output and of
    # the stylized frame differ from the first to the second, the detail's
    # weight falls from strength to 0, so that a line drawn a few pixels off
    # is taken once from the stylized frame instead of averaged into two
    disagreement: tuple[float, float] = (28.0, 72.0)
    # weight of a painted keyframe carried along the motion to the frames
    # after it, where it is still in view and its input still matches
    # (KeyframeCarry); 0: the stabiliser alone carries it, a few frames
    keyframe_carry: float = 1.0

    def validate(self) -> None:
        if self.mode not in ("flow", "none"):
            raise OptionError(f"unknown --temporal mode {self.mode!r}: use flow or none")
        if not 0.0 <= self.strength < 1.0:
            raise OptionError(f"--temporal-strength must be in [0, 1), got {self.strength}")
        if self.method not in ("dis", "farneback"):
            raise OptionError(f"unknown flow method {self.method!r}: use dis or farneback")
        if self.preset not in DIS_PRESETS:
            raise OptionError(f"unknown DIS preset {self.preset!r}: use {', '.join(DIS_PRESETS)}")
        if self.flow_size < 16:
            raise OptionError("flow size must be at least 16")
        if self.occlusion not in ("consistency", "photometric"):
            raise OptionError(f"unknown occlusion check {self.occlusion!r}: use consistency or photometric")
        if not self.detail_sigma > 0:
            raise OptionError(f"detail sigma must be positive, got {self.detail_sigma}")
        if not self.detail_gain >= 1.0:
            raise OptionError(f"detail gain must be at least 1, got {self.detail_gain}")
        if not 0.0 <= self.disagreement[0] < self.disagreement[1]:
            raise OptionError(f"disagreement must be two increasing levels, got {self.disagreement}")
        if not 0.0 <= self.keyframe_carry <= 1.0:
            raise OptionError(f"--keyframe-carry must be in [0, 1], got {self.keyframe_carry}")


# DIS refuses smaller frames; below this on either side, frames are
# stylized one by one (a frame that small has no motion worth following).
MIN_FLOW_SIDE = 12


def to_gray(rgb: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """8-bit gray at ``size`` (width, height), from uint8 or uint16 RGB:
    flow needs no more than 8 bits, and DIS takes no more."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if size is not None and (gray.shape[1], gray.shape[0]) != size:
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    if gray.dtype != np.uint8:
        gray = cv2.convertScaleAbs(gray, alpha=255.0 / 65535.0)
    return gray


class FlowEstimator:
    """Dense optical flow between two RGB frames, computed at a reduced size
    (``flow_size`` on the long side) and scaled back to full resolution."""

    def __init__(self, options: TemporalOptions = TemporalOptions()):
        options.validate()
        self.options = options
        self._local = threading.local()  # a DIS object keeps buffers of its own: one per thread

    def _dis(self):
        if not hasattr(self._local, "dis"):
            self._local.dis = cv2.DISOpticalFlow_create(DIS_PRESETS[self.options.preset])
        return self._local.dis

    def working_size(self, height: int, width: int) -> tuple[int, int]:
        """(width, height) the flow is computed at: the long side at most
        ``flow_size``, and neither side shrunk below MIN_FLOW_SIDE."""
        scale = min(1.0, self.options.flow_size / max(height, width))
        return (
            max(min(width, MIN_FLOW_SIDE), round(width * scale)),
            max(min(height, MIN_FLOW_SIDE), round(height * scale)),
        )

    @staticmethod
    def can_track(height: int, width: int) -> bool:
        """Whether frames of this size are large enough for the flow."""
        return min(height, width) >= MIN_FLOW_SIDE

    def gray(self, rgb: np.ndarray) -> np.ndarray:
        return to_gray(rgb, self.working_size(*rgb.shape[:2]))

    def flow_gray(self, current: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """Flow at working size from ``current`` to ``reference`` (both gray)."""
        if self.options.method == "dis":
            return self._dis().calc(current, reference, None)
        return cv2.calcOpticalFlowFarneback(current, reference, None, 0.5, 4, 21, 3, 5, 1.1, 0)

    def flow_with_occlusions(self, current: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Backward flow (working size) from ``current`` to ``reference``
        (gray) and the mask of its unreliable pixels."""
        backward = self.flow_gray(current, reference)
        if self.options.occlusion == "photometric":
            return backward, photometric_mask(backward, current, reference, self.options.photometric_threshold)
        forward = self.flow_gray(reference, current)
        return backward, occlusion_mask(backward, forward)

    @staticmethod
    def upscale(
        flow: np.ndarray, height: int, width: int, dst: np.ndarray | None = None, region: tuple[slice, slice] | None = None
    ) -> np.ndarray:
        """``flow`` at (height, width), in that size's pixels (into ``dst``
        if given; ``flow`` itself where it is that size already); with
        ``region``, only that box of it (see ``enlarge``)."""
        h, w = flow.shape[:2]
        if (h, w) == (height, width):
            return flow if region is None else flow[region]
        scaled = enlarge(flow, height, width, region, dst)
        return cv2.multiply(scaled, (width / w, height / h, 0.0, 0.0), dst=scaled)


def enlarge(
    small: np.ndarray, height: int, width: int, region: tuple[slice, slice] | None = None, dst: np.ndarray | None = None
) -> np.ndarray:
    """``small`` resized bilinearly to (height, width); with ``region``
    (rows, columns), only that box of the result, computed on the box alone,
    so that a carry over part of a 4K frame does not pay for the whole of
    it. Channel by channel: OpenCV remaps one float channel exactly, several
    in 1/32 px steps."""
    rows, columns = (range(0, height), range(0, width)) if region is None else (range(*r.indices(n)) for r, n in zip(region, (height, width)))
    if (len(rows), len(columns)) == (height, width):  # the whole frame
        return cv2.resize(small, (width, height), dst=dst, interpolation=cv2.INTER_LINEAR)
    h, w = small.shape[:2]
    xs = (np.arange(columns.start, columns.stop, dtype=np.float32) + 0.5) * np.float32(w / width) - 0.5
    ys = (np.arange(rows.start, rows.stop, dtype=np.float32) + 0.5) * np.float32(h / height) - 0.5
    map_x = np.ascontiguousarray(np.broadcast_to(xs, (len(ys), len(xs))))
    map_y = np.ascontiguousarray(np.broadcast_to(ys[:, None], (len(ys), len(xs))))
    channels = [small] if small.ndim == 2 else cv2.split(small)
    planes = [cv2.remap(c, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE) for c in channels]
    return planes[0] if small.ndim == 2 else cv2.merge(planes, dst)


@lru_cache(maxsize=8)
def pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """x and y coordinates of every pixel (cached: warping runs per frame)."""
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    grid_x.flags.writeable = grid_y.flags.writeable = False
    return grid_x, grid_y


@lru_cache(maxsize=4)
def pixel_coordinates(height: int, width: int) -> np.ndarray:
    """(x, y) of every pixel, HxWx2 like a flow (cached: warping runs per frame)."""
    coordinates = np.empty((height, width, 2), np.float32)
    coordinates[..., 0] = np.arange(width, dtype=np.float32)
    coordinates[..., 1] = np.arange(height, dtype=np.float32)[:, None]
    coordinates.flags.writeable = False
    return coordinates


def warp(image: np.ndarray, flow: np.ndarray, in_place: bool = False, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Backward-warp ``image`` (HxWxC, any dtype) by ``flow`` (HxWx2), bilinear.
    The coordinates go to OpenCV as one two-channel map: one contiguous add
    instead of two strided ones (``in_place``: into ``flow`` itself, which
    saves allocating another map). ``origin`` (top, left): ``flow`` covers
    only the box of the result starting there, still sampling the whole of
    ``image``."""
    coordinates = pixel_coordinates(*flow.shape[:2])
    if origin != (0, 0):  # the box's own coordinates first: the same sums as the whole frame's
        coordinates = cv2.add(coordinates, (float(origin[1]), float(origin[0]), 0.0, 0.0))
    coordinates = cv2.add(coordinates, flow, dst=flow if in_place else None, dtype=cv2.CV_32F)
    return cv2.remap(image, coordinates, None, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def squared_norm(vectors: np.ndarray) -> np.ndarray:
    """|v|^2 of HxWx2 vectors (written out: NumPy's sum over a last axis of
    two is several times slower)."""
    return vectors[..., 0] ** 2 + vectors[..., 1] ** 2


def occlusion_mask(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Pixels of the current frame whose flow is unreliable (HxW bool).

    ``backward`` maps current -> reference and ``forward`` reference ->
    current. Occluded where the round trip does not come back (Ruder et al.):
    |w + w'|^2 > 0.01 (|w|^2 + |w'|^2) + 0.5, with w' the forward flow read
    at the point the backward flow lands on; motion boundaries where the
    backward flow's gradient is large: |grad w|^2 > 0.01 |w|^2 + 0.002.
    """
    returned = warp(forward, backward)
    round_trip = backward + returned
    occluded = squared_norm(round_trip) > 0.01 * (squared_norm(backward) + squared_norm(returned)) + 0.5
    return occluded | unreliable_motion(backward)


def photometric_mask(backward: np.ndarray, current: np.ndarray, reference: np.ndarray, threshold: float) -> np.ndarray:
    """Pixels where the reference frame (gray) warped along ``backward`` does
    not match the current one by more than ``threshold`` levels, plus motion
    boundaries and flow leaving the frame: one flow instead of two."""
    mismatch = np.abs(warp(reference, backward).astype(np.float32) - current.astype(np.float32)) > threshold
    return mismatch | unreliable_motion(backward)


def unreliable_motion(backward: np.ndarray) -> np.ndarray:
    """Motion boundaries (|grad w|^2 > 0.01 |w|^2 + 0.002) and pixels whose
    flow lands outside the reference frame."""
    du_dy, du_dx = np.gradient(backward[..., 0])
    dv_dy, dv_dx = np.gradient(backward[..., 1])
    gradient = du_dx**2 + du_dy**2 + dv_dx**2 + dv_dy**2
    boundary = gradient > 0.01 * squared_norm(backward) + 0.002
    h, w = backward.shape[:2]
    grid_x, grid_y = pixel_grid(h, w)
    lands_x = grid_x + backward[..., 0]
    lands_y = grid_y + backward[..., 1]
    outside = (lands_x < 0) | (lands_x > w - 1) | (lands_y < 0) | (lands_y > h - 1)
    return boundary | outside


def soft_reliability(unreliable: np.ndarray) -> np.ndarray:
    """The reliable pixels as weights in [0, 1], their edges softened so
    that blended regions do not show seams."""
    return cv2.GaussianBlur(cv2.erode((~unreliable).astype(np.float32), np.ones((3, 3), np.uint8)), (5, 5), 0)


def input_change(gray: np.ndarray, previous: np.ndarray) -> float:
    """Mean absolute difference of two gray frames, 0-1."""
    return float(np.abs(gray.astype(np.float32) - previous.astype(np.float32)).mean()) / 255.0


def starts_new_shot(change: float, unreliable: np.ndarray | None, options: TemporalOptions) -> bool:
    """Whether a frame begins a new shot: its input changed by more than
    ``cut_threshold`` (``input_change``), or the flow back to the previous
    frame is unreliable over more than ``occlusion_reset`` of it (None:
    not computed yet). The stabiliser restarts there, and the warping error
    leaves the pair out: across a cut there is no motion to be steady along."""
    if change > options.cut_threshold:
        return True
    return unreliable is not None and float(unreliable.mean()) > options.occlusion_reset


@dataclass
class FlowPair:
    """Flow from frame t to frame t-1, its reliability, and whether t starts
    a new shot. Both are kept at the size the flow was computed at and
    brought to the frame's ``size`` only when read: pairs wait in queues
    beside the network, and at 4K a full-size pair is 100 MB."""

    flow: np.ndarray  # hxwx2, in pixels of its own size
    mask: np.ndarray  # hxw float32 in [0, 1]
    cut: bool
    size: tuple[int, int] | None = None  # the frame's (height, width); None: the flow's own
    gray: np.ndarray | None = None  # frame t's input, gray at the flow's size (for KeyframeCarry)

    @property
    def backward(self) -> np.ndarray:
        """The flow at the frame's size, in the frame's pixels."""
        return FlowEstimator.upscale(self.flow, *self.size) if self.size else self.flow

    @property
    def reliable(self) -> np.ndarray:
        """The reliability at the frame's size."""
        if not self.size or self.mask.shape == self.size:
            return self.mask
        return cv2.resize(self.mask, (self.size[1], self.size[0]), interpolation=cv2.INTER_LINEAR)


class FlowTracker:
    """Consumes input frames in order and yields, for each, the flow back to
    the previous one (None for the first frame of a shot, and for every
    frame too small for the flow). Frames are taken in order (``start``);
    their flows may be computed in other threads, beside the network."""

    def __init__(self, options: TemporalOptions = TemporalOptions()):
        self.options = options
        self.estimator = FlowEstimator(options)
        self._previous: np.ndarray | None = None

    def reset(self) -> None:
        self._previous = None

    def __call__(self, rgb: np.ndarray) -> FlowPair | None:
        return self.start(rgb)()

    def start(self, rgb: np.ndarray) -> Callable[[], FlowPair | None]:
        """Take the next frame, in order, and return the call that computes
        its flow pair. Only taking frames is sequential: the calls of
        several frames may run at once in other threads (the flow is most
        of the stabiliser's time, and on a busy CPU one thread falls behind
        the network)."""
        if not self.estimator.can_track(*rgb.shape[:2]):
            return lambda: None
        gray = self.estimator.gray(rgb)
        previous, self._previous = self._previous, gray
        if previous is None or previous.shape != gray.shape:
            return lambda: None
        return lambda: flow_pair(self.estimator, rgb.shape[:2], gray, previous)


def flow_pair(estimator: FlowEstimator, size: tuple[int, int], gray: np.ndarray, previous: np.ndarray) -> FlowPair:
    """The flow from a frame (``gray``, as ``estimator.gray`` gives it; the
    frame ``size``) back to ``previous``, or a cut between them."""
    change = input_change(gray, previous)
    if starts_new_shot(change, None, estimator.options):  # skip the flow: it cannot follow a cut
        return FlowPair(np.zeros((1, 1, 2), np.float32), np.zeros((1, 1), np.float32), cut=True, size=size)
    backward, unreliable = estimator.flow_with_occlusions(gray, previous)
    cut = starts_new_shot(change, unreliable, estimator.options)
    return FlowPair(backward, soft_reliability(unreliable), cut, size=size, gray=gray)


# A briefer "shot" (a flash, a glitch) is not worth a painted keyframe.
SHORTEST_SHOT = 12  # frames


def begins_shot(pair: FlowPair | None) -> bool:
    """Whether the frame with this flow pair (``FlowTracker``'s) begins a
    shot: the first frame, one after a cut, or one the flow cannot follow."""
    return pair is None or pair.cut


def _shrink(image: np.ndarray, factor: int) -> np.ndarray:
    """``image`` scaled down by ``factor`` (area average), at least 1x1."""
    height, width = image.shape[:2]
    size = (max(1, round(width / factor)), max(1, round(height / factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _grow(image: np.ndarray, height: int, width: int, dst: np.ndarray | None = None) -> np.ndarray:
    return cv2.resize(image, (width, height), dst=dst, interpolation=cv2.INTER_LINEAR)


def detail_lowpass(image: np.ndarray, sigma: float, dst: np.ndarray | None = None) -> np.ndarray:
    """The Gaussian that splits the colour layer from the detail layer, cut
    at 2 sigma (7x7 at sigma 1.5: OpenCV's own 3-sigma kernel is several
    times slower on 8-bit frames)."""
    size = 2 * round(2 * sigma) + 1
    return cv2.GaussianBlur(image, (size, size), sigma, dst=dst, borderType=cv2.BORDER_REPLICATE)


class PaintingCarry(Protocol):
    """What carries a painted keyframe along the motion, over the
    stabiliser's output (temporal.carry.KeyframeCarry, which builds on this
    module)."""

    def hold(self, painting: np.ndarray, frame_input: np.ndarray, network_output: np.ndarray | None = None) -> None: ...

    def reset(self) -> None: ...

    def __call__(self, stabilised: np.ndarray, pair: FlowPair | None) -> np.ndarray: ...


class TemporalBlender:
    """Blends each stylized frame with the previous output warped along the
    input's flow where the flow is reliable; the plain stylized frame passes
    elsewhere and after cuts. The recursion carries the texture along the
    motion, which removes flicker without the ghosting of a plain blend with
    the previous frame. Frames are uint8 or uint16 and come out the same.

    A plain average, s * warp(prev) + (1 - s) * stylized, keeps only part of
    the contrast of the texture that the two frames do not share (s^2 +
    (1 - s)^2 of its variance, 0.58 at s = 0.7; the warp's interpolation
    blurs what they do share), and it doubles a line that the network drew
    a few pixels away from where the flow puts it. So each frame is split
    (``detail_lowpass``) into a colour layer and a detail layer, and:

    - the colour layer is averaged with weight s = strength * reliable;
    - the detail layer with s * agreement, where the agreement falls from 1
      to 0 as the two frames' detail (gray, its largest difference over
      SPREAD pixels, at 1/MAP_SCALE of the size) differs by
      ``disagreement`` levels: a line that the previous output has here and
      the stylized frame a few pixels away comes from the stylized frame
      alone, once, instead of twice at lower contrast;
    - each band of the averaged detail gets back the contrast that
      averaging took, by a local gain from 1 to ``detail_gain``: the finest
      (the frame less its FINE_SIGMA Gaussian) RESTORE of the stylized
      frame's Laplacian energy there (gray, over windows of ~6 px), the band
      between FINE_SIGMA and ``detail_sigma`` its own energy (a single gain
      set by the Laplacian draws 1-2 px hatching up to 1.4x harder than the
      network did). The texture stays the averaged one, steady along the
      motion, at nearly the contrast of a single frame.

    The weights and gains come from gray images and are kept at 1/MAP_SCALE
    of the size; the colour frame goes through the warp, one per-pixel
    blend, two blurs, the two bands' gains and, where the detail weight
    fell, a correction of the colour layer computed at 1/MAP_SCALE of the
    size. The full-size intermediates are kept from frame to frame
    (``_buffer``).
    """

    MAP_SCALE = 4  # agreement and gain maps at 1/4 of the frame size: they are smooth
    SPREAD = 5  # px: a misaligned line counts as disagreement across this width
    ENERGY_SIGMA = 1.5  # px of the small maps (6 px of the frame): the window the detail energy is measured over
    FINE_SIGMA = 1.0  # px: the Gaussian that splits the detail layer into its fine and mid bands
    # Fraction of the stylized frame's fine-band energy that its gain
    # restores. The amplified detail also carries the flow's misregistration,
    # so the last twentieth costs more steadiness (warping error) than it
    # gives sharpness.
    RESTORE = 0.95

    def __init__(
        self,
        strength: float,
        *,
        detail_sigma: float = TemporalOptions.detail_sigma,
        detail_gain: float = TemporalOptions.detail_gain,
        disagreement: tuple[float, float] = TemporalOptions.disagreement,
        carry: PaintingCarry | None = None,
    ):
        self.strength = strength
        self.detail_sigma = detail_sigma
        self.detail_gain = detail_gain
        self.disagreement = disagreement
        self.carry = carry
        self._previous: np.ndarray | None = None
        self._buffers: dict[str, np.ndarray] = {}
        self.resets = 0

    @classmethod
    def from_options(cls, options: TemporalOptions, carry: PaintingCarry | None = None) -> "TemporalBlender":
        return cls(
            options.strength,
            detail_sigma=options.detail_sigma,
            detail_gain=options.detail_gain,
            disagreement=options.disagreement,
            carry=carry,
        )

    def reset(self) -> None:
        self._previous = None
        if self.carry is not None:
            self.carry.reset()

    def hold(self, frame: np.ndarray, frame_input: np.ndarray | None = None, stylized: np.ndarray | None = None) -> np.ndarray:
        """Take ``frame`` as this point's output unchanged (a painted
        keyframe), and carry it into the frames after it: through the
        stabiliser's recursion, and with a ``carry``, along the motion for as
        long as it stays in view and beats the network (``frame_input``: the
        frame's input; ``stylized``: the network's painting of it)."""
        self._previous = frame
        if self.carry is not None and frame_input is not None:
            self.carry.hold(frame, frame_input, stylized)
        return frame

    def __call__(self, stylized: np.ndarray, pair: FlowPair | None) -> np.ndarray:
        if pair is None or pair.cut or self._previous is None or self._previous.shape != stylized.shape:
            if pair is not None and pair.cut:
                self.resets += 1
            if self.carry is not None:
                self.carry.reset()
            self._previous = stylized
            return stylized
        reliable = np.asarray(pair.reliable, np.float32)
        height, width = stylized.shape[:2]  # the flow at this size, in a map kept from frame to frame
        backward = FlowEstimator.upscale(pair.flow, height, width, dst=self._buffer("flow", (height, width, 2)))
        out = self._blend(stylized, warp(self._previous, backward, in_place=backward is not pair.flow), reliable)
        if self.carry is not None:
            out = self.carry(out, pair)
        self._previous = out
        return out

    def _buffer(self, name: str, shape: tuple[int, ...], dtype=np.float32) -> np.ndarray:
        """A full-size scratch array kept from frame to frame: the blend
        writes some twenty of them, and fresh ones cost several times the
        arithmetic at 1080p (allocation, page faults, cold caches)."""
        buffer = self._buffers.get(name)
        if buffer is None or buffer.shape != shape or buffer.dtype != dtype:
            buffer = self._buffers[name] = np.empty(shape, dtype)
        return buffer

    def _blend(self, stylized: np.ndarray, warped: np.ndarray, reliable: np.ndarray) -> np.ndarray:
        height, width = stylized.shape[:2]
        level = np.iinfo(stylized.dtype).max / 255.0  # one 8-bit level in this dtype
        scale, sigma = self.MAP_SCALE, self.detail_sigma
        depth = cv2.CV_8U if stylized.dtype == np.uint8 else cv2.CV_16U

        def plane(name: str, dtype=np.float32) -> np.ndarray:
            return self._buffer(name, (height, width), dtype)

        # the stylized frame's detail (gray) in two bands: fine = gray - G1,
        # mid = G1 - G1.5 (Gaussians of FINE_SIGMA and ``detail_sigma``)
        gray = cv2.cvtColor(stylized, cv2.COLOR_RGB2GRAY, dst=plane("gray", stylized.dtype))
        fine_lowpass = detail_lowpass(gray, self.FINE_SIGMA, dst=plane("fine lowpass", stylized.dtype))
        lowpass = detail_lowpass(gray, sigma, dst=plane("lowpass", stylized.dtype))
        fine = cv2.subtract(gray, fine_lowpass, dst=plane("fine"), dtype=cv2.CV_32F)
        mid = cv2.subtract(fine_lowpass, lowpass, dst=plane("mid"), dtype=cv2.CV_32F)
        # how the warped frame's gray differs from it, in the same bands
        difference = cv2.subtract(
            cv2.cvtColor(warped, cv2.COLOR_RGB2GRAY, dst=plane("warped gray", stylized.dtype)), gray, dst=plane("difference"), dtype=cv2.CV_32F
        )
        difference_lowpass = detail_lowpass(difference, self.FINE_SIGMA, dst=plane("difference lowpass"))
        difference_coarse = detail_lowpass(difference, sigma, dst=plane("scratch"))
        fine_difference = cv2.subtract(difference, difference_lowpass, dst=difference)
        mid_difference = cv2.subtract(difference_lowpass, difference_coarse, dst=difference_lowpass)
        detail_difference = cv2.add(fine_difference, mid_difference, dst=plane("scratch"))

        # agreement of the two detail layers (small maps); the dilation
        # makes a thin misaligned line count across its neighbourhood
        low, high = self.disagreement[0] * level, self.disagreement[1] * level
        mismatch = cv2.absdiff(detail_difference, 0.0, dst=detail_difference)
        mismatch = cv2.dilate(mismatch, np.ones((self.SPREAD, self.SPREAD), np.uint8), dst=plane("grown"))
        mismatch = cv2.GaussianBlur(_shrink(mismatch, scale), (0, 0), 0.5)
        agreement_small = np.clip((high - mismatch) * (1.0 / (high - low)), 0.0, 1.0)
        reliable_small = _shrink(reliable, scale)
        grown = _grow(agreement_small, height, width, dst=plane("grown"))
        detail_weight = cv2.multiply(reliable, grown, scale=self.strength, dst=plane("detail weight"))

        # each band of the averaged detail (stylized + weight * difference)
        # and the gain that gives it back its contrast (see the docstring)
        averaged_fine = cv2.add(fine, cv2.multiply(detail_weight, fine_difference, dst=fine_difference), dst=fine_difference)
        averaged_mid = cv2.add(mid, cv2.multiply(detail_weight, mid_difference, dst=mid_difference), dst=mid_difference)
        # Flat areas (nothing to restore) stay at gain 1: the energies are
        # floored, at a quarter of one level's on the fine band's Laplacian
        # and a sixteenth on the mid band's own values, which are smaller.
        # (A whole level's on both left the faint 1-2 px texture of scream
        # on bikes.mp4 at 0.82 of its sharpness; these, at 0.87.)
        floor = level * level

        def energy(image: np.ndarray, laplacian: bool) -> np.ndarray:
            if laplacian:
                image = cv2.Laplacian(image, cv2.CV_32F, dst=plane("scratch"))
            squared = cv2.multiply(image, image, dst=plane("scratch"))
            return cv2.GaussianBlur(_shrink(squared, scale), (0, 0), self.ENERGY_SIGMA)

        def amount(target: np.ndarray, current: np.ndarray, floor: float, dst: np.ndarray = grown) -> np.ndarray:
            gain = np.sqrt((target + floor) / (current + floor))
            return _grow((np.clip(gain, 1.0, self.detail_gain) - 1.0) * reliable_small, height, width, dst=dst)

        fine_gain = amount(self.RESTORE * energy(fine, True), energy(averaged_fine, True), floor / 4)
        mid_gain = amount(energy(mid, False), energy(averaged_mid, False), floor / 16, dst=averaged_mid)

        # colour: both layers averaged with the detail weight, then each band
        # of the detail scaled by 1 + its gain (a: fine, b: mid):
        #   blend + a (blend - G1) + b (G1 - G1.5) = (1 + a) blend + (b - a) G1 - b G1.5,
        # as two linear blends (blendLinear divides by the sum of the
        # weights: 1 + b, then 1)
        remaining = cv2.subtract(1.0, detail_weight, dst=plane("scratch"))
        colour = self._buffer("blend", stylized.shape, np.uint8 if stylized.dtype == np.uint8 else np.float32)
        if stylized.dtype == np.uint8:
            blend = cv2.blendLinear(warped, stylized, detail_weight, remaining, dst=colour)
        else:  # uint16, which blendLinear does not take: as float32, in kept arrays
            warped_float, stylized_float = (self._buffer(name, stylized.shape) for name in ("warped float", "stylized float"))
            np.copyto(warped_float, warped)
            np.copyto(stylized_float, stylized)
            blend = cv2.blendLinear(warped_float, stylized_float, detail_weight, remaining, dst=colour)
        fine_lowpass = detail_lowpass(blend, self.FINE_SIGMA, dst=self._buffer("colour fine lowpass", blend.shape, blend.dtype))
        lowpass = detail_lowpass(blend, sigma, dst=self._buffer("colour lowpass", blend.shape, blend.dtype))
        one_plus_fine = cv2.add(fine_gain, 1.0, dst=detail_weight)
        partial = cv2.blendLinear(
            blend, fine_lowpass, one_plus_fine, cv2.subtract(mid_gain, fine_gain, dst=fine_gain), dst=self._buffer("partial", blend.shape, blend.dtype)
        )
        out = cv2.blendLinear(partial, lowpass, cv2.add(mid_gain, 1.0, dst=plane("scratch")), cv2.multiply(mid_gain, -1.0, dst=mid_gain), dst=blend)

        # where the detail weight fell below the colour layer's, the colour
        # layer's missing share of the average: (strength * reliable - detail
        # weight) * lowpass(warped - stylized), smooth, so from small maps
        missing_small = reliable_small * (self.strength * (1.0 - agreement_small))
        if float(missing_small.max()) < 1e-3:  # the detail agreed everywhere
            return cv2.add(out, 0.0, dtype=depth)  # a new array (it is kept as the previous output); rounds and saturates
        small = missing_small.shape[::-1]
        colour_difference = cv2.subtract(
            cv2.resize(warped, small, interpolation=cv2.INTER_AREA), cv2.resize(stylized, small, interpolation=cv2.INTER_AREA), dtype=cv2.CV_32F
        )
        colour_difference = cv2.GaussianBlur(colour_difference, (0, 0), max(0.1, sigma / scale))
        missing = _grow(colour_difference * missing_small[..., None], height, width, dst=self._buffer("missing", stylized.shape))
        return cv2.add(out, missing, dtype=depth)


class WarpingPairs:
    """The input flows the warping error is measured along (Lai et al.
    2018), computed once for a clip so that several outputs of it can be
    scored on the same flow: for each consecutive pair, the backward flow of
    the *inputs* at full size and the pixels it reaches reliably. Pairs
    across a shot cut are left out (`starts_new_shot`): there the few pixels
    the flow still calls reliable would weigh as much as a whole frame of
    real motion."""

    def __init__(self, inputs: list[np.ndarray], options: TemporalOptions = TemporalOptions()):
        estimator = FlowEstimator(options)
        self.pairs: list[tuple[int, np.ndarray, np.ndarray]] = []  # (t, flow to t-1, reliable mask)
        for t in range(1, len(inputs)):
            gray, previous = estimator.gray(inputs[t]), estimator.gray(inputs[t - 1])
            backward, unreliable = estimator.flow_with_occlusions(gray, previous)
            if starts_new_shot(input_change(gray, previous), unreliable, options):
                continue
            h, w = inputs[t].shape[:2]
            flow = FlowEstimator.upscale(backward, h, w)
            mask = cv2.resize((~unreliable).astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
            if mask.any():
                self.pairs.append((t, flow, mask))

    def error(self, outputs: list[np.ndarray]) -> float:
        """Mean over the pairs of the squared difference (RGB in [0, 1])
        between output t and output t-1 warped along the flow, over the
        reliable pixels."""
        errors = []
        for t, flow, mask in self.pairs:
            warped = warp(outputs[t - 1], flow).astype(np.float32) / 255.0
            difference = ((outputs[t].astype(np.float32) / 255.0 - warped) ** 2).sum(-1)
            errors.append(float(difference[mask].mean()))
        return float(np.mean(errors)) if errors else 0.0


def warping_error(inputs: list[np.ndarray], outputs: list[np.ndarray], options: TemporalOptions = TemporalOptions()) -> float:
    """The warping error of ``outputs`` along the flow of ``inputs`` (see WarpingPairs)."""
    return WarpingPairs(inputs, options).error(outputs)
