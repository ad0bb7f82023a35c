"""What ``vidstyle info`` reports: versions, the device ``auto`` picks, the
style folders and the encoders ``--codec`` can use. Plain data, so the CLI
can print it as text or JSON."""

from __future__ import annotations

import importlib.metadata
from typing import Any


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def system_info() -> dict[str, Any]:
    import av
    import cv2

    from ..media.writer import available_video_encoders
    from ..stylize.engines import choose_cpu_engine, cpu_threads
    from ..stylize.graphs import ANY_IMAGE_DIR
    from ..stylize.styles import available_styles, style_dirs
    from ..stylize.torch_support import TORCH_EXTRA, cuda_may_be_present, torch_installed
    from ..version import __version__

    engine = choose_cpu_engine()
    device_info: dict[str, Any] = {
        "auto": "cpu",
        "name": "CPU",
        "threads": cpu_threads(),
        "engine": engine.engine,
        "precision": engine.precision,
        "reason": engine.reason,
    }
    cuda = None
    if torch_installed() and cuda_may_be_present():
        import torch

        cuda = torch.version.cuda
        if torch.cuda.is_available():
            properties = torch.cuda.get_device_properties(0)
            device_info = {"auto": "cuda", "name": properties.name, "memory_gib": round(properties.total_memory / 2**30, 1),
                           "engine": "torch", "precision": "f32", "reason": "CUDA GPU (--fp16 for half precision)"}
    styles, fast, balanced = available_styles(), available_styles("fast"), available_styles("balanced")
    folders = [
        {
            "origin": origin,
            "path": str(folder),
            "exists": folder.is_dir(),
            "styles": sum(s.origin == origin for s in styles),
            "balanced_models": sum(s.origin == origin for s in balanced),
            "fast_models": sum(s.origin == origin for s in fast),
        }
        for origin, folder in style_dirs()
    ]
    any_image_graphs = sorted(p.name for p in ANY_IMAGE_DIR.glob("*.onnx"))
    return {
        "versions": {
            "vidstyle": __version__,
            "torch": _version("torch"),
            "cuda": cuda,
            "pyav": av.__version__,
            "ffmpeg": av.ffmpeg_version_info,
            "opencv": cv2.__version__,
            "openvino": _version("openvino"),
            "onnxruntime": _version("onnxruntime"),
        },
        "device": device_info,
        "torch_extra": None if torch_installed() else TORCH_EXTRA,
        "style_folders": folders,
        "styles": [s.name for s in styles],
        "balanced_models": [s.name for s in balanced],
        "fast_models": [s.name for s in fast],
        "any_image": {"graphs": str(ANY_IMAGE_DIR), "installed": bool(any_image_graphs)},
        "encoders": available_video_encoders(),
    }


def _torch_line(versions: dict[str, Any], extra: str | None) -> str:
    if not versions["torch"]:
        return f"not installed: training, Gatys, eval, CUDA and checkpoints without a graph need {extra}"
    return versions["torch"] + (f" (CUDA {versions['cuda']})" if versions["cuda"] else "")


def format_info(info: dict[str, Any]) -> str:
    """The human-readable form of :func:`system_info`."""
    v = info["versions"]
    d = info["device"]
    device = f"{d['auto']} ({d['name']}, {d['memory_gib']} GiB)" if "memory_gib" in d else f"{d['auto']} ({d['threads']} thread{'s' if d['threads'] != 1 else ''})"
    lines = [
        f"vidstyle  {v['vidstyle']}",
        f"torch     {_torch_line(v, info['torch_extra'])}",
        f"PyAV      {v['pyav']} (FFmpeg {v['ffmpeg']})",
        f"OpenCV    {v['opencv']}",
        f"OpenVINO  {v['openvino'] or 'not installed'}",
        f"ONNX RT   {v['onnxruntime'] or 'not installed'}",
        f"device    {device} is what --device auto picks",
        f"engine    {d['engine']} {d['precision']}: {d['reason']} (--engine and --precision force another)",
        *(
            f"{'styles' if i == 0 else '':<10}{f['origin']}: {f['path']} ({f['styles']} style{'s' if f['styles'] != 1 else ''}"
            f", {f['balanced_models']} balanced, {f['fast_models']} fast{'' if f['exists'] else ', not created yet'})"
            for i, f in enumerate(info["style_folders"])
        ),
        f"pictures  --style-image FILE: {'any picture as a style' if info['any_image']['installed'] else 'graphs missing from this install'} ({info['any_image']['graphs']})",
        f"encoders  {', '.join(info['encoders'])}",
    ]
    return "\n".join(lines)
