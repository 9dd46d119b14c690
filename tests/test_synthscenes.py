"""SynthScenes: shapes and conventions of the targets, geometry of a hand-built room, determinism, culling, colours."""

import dataclasses
import importlib
import math

import matplotlib
import numpy as np
import pytest
import torch
from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis

from mtl_ref.data.dense_plots import label_image, plot_dense_samples
from mtl_ref.data.scene_layout import GLOSS, camera_basis, sample_layout
from mtl_ref.data.synthscenes import CLASS_NAMES, NUM_CLASSES, render, synthscenes

matplotlib.use("Agg")
synth = importlib.import_module("mtl_ref.data.synthscenes")  # the module (the package exports the function)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Render on one thread: the suite runs in parallel workers, and competing thread teams slow torch down a lot."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def scenes(one_thread):
    return synthscenes(48, 24, 32, seed=3)


def test_shapes_ranges_and_invalid_pixels(scenes):
    x, seg, depth, normal = scenes.x, scenes.y["segmentation"], scenes.y["depth"], scenes.y["normal"]
    assert x.shape == (48, 3, 24, 32) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert seg.shape == (48, 24, 32) and seg.dtype == torch.long
    assert seg.min() == -1 and seg.max() < NUM_CLASSES == len(CLASS_NAMES)
    assert depth.shape == (48, 1, 24, 32) and normal.shape == (48, 3, 24, 32)
    valid = depth[:, 0] > 0
    assert torch.equal(valid, normal.abs().sum(1) > 0)  # normals are invalid exactly where depth is
    assert 0.9 < valid.float().mean() < 1.0  # some, not many, pixels drop out
    assert depth[:, 0][valid].min() >= synth.MIN_RANGE and depth.max() <= synth.MAX_RANGE
    assert torch.allclose(normal.norm(dim=1)[valid], torch.ones(()), atol=1e-4)


def test_normals_face_the_camera(scenes):
    layout = sample_layout(48, 3)
    tan_x = layout.tan_half_fov * 32 / 32
    tan_y = layout.tan_half_fov * 24 / 32
    u = (torch.arange(32) + 0.5) / 32 * 2 - 1
    v = 1 - (torch.arange(24) + 0.5) / 24 * 2
    ray = torch.stack(torch.broadcast_tensors(u * tan_x[:, None, None], v[:, None] * tan_y[:, None, None],
                                              -torch.ones(1, 1, 1)), 1)  # (n, 3, H, W) in camera coordinates
    facing = -(scenes.y["normal"] * ray).sum(1)
    valid = scenes.y["depth"][:, 0] > 0
    assert (facing[valid] > 0).all()


def test_every_class_appears():
    seg = synthscenes(64, 32, 32, seed=0).y["segmentation"]
    assert set(seg.unique().tolist()) == set(range(-1, NUM_CLASSES))


def hand_built_room(sphere: bool):
    """One scene: a 4 × 2.8 × 8 m room, the camera at (0, 1.5, 0) looking along -z with a 60° field of view,
    no furniture but (optionally) a sphere of radius 0.3 m at 1.5 m straight ahead."""
    layout = sample_layout(1, 0)
    solids = torch.zeros_like(layout.solids)
    solids[0, 0] = torch.tensor([0.0, 1.5, -1.5, 0.3, 0.3, 0.3, 1.0, 0.0])
    active = torch.zeros_like(layout.solid_active)
    active[0, 0] = sphere
    materials = layout.materials.clone()
    materials[..., GLOSS] = 0
    return dataclasses.replace(
        layout, room=torch.tensor([[2.0, 2.8, 4.0]]), eye=torch.tensor([[0.0, 1.5, 0.0]]),
        basis=camera_basis(torch.zeros(1), torch.zeros(1), torch.zeros(1)),
        tan_half_fov=torch.tensor([math.tan(math.radians(30))]), light=torch.tensor([[0.3, 2.5, 0.0]]),
        solids=solids, solid_active=active, decal_active=torch.zeros_like(layout.decal_active), materials=materials)


