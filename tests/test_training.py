"""The loss network, Gatys optimisation, training and the image command."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
import torch

from helpers import FLOWER, landscape_frames
from vidstyle import Stylizer, StylizerOptions
from vidstyle.media.images import read_image, resize_long_side, to_tensor, write_image
from vidstyle.media.reader import probe
from vidstyle.media.synthetic import render_scene
from vidstyle.models import TransformerConfig, TransformerNet
from vidstyle.errors import OptionError, VidstyleError
from vidstyle.models.losses import (
    LossConfig,
    PerceptualLoss,
    colour_spread_gap,
    detail_energy_gap,
    extract,
    gram_matrix,
    load_loss_network,
    random_view,
    salience,
    sliced_wasserstein,
)
from vidstyle.stylize.checkpoints import load_checkpoint
from vidstyle.temporal.metrics import read_frames
from vidstyle.training.gatys import OptimizeConfig, match_palette, optimize_image
from vidstyle.training.trainer import TrainConfig, Trainer
from vidstyle.training.transplant import transplant, widen


def stripes(size: int = 96) -> np.ndarray:
    """A bold diagonal red/blue stripe pattern: an easy style to recognise."""
    y, x = np.mgrid[:size, :size]
    band = ((x + y) // 8) % 2 == 0
    image = np.where(band[..., None], [220, 40, 40], [30, 60, 200]).astype(np.uint8)
    return image


@pytest.fixture
def content_dir(tmp_path):
    folder = tmp_path / "content"
    folder.mkdir()
    for i in range(3):
        write_image(render_scene(i * 7, 96, 72, seed=i), folder / f"scene{i}.png")
    return folder


@pytest.fixture
def style_image(tmp_path):
    path = tmp_path / "stripes.png"
    write_image(stripes(), path)
    return path


def test_loss_network_classifies_a_known_photo():
    network = load_loss_network()
    photo = to_tensor(resize_long_side(read_image(FLOWER), 320))[None]
    with torch.no_grad():
        top5 = network(photo).topk(5).indices[0].tolist()
    assert 985 in top5  # ImageNet "daisy"


def test_loss_network_embedding_tells_a_blurred_copy_from_another_picture():
    """The pooled features benchmarks/small_subjects.py compares: the same
    flower blurred stays closer to the flower than a rendered street does."""
    network = load_loss_network()
    flower = resize_long_side(read_image(FLOWER), 224)
    blurred = cv2.GaussianBlur(flower, (0, 0), 2)
    street = render_scene(0, flower.shape[1], flower.shape[0])
    with torch.no_grad():
        features = network.embedding(torch.stack([to_tensor(x) for x in (flower, blurred, street)]))
        logits = network(to_tensor(flower)[None])
    assert torch.allclose(network._fc(features[:1]), logits, atol=1e-3)  # what the classes are read from
    similar = torch.nn.functional.cosine_similarity(features[0], features[1], dim=0)
    other = torch.nn.functional.cosine_similarity(features[0], features[2], dim=0)
    assert similar > 0.8 and other < similar - 0.2, (float(similar), float(other))


def test_style_losses_prefer_the_style(style_image):
    network = load_loss_network()
    style = to_tensor(read_image(style_image))[None]
    scene = to_tensor(render_scene(0, 96, 72))[None]
    for metric in ("gram", "sliced"):
        loss = PerceptualLoss(network, style, LossConfig(style_metric=metric))
        own = loss.style_loss(loss.features(style)).item()
        other = loss.style_loss(loss.features(scene)).item()
        assert own < 0.2 * other, (metric, own, other)


def test_sliced_wasserstein_is_zero_for_the_same_distribution():
    torch.manual_seed(0)
    features = torch.randn(1, 8, 16, 16)
    target = features[0].reshape(8, -1)[:, torch.randperm(256)]  # same samples, shuffled
    assert sliced_wasserstein(features, target, 16).item() < 1e-6
    assert sliced_wasserstein(features + 1.0, target, 16).item() > 0.1
    assert gram_matrix(features).shape == (1, 8, 8)


def test_random_views_move_output_and_content_together():
    config = LossConfig(view_shift=4.0, view_scale=0.1, view_rotation=5.0, view_flip=True)
    image = to_tensor(render_scene(2, 64, 48))[None].repeat(3, 1, 1, 1)
    views = random_view(torch.cat([image, image], dim=1), config, torch.Generator().manual_seed(1))
    assert torch.equal(views[:, :3], views[:, 3:])  # one transform for both halves of a sample
    assert not torch.allclose(views[0], views[1])  # another one for each sample
    assert abs(views.shape[-1] - 64) <= 7 and abs(views.shape[-2] - 48) <= 5
    again = random_view(torch.cat([image, image], dim=1), config, torch.Generator().manual_seed(1))
    assert torch.equal(views, again)
    flat = torch.full((1, 3, 32, 32), 77.0)
    flat_view = random_view(flat, config, torch.Generator().manual_seed(2))
    assert torch.allclose(flat_view, torch.full_like(flat_view, 77.0), atol=1e-3)
    with pytest.raises(OptionError):
        LossConfig(view_scale=1.5)


def test_border_padding_changes_only_what_the_edges_see():
    # Each tap of the reflected image, cropped back, lies exactly over the
    # image: away from the edges it is the unpadded tap, at the edges not.
    network = load_loss_network()
    image = to_tensor(render_scene(3, 256, 192))[None]
    taps = ["rgb", "stem", "block3", "block5"]
    plain, padded = extract(network, image, taps), extract(network, image, taps, border_pad=16)
    for tap in taps:
        assert padded[tap].shape == plain[tap].shape, tap
        margin = plain[tap].shape[-2] // 4
        inner = (slice(None), slice(None), slice(margin, -margin), slice(margin, -margin))
        assert torch.allclose(padded[tap][inner], plain[tap][inner], atol=1e-4), tap
    for tap in taps[1:]:
        scale = plain[tap].abs().max()
        assert (padded[tap][..., 0, :] - plain[tap][..., 0, :]).abs().max() > 0.1 * scale, tap
    with pytest.raises(OptionError):
        LossConfig(border_pad=-1)


def test_salient_content_weighs_a_small_object_above_a_flat_sky():
    network = load_loss_network()
    sky = np.zeros((96, 128, 3), np.uint8)
    sky[...] = (40, 80, 200)
    kite = sky.copy()
    kite[40:52, 60:72] = (250, 200, 20)  # a small bright object
    photo = to_tensor(kite)[None]
    weights = salience(extract(network, photo, ["block3"])["block3"], 1.0)
    assert weights.mean().item() == pytest.approx(1.0, abs=1e-4)
    assert weights[..., 10:14, 15:18].mean() > 5 * weights[..., 2:6, 2:6].mean()  # the object's cells
    assert torch.allclose(salience(weights, 0.0), torch.ones_like(weights))
    # Painting the object over costs more under salience; painting the sky, less.
    sky_tensor, repainted = to_tensor(sky)[None], to_tensor(kite)[None].clone()
    repainted[..., 66:90, 12:44] = 255  # a patch of the sky, away from the object and the edges
    style = to_tensor(stripes())[None]
    plain = PerceptualLoss(network, style, LossConfig())
    salient = PerceptualLoss(network, style, LossConfig(content_salience=1.0))
    lost_object = salient(sky_tensor, photo)["content"] / plain(sky_tensor, photo)["content"]
    painted_sky = salient(repainted, photo)["content"] / plain(repainted, photo)["content"]
    assert lost_object > 1.5 and painted_sky < 0.5
    with pytest.raises(OptionError):
        LossConfig(content_salience=1.5)


def test_the_object_term_scores_the_pasted_objects_alone():
    network = load_loss_network()
    sky = np.zeros((96, 128, 3), np.uint8)
    sky[...] = (40, 80, 200)
    kite = sky.copy()
    kite[40:56, 60:76] = (250, 200, 20)
    photo, lost = to_tensor(kite)[None], to_tensor(sky)[None]
    repainted = photo.clone()
    repainted[..., 66:90, 12:44] = 255  # the sky painted, away from the object
    objects = torch.zeros(1, 1, 96, 128)
    objects[..., 40:56, 60:76] = 1
    loss = PerceptualLoss(network, to_tensor(stripes())[None], LossConfig(object_weight=3.0))
    kite_lost, sky_painted = loss(lost, photo, objects=objects), loss(repainted, photo, objects=objects)
    assert kite_lost["objects"] > 0.3 and sky_painted["objects"] < 0.1 * kite_lost["objects"]
    plain = {k: v for k, v in kite_lost.items() if k != "objects"}
    assert kite_lost["total"] == pytest.approx(float(plain["style"] * 2 + plain["content"] + 0.001 * plain["tv"] + 3 * kite_lost["objects"]), rel=1e-4)
    # no objects, no term; with them, the crop's own term leaves them out
    without = loss(lost, photo)
    assert "objects" not in without and kite_lost["content"] < 0.7 * without["content"]  # the error spills past the object
    with pytest.raises(OptionError, match="object-weight"):
        LossConfig(object_weight=-1)


def test_small_objects_are_pasted_as_soft_ellipses_from_other_images(tmp_path, content_dir, style_image):
    from vidstyle.training.data import ContentCrops

    plain = ContentCrops([content_dir], 96, seed=5).crop()
    pasted = ContentCrops([content_dir], 96, seed=5, small_objects=1.0, object_sizes=(12, 20)).crop()
    changed = (pasted - plain).abs().amax(dim=0) > 1
    # the same crop, with one to three objects at most 20 x 30 px on it
    assert 0 < int(changed.sum()) <= 3 * 20 * 30
    rows, cols = changed.any(dim=1).nonzero(), changed.any(dim=0).nonzero()
    assert int(rows.max() - rows.min()) < 96 and int(cols.max() - cols.min()) < 96
    # an ellipse, not its box: the box's corners keep the crop
    y, x = int(rows.min()), int(cols.min())
    assert not changed[y, x] or not changed[y + 1, x + 1]
    # off by default, and a probability
    assert torch.equal(ContentCrops([content_dir], 96, seed=5).crop(), plain)
    with pytest.raises(OptionError, match="small-objects"):
        tiny_config(tmp_path, content_dir, style_image, small_objects=2.0).validate()


def test_loss_without_a_generator_ignores_the_views(style_image):
    network = load_loss_network()
    style = to_tensor(read_image(style_image))[None]
    scene = to_tensor(render_scene(0, 64, 48))[None]
    plain = PerceptualLoss(network, style, LossConfig())
    jittered = PerceptualLoss(network, style, LossConfig(view_shift=4.0, view_scale=0.1))
    assert torch.allclose(plain(scene, scene)["total"], jittered(scene, scene)["total"])
    viewed = jittered(scene, scene, views=torch.Generator().manual_seed(0))
    assert viewed["content"].item() < 1e-3  # the content target is taken from the same view
    assert viewed["style"].item() != pytest.approx(plain(scene, scene)["style"].item())


def test_match_palette_gives_the_style_colour_statistics():
    photo = to_tensor(resize_long_side(landscape_frames(1)[0], 128))  # sand and sky
    painting = to_tensor(resize_long_side(read_image(FLOWER), 128))  # oranges and reds
    recoloured = match_palette(photo, painting)
    assert recoloured.shape == photo.shape

    def stats(image):
        pixels = image.reshape(3, -1).double()
        return pixels.mean(dim=1), torch.cov(pixels)

    (mean, cov), (target_mean, target_cov) = stats(recoloured), stats(painting)
    assert (mean - target_mean).abs().max() < 6  # levels: only clipping at 0 and 255 moves it
    assert (cov - target_cov).abs().max() < 0.15 * target_cov.abs().max()
    assert (stats(photo)[0] - target_mean).abs().max() > 15  # the photo itself is far from it


def test_gatys_optimisation_moves_towards_the_style(style_image):
    content = render_scene(3, 96, 72)
    style = read_image(style_image)
    config = OptimizeConfig(steps=15, coarse_steps=10, size=64, device="cpu")
    result = optimize_image(content, style, config)
    assert result.shape == (48, 64, 3)
    network = load_loss_network()
    loss = PerceptualLoss(network, to_tensor(style)[None], config.loss)
    before = loss.style_loss(loss.features(to_tensor(resize_long_side(content, 64))[None])).item()
    after = loss.style_loss(loss.features(to_tensor(result)[None])).item()
    assert after < 0.7 * before


def tiny_config(tmp_path, content_dir, style_image, **overrides) -> TrainConfig:
    values = dict(
        name="stripes",
        style_image=str(style_image),
        content=[str(content_dir)],
        output=str(tmp_path / "stripes.pth"),
        steps=30,
        image_size=32,
        batch_size=2,
        learning_rate=5e-3,
        style_size=64,
        checkpoint_every=10,
        preview_every=1000,
        device="cpu",
        architecture=TransformerConfig(base_channels=8, residual_blocks=1, output="residual"),
        # plain Gram matrices: at 32 px the covariances of the deep taps rest
        # on a handful of positions and move too slowly for a 30-step test
        loss=LossConfig(centered_gram=False, style_weight=5.0),
    )
    values.update(overrides)
    return TrainConfig(**values)


def fixed_batch_loss(trainer: Trainer, batch: torch.Tensor) -> float:
    with torch.no_grad():
        return trainer.loss(trainer.model(batch), batch)["total"].item()


def test_training_lowers_the_loss_and_writes_a_runnable_checkpoint(tmp_path, content_dir, style_image, cli, make_clip):
    trainer = Trainer(tiny_config(tmp_path, content_dir, style_image))
    batch = torch.stack([to_tensor(resize_long_side(render_scene(50 + i, 48, 32), 32)) for i in range(2)])
    before = fixed_batch_loss(trainer, batch)
    result = trainer.run(progress=False)
    after = fixed_batch_loss(trainer, batch)
    assert after < 0.8 * before, (before, after)
    checkpoint = load_checkpoint(result.path)
    assert checkpoint.name == "stripes" and checkpoint.metadata["steps"] == 30
    clip = make_clip(frames=3)
    out = tmp_path / "trained.mp4"
    assert cli("run", clip, "-o", out, "--style", result.path, "-q").code == 0
    assert probe(out).width == 64


def test_resume_is_exact(tmp_path, content_dir, style_image):
    # random views and pasted objects on, so that their generators must be restored too
    loss = LossConfig(centered_gram=False, style_weight=5.0, view_shift=2.0, view_scale=0.1, object_weight=1.0)
    config = lambda **kw: tiny_config(tmp_path, content_dir, style_image, loss=loss, small_objects=0.5, **kw)  # noqa: E731
    straight = Trainer(config(steps=6, output=str(tmp_path / "a.pth")))
    straight.run(progress=False)
    assert straight.smoothed["objects"] > 0  # the objects' own content term is trained
    first = Trainer(config(steps=3, output=str(tmp_path / "b.pth")))
    first.run(progress=False)
    resumed = Trainer(config(steps=6, output=str(tmp_path / "b.pth")), resume=tmp_path / "b.pth")
    assert resumed.step == 3
    resumed.run(progress=False)
    for key, value in straight.model.state_dict().items():
        assert torch.allclose(value, resumed.model.state_dict()[key], atol=1e-6), key


def test_init_weights_starts_from_a_network(tmp_path, content_dir, style_image, tiny_style):
    start = load_checkpoint(tiny_style)
    trainer = Trainer(tiny_config(tmp_path, content_dir, style_image, init_weights=str(tiny_style), architecture=start.architecture))
    assert trainer.step == 0
    for key, value in start.state_dict.items():
        assert torch.equal(trainer.model.state_dict()[key], value.float()), key
    # Another shape takes what carries over: here the first block and every layer outside the trunk.
    other = TransformerConfig(base_channels=8, residual_blocks=2, output="residual")
    grown = Trainer(tiny_config(tmp_path, content_dir, style_image, init_weights=str(tiny_style), architecture=other))
    for key, value in start.state_dict.items():
        assert torch.equal(grown.model.state_dict()[key], value.float()), key
    unrelated = TransformerConfig(base_channels=12, residual_blocks=1, output="residual")
    with pytest.raises(VidstyleError, match="shares too little"):
        Trainer(tiny_config(tmp_path, content_dir, style_image, init_weights=str(tiny_style), architecture=unrelated))
    wider = TransformerConfig(base_channels=16, residual_blocks=1, output="residual")
    widened = Trainer(tiny_config(tmp_path, content_dir, style_image, init_weights=str(tiny_style), architecture=wider))
    x = torch.rand(1, 3, 24, 36) * 255
    with torch.no_grad():
        assert float((widened.model.eval()(x) - start.build_model()(x)).abs().max()) < 0.01


@pytest.mark.parametrize("separable", [False, True])
def test_a_widened_network_is_its_narrow_one_until_trained(separable):
    """widen() repeats channels and splits the weights that read them, so a
    network twice as wide starts as exactly the trained narrow one; the split
    is uneven, so the copies get different gradients and can grow apart."""
    torch.manual_seed(5)
    narrow = TransformerNet(TransformerConfig(base_channels=4, residual_blocks=2, edge_kernel=5, separable=separable)).eval()
    with torch.no_grad():
        for name, parameter in narrow.named_parameters():
            if name.startswith("in") or ".in" in name:
                parameter.uniform_(0.5, 1.5) if name.endswith("weight") else parameter.uniform_(-0.5, 0.5)
    wide = widen(narrow, dataclasses.replace(narrow.config, base_channels=8))
    assert wide.conv2.conv2d.weight.shape == (16, 8, 3, 3)
    x = torch.rand(2, 3, 30, 22) * 255
    with torch.no_grad():
        assert float((wide(x) - narrow(x)).abs().max()) < 1e-2
    wide.train()
    wide(x).square().mean().backward()
    gradient = wide.conv2.conv2d.weight.grad
    assert not torch.allclose(gradient[:8], gradient[8:])  # the two copies of each channel move apart
    with pytest.raises(ValueError, match="widening"):
        widen(narrow, dataclasses.replace(narrow.config, base_channels=6))


def test_a_narrower_decoder_keeps_the_teachers_most_used_channels():
    """When the teacher's last convolution reads only half of its
    full-resolution channels, a student with that many is the teacher."""
    torch.manual_seed(4)
    teacher = TransformerNet(TransformerConfig(base_channels=8, residual_blocks=1, output="residual", edge_kernel=3)).eval()
    with torch.no_grad():
        teacher.deconv3.conv2d.weight[:, ::2] = 0  # channels 0, 2, 4, 6 unused
        teacher.in5.weight.uniform_(0.5, 1.5)
    student = TransformerNet(TransformerConfig(base_channels=8, residual_blocks=1, output="residual", edge_kernel=3, decoder_channels=4)).eval()
    assert transplant(teacher, student) == []
    x = torch.rand(1, 3, 32, 40) * 255
    with torch.no_grad():
        assert float((student(x) - teacher(x)).abs().max()) < 0.05


def test_transplant_is_exact_where_the_student_can_hold_the_teacher():
    """A teacher whose edge kernels are zero outside their centre and whose
    residual convolutions are rank 1 per input channel is exactly a smaller,
    separable student; transplant() must find it."""
    torch.manual_seed(3)
    teacher = TransformerNet(TransformerConfig(base_channels=8, residual_blocks=2, output="residual", edge_kernel=9)).eval()
    with torch.no_grad():
        for layer in (teacher.conv1.conv2d, teacher.deconv3.conv2d):
            centre = torch.zeros_like(layer.weight)
            centre[..., 2:7, 2:7] = 1
            layer.weight.mul_(centre)
        for name, parameter in teacher.named_parameters():
            if name.startswith("res") and name.endswith("conv2d.weight"):
                c = parameter.shape[0]
                parameter.copy_(torch.randn(c, c, 1, 1) * 0.2 * torch.randn(1, c, 3, 3))
    student = TransformerNet(TransformerConfig(base_channels=8, residual_blocks=2, output="residual", edge_kernel=5, separable=True)).eval()
    assert transplant(teacher, student) == []
    x = torch.rand(1, 3, 40, 56) * 255
    with torch.no_grad():
        assert float((student(x) - teacher(x)).abs().max()) < 0.05


def test_train_command_end_to_end(cli, tmp_path, content_dir, style_image):
    out = tmp_path / "cli.pth"
    result = cli(
        "train", style_image, "--content", content_dir, "-o", out, "--steps", "2",
        "--image-size", "32", "--batch-size", "1", "--device", "cpu", "-q",
    )
    assert result.code == 0, result.err
    assert load_checkpoint(out).name == "stripes"


@pytest.mark.parametrize(
    "args,expected",
    [
        (["train", "missing.png", "--content", "CONTENT"], "no such image"),
        (["train", "STYLE", "--content", "CONTENT", "--steps", "0"], "steps must be positive"),
        (["train", "STYLE", "--content", "EMPTY"], "no images or videos"),
        (["train", "NOTIMAGE", "--content", "CONTENT"], "not a readable image"),
    ],
)
def test_train_bad_input(cli, tmp_path, content_dir, style_image, args, expected):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notimage.png").write_text("nope")
    names = {"CONTENT": content_dir, "STYLE": style_image, "EMPTY": tmp_path / "empty", "NOTIMAGE": tmp_path / "notimage.png"}
    result = cli(*[names.get(a, a) for a in args], "-o", tmp_path / "x.pth")
    assert result.code == 2, result.err
    assert expected in result.err and len(result.err.strip().splitlines()) == 1
    assert not (tmp_path / "x.pth").exists()


def test_image_command_both_methods(cli, tmp_path, tiny_style, style_image):
    photo = tmp_path / "photo.png"
    write_image(render_scene(5, 80, 60), photo)
    fast = tmp_path / "fast.png"
    assert cli("image", photo, "-o", fast, "--style", tiny_style, "-q").code == 0
    assert read_image(fast).shape == (60, 80, 3)
    slow = tmp_path / "slow.jpg"
    result = cli("image", photo, "-o", slow, "--style-image", style_image, "--method", "optimize", "--steps", "3", "--size", "48", "--stroke-scale", "4", "-q")
    assert result.code == 0, result.err
    assert read_image(slow).shape == (36, 48, 3)
    bad = cli("image", photo, "-o", tmp_path / "x.png", "--method", "optimize", "--style-image", style_image, "--steps", "0")
    assert bad.code == 2 and "steps" in bad.err


def test_temporal_loss_trains_towards_stability(tmp_path, content_dir, style_image, make_clip):
    from vidstyle.temporal.losses import pair_temporal_loss, random_smooth_flow, temporal_loss

    clip = make_clip(width=96, height=64, frames=12, noise=3)
    trainer = Trainer(tiny_config(tmp_path, content_dir, style_image, content=[str(content_dir), str(clip)],
                                  temporal_weight=50.0, steps=25))
    assert trainer.pairs is not None and len(trainer.pairs) >= 8  # consecutive frames of the clip, with flow
    generator = torch.Generator().manual_seed(5)
    batch = torch.stack([to_tensor(resize_long_side(render_scene(70 + i, 48, 32), 32)) for i in range(2)])
    flow = random_smooth_flow(2, *batch.shape[-2:], 3.0, generator)
    pairs = trainer.pairs.batch(4)

    def stability() -> tuple[float, float]:
        torch.manual_seed(0)
        with torch.no_grad():
            moved = temporal_loss(trainer.model, batch, trainer.model(batch), flow).item()
            return moved, pair_temporal_loss(trainer.model, *pairs).item()

    before = stability()
    trainer.run(progress=False)
    assert {"temporal", "temporal_video"} <= set(trainer.smoothed)
    after = stability()
    assert after[0] < before[0] and after[1] < before[1]


def test_interrupted_training_saves_a_resumable_checkpoint(cli, tmp_path, content_dir, style_image, monkeypatch):
    original = Trainer.train_step

    def interrupt_at_third_step(self):
        if self.step == 2:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(Trainer, "train_step", interrupt_at_third_step)
    out = tmp_path / "stopped.pth"
    result = cli("train", style_image, "--content", content_dir, "-o", out, "--steps", "10",
                 "--image-size", "32", "--batch-size", "1", "--device", "cpu", "-q")
    assert result.code == 130
    assert "--resume" in result.err
    checkpoint = load_checkpoint(out)
    assert checkpoint.training["step"] == 2


def test_distillation_learns_the_teacher_and_serves_as_fast_model(tmp_path, content_dir, tiny_style, cli, make_clip, monkeypatch):
    """A small student learns to reproduce a teacher; placed in fast/ it is
    what `--model fast` runs."""
    config = tiny_config(
        tmp_path, content_dir, "", teacher=str(tiny_style), name="tiny-fast", steps=60, learning_rate=1e-2,
        architecture=TransformerConfig(base_channels=8, residual_blocks=1, output="residual", edge_kernel=3),
    )
    trainer = Trainer(config)
    frame = to_tensor(render_scene(7, 48, 32))[None]

    def distance() -> float:
        with torch.no_grad():
            return float((trainer.model(frame) - trainer.teacher(frame)).abs().mean())

    before = distance()
    result = trainer.run(progress=False)
    assert distance() < 0.7 * before, (before, distance())
    home = tmp_path / "home"
    (home / "styles" / "fast").mkdir(parents=True)
    (home / "styles" / "tiny.pth").write_bytes(tiny_style.read_bytes())
    (home / "styles" / "fast" / "tiny.pth").write_bytes(result.path.read_bytes())
    monkeypatch.setenv("VIDSTYLE_HOME", str(home))
    clip = make_clip(frames=3, width=48, height=32)
    outputs = {}
    for model in ("full", "fast"):
        out = tmp_path / f"{model}.mkv"
        assert cli("run", clip, "-o", out, "--style", "tiny", "--model", model, "--codec", "ffv1", "--temporal", "none", "-q").code == 0
        outputs[model] = read_frames(out, None)
    student = Stylizer.from_style(str(result.path), StylizerOptions(precision="f32"))
    for source, fast in zip(read_frames(clip, None), outputs["fast"]):
        assert np.abs(fast.astype(int) - student(source)).mean() < 2.5  # it ran the student
    assert "full+fast" in cli("styles").out


def test_the_colour_gap_sees_a_paler_copy_and_its_gradient_restores_colour():
    photo = to_tensor(render_scene(4, 64, 48))[None]
    grey = photo.mean(dim=1, keepdim=True)
    paler = grey + 0.6 * (photo - grey)  # the same picture at 60% of its chroma
    assert colour_spread_gap(photo, photo).item() == 0.0
    assert colour_spread_gap(paler, photo).item() > 0.01
    student = paler.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([student], lr=0.5)  # half a level per step
    for _ in range(40):
        optimiser.zero_grad()
        colour_spread_gap(student, photo).backward()
        optimiser.step()
    assert colour_spread_gap(student, photo) < 0.3 * colour_spread_gap(paler, photo)


@pytest.mark.parametrize(
    "weight, gap", [("teacher_colour_weight", colour_spread_gap), ("teacher_detail_weight", detail_energy_gap)], ids=["colour", "detail"]
)
def test_a_distilled_student_with_a_teacher_term_comes_closer_to_its_teacher_in_it(tmp_path, content_dir, tiny_style, weight, gap):
    """The same student, steps and data, with and without the colour or
    detail term: with it, its colours spread (its fine detail is as
    strong) as its teacher's."""
    frames = torch.cat([to_tensor(render_scene(i, 64, 48))[None] for i in (3, 7, 11)])

    def gap_after_training(value: float) -> float:
        config = tiny_config(
            tmp_path, content_dir, "", teacher=str(tiny_style), name="student", steps=60, learning_rate=1e-2,
            output=str(tmp_path / f"student-{value}.pth"), **{weight: value},
            architecture=TransformerConfig(base_channels=4, residual_blocks=1, output="image", edge_kernel=3),
        )
        trainer = Trainer(config)
        trainer.run(progress=False)
        with torch.no_grad():
            return gap(trainer.model(frames), trainer.teacher(frames).clamp(0, 255)).item()

    assert gap_after_training(4.0) < 0.7 * gap_after_training(0.0)


