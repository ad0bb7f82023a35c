"""Train or resume the any-image decoders, one level per config file:

    python scripts/train_decoders.py configs/train/any-image/block5.toml [--max-minutes N] [--steps N]

Each run checkpoints to its config's ``output`` and resumes from it. Run
the levels side by side, one thread each (``OMP_NUM_THREADS=1 python
scripts/train_decoders.py ... &`` per level), and bundle them with
``scripts/bundle_decoders.py``.
"""

from __future__ import annotations

import argparse
import logging

from vidstyle.training.decoder import DecoderTrainConfig, train_decoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--max-minutes", type=float)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--device")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    config = DecoderTrainConfig.from_toml(args.config, max_minutes=args.max_minutes, steps=args.steps, device=args.device)
    print(train_decoder(config))


if __name__ == "__main__":
    main()
