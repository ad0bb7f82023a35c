"""What ``vidstyle info`` reports: versions, the device ``auto`` picks, the
style folders and the encoders ``--codec`` can use. Plain data, so the CLI
can print it as text or JSON."""

from __future__ import annotations

from typing import Any


def system_info() -> dict[str, Any]:
    import av
    import cv2
    import torch

    from ..media.writer import available_video_encoders
    from ..stylize.devices import resolve_device
    from ..stylize.runtime import onnx_runtime_available, resolve_backend
    from ..stylize.styles import ANY_IMAGE_DECODERS, available_styles, style_dirs
    from ..version import __version__

    device = resolve_device("auto")
    device_info: dict[str, Any] = {"auto": str(device), "backend": resolve_backend("auto", device)}
    if device.type == "cuda":
        properties = torch.cuda.get_device_properties(device)
        device_info.update(name=properties.name, memory_gib=round(properties.total_memory / 2**30, 1))
    else:
        device_info.update(name="CPU", threads=torch.get_num_threads())
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
    return {
        "versions": {
            "vidstyle": __version__,
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "pyav": av.__version__,
            "ffmpeg": av.ffmpeg_version_info,
            "opencv": cv2.__version__,
            "onnxruntime": _onnxruntime_version() if onnx_runtime_available() else None,
        },
        "device": device_info,
        "style_folders": folders,
        "styles": [s.name for s in styles],
        "balanced_models": [s.name for s in balanced],
        "fast_models": [s.name for s in fast],
        "any_image": {"decoders": str(ANY_IMAGE_DECODERS), "installed": ANY_IMAGE_DECODERS.is_file()},
        "encoders": available_video_encoders(),
    }


def _onnxruntime_version() -> str:
    import onnxruntime

    return onnxruntime.__version__


def format_info(info: dict[str, Any]) -> str:
    """The human-readable form of :func:`system_info`."""
    v = info["versions"]
    d = info["device"]
    device = f"{d['auto']} ({d['name']}, {d['memory_gib']} GiB)" if "memory_gib" in d else f"{d['auto']} ({d['threads']} thread{'s' if d['threads'] != 1 else ''})"
    lines = [
        f"vidstyle  {v['vidstyle']}",
        f"torch     {v['torch']} (CUDA {v['cuda'] or 'not built in'})",
        f"PyAV      {v['pyav']} (FFmpeg {v['ffmpeg']})",
        f"OpenCV    {v['opencv']}",
        f"ONNX RT   {v['onnxruntime'] or 'not installed (networks run on PyTorch)'}",
        f"device    {device} is what --device auto picks, running networks on {d['backend']}",
        *(
            f"{'styles' if i == 0 else '':<10}{f['origin']}: {f['path']} ({f['styles']} style{'s' if f['styles'] != 1 else ''}"
            f", {f['balanced_models']} balanced, {f['fast_models']} fast{'' if f['exists'] else ', not created yet'})"
            for i, f in enumerate(info["style_folders"])
        ),
        f"pictures  --style-image FILE: {'any picture as a style' if info['any_image']['installed'] else 'decoders missing from this install'} ({info['any_image']['decoders']})",
        f"encoders  {', '.join(info['encoders'])}",
    ]
    return "\n".join(lines)