def test_hand_built_room_has_the_expected_depths_normals_and_classes():
    size = 33  # odd: the middle pixel looks straight ahead
    _, seg, depth, normal = render(hand_built_room(sphere=False), size, size)
    mid = size // 2
    assert seg[0, mid, mid] == CLASS_NAMES.index("wall")
    assert depth[0, 0, mid, mid] == pytest.approx(4.0, rel=1e-5)  # the far wall, z-depth
    assert normal[0, :, mid, mid].tolist() == pytest.approx([0.0, 0.0, 1.0])
    # The bottom row looks down at the floor: z-depth = eye height / (tan(30°) · (1 - 1/33)).
    assert seg[0, -1, mid] == CLASS_NAMES.index("floor")
    assert depth[0, 0, -1, mid] == pytest.approx(1.5 / (math.tan(math.radians(30)) * (1 - 1 / size)), rel=1e-5)
    assert normal[0, :, -1, mid].tolist() == pytest.approx([0.0, 1.0, 0.0])
    _, seg, depth, normal = render(hand_built_room(sphere=True), size, size)
    assert seg[0, mid, mid] == CLASS_NAMES.index("sphere")
    assert depth[0, 0, mid, mid] == pytest.approx(1.2, rel=1e-5)
    assert normal[0, :, mid, mid].tolist() == pytest.approx([0.0, 0.0, 1.0], abs=1e-6)


def test_a_solid_only_darkens_what_it_does_not_cover():
    """Adding the sphere casts a shadow on the floor behind it and changes nothing else around it."""
    size = 33
    empty, _, _, _ = render(hand_built_room(sphere=False), size, size)
    full, seg, _, _ = render(hand_built_room(sphere=True), size, size)
    around = (seg[0] != CLASS_NAMES.index("sphere")) & (seg[0] != -1)
    change = (full - empty)[0].mean(0)[around]
    assert change.max() <= 1e-6
    assert (change < -0.05).sum() >= 3  # a visible shadow


def test_same_seed_same_images_and_batching_does_not_matter(scenes):
    again = synthscenes(48, 24, 32, seed=3, batch=7)
    assert torch.equal(scenes.x, again.x)
    for task in ("segmentation", "depth", "normal"):
        assert torch.equal(scenes.y[task], again.y[task])
    other = synthscenes(48, 24, 32, seed=4)
    assert not torch.equal(scenes.x, other.x)


def test_culling_changes_nothing(monkeypatch, scenes):
    """Rendering with every solid tested at every pixel gives the same images and targets."""
    def whole_image(points, eye, basis, tan, height, width):
        n, k = points.shape[-2:]
        big = height + width
        return torch.tensor([0, height - 1, 0, width - 1, -big, big, -big, big])[:, None, None].expand(8, n, k)

    monkeypatch.setattr(synth, "screen_bounds", whole_image)
    brute = synthscenes(48, 24, 32, seed=3)
    assert torch.equal(scenes.x, brute.x)
    for task in ("segmentation", "depth", "normal"):
        assert torch.equal(scenes.y[task], brute.y[task])


@pytest.mark.parametrize("height,width", [(9, 16), (16, 9), (2, 2)])
def test_any_image_size(height, width):
    data = synthscenes(3, height, width, seed=1)
    assert data.x.shape == (3, 3, height, width) and data.y["normal"].shape == (3, 3, height, width)


def test_bad_arguments():
    with pytest.raises(ValueError, match="n=0"):
        synthscenes(0)
    with pytest.raises(ValueError, match="1×8"):
        synthscenes(2, 1, 8)


def test_colour_does_not_give_the_class_away():
    """A per-pixel colour classifier (Gaussian per class) does no better than always answering the commonest class,
    and the class means are close (except for window glass, which glows)."""
    train, test = synthscenes(120, 24, 24, seed=10), synthscenes(120, 24, 24, seed=11)

    def pixels(data):
        x = data.x.permute(0, 2, 3, 1).reshape(-1, 3).numpy()
        y = data.y["segmentation"].flatten().numpy()
        return x[y >= 0], y[y >= 0]

    x, y = pixels(train)
    x_test, y_test = pixels(test)
    qda = QuadraticDiscriminantAnalysis(reg_param=1e-3).fit(x, y)
    majority = np.mean(y_test == np.bincount(y).argmax())
    assert np.mean(qda.predict(x_test) == y_test) < majority + 0.02
    means = np.stack([x[y == c].mean(0) for c in range(NUM_CLASSES) if CLASS_NAMES[c] != "window"])
    assert np.abs(means - means.mean(0)).max() < 0.08


def test_plot_dense_samples(scenes):
    fig = plot_dense_samples(scenes, count=3, class_names=CLASS_NAMES)
    assert len(fig.axes) == 12
    with pytest.raises(ValueError, match="no colour"):
        label_image(torch.full((2, 2), 99))
    with pytest.raises(KeyError, match="lacks"):
        plot_dense_samples(scenes.select(["depth"]))
