#!/usr/bin/env bash
# Train (or continue) bundled styles one after another, resuming each from its
# last checkpoint, so the queue survives being killed and restarted.
#
#   scripts/train_styles.sh STEPS NAME [NAME ...]
#
# The checkpoint of NAME is runs/NAME/NAME.pth (the `output` of
# configs/train/NAME.toml); if it is missing but training-state/NAME.pth
# exists (the committed copy), training resumes from that.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=$1; shift
vidstyle=${VIDSTYLE:-.venv/bin/vidstyle}
for name in "$@"; do
    state="runs/$name/$name.pth"
    if [[ ! -f $state && -f training-state/$name.pth ]]; then
        mkdir -p "runs/$name" && cp "training-state/$name.pth" "$state"
    fi
    resume=()
    [[ -f $state ]] && resume=(--resume "$state")
    echo "== $name: to $steps steps ${resume[*]}"
    "$vidstyle" train --config "configs/train/$name.toml" --steps "$steps" "${resume[@]}"
done