def test_the_detail_gap_sees_a_blurred_copy_but_not_strokes_moved_a_few_pixels():
    """A blurred student costs it; the same strokes a few pixels off cost
    little, where the pixel loss charges the move more than the blur."""
    strokes = torch.from_numpy(cv2.resize(stripes(96), (96, 96))).permute(2, 0, 1)[None].float()
    teacher = strokes + torch.from_numpy(np.random.default_rng(0).normal(0, 12, (1, 3, 96, 96))).float()
    blurred = torch.from_numpy(cv2.GaussianBlur(teacher[0].permute(1, 2, 0).numpy(), (0, 0), 1.5)).permute(2, 0, 1)[None]
    moved = torch.roll(teacher, shifts=(3, 3), dims=(2, 3))
    assert detail_energy_gap(teacher, teacher).item() == 0.0
    assert detail_energy_gap(blurred, teacher).item() > 4 * detail_energy_gap(moved, teacher).item()
    assert (moved - teacher).abs().mean() > (blurred - teacher).abs().mean()
    student = blurred.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([student], lr=1.0)
    for _ in range(40):
        optimiser.zero_grad()
        detail_energy_gap(student, teacher).backward()
        optimiser.step()
    assert detail_energy_gap(student, teacher) < 0.3 * detail_energy_gap(blurred, teacher)


