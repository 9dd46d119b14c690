"""Ray casting of spheres, boxes and cylinders, and the screen-space culling of SynthScenes."""

import math

import pytest
import torch

from mtl_ref.data.raycast import (BOX, CYLINDER, MISS, SPHERE, candidates, corners, crosses, entry, interval,
                                  local_normal, screen_bounds, to_local, turn)


def inside(kind: int, q: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
    """Whether local points ``(3, ...)`` are inside the solids (the definition the intervals must agree with)."""
    if kind == SPHERE:
        return (q * q).sum(0) <= size[0] ** 2
    if kind == BOX:
        return (q.abs() <= size).all(0)
    return (q[0] ** 2 + q[2] ** 2 <= size[0] ** 2) & (q[1].abs() <= size[1])


@pytest.mark.parametrize("kind", [SPHERE, BOX, CYLINDER])
def test_interval_matches_sampled_inside_test(kind):
    g = torch.Generator().manual_seed(kind)
    n = 400
    o = torch.randn(3, n, generator=g) * 2
    d = (0.4 * torch.randn(3, n, generator=g) - o) / 4  # most rays pass near the centre at t = 4
    size = 0.3 + torch.rand(3, n, generator=g)
    if kind == SPHERE:
        size = size[:1].expand(3, n)
    t_in, t_out = interval(kind, o, d, size)
    t = torch.linspace(-6, 6, 2401)
    points = o[:, :, None] + d[:, :, None] * t
    sampled = inside(kind, points, size[:, :, None])
    predicted = (t >= t_in[:, None]) & (t <= t_out[:, None])
    # Points within one grid step of the boundary may disagree; nowhere else.
    step = (t[1] - t[0]) * d.norm(dim=0)[:, None]
    near_in = (t - t_in[:, None]).abs() * d.norm(dim=0)[:, None] <= 2 * step
    near_out = (t - t_out[:, None]).abs() * d.norm(dim=0)[:, None] <= 2 * step
    assert torch.equal(sampled | near_in | near_out, predicted | near_in | near_out)
    assert sampled.any(1).float().mean() > 0.2  # the test rays do hit


def test_entry_and_crosses_on_a_unit_box():
    size = torch.ones(3, 4)
    o = torch.tensor([[-3.0, -3.0, 0.0, 3.0], [0.0, 0.0, 0.0, 0.0], [0.0, 5.0, 0.0, 0.0]])
    d = torch.tensor([[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    t = entry(*interval(BOX, o, d, size))
    # Hits at t = 2; misses (passes beside it); starts inside (not an entry); points away.
    assert t.tolist() == [2.0, MISS, MISS, MISS]
    segment = crosses(*interval(BOX, o, d * 2.5, size))  # segments of length 2.5 along x
    assert segment.tolist() == [1.0, 0.0, 1.0, 0.0]


def test_local_frame_and_normals():
    cos, sin = math.cos(0.7), math.sin(0.7)
    p = torch.tensor([1.0, 0.5, -2.0, 0.4, 0.5, 0.2, cos, sin])[:, None]
    # A point on the +x face of the turned box, in world coordinates.
    x, z = turn(torch.tensor([0.4]), torch.tensor([0.05]), p[6], p[7])
    world = torch.stack((x + 1.0, torch.tensor([0.6]), z - 2.0))
    q = to_local(world, p)
    assert torch.allclose(q[:, 0], torch.tensor([0.4, 0.1, 0.05]), atol=1e-6)
    assert torch.allclose(local_normal(BOX, q, p[3:6])[:, 0], torch.tensor([1.0, 0.0, 0.0]))
    cap = local_normal(CYLINDER, torch.tensor([[0.1], [0.5], [0.0]]), torch.tensor([[0.4], [0.5], [0.4]]))
    side = local_normal(CYLINDER, torch.tensor([[0.0], [0.2], [-0.4]]), torch.tensor([[0.4], [0.5], [0.4]]))
    assert cap[:, 0].tolist() == [0.0, 1.0, 0.0] and side[:, 0].tolist() == [0.0, 0.0, -1.0]


def test_corners_contain_the_solid():
    p = torch.tensor([0.0, 1.0, 0.0, 0.3, 0.6, 0.2, math.cos(1.0), math.sin(1.0)])[:, None]
    c = corners(p)[:, :, 0]  # (3, 8)
    assert torch.allclose(to_local(c, p).abs(), p[3:6].expand(3, 8), atol=1e-6)


def test_candidates_enumerate_exactly_the_pixels_of_each_octagon():
    g = torch.Generator().manual_seed(0)
    n, k, height, width = 3, 4, 9, 11
    lo = torch.randint(-3, 8, (4, n, k), generator=g)
    hi = lo + torch.randint(-1, 9, (4, n, k), generator=g)
    bounds = torch.stack((lo[0], hi[0], lo[1], hi[1], lo[2] + lo[0], hi[2] + hi[1], lo[3] - 5, hi[3] + 3))
    active = torch.rand(n, k, generator=g) < 0.8
    owner, pixel = candidates(bounds, active, height, width)
    got = set(zip(owner.tolist(), pixel.tolist()))
    assert len(got) == len(owner)  # no pair twice
    row, col = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    want = set()
    for s in range(n):
        for j in range(k):
            r0, r1, c0, c1, s0, s1, d0, d1 = bounds[:, s, j]
            ok = ((row >= r0) & (row <= r1) & (col >= c0) & (col <= c1) & (col + row >= s0) & (col + row <= s1)
                  & (col - row >= d0) & (col - row <= d1) & active[s, j])
            want |= {(s * k + j, s * height * width + int(i)) for i in (row * width + col)[ok]}
    assert got == want


def test_screen_bounds_of_points_in_front_and_of_hulls_cut_by_the_near_plane():
    eye = torch.zeros(3, 1)
    basis = torch.eye(3)[None]  # looking along -z
    tan = torch.tensor([[1.0], [1.0]])
    points = torch.tensor([[0.5, 0.2, -2.0], [-0.5, 0.1, -1.0]]).T[:, :, None, None]  # (3, 2, 1, 1)
    bounds = screen_bounds(points, eye, basis, tan, 10, 10)[:, 0, 0]
    # x/depth = 0.25 and -0.5 -> columns 5.75 and 2; y/depth = 0.1 for both -> row 4.
    assert bounds[:4].tolist() == [4, 4, 2, 5]
    # The second point behind the camera: the segment crosses depth 0.05 at (-0.15, 0.135), which projects to
    # column (-3 + 1) * 5 - 0.5 = -10.5 and row (1 - 2.7) * 5 - 0.5 = -9.
    points[2, 1] = 1.0
    assert screen_bounds(points, eye, basis, tan, 10, 10)[:4, 0, 0].tolist() == [-9, 4, -10, 5]
    points[2, 0] = 2.0
    r0, r1 = screen_bounds(points, eye, basis, tan, 10, 10)[:2, 0, 0].tolist()
    assert r1 < r0
