#!/usr/bin/env bash
# Distil the networks of a model kind (balanced or fast) from the full
# networks, one style after another, with configs/train/KIND/NAME.toml,
# writing runs/KIND/NAME.pth. A killed run resumes from that file (the
# trainer's checkpoints hold its state) when started again.
#
#   scripts/distill_styles.sh KIND NAME [NAME ...]
#
# REFIT_STEPS=N refits instead, after the full network changed: each student
# starts from its shipped weights (--init-weights NAME finds the bundled
# network of the same shape) and trains N steps, writing runs/KIND/NAME.pth.
#
# Two at once on a 2-core machine, one thread each:
#   OMP_NUM_THREADS=1 scripts/distill_styles.sh balanced mosaic candy wave &
#   OMP_NUM_THREADS=1 scripts/distill_styles.sh balanced udnie starry-night scream &
set -euo pipefail
cd "$(dirname "$0")/.."
kind=$1; shift
vidstyle=${VIDSTYLE:-.venv/bin/vidstyle}  # may be a command with arguments: used unquoted
mkdir -p "runs/$kind"
for name in "$@"; do
    out=runs/$kind/$name.pth
    start=()
    [[ -n ${REFIT_STEPS:-} ]] && start=(--init-weights "$name" --steps "$REFIT_STEPS")
    [[ -f $out ]] && start=(--resume "$out" ${REFIT_STEPS:+--steps "$REFIT_STEPS"})
    echo "== $kind $name ${start[*]}"
    $vidstyle train --config "configs/train/$kind/$name.toml" "${start[@]}" -o "$out" -q
done
