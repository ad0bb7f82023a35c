#!/usr/bin/env bash
# Fine-tune bundled styles with their current configs/train/NAME.toml, one
# after another: each resumes from its committed training state
# (training-state/NAME.pth) and trains STEPS more steps with
# --temporal-weight WEIGHT (0: none), writing runs/finetune/NAME.pth. A killed
# run continues from that file when started again. Used for the temporal
# fine-tune (weight 5) and for the style-fidelity refit (the new loss).
#
#   scripts/finetune_styles.sh WEIGHT STEPS NAME [NAME ...]
#
# Judge the result beside the shipped network, e.g. with
#   python scripts/compare_refit.py --candidate runs/finetune
#   python benchmarks/temporal.py --style runs/finetune/NAME.pth --against NAME --style-image ...
set -euo pipefail
cd "$(dirname "$0")/.."
weight=$1; steps=$2; shift 2
vidstyle=${VIDSTYLE:-.venv/bin/vidstyle}  # may be a command with arguments ("python -m vidstyle"): used unquoted
python=${PYTHON:-.venv/bin/python}
mkdir -p runs/finetune
for name in "$@"; do
    state=training-state/$name.pth
    out=runs/finetune/$name.pth
    resume=$state
    [[ -f $out ]] && resume=$out   # continue an interrupted fine-tune
    done_steps=$("$python" -c "from vidstyle.stylize.checkpoints import load_checkpoint; print(load_checkpoint('$state').metadata['steps'])")
    echo "== $name: $done_steps + $steps steps at temporal weight $weight (from $resume)"
    $vidstyle train --config "configs/train/$name.toml" --resume "$resume" --steps $((done_steps + steps)) \
        --temporal-weight "$weight" -o "$out" -q
done
