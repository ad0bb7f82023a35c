"""PyTorch as an optional extra: finding it without importing it, and one
message when a feature needs it.

The plain install runs the bundled styles and any picture as a style on
the CPU engines without PyTorch; training, Gatys optimisation, CUDA,
``--engine torch`` and checkpoints without an exported graph need
``pip install 'vidstyle[torch]'``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import VidstyleError
from .engines import installed

TORCH_EXTRA = "pip install 'vidstyle[torch]'"

# NVIDIA's control and first device, ROCm's kernel driver, WSL's GPU bridge
GPU_DEVICE_FILES = ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd", "/dev/dxg")


def torch_installed() -> bool:
    return installed("torch")


def require_torch(feature: str):
    """The ``torch`` module, or a one-line error naming ``feature`` and the extra."""
    if not torch_installed():
        raise VidstyleError(f"{feature} needs PyTorch, which this install leaves out: {TORCH_EXTRA}")
    import torch

    return torch


def cuda_may_be_present() -> bool:
    """Whether this machine may have a GPU that PyTorch would use, judged
    without PyTorch: NVIDIA's or ROCm's device files on Linux, the CUDA
    driver on Windows; never on macOS. A yes only means "ask PyTorch"."""
    if sys.platform == "darwin":
        return False
    if sys.platform.startswith("win"):
        return Path(os.environ.get("SystemRoot", r"C:\Windows"), "System32", "nvcuda.dll").exists()
    return any(Path(device).exists() for device in GPU_DEVICE_FILES)
