"""Bundle trained any-image decoder levels into the shipped file, in half
precision and without their optimiser state:

    python scripts/bundle_decoders.py training-state/any-image/block5.pth training-state/any-image/block3.pth
        [-o vidstyle/styles/any-image/decoders.pth]

The steps and training time of each level stay in the file (``training``)
for the model card.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vidstyle.stylize.torch_engine import load_decoders, save_decoder_level
from vidstyle.stylize.styles import ANY_IMAGE_DECODERS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("levels", nargs="+", type=Path, help="decoders files from scripts/train_decoders.py")
    parser.add_argument("-o", "--output", type=Path, default=ANY_IMAGE_DECODERS)
    args = parser.parse_args()
    written = []
    fresh = args.output.with_name(f".{args.output.name}.bundling")  # only the levels given, nothing left over
    fresh.unlink(missing_ok=True)
    for source in args.levels:
        decoders, payload = load_decoders(source)
        for tap, decoder in decoders.items():
            training = payload["levels"][tap].get("training", {})
            summary = {key: training[key] for key in ("step", "seconds", "config") if key in training}
            save_decoder_level(fresh, decoder.config, decoder, summary, half=True)
            written.append(f"{tap} ({summary.get('step', '?')} steps)")
    fresh.replace(args.output)
    print(f"wrote {args.output}: {', '.join(written)}")


if __name__ == "__main__":
    main()
