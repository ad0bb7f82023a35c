"""vidstyle: fast, temporally stable neural style transfer for video.

The library API::

    import vidstyle
    vidstyle.stylize_video("clip.mp4", "clip_mosaic.mp4", style="mosaic")
    stylizer = vidstyle.Stylizer.from_style("mosaic:0.7,candy:0.3", vidstyle.StylizerOptions(strength=0.8))
    painted = stylizer(frames)  # (N, H, W, 3) uint8 RGB
    report = vidstyle.run_batch(vidstyle.load_job("job.toml"), workers=2)
    stats = vidstyle.run_preview(vidstyle.PreviewOptions(source=0, headless=True, frames=100))

The sub-packages are layers (``media``, ``models``, ``temporal``, ``stylize``,
``training``, ``apps``), each importing only those below it; the README's
"Layout" says what each holds.
"""

from .version import __version__  # noqa: F401

# OpenCV before PyAV: PyAV's wheels bundle xcb libraries under the same file
# names as OpenCV's, and loaded first they make OpenCV's window hang in
# cv2.namedWindow (PyAV issues 978 and 1050), which `vidstyle preview` needs.
import cv2  # noqa: E402, F401

from importlib import import_module  # noqa: E402
from typing import Any  # noqa: E402

# The API, imported on first use: `vidstyle --help` stays quick, and nothing
# but training, Gatys, CUDA and checkpoints without a graph loads PyTorch.
_API = {
    "VidstyleError": ".errors",
    "RunOptions": ".apps.run_options",
    "RunResult": ".apps.pipeline",
    "stylize_video": ".apps.pipeline",
    "Stylizer": ".stylize.stylizer",
    "StylizerOptions": ".stylize.options",
    "available_styles": ".stylize.styles",
    "load_job": ".apps.batch.job",
    "run_batch": ".apps.batch.job",
    "PreviewOptions": ".apps.preview.session",
    "run_preview": ".apps.preview.session",
}

__all__ = list(_API)


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(import_module(_API[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
