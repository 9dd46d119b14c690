"""The 2-D toy of the CAGrad and Nash-MTL papers, and the closed-form two-task updates that run it fast."""

import numpy as np
import pytest
import torch

from mtl_ref import toy2d, toy2d_fast
from mtl_ref.weighting import FAMO, aggregator, method


def test_values_at_known_points():
    # deep in the bowls (x2 ≪ 0, c1 ≈ 0, c2 ≈ 1): shifted quadratics
    x = torch.tensor([[7.0, -40.0], [-7.0, -40.0]], dtype=torch.float64)
    f = toy2d.two_objective(x)
    c2 = np.tanh(20.0)
    assert f[0, 0].item() == pytest.approx(c2 * (0.1 * 32**2 / 10 - 20))
    assert f[1, 1].item() == pytest.approx(c2 * (0.1 * 32**2 / 10 - 20))
    assert f[0, 1].item() == pytest.approx(c2 * ((14**2 + 0.1 * 32**2) / 10 - 20))
    # at x2 = 0 both weights vanish
    assert toy2d.two_objective(torch.tensor([3.0, 0.0])).abs().max().item() == 0.0
    # the scale multiplies each task
    y = torch.tensor([[1.0, -3.0]], dtype=torch.float64)
    assert torch.allclose(toy2d.two_objective(y, (0.1, 1.0)), toy2d.two_objective(y) * torch.tensor([0.1, 1.0],
                          dtype=torch.float64))
    with pytest.raises(ValueError):
        toy2d.two_objective(torch.zeros(3))


def test_pareto_set_and_mean_optimum():
    # on the Pareto set the two gradients are (nearly) opposite: Pareto-stationary up to the rounded x2
    x, f = toy2d.pareto_front(9)
    _, jac = toy2d_fast.losses_and_jacobian(x.numpy())
    g1, g2 = jac[1:-1, 0], jac[1:-1, 1]
    cos = (g1 * g2).sum(-1) / np.linalg.norm(g1, axis=-1) / np.linalg.norm(g2, axis=-1)
    assert np.all(cos < -0.9999)
    # the mean optimum is the midpoint, with both losses ≈ −15.09
    mid = toy2d.two_objective(torch.tensor([0.0, toy2d.PARETO_X2], dtype=torch.float64))
    assert mid.tolist() == pytest.approx([-15.09, -15.09], abs=0.01)
    # along the front one loss rises as the other falls
    assert np.all(np.diff(f[:, 0].numpy()) < 0) and np.all(np.diff(f[:, 1].numpy()) > 0)
    assert toy2d.distance_to_front(f[3:4], f).item() == 0.0


@pytest.mark.parametrize("scales", [(1.0, 1.0), (0.1, 1.0)])
def test_analytic_jacobian_matches_autograd(scales):
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.uniform(-10, 10, (200, 2)), np.array(toy2d.NASH_STARTS)])
    losses, jac = toy2d_fast.losses_and_jacobian(points, scales)
    x = torch.tensor(points, requires_grad=True)
    f = toy2d.two_objective(x, scales)
    rows = [torch.autograd.grad(f[:, i].sum(), x, retain_graph=True)[0] for i in range(2)]
    assert np.allclose(losses, f.detach().numpy())
    assert np.allclose(jac, torch.stack(rows, 1).numpy(), rtol=1e-9, atol=1e-12)


def _random_jacobians(p, n=300, seed=0):
    rng = np.random.default_rng(seed)
    j = rng.normal(size=(n, 2, p)) * np.exp(rng.normal(size=(n, 2, 1)))
    j[:20, 1] = -0.7 * j[:20, 0]  # exactly conflicting, opposite rows
    j[20:40, 1] = 2.0 * j[20:40, 0] + 1e-3 * rng.normal(size=(20, p))  # nearly parallel
    return j


@pytest.mark.parametrize("p", [2, 5])
@pytest.mark.parametrize("name", list(toy2d_fast.UPDATES))
def test_closed_forms_match_the_package(name, p):
    jacobians = _random_jacobians(p)
    ours = toy2d_fast.UPDATES[name](jacobians)
    agg = aggregator(name)
    theirs = np.stack([agg(torch.from_numpy(j)).numpy() for j in jacobians])
    scale = np.linalg.norm(jacobians, axis=(1, 2))[:, None]
    assert np.all(np.abs(ours - theirs) <= 1e-6 * scale)


