"""Measurements shared by the tests: what a video file actually contains,
and what a failed command printed."""

from __future__ import annotations

import av

from vidstyle.media.reader import VideoReader


def frame_times(path) -> list[float]:
    """Presentation time of every decoded frame, in seconds."""
    with VideoReader(path) as reader:
        return [float(f.pts * f.time_base) for f in reader]


def audio_seconds(path) -> float:
    """Duration of the first audio stream, counted in decoded samples."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return sum(f.samples for f in container.decode(stream)) / stream.codec_context.sample_rate


def one_line_error(result) -> str:
    """The single stderr line of a command that failed with a user error."""
    assert result.code == 2, (result.code, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err
    return lines[0]
