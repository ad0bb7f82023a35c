"""Measurements shared by the tests (what a video file actually contains,
what a failed command printed) and the real photographs they use."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

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


# Real photographs the project ships (samples/README.md), for tests that need
# real content rather than a drawn scene.
SAMPLES = Path(__file__).resolve().parents[1] / "samples"
FLOWER = SAMPLES / "flower.jpg"  # 480x361, a flower filling the frame
LANDSCAPE = SAMPLES / "landscape.mp4"  # 480x270, 72 frames: a camera move over a photo of dunes


def landscape_frames(count: int | None = None) -> list[np.ndarray]:
    """The first ``count`` frames of samples/landscape.mp4 (all: None), RGB uint8."""
    frames = []
    with VideoReader(LANDSCAPE) as reader:
        for frame in reader:
            frames.append(frame.rgb)
            if count and len(frames) == count:
                break
    return frames
