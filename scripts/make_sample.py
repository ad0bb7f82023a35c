"""Render samples/landscape.mp4, the clip the README's first command stylizes.

A slow camera move (zoom, pan and roll; vidstyle.media.synthetic.camera_move)
over a photograph of dune grass by the sea, with a tone on the audio track:
real texture under real-looking motion, 480x270, 24 fps, 3 seconds.

The photograph is "Dune" by Marco Cogoni (2007), from Debian's
mate-backgrounds package (/usr/share/backgrounds/mate/nature/Dune.jpg),
licensed GPL-2+; the clip is shipped under the same licence (samples/README.md).
"""

import argparse
from pathlib import Path

from vidstyle.media.synthetic import ClipSpec, write_clip

ROOT = Path(__file__).resolve().parent.parent
PHOTO = Path("/usr/share/backgrounds/mate/nature/Dune.jpg")

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photo", type=Path, default=PHOTO, help="apt-get install mate-backgrounds provides it")
    args = parser.parse_args()
    if not args.photo.is_file():
        parser.error(f"no such photo: {args.photo} (apt-get install mate-backgrounds)")
    spec = ClipSpec(width=480, height=270, frames=72, fps=24, audio=True, photo=str(args.photo))
    path = write_clip(ROOT / "samples" / "landscape.mp4", spec)
    print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