@pytest.mark.parametrize("norm_eps,reg_eps", [(1e-4, 1e-4), (0.0, 1e-4), (0.0, 0.0), (1e-2, 0.0)])
def test_upgrad_thresholds_match_the_package(norm_eps, reg_eps):
    # tiny Jacobians (trace below norm_eps) and tasks whose share of the trace is far below reg_eps
    jacobians = np.concatenate([_random_jacobians(2), 1e-3 * _random_jacobians(2, n=50, seed=1)])
    jacobians[-10:, 1] *= 1e-5
    ours = toy2d_fast.upgrad(jacobians, norm_eps=norm_eps, reg_eps=reg_eps)
    agg = aggregator("upgrad", norm_eps=norm_eps, reg_eps=reg_eps)
    theirs = np.stack([agg(torch.from_numpy(j)).numpy() for j in jacobians])
    scale = np.linalg.norm(jacobians, axis=(1, 2))[:, None]
    assert np.all(np.abs(ours - theirs) <= 1e-6 * scale)
    below = np.linalg.norm(jacobians, axis=(1, 2)) ** 2 < norm_eps
    assert np.allclose(ours[below], jacobians[below].mean(axis=1))  # below norm_eps: the plain mean


@pytest.mark.parametrize("name,hp", [("mean", {}), ("mgda", {}), ("pcgrad", {}), ("cagrad", {"c": 0.5}),
                                     ("nash_mtl", {}), ("imtl_g", {}), ("aligned_mtl", {}), ("upgrad", {}),
                                     ("famo", {"min_losses": [-2.1, -21.0], "gamma": 0.0})])
def test_fast_trajectories_follow_the_package(name, hp):
    # (0, 0) is left out: there both gradients are vertical, and Adam turns float32 rounding in x1 into full steps
    steps, starts, scales = 150, [s for s in toy2d.NASH_STARTS if s != (0.0, 0.0)], (0.1, 1.0)
    fast_hp = {"c_radius": hp["c"]} if name == "cagrad" else hp
    pos, los = toy2d_fast.trajectories({name: (name, fast_hp)}, starts, steps=steps, lr=0.01, scales=scales,
                                       record_every=50)
    ref_pos, ref_los = toy2d.trajectories(lambda: method(name, num_tasks=2, **hp), starts, steps=steps, lr=0.01,
                                          scales=scales, record_every=50)
    assert pos[name].shape == tuple(ref_pos.shape)
    assert np.abs(pos[name] - ref_pos.numpy()).max() < 1e-4
    assert np.abs(los[name] - ref_los.numpy()).max() < 1e-3


def test_famo_needs_no_objects():
    with pytest.raises(ValueError):
        toy2d_fast.trajectories({"x": ("nope", {})}, toy2d.CAGRAD_STARTS, steps=1)
    assert isinstance(method("famo"), FAMO)


def test_scales_per_start_match_separate_runs():
    methods = {"nash": ("nash_mtl", {}), "famo": ("famo", {"min_losses": [[-21.0, -21.0], [-2.1, -21.0]],
                                                           "gamma": 0.0})}
    starts = [(9.0, 9.0), (9.0, -1.0)]
    pos, los = toy2d_fast.trajectories(methods, starts, steps=200, lr=0.01, scales=[(1.0, 1.0), (0.1, 1.0)])
    for s, scales in enumerate([(1.0, 1.0), (0.1, 1.0)]):
        single = {"nash": methods["nash"], "famo": ("famo", {"min_losses": [-21.0 * scales[0], -21.0], "gamma": 0.0})}
        p1, l1 = toy2d_fast.trajectories(single, starts[s:s + 1], steps=200, lr=0.01, scales=scales)
        for k in methods:
            assert np.array_equal(p1[k][0], pos[k][s]) and np.array_equal(l1[k][0], los[k][s])
    with pytest.raises(ValueError):
        toy2d_fast.trajectories(methods, starts, steps=1, scales=np.ones((3, 2)))
