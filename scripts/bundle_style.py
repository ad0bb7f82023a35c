"""Turn a training checkpoint into a bundled style: vidstyle/styles/NAME.pth
(weights only, half precision) and its model card NAME.md.

    python scripts/bundle_style.py runs/mosaic/mosaic.pth [--name mosaic] [--full-precision]
    python scripts/bundle_style.py runs/fast/mosaic-fast.pth --fast --name mosaic   # -> styles/fast/mosaic.pth
    python scripts/bundle_style.py runs/balanced/mosaic.pth --kind balanced --name mosaic   # -> styles/balanced/mosaic.pth

Half precision is used unless --full-precision: the script prints the
largest pixel difference it causes on a test image so that the choice can
be checked (it is a rounding error, far below what the eye sees).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from vidstyle.media.synthetic import render_scene
from vidstyle.stylize.checkpoints import load_checkpoint, save_checkpoint, strip_training_state

ROOT = Path(__file__).resolve().parent.parent
STYLES = ROOT / "vidstyle" / "styles"
MAX_BYTES = 7 * 1024 * 1024


QUALITY_HEADING = "## Quality and known limits"


VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi")


def content_description(config: dict) -> str:
    """The training content in a reader's words: a card names what the
    data is, not where it lay on the machine that trained the network."""
    parts = []
    for entry in config.get("content", []):
        path = Path(entry)
        if path.suffix.lower() in VIDEO_SUFFIXES:
            parts.append(f"frames of a clip, {path.name}")
        else:
            parts.append("the photos listed in configs/train/content.txt as scripts/prepare_content.py prepares them")
    return ", and ".join(dict.fromkeys(parts))


def temporal_line(config: dict) -> str:
    """The temporal term of the run that wrote the checkpoint: with
    --init-weights, the steps it describes are the last ones only."""
    weight = config["temporal_weight"]
    when = f"in the last {config.get('steps')} steps" if config.get("init_weights") else "in every step"
    return (f"- **Temporal loss**: weight {weight:g} (moved crops, and DIS flow between consecutive frames "
            f"of the content videos), {when} (`--temporal-weight {weight:g}`)")


def model_card(name: str, metadata: dict, size: int, max_difference: float) -> str:
    config = metadata.get("train_config", {})
    loss = config.get("loss", {})
    losses = metadata.get("losses", {})
    metric = loss.get("style_metric", "gram")
    if metric == "gram" and loss.get("centered_gram"):
        metric = "centred Gram (covariance)"
    lines = [
        f"# Style `{name}`",
        "",
        f"- **Style image**: `{metadata.get('style_image', '?')}`: {config.get('style_credit') or 'unknown'}",
        f"- **Licence of the style image**: {config.get('style_license') or 'unknown'}",
        f"- **Content data**: {metadata.get('content_images', '?')} images and video frames ({content_description(config)})",
        f"- **Architecture**: {json.dumps(metadata.get('architecture', {}))}",
        f"- **Steps**: {metadata.get('steps')} at batch {config.get('batch_size')}, "
        f"crops of {config.get('image_size')} px, style image at {config.get('style_size')} px"
        + (f", started from the weights of `{config['init_weights']}` (see below for how those were trained)"
           if config.get("init_weights") else ""),
        f"- **Loss**: {metric} style loss on EfficientNet-Lite0 taps "
        f"{', '.join(loss.get('style_taps', {}))}; content at {', '.join(loss.get('content_taps', {}))}; "
        f"weights style {loss.get('style_weight')}, content {loss.get('content_weight')}, "
        f"TV {loss.get('tv_weight')}, moments {loss.get('moment_weight')}"
        + (f"; random views before the loss network (shift up to {loss['view_shift']:g} px, rescale 1 +- {loss.get('view_scale', 0):g})"
           if loss.get("view_shift") else "")
        + (f"; the image reflected by {loss['border_pad']} px around it before the loss network" if loss.get("border_pad") else "")
        + (f"; content weighed by salience {loss['content_salience']:g}" if loss.get("content_salience") else "")
        + (f"; small objects pasted into {config['small_objects']:g} of the crops, their content weighted {loss.get('object_weight', 0):g}"
           if config.get("small_objects") else ""),
        *([temporal_line(config)] if config.get("temporal_weight") else []),
        f"- **Wall time**: {metadata.get('wall_seconds', 0) / 60:.0f} min on {metadata.get('device')}",
        "- **Final losses** (smoothed): " + ", ".join(f"{k} {v:.4g}" for k, v in losses.items()),
        f"- **File**: {size / 1e6:.2f} MB, half precision (largest pixel change from full precision on a test frame: {max_difference:.1f}/255)",
        "",
        f"Retrain with `vidstyle train --config configs/train/{name}.toml`.",
        "",
    ]
    return "\n".join(lines)


DISTILLED_TITLES = {
    "fast": "Real-time network of style `{name}` (`--model fast`)",
    "balanced": "Default network of style `{name}` (`--model balanced`)",
}


def distilled_model_card(name: str, metadata: dict, size: int, max_difference: float, kind: str = "fast") -> str:
    config = metadata.get("train_config", {})
    losses = metadata.get("losses", {})
    init = config.get("init_weights")
    lines = [
        f"# {DISTILLED_TITLES[kind].format(name=name)}",
        "",
        f"- **Distilled from**: the full `{config.get('teacher')}` network (see ../{name}.md for its style image and licence)",
        f"- **Content data**: {metadata.get('content_images', '?')} images and video frames ({content_description(config)})",
        f"- **Architecture**: {json.dumps(metadata.get('architecture', {}))}",
        f"- **Steps**: {metadata.get('steps')} at batch {config.get('batch_size')}, crops of {config.get('image_size')} px; "
        "loss: mean absolute difference from the full network's output"
        + (f", plus {config['teacher_colour_weight']:g} x the gap in colour mean and spread (models/losses.py: colour_spread_gap)"
           if config.get("teacher_colour_weight") else "")
        + (f", plus {config['teacher_detail_weight']:g} x the gap in fine-detail strength (models/losses.py: detail_energy_gap)"
           if config.get("teacher_detail_weight") else "")
        + (f"; started from the weights of `{init}` (transplanted where the shapes differ: training/transplant.py)" if init else ""),
        *([temporal_line(config)] if config.get("temporal_weight") else []),
        f"- **Wall time**: {metadata.get('wall_seconds', 0) / 60:.0f} min on {metadata.get('device')}",
        "- **Final losses** (smoothed, 0-1 scale): " + ", ".join(f"{k} {v:.4g}" for k, v in losses.items()),
        f"- **File**: {size / 1e6:.2f} MB, half precision (largest pixel change from full precision on a test frame: {max_difference:.1f}/255)",
        "",
        f"Retrain with `vidstyle train --config configs/train/{kind}/{name}.toml`.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--name")
    parser.add_argument("--full-precision", action="store_true")
    parser.add_argument("--fast", action="store_true", help="A distilled real-time network: goes to styles/fast/ (--kind fast).")
    parser.add_argument("--kind", choices=["full", "balanced", "fast"], default=None, help="Which of a style's networks this is [default: full].")
    args = parser.parse_args()
    kind = args.kind or ("fast" if args.fast else "full")
    checkpoint = strip_training_state(load_checkpoint(args.checkpoint))
    name = args.name or checkpoint.name.removesuffix(f"-{kind}")
    checkpoint.name = name
    checkpoint.metadata = {**checkpoint.metadata, "architecture": checkpoint.architecture.to_dict()}
    folder = STYLES if kind == "full" else STYLES / kind
    folder.mkdir(exist_ok=True)
    target = folder / f"{name}.pth"
    save_checkpoint(checkpoint, target, half=not args.full_precision)
    frame = torch.from_numpy(render_scene(0, 320, 180)).permute(2, 0, 1)[None].float()
    with torch.no_grad():
        full = checkpoint.build_model()(frame).clamp(0, 255)
        half = load_checkpoint(target).build_model()(frame).clamp(0, 255)
    difference = float((full - half).abs().max())
    size = target.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{target} is {size / 1e6:.1f} MB, over the 7 MB limit")
    card_path = folder / f"{name}.md"
    if kind == "full":
        text = model_card(name, checkpoint.metadata, size, difference)
    else:
        text = distilled_model_card(name, checkpoint.metadata, size, difference, kind)
    # The hand-written assessment (looks, figures against Gatys) outlives a
    # retrain until someone rewrites it; the generated facts are replaced.
    kept = card_path.read_text().partition(QUALITY_HEADING)[2] if card_path.is_file() else ""
    if kept:
        text = text.rstrip("\n") + "\n\n" + QUALITY_HEADING + kept
    card_path.write_text(text)
    print(f"wrote {target} ({size / 1e6:.2f} MB; half precision changes pixels by at most {difference:.2f}) and {name}.md")


if __name__ == "__main__":
    main()
