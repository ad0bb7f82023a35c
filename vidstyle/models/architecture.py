"""The shape of a style network, as stored in every checkpoint.

Plain data, free of PyTorch, so that the memory planner and a run on a cached
ONNX graph can read a network's shape without loading the network.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class TransformerConfig:
    """Shape of a transformer network; stored in every checkpoint."""

    base_channels: int = 32  # 32-64-128 is Johnson's width
    residual_blocks: int = 5
    # "image" maps [0, 255] to [0, 255] like pytorch/examples; "residual"
    # predicts a change to the input logit, so that training starts from the
    # identity and the output always lies in range.
    output: str = "image"
    # Lighter variants for real-time CPU use (the defaults are Johnson's):
    edge_kernel: int = 9  # kernel of the first and last convolutions
    separable: bool = False  # depthwise-separable convolutions in the residual blocks
    # channels after the last upsampling, at full resolution, where a CPU
    # spends most of a frame's time (None: base_channels)
    decoder_channels: int | None = None

    @property
    def full_resolution_channels(self) -> int:
        return self.decoder_channels or self.base_channels

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TransformerConfig":
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        return cls(**known)
