"""Peak memory and time of one frame: the plain network against the banded one.

Each size and path runs in a fresh process, so each peak resident set
(ru_maxrss) is that case's alone: (a) the plain ONNX Runtime path, (b) the
plain PyTorch path, (c) exact layer-wise bands (vidstyle/stylize/banded.py)
with the band height that fits a tensor budget. The frame is a real photo
resized to each size. Also prints the largest difference between banded
and plain at the first size, and the estimates beside the measurements
(estimate_peak_bytes is calibrated from this table).

    python benchmarks/memory.py [--style mosaic] [--model full] [--threads 1]
        [--sizes 1280x720,1920x1080,3840x2160] [--paths openvino,onnx,torch,banded]
        [--budget-gib 3 | --band-rows N] [--photo PATH]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = [
    Path("/usr/share/backgrounds/Bridge_by_Sander_Klootwijk.jpg"),  # 4352x2448
    ROOT.parent / "shared" / "content" / "tubingen.jpg",  # upscaled when it is all there is
]
PATHS = ("openvino", "onnx", "torch", "banded")
GIB = 2**30


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


def child(args: argparse.Namespace) -> None:
    """One frame through one path; prints a JSON line."""
    import torch

    torch.set_num_threads(args.threads)
    from vidstyle.stylize.banded import stylize_banded
    from vidstyle.stylize.budget import band_rows_for_budget
    from vidstyle.stylize.stylizer import Stylizer, StylizerOptions
    from vidstyle.stylize.styles import load_style

    model = load_style(args.style, args.model).build_model()
    config = model.config
    band_rows = None
    if args.child in ("onnx", "openvino"):
        engine = "onnxruntime" if args.child == "onnx" else "openvino"
        graph = Stylizer.from_style(args.style, StylizerOptions(model=args.model, engine=engine, threads=args.threads)).networks[0]

        def network(x: torch.Tensor) -> torch.Tensor:
            return torch.from_numpy(graph(x.numpy(), 1, False))
    elif args.child == "torch":
        network = model
    else:
        network = None

    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            if network is not None:
                return network(x)
            return stylize_banded(model, x, band_rows)

    band_rows = 8
    run(torch.rand(1, 3, 64, 64) * 255)  # warm-up: kernels, the ONNX session's first run
    frame = np.load(args.frame)
    height, width = frame.shape[:2]
    x = torch.from_numpy(frame).permute(2, 0, 1)[None].float()
    if args.child == "banded":
        band_rows = args.band_rows or band_rows_for_budget(config, height, width, int(args.budget_gib * GIB))
    baseline = peak_rss_bytes()
    started = time.perf_counter()
    y = run(x)
    seconds = time.perf_counter() - started
    peak = peak_rss_bytes()
    if args.save:
        np.save(args.save, y[0].numpy())
    print(json.dumps({"baseline": baseline, "peak": peak, "seconds": seconds, "band_rows": band_rows}))


def load_photo(path: Path | None) -> np.ndarray:
    from vidstyle.media.images import read_image

    for candidate in [path] if path else PHOTOS:
        if candidate.is_file():
            return read_image(candidate)
    raise SystemExit(f"no photo found: pass --photo (looked for {', '.join(map(str, PHOTOS))})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", default="mosaic")
    parser.add_argument("--model", default="full", choices=("full", "balanced", "fast"))
    parser.add_argument("--sizes", default="1280x720,1920x1080,3840x2160")
    parser.add_argument("--paths", default=",".join(PATHS), help="which of openvino,onnx,torch,banded to run")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--budget-gib", type=float, default=3.0, help="tensor budget of the banded path")
    parser.add_argument("--band-rows", type=int, help="a fixed band height for the banded path instead of the budget's")
    parser.add_argument("--photo", type=Path)
    parser.add_argument("--child", choices=PATHS, help=argparse.SUPPRESS)
    parser.add_argument("--frame", help=argparse.SUPPRESS)
    parser.add_argument("--save", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    from vidstyle.stylize.budget import banded_peak_bytes, estimate_peak_bytes
    from vidstyle.apps.sheet import fit
    from vidstyle.stylize.styles import load_style

    config = load_style(args.style, args.model).architecture
    photo = load_photo(args.photo)
    paths = args.paths.split(",")
    bands = f"{args.band_rows} rows" if args.band_rows else f"a budget of {args.budget_gib:g} GiB"
    print(f"style {args.style} ({args.model}: {config}), {args.threads} thread(s), bands for {bands}")
    print("peak RSS of the whole process in GiB (baseline after warm-up in brackets), seconds for one frame")
    header = f"{'size':>9} " + " ".join(f"{p + ' GiB':>16} {'s':>6}" for p in paths)
    print(header + f" {'banded/plain RSS':>17} {'banded/plain s':>15} {'est. plain':>10} {'est. banded':>11} {'rows':>5}")
    with tempfile.TemporaryDirectory() as folder:
        for index, size in enumerate(args.sizes.split(",")):
            width, height = map(int, size.split("x"))
            frame_path = Path(folder) / f"{size}.npy"
            np.save(frame_path, np.ascontiguousarray(fit(photo, width, height)))
            results = {}
            for path in paths:
                command = [sys.executable, __file__, "--child", path, "--frame", str(frame_path), "--style", args.style,
                           "--model", args.model, "--threads", str(args.threads), "--budget-gib", str(args.budget_gib)]
                if args.band_rows:
                    command += ["--band-rows", str(args.band_rows)]
                if index == 0:
                    command += ["--save", str(Path(folder) / f"{path}.npy")]
                done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
                if done.returncode:
                    raise SystemExit(f"{path} at {size} failed:\n{done.stderr}")
                results[path] = json.loads(done.stdout.strip().splitlines()[-1])
            cells = " ".join(
                f"{results[p]['peak'] / GIB:>7.2f} ({results[p]['baseline'] / GIB:.2f}) {results[p]['seconds']:>6.1f}" for p in paths
            )
            plain = [results[p] for p in ("openvino", "onnx", "torch") if p in results]
            ratios = ""
            if plain and "banded" in results:
                worst = max(plain, key=lambda r: r["peak"])
                ratios = f" {results['banded']['peak'] / worst['peak']:>17.2f}"
                ratios += f" {results['banded']['seconds'] / min(r['seconds'] for r in plain):>15.2f}"
            else:
                ratios = f" {'':>17} {'':>15}"
            rows = results.get("banded", {}).get("band_rows")
            banded_estimate = f"{banded_peak_bytes(config, height, width, rows) / GIB:>11.2f}" if rows else f"{'':>11}"
            print(f"{size:>9} {cells}{ratios} {estimate_peak_bytes(config, height, width) / GIB:>10.2f} {banded_estimate} {rows or '':>5}",
                  flush=True)
            if index == 0 and "banded" in results:
                banded = np.load(Path(folder) / "banded.npy")
                for path in ("onnx", "torch"):
                    if path in results:
                        difference = np.abs(banded - np.load(Path(folder) / f"{path}.npy")).max()
                        print(f"    at {size}: max |banded - {path}| = {difference:.5f} (0-255 scale)")
    print("banded/plain: against the larger plain peak and the faster plain time; est. banded is tensors only, "
          "without the baseline")


if __name__ == "__main__":
    main()
