"""vidstyle: fast, temporally stable neural style transfer for video.

The library API::

    import vidstyle
    vidstyle.stylize_video("clip.mp4", "clip_mosaic.mp4", style="mosaic")
    stylizer = vidstyle.Stylizer.from_style("mosaic")
    painted = stylizer(frames)  # (N, H, W, 3) uint8 RGB
"""

__version__ = "0.1.0"

from .errors import VidstyleError  # noqa: E402
from .pipeline import RunOptions, RunResult, stylize_video  # noqa: E402
from .stylizer import Stylizer, StylizerOptions  # noqa: E402
from .styles import available_styles  # noqa: E402

__all__ = ["VidstyleError", "RunOptions", "RunResult", "stylize_video", "Stylizer", "StylizerOptions", "available_styles"]
