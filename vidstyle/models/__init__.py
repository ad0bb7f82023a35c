"""Neural networks: the feed-forward style transformer and the loss network.

Models here are pure ``nn.Module``s: no file or video I/O."""

from .transformer import TransformerConfig, TransformerNet
from .efficientnet import EfficientNetLite0

__all__ = ["TransformerConfig", "TransformerNet", "EfficientNetLite0"]
