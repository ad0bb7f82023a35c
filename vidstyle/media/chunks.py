"""Splitting a long clip into segments that render in parallel (the parts
are joined back by :func:`vidstyle.media.writer.concat_video_files`).

Segments start at keyframes of the input, so each part can be decoded from
its own start. Each part also stylizes a few frames *before* its start
(``overlap``) without writing them, so that the temporal stabiliser arrives
at the border with the same state it would have had in a single pass. Parts
carry the input's timestamps, so the join only copies packets; the audio is
carried from the input once, over the whole clip.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ..errors import VideoError
from .reader import open_input

DEFAULT_OVERLAP = 8  # frames: enough for the stabiliser's blend to settle (0.7^8 < 6%)


@dataclass(frozen=True)
class Segment:
    """Frames with ``start <= pts < end`` (in the video stream's time base)
    are written; ``None`` is open-ended. ``overlap`` frames before ``start``
    are stylized to prime the stabiliser, then dropped."""

    start: int | None = None
    end: int | None = None
    overlap: int = 0

    def wants(self, pts: int) -> str:
        """"before", "inside" or "after" for a frame's timestamp."""
        if self.start is not None and pts < self.start:
            return "before"
        if self.end is not None and pts >= self.end:
            return "after"
        return "inside"


def keyframe_times(path: str | Path) -> tuple[list[int], Fraction, float]:
    """Timestamps of the video keyframes (read from packets, nothing is
    decoded), the stream's time base, and its duration in seconds."""
    with open_input(path) as container:
        if not container.streams.video:
            raise VideoError(f"no video stream in {path}")
        stream = container.streams.video[0]
        keyframes, last = [], None
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            if packet.is_keyframe:
                keyframes.append(packet.pts)
            last = packet.pts if last is None else max(last, packet.pts)
        time_base = stream.time_base
        first = keyframes[0] if keyframes else 0
        duration = float((last - first) * time_base) if last is not None else 0.0
    return sorted(set(keyframes)), time_base, duration


def plan_segments(path: str | Path, chunk_seconds: float, overlap: int = DEFAULT_OVERLAP) -> list[Segment]:
    """Cut at the first keyframe at or after every ``chunk_seconds``; a clip
    shorter than one and a half chunks (or with one keyframe) stays whole."""
    keyframes, time_base, duration = keyframe_times(path)
    if chunk_seconds <= 0 or duration < 1.5 * chunk_seconds or len(keyframes) < 2:
        return [Segment()]
    origin = keyframes[0]
    cuts: list[int] = []
    target = chunk_seconds
    for pts in keyframes[1:]:
        seconds = float((pts - origin) * time_base)
        if seconds >= target and duration - seconds >= 0.5 * chunk_seconds:
            cuts.append(pts)
            target = seconds + chunk_seconds
    bounds = [None, *cuts, None]
    return [Segment(bounds[i], bounds[i + 1], overlap if i else 0) for i in range(len(bounds) - 1)]
