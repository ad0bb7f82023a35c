"""Temporal consistency: optical flow, occlusion masks, the stabiliser, the temporal training losses and the flicker metric."""
