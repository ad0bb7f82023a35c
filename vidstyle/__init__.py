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

from .apps.batch.job import load_job, run_batch  # noqa: E402
from .apps.pipeline import RunOptions, RunResult, stylize_video  # noqa: E402
from .apps.preview.session import PreviewOptions, run_preview  # noqa: E402
from .errors import VidstyleError  # noqa: E402
from .stylize.styles import available_styles  # noqa: E402
from .stylize.stylizer import Stylizer, StylizerOptions  # noqa: E402

__all__ = [
    "VidstyleError",
    "RunOptions",
    "RunResult",
    "stylize_video",
    "Stylizer",
    "StylizerOptions",
    "available_styles",
    "load_job",
    "run_batch",
    "PreviewOptions",
    "run_preview",
]
