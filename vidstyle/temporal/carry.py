"""A painted keyframe carried along the motion to the frames after it,
and back to the frames before it (``carry_back``).

The stabiliser alone carries a painted keyframe only a few frames: each
frame keeps ``strength`` of the one before, so after 15 frames at 0.7 less
than 1% of the painting is left and the learnt network paints the rest.
Where the camera or the subject moves, the content the artist painted stays
in view much longer. So, as patch-based keyframe propagation does with its
advected guides (Jamriška et al. 2019), the flows from each frame back to
the one before are chained into one flow back to the keyframe, and the
painting is sampled along it once: sampled once, not re-warped frame after
frame, it stays as crisp as painted.

It is taken only where it still belongs: where every flow in the chain was
reliable, the chain lands inside the keyframe, and the keyframe's own input,
sampled along the chain, still matches this frame's input (a face that
turned, a light that changed: there the network paints what is there now).
And it is taken only where it is likely to beat the learnt network: a chain
of flows drifts by a pixel or two over many frames, which costs little on
flat colour and much on thin, contrasty detail such as grass stems. The
drift shows as the difference between the keyframe's input sampled along
the chain and this frame's input; scaled by how much the painting sharpens
the input's edges, it estimates the carried painting's error, and the
network's error is known where it painted the keyframe itself.
"""

from __future__ import annotations

import cv2
import numpy as np

from .consistency import FlowEstimator, FlowPair, TemporalOptions, enlarge, flow_pair, pixel_grid, to_gray, warp


class KeyframeCarry:
    """Chains the flow from each frame back to the last painted keyframe and
    lays the painting, sampled along it, over the stabilised frame with
    ``weight`` where the chain holds, the inputs still match and the
    painting beats the network (the module's docstring)."""

    SOFTEN = 5  # px of the flow-size maps: the carried region's edge fades over this
    ERROR_SIGMA = 2.0  # px of the flow-size maps: the neighbourhood an error is measured over

    def __init__(self, weight: float, mismatch_levels: float):
        self.weight = weight
        self.mismatch_levels = mismatch_levels  # gray levels at which the inputs no longer match
        self.reset()

    @classmethod
    def from_options(cls, options: TemporalOptions) -> "KeyframeCarry":
        return cls(options.keyframe_carry, options.photometric_threshold)

    def reset(self) -> None:
        self._painting: np.ndarray | None = None
        self._input: np.ndarray | None = None  # the keyframe's input, until the flow's size is known
        self._input_gray: np.ndarray | None = None
        self._network: np.ndarray | None = None  # the network's own painting of the keyframe, until then too
        self._network_error: np.ndarray | None = None  # flow-size HxW: its difference to the painting, levels
        self._sharpening = 1.0  # the painting's edge contrast over the input's, at least 1
        self._chain: np.ndarray | None = None  # flow-size HxWx2: from the current frame back to the keyframe
        self._reliable: np.ndarray | None = None  # flow-size HxW in [0, 1]: the chain's weakest link

    def hold(self, painting: np.ndarray, frame_input: np.ndarray, network_output: np.ndarray | None = None) -> None:
        """Start carrying ``painting``, the output of the frame whose input
        is ``frame_input``; ``network_output``: what the network painted
        there (None: carry wherever the chain holds, however it drifts)."""
        self.reset()
        if self.weight > 0:
            self._painting, self._input, self._network = painting, frame_input, network_output

    def __call__(self, stabilised: np.ndarray, pair: FlowPair | None, share: float = 1.0) -> np.ndarray:
        """``stabilised`` (the stabiliser's output for this frame, which it
        may change in place) with the painting laid over it where it is
        carried, at ``share`` of ``weight``; ``pair``: this frame's flow back
        to the previous one. The
        full-size work (sampling the painting, blending) covers only the box
        around where the painting is laid: at 1920x1080 it is most of the
        carry's time."""
        if self._painting is None:
            return stabilised
        if pair is None or pair.cut or pair.gray is None or self._painting.shape != stabilised.shape:
            self.reset()
            return stabilised
        flow, reliable = pair.flow, pair.mask
        if self._chain is None:
            self._start(*flow.shape[:2])
            self._chain, self._reliable = flow, reliable
        else:  # back to the previous frame, then along the previous frame's chain
            self._chain = cv2.add(flow, warp(self._chain, flow))
            self._reliable = np.minimum(warp(self._reliable, flow), reliable)
        in_view = self._reliable * self._inside()
        if float(in_view.max()) < 1e-3:  # nothing of the painting is left in view, for good
            self.reset()
            return stabilised
        difference = cv2.absdiff(warp(self._input_gray, self._chain), pair.gray).astype(np.float32)
        weight = in_view * self._matching(difference) * self._better(difference)
        weight = cv2.blur(weight, (self.SOFTEN, self.SOFTEN)) * (self.weight * share)
        region = _painted_region(weight, *stabilised.shape[:2])
        if region is None:  # the painting beats the network nowhere in this frame
            return stabilised
        height, width = stabilised.shape[:2]
        chain = FlowEstimator.upscale(self._chain, height, width, region=region)
        carried = warp(self._painting, chain, origin=(region[0].start, region[1].start))
        full = enlarge(weight, height, width, region)
        under = stabilised[region]
        if stabilised.dtype == np.uint8:
            blended = cv2.blendLinear(carried, under, full, cv2.subtract(1.0, full))
        else:
            blended = cv2.add(cv2.blendLinear(np.float32(carried), np.float32(under), full, cv2.subtract(1.0, full)), 0.0, dtype=cv2.CV_16U)
        if blended.shape == stabilised.shape:  # the whole frame
            return blended
        stabilised[region] = blended
        return stabilised

    def _start(self, height: int, width: int) -> None:
        """What the carry compares against, at the flow's size."""
        self._input_gray = to_gray(self._input, (width, height))
        if self._network is not None:
            network_error = cv2.absdiff(self._network, self._painting).astype(np.float32).mean(-1)
            network_error = cv2.resize(network_error, (width, height), interpolation=cv2.INTER_AREA)
            self._network_error = cv2.GaussianBlur(network_error, (0, 0), self.ERROR_SIGMA)
            scale = 1.0 if self._painting.dtype == np.uint8 else 255.0 / 65535.0
            self._network_error *= scale
            painting_gray = to_gray(self._painting, (width, height))
            self._sharpening = max(1.0, _edge_contrast(painting_gray) / max(_edge_contrast(self._input_gray), 1e-3))
        self._input = self._network = None

    def _matching(self, difference: np.ndarray) -> np.ndarray:
        """1 where the keyframe's input, sampled along the chain, matches this
        frame's input (``difference``: gray levels, at the flow's size),
        falling to 0 at twice ``mismatch_levels``."""
        return np.clip(2.0 - difference / self.mismatch_levels, 0.0, 1.0)

    def _better(self, difference: np.ndarray) -> np.ndarray:
        """1 where the carried painting's estimated error is at most half the
        network's there, falling to 0 where they are equal; and 0 where the
        network painted the keyframe within a level of the painting (from 2
        levels on, 1): there the carry would change nothing worth its
        full-size work."""
        if self._network_error is None:
            return np.float32(1.0)
        carried_error = cv2.GaussianBlur(difference, (0, 0), self.ERROR_SIGMA) * self._sharpening
        network_error = warp(self._network_error, self._chain)
        better = np.clip(2.0 - 2.0 * carried_error / np.maximum(network_error, 1.0), 0.0, 1.0)
        return better * np.clip(network_error - 1.0, 0.0, 1.0)

    def _inside(self) -> np.ndarray:
        height, width = self._chain.shape[:2]
        grid_x, grid_y = pixel_grid(height, width)
        x, y = grid_x + self._chain[..., 0], grid_y + self._chain[..., 1]
        return ((x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)).astype(np.float32)