def test_a_config_is_checked_like_a_checkpoint(tmp_path, content_dir, tiny_style):
    with pytest.raises(OptionError, match="output must be image or residual"):
        tiny_config(tmp_path, content_dir, tiny_style, architecture=TransformerConfig(output="imag")).validate()
    with pytest.raises(OptionError, match="teacher-colour-weight applies to distillation"):
        tiny_config(tmp_path, content_dir, tiny_style, teacher_colour_weight=1.0).validate()
    with pytest.raises(OptionError, match="teacher-colour-weight must not be negative"):
        tiny_config(tmp_path, content_dir, "", teacher=str(tiny_style), teacher_colour_weight=-1.0).validate()
    with pytest.raises(OptionError, match="teacher-detail-weight applies to distillation"):
        tiny_config(tmp_path, content_dir, tiny_style, teacher_detail_weight=1.0).validate()


def test_decoder_training_learns_to_rebuild_photos_and_resumes(tmp_path, content_dir, monkeypatch):
    from vidstyle.models.wct import DecoderConfig, FeatureDecoder
    from vidstyle.stylize.torch_engine import load_decoders
    from vidstyle.training.data import ContentCrops
    from vidstyle.training.decoder import DecoderTrainConfig, train_decoder

    level = DecoderConfig("block3", 144, (16, 8))
    config = DecoderTrainConfig(decoder=level, content=[str(content_dir)], output=str(tmp_path / "decoders.pth"),
                                steps=40, image_size=64, batch_size=2, learning_rate=3e-3, checkpoint_every=20)
    train_decoder(dataclasses.replace(config, steps=20))
    decoders, payload = load_decoders(tmp_path / "decoders.pth")
    assert payload["levels"]["block3"]["training"]["step"] == 20
    first = decoders["block3"].state_dict()
    batches = []
    original = ContentCrops.batch
    monkeypatch.setattr(ContentCrops, "batch", lambda self, n: batches.append(n) or original(self, n))
    train_decoder(config)  # resumes at 20, not from scratch: 20 more batches
    decoders, payload = load_decoders(tmp_path / "decoders.pth")
    assert payload["levels"]["block3"]["training"]["step"] == 40 and len(batches) == 20
    assert any(not torch.equal(value, decoders["block3"].state_dict()[key]) for key, value in first.items())
    # a bundled file or another architecture is no state to resume from
    with pytest.raises(OptionError, match="another"):
        train_decoder(dataclasses.replace(config, decoder=DecoderConfig("block3", 144, (8, 8)), steps=41))
    photo = torch.from_numpy(render_scene(3, 64, 48, seed=9)).permute(2, 0, 1)[None].float()
    features = load_loss_network().features(photo, ["block3"])["block3"]
    torch.manual_seed(0)
    untrained = FeatureDecoder(level).eval()
    with torch.no_grad():
        before = (untrained(features) - photo).abs().mean()
        after = (decoders["block3"](features) - photo).abs().mean()
    assert after < 0.6 * before, (before, after)
    # a narrower level starts from this one's strongest channels
    from vidstyle.training.transplant import narrow_feature_decoder

    narrow = dataclasses.replace(config, decoder=DecoderConfig("block3", 144, (8, 4)), init_from=str(tmp_path / "decoders.pth"),
                                 output=str(tmp_path / "narrow.pth"), steps=1, learning_rate=1e-12, final_learning_rate=1e-12)
    train_decoder(narrow)
    started = load_decoders(tmp_path / "narrow.pth")[0]["block3"].state_dict()
    expected = narrow_feature_decoder(decoders["block3"], narrow.decoder).state_dict()
    assert all(torch.allclose(started[key], expected[key], atol=1e-6) for key in expected)
    with pytest.raises(OptionError, match="widen"):
        train_decoder(dataclasses.replace(narrow, decoder=DecoderConfig("block3", 144, (32, 8)), output=str(tmp_path / "wide.pth")))


