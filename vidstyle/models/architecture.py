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
        """The shape stored in a checkpoint, checked before anything is
        built from it: a file may say anything, and 3000 channels would
        allocate gigabytes before failing. Raises ValueError naming the field."""
        if not isinstance(values, dict):
            raise ValueError(f"the architecture is a {type(values).__name__}, not a table")
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        for name, (low, high) in ARCHITECTURE_LIMITS.items():
            if name not in known or (name == "decoder_channels" and known[name] is None):
                continue
            value = known[name]
            if type(value) is not int or not low <= value <= high:  # bool is an int: refused too
                raise ValueError(f"architecture {name} must be a whole number from {low} to {high}, got {value!r}")
        if "output" in known and known["output"] not in OUTPUTS:
            raise ValueError(f"architecture output must be {' or '.join(OUTPUTS)}, got {known['output']!r}")
        if "separable" in known and not isinstance(known["separable"], bool):
            raise ValueError(f"architecture separable must be true or false, got {known['separable']!r}")
        if "edge_kernel" in known and known["edge_kernel"] % 2 == 0:
            raise ValueError(f"architecture edge_kernel must be odd, got {known['edge_kernel']}")
        return cls(**known)


OUTPUTS = ("image", "residual")
# Far beyond any network trained here (16-32 channels, 5 blocks) and small
# enough that building one cannot exhaust a machine's memory.
ARCHITECTURE_LIMITS = {
    "base_channels": (1, 256),
    "residual_blocks": (0, 64),
    "edge_kernel": (1, 15),
    "decoder_channels": (1, 256),
}
