#!/usr/bin/env bash
# Fine-tune bundled styles with the temporal loss, one after another:
# each resumes from its committed training state (training-state/NAME.pth)
# and trains STEPS more steps with --temporal-weight WEIGHT, writing
# runs/temporal/NAME.pth. Judge the result with
#   python benchmarks/temporal.py --style runs/temporal/NAME.pth --against NAME --style-image ...
#
#   scripts/temporal_finetune.sh WEIGHT STEPS NAME [NAME ...]
set -euo pipefail
cd "$(dirname "$0")/.."
weight=$1; steps=$2; shift 2
vidstyle=${VIDSTYLE:-.venv/bin/vidstyle}
mkdir -p runs/temporal
for name in "$@"; do
    state=training-state/$name.pth
    out=runs/temporal/$name.pth
    resume=$state
    [[ -f $out ]] && resume=$out   # continue an interrupted fine-tune
    done_steps=$(.venv/bin/python -c "from vidstyle.stylize.checkpoints import load_checkpoint; print(load_checkpoint('$state').metadata['steps'])")
    echo "== $name: $done_steps + $steps steps at temporal weight $weight (from $resume)"
    "$vidstyle" train --config "configs/train/$name.toml" --resume "$resume" --steps $((done_steps + steps)) \
        --temporal-weight "$weight" -o "$out"
done
