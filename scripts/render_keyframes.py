"""Render docs/keyframes.jpg: for each clip and look, the painted keyframe
beside its frame, then frames far from it: the input, the same filter
applied to that frame (what it "should" look like; the method never sees
it), what ``run --keyframe`` painted with ``--keyframe-carry 0`` (the
learnt network, stabilised) and what it paints by default (the painting
carried along the motion where it is still in view).

Looks and clips are benchmarks/keyframes.py's; a look learnt there (or by an
earlier run of this script) comes from the cache at once.

    python scripts/render_keyframes.py [--out docs/keyframes.jpg] [--looks inked stylization] [--clips landscape volna-kite]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from keyframes import LOOKS, clips  # noqa: E402

from vidstyle import Stylizer, stylize_video  # noqa: E402
from vidstyle.apps.keyframes import keyframe_look  # noqa: E402
from vidstyle.media.images import write_image  # noqa: E402
from vidstyle.stylize.options import StylizerOptions  # noqa: E402
from vidstyle.temporal.metrics import read_frames  # noqa: E402

TILE_HEIGHT = 200


def label(image: np.ndarray, text: str) -> np.ndarray:
    image = image.copy()
    cv2.putText(image, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(image, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return image


def tile(rgb: np.ndarray, text: str) -> np.ndarray:
    width = round(rgb.shape[1] * TILE_HEIGHT / rgb.shape[0])
    return label(cv2.resize(rgb, (width, TILE_HEIGHT), interpolation=cv2.INTER_AREA), text)


def rows_for(clip: Path, look_name: str, folder: Path, frames: int) -> list[np.ndarray]:
    look = LOOKS[look_name]()
    inputs = read_frames(clip, frames)
    painting = folder / f"{clip.stem}_0_painted.png"
    write_image(look(inputs[0]), painting)
    checkpoint = keyframe_look(clip, [f"0={painting}"], quiet=True).checkpoint
    stylizer = Stylizer.from_style(str(checkpoint), StylizerOptions(native_size=True))
    rendered = {}
    for carry in (0.0, 1.0):
        out = folder / f"{clip.stem}_render.mkv"
        stylize_video(clip, out, keyframe=(f"0={painting}",), keyframe_carry=carry, frames=frames, codec="ffv1", quiet=True, overwrite=True)
        rendered[carry] = read_frames(out, frames)
    far = [len(inputs) // 3, 2 * len(inputs) // 3, len(inputs) - 1]
    rows = [np.concatenate([tile(inputs[0], f"{clip.stem.split('_')[0]}, frame 0"), tile(look(inputs[0]), f"painted ({look_name})"),
                            tile(stylizer(inputs[0]), "the learnt network, frame 0")], axis=1)]
    for index in far:
        rows.append(np.concatenate([tile(inputs[index], f"frame {index}"), tile(look(inputs[index]), "the filter there (unseen)"),
                                    tile(rendered[0.0][index], "--keyframe-carry 0"), tile(rendered[1.0][index], f"ours, frame {index}")], axis=1))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "keyframes.jpg")
    parser.add_argument("--looks", nargs="+", default=["inked", "stylization"], choices=list(LOOKS))
    parser.add_argument("--clips", nargs="+", default=["landscape", "volna-kite"])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "vidstyle-keyframes")
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    found = clips(args.folder, args.frames)
    rows = []
    for look_name, clip_name in zip(args.looks, args.clips):
        if clip_name not in found:
            print(f"note: no clip {clip_name}; left out")
            continue
        rows += rows_for(found[clip_name], look_name, args.folder, args.frames)
    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows])
    cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
    print(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]})")


if __name__ == "__main__":
    main()
