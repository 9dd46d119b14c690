"""Random SynthScenes layouts: what the renderer relies on holds for every scene."""

import torch

from mtl_ref.data.raycast import corners
from mtl_ref.data.scene_layout import clearance, sample_layout


def test_layouts_keep_the_camera_outside_the_solids_and_the_lamp_above_them():
    layout = sample_layout(3000, seed=5)
    active = layout.solid_active
    assert (clearance(layout.eye, layout.solids)[active] >= 0.1).all()
    box = corners(layout.solids.permute(2, 0, 1))  # (3, 8, n, K)
    top = box[1].amax(0)
    assert (top < layout.light[:, 1:2])[active].all()
    a, h, b = layout.room.unbind(-1)
    inside = ((box[0].abs() <= a[:, None] + 1e-4) & (box[2].abs() <= b[:, None] + 1e-4)).all(0)
    assert inside[active].all()
    assert (box[1].amin(0)[active] >= -1e-6).all() and (top[active] <= h[:, None]).all()


def test_layouts_are_a_function_of_the_seed():
    a, b, c = sample_layout(20, 1), sample_layout(20, 1), sample_layout(20, 2)
    assert torch.equal(a.solids, b.solids) and torch.equal(a.materials, b.materials)
    assert not torch.equal(a.solids, c.solids)


def test_clearance_of_a_point_to_each_kind_of_solid():
    layout = sample_layout(1, 0)
    solids = torch.zeros_like(layout.solids)
    solids[0, :, 6] = 1.0  # no turn
    solids[0, 0, :6] = torch.tensor([0.0, 1.0, 0.0, 0.5, 0.5, 0.5])  # sphere
    solids[0, 3, :6] = torch.tensor([2.0, 1.0, 0.0, 0.5, 1.0, 0.5])  # cylinder
    solids[0, 6, :6] = torch.tensor([0.0, 1.0, 3.0, 0.5, 0.5, 0.5])  # box
    gaps = clearance(torch.tensor([[0.0, 1.0, 1.5]]), solids)[0]
    assert gaps[0].item() == 1.0 and gaps[6].item() == 1.0
    assert abs(gaps[3].item() - 2.0) < 1e-6  # 2.5 m from the axis, radius 0.5 m