def _painted_region(weight: np.ndarray, height: int, width: int) -> tuple[slice, slice] | None:
    """The box, at the frame's size (height, width), around the pixels where
    ``weight`` (the flow's size) lays any of the painting, with one pixel of
    the flow's size around it for the enlargement's interpolation; None
    where it lays none."""
    painted = weight > 1e-3
    rows = np.flatnonzero(painted.any(axis=1))
    if rows.size == 0:
        return None
    columns = np.flatnonzero(painted.any(axis=0))
    h, w = weight.shape

    def span(first: int, last: int, small: int, full: int) -> slice:
        return slice(max(0, (first - 1) * full // small), min(full, -(-(last + 2) * full // small)))

    return span(rows[0], rows[-1], h, height), span(columns[0], columns[-1], w, width)


def _edge_contrast(gray: np.ndarray) -> float:
    """Mean gradient magnitude of an 8-bit gray image."""
    gx, gy = cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1)
    return float(cv2.magnitude(gx, gy).mean())


# frames at the far end of a carry back that take the painting in gradually
FADE_IN = 12


def carry_back(
    painting: np.ndarray,
    painting_input: np.ndarray,
    network_output: np.ndarray | None,
    before: list[tuple[np.ndarray, np.ndarray]],
    estimator: FlowEstimator,
    weight: float,
    mismatch_levels: float,
) -> list[np.ndarray]:
    """The outputs of the frames before a painted keyframe with its painting
    carried back to them, so that the clip leads into it instead of jumping
    where it is written: the frames taken newest first, KeyframeCarry
    chains the flow from each to the one after it, back to the keyframe,
    with all its checks (the chain reliable, the inputs matching, the
    painting likely to beat the network). ``before`` holds (input, output)
    of those frames, oldest first, in one clip; a shot cut among them ends
    the carry there. The oldest FADE_IN frames take it in gradually, so that
    nothing jumps where it starts either."""
    carry = KeyframeCarry(weight, mismatch_levels)
    carry.hold(painting, painting_input, network_output)
    later = estimator.gray(painting_input)
    outputs = [output for _, output in before]
    for position in range(len(before) - 1, -1, -1):
        frame_input, output = before[position]
        gray = estimator.gray(frame_input)
        if gray.shape != later.shape:
            break
        pair = flow_pair(estimator, output.shape[:2], gray, later)
        if pair.cut:
            break
        outputs[position] = carry(output.copy(), pair, share=min(1.0, (position + 1) / (FADE_IN + 1)))
        later = gray
    return outputs