def test_a_trained_style_is_found_by_its_name(cli, tmp_path, content_dir, style_image, monkeypatch):
    monkeypatch.setenv("VIDSTYLE_HOME", str(tmp_path / "home"))
    result = cli("train", style_image, "--content", content_dir, "--steps", "2", "--image-size", "32", "--batch-size", "1", "--device", "cpu", "-q")
    assert result.code == 0, result.err
    assert "use it with --style stripes" in result.err
    assert (tmp_path / "home" / "styles" / "stripes.pth").is_file()
    photo = tmp_path / "photo.png"
    write_image(render_scene(2, 64, 48), photo)
    assert cli("image", photo, "-o", tmp_path / "out.png", "--style", "stripes", "-q").code == 0


def test_a_narrower_feature_decoder_starts_from_the_wide_ones_strongest_channels():
    """Where the wide decoder's hidden channels beyond the narrow widths
    are dead (zero filters, never read), the narrowed decoder is the wide
    one exactly; widening or another tap is refused."""
    from vidstyle.models.wct import DecoderConfig, FeatureDecoder
    from vidstyle.training.transplant import narrow_feature_decoder

    torch.manual_seed(5)
    wide = FeatureDecoder(DecoderConfig("block3", 24, (16, 8))).eval()
    convs = [m for m in wide.modules() if isinstance(m, torch.nn.Conv2d)]
    dead = {0: torch.arange(1, 16, 2), 1: torch.arange(0, 16, 2), 2: torch.arange(1, 8, 2), 3: torch.arange(0, 8, 2)}
    with torch.no_grad():
        for index, channels in dead.items():
            convs[index].weight[channels] = 0
            convs[index].bias[channels] = 0
            convs[index + 1].weight[:, channels] = 0
    narrow = narrow_feature_decoder(wide, DecoderConfig("block3", 24, (8, 4))).eval()
    features = torch.rand(1, 24, 9, 13) * 3
    with torch.no_grad():
        assert float((narrow(features) - wide(features)).abs().max()) < 1e-3
    with pytest.raises(ValueError, match="widen"):
        narrow_feature_decoder(wide, DecoderConfig("block3", 24, (32, 8)))
    with pytest.raises(ValueError, match="cannot narrow"):
        narrow_feature_decoder(wide, DecoderConfig("block5", 24, (8, 4)))
