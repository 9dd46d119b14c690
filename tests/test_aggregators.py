"""The gradient aggregators: interface, degenerate inputs, and the properties each method does or does not have."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from aggregator_inputs import (IMTLG_CONFLICTS, J_BASE, NAMES, PCGRAD_CONFLICTS, conflicting_jacobian,
                               degenerate_jacobians, fresh)
from hypothesis import given, settings
from hypothesis import strategies as st

from mtl_ref.weighting import (AGGREGATORS, IMTLG, MGDA, AlignedMTL, CAGrad, Mean, NashMTL, PCGrad, Sum, UPGrad,
                               aggregator)
from mtl_ref.weighting.aggregator import GRAMIAN_BLOCK, GramianWeighted, gramian
from mtl_ref.weighting.mgda import two_task_min_norm
from mtl_ref.weighting.qp import gramian_factor, least_distance

F64 = torch.float64
#: Hypothesis draws conflicting Jacobians by their seed: (tasks, seed).
JACOBIANS = st.tuples(st.integers(2, 5), st.integers(0, 10_000))
FEW = settings(max_examples=25, deadline=None)


def rates(jacobian: torch.Tensor, update: torch.Tensor) -> torch.Tensor:
    """``J d`` relative to ``max_i ‖g_i‖ · ‖d‖``: the cosine-like rate at which each task improves."""
    scale = jacobian.norm(dim=1).max() * update.norm()
    return jacobian @ update / scale if scale > 0 else torch.zeros(len(jacobian), dtype=jacobian.dtype)


# --- registry and input checks -------------------------------------------------------------------------------------


def test_registry_names_and_classes() -> None:
    assert NAMES == ["mean", "sum", "mgda", "pcgrad", "cagrad", "nash_mtl", "imtl_g", "aligned_mtl", "upgrad"]
    for name, cls in AGGREGATORS.items():
        assert type(aggregator(name)) is cls
    assert aggregator("cagrad", c=0.4).c == 0.4
    assert aggregator("aligned_mtl", scale_mode="rmse").scale_mode == "rmse"


def test_registry_rejects_unknown_name_listing_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown aggregator 'pc_grad'") as info:
        aggregator("pc_grad")
    for name in NAMES:
        assert name in str(info.value)


@pytest.mark.parametrize("name", NAMES)
def test_bad_jacobians_raise(name: str) -> None:
    agg = fresh(name)
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        agg(torch.ones(3))
    with pytest.raises(ValueError, match=r"shape \(2, 3, 4\)"):
        agg(torch.ones(2, 3, 4))
    with pytest.raises(ValueError, match=r"shape \(0, 3\)"):
        agg(torch.ones(0, 3))
    with pytest.raises(ValueError, match="dtype torch.int64"):
        agg(torch.ones(2, 3, dtype=torch.int64))
    bad = torch.ones(3, 4)
    bad[1, 2] = float("nan")
    bad[2, 0] = float("inf")
    with pytest.raises(ValueError, match=r"non-finite entries in the gradient of task\(s\) \[1, 2\]"):
        agg(bad)


def test_rows_whose_sum_overflows_are_finite() -> None:
    huge = torch.full((1, 8), 3e38)  # finite float32 entries, but the row sums to inf
    assert torch.equal(Mean()(huge), huge[0])


@pytest.mark.parametrize(("make", "message"), [
    (lambda: MGDA(epsilon=0), "epsilon"), (lambda: MGDA(max_iters=0), "max_iters"), (lambda: CAGrad(c=-0.1), "c must"),
    (lambda: NashMTL(max_norm=-1), "max_norm"), (lambda: NashMTL(update_weights_every=0), "update_weights_every"),
    (lambda: UPGrad(reg_eps=-1), "reg_eps"),
    (lambda: AlignedMTL(scale_mode="max"), "scale_mode"),  # type: ignore[arg-type]
])
def test_bad_hyperparameters_raise(make, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


# --- shape, dtype, degenerate inputs --------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("name", NAMES)
def test_degenerate_jacobians_give_finite_updates(name: str, dtype: torch.dtype) -> None:
    for case, jacobian in degenerate_jacobians(dtype).items():
        update = fresh(name)(jacobian)
        assert update.shape == (jacobian.shape[1],), case
        assert update.dtype == dtype, case
        assert torch.isfinite(update).all(), case


@pytest.mark.parametrize("name", NAMES)
def test_all_zero_jacobian_gives_zero(name: str) -> None:
    assert torch.equal(fresh(name)(torch.zeros(3, 5)), torch.zeros(5))


@pytest.mark.parametrize("name", NAMES)
def test_float32_and_float64_agree(name: str) -> None:
    jacobian = conflicting_jacobian(4, seed=3)
    d64 = fresh(name)(jacobian)
    d32 = fresh(name)(jacobian.float())
    torch.testing.assert_close(d32.double(), d64, rtol=1e-5, atol=1e-5 * float(d64.norm()))


def test_gramian_of_a_float32_jacobian_across_blocks() -> None:
    jacobian = torch.randn(3, 2 * GRAMIAN_BLOCK + 5, generator=torch.Generator().manual_seed(0))
    exact = jacobian.double() @ jacobian.double().T
    norms = exact.diagonal().sqrt()
    assert ((gramian(jacobian) - exact).abs() / torch.outer(norms, norms)).max() < 1e-6
    assert torch.equal(gramian(jacobian), gramian(jacobian).T)
    assert gramian(jacobian).dtype == F64


# --- golden values --------------------------------------------------------------------------------------------------

#: Updates on J_BASE, to four decimals; all but mean and sum are torchjd's golden values (its test_values.py).
GOLDEN = {"mean": [1.0, 1.0, 1.0], "sum": [2.0, 2.0, 2.0], "mgda": [0.0, 1.0, 1.0], "pcgrad": [0.5848, 3.8012, 3.8012],
          "cagrad": [0.1835, 1.2041, 1.2041], "nash_mtl": [0.0542, 0.7061, 0.7061], "imtl_g": [0.0767, 1.0, 1.0],
          "aligned_mtl": [0.2133, 0.9673, 0.9673], "upgrad": [0.2929, 1.9004, 1.9004]}


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("name", NAMES)
def test_golden_values(name: str, dtype: torch.dtype) -> None:
    update = fresh(name)(torch.tensor(J_BASE, dtype=dtype))
    torch.testing.assert_close(update, torch.tensor(GOLDEN[name], dtype=dtype), rtol=0, atol=1e-4)


# --- non-conflicting ------------------------------------------------------------------------------------------------


@FEW
@given(JACOBIANS)
def test_non_conflicting_aggregators(case: tuple[int, int]) -> None:
    """J d ≥ 0: exactly (to rounding) for exact UPGrad, Nash-MTL, CAGrad with c ≥ 1 and MGDA at its minimiser."""
    jacobian = conflicting_jacobian(*case)
    exact = [UPGrad(norm_eps=0, reg_eps=0), NashMTL(), NashMTL(max_norm=0), CAGrad(c=1.0), CAGrad(c=2.0),
             MGDA(epsilon=1e-12, max_iters=10_000)]
    for agg in exact:
        assert rates(jacobian, agg(jacobian)).min() >= -1e-9, agg
    # UPGrad's reg_eps stops each projection a little short of the dual cone.
    assert rates(jacobian, UPGrad()(jacobian)).min() >= -1e-2


def test_mgda_default_tolerance_leaves_a_small_conflict() -> None:
    """Frank–Wolfe stops when a step is below epsilon = 1e-3, not at the minimiser: ~1% conflict here."""
    jacobian = degenerate_jacobians(F64)["scale 1e0"]
    assert -0.02 < rates(jacobian, MGDA()(jacobian)).min() < -0.005
    assert rates(jacobian, MGDA(epsilon=1e-12, max_iters=10_000)(jacobian)).min() >= -1e-9


@FEW
@given(st.integers(0, 10_000))
def test_two_task_pcgrad_and_imtl_g_do_not_conflict(seed: int) -> None:
    jacobian = conflicting_jacobian(2, seed)
    for agg in (PCGrad(seed=seed), IMTLG()):
        assert rates(jacobian, agg(jacobian)).min() >= -1e-12


def test_pcgrad_with_three_tasks_can_conflict_in_every_order() -> None:
    jacobian = torch.tensor(PCGRAD_CONFLICTS, dtype=F64)
    for seed in range(20):  # each task draws one of 2 orders of the others: 8 combinations, all conflicting
        assert rates(jacobian, PCGrad(seed=seed)(jacobian)).min() < -0.05
    for agg in (UPGrad(), NashMTL(), MGDA()):  # the point is not Pareto-stationary: they find updates that do not
        assert rates(jacobian, agg(jacobian)).min() > 0


def test_imtl_g_can_make_every_task_worse() -> None:
    jacobian = torch.tensor(IMTLG_CONFLICTS, dtype=F64)
    update = IMTLG()(jacobian)
    unit_rates = jacobian @ update / jacobian.norm(dim=1)
    assert (unit_rates < 0).all()
    torch.testing.assert_close(unit_rates, unit_rates.mean().expand(3))  # still impartial: equal projections


@pytest.mark.parametrize(("agg", "jacobian"), [
    (Mean(), torch.tensor(J_BASE, dtype=F64)), (CAGrad(0.5), conflicting_jacobian(3, 244)),
    (AlignedMTL(), conflicting_jacobian(4, 86)),
], ids=["mean", "cagrad", "aligned_mtl"])
def test_conflicting_aggregators(agg, jacobian: torch.Tensor) -> None:
    assert rates(jacobian, agg(jacobian)).min() < -0.1


# --- permutation invariance -----------------------------------------------------------------------------------------


@FEW
@given(JACOBIANS, st.randoms(use_true_random=False))
def test_permutation_invariance(case: tuple[int, int], random) -> None:
    jacobian = conflicting_jacobian(*case)
    order = list(range(len(jacobian)))
    random.shuffle(order)
    for name in NAMES:
        if name == "pcgrad":
            continue
        update, permuted = fresh(name)(jacobian), fresh(name)(jacobian[order])
        torch.testing.assert_close(permuted, update, rtol=1e-7, atol=1e-9 * float(update.norm()), msg=name)


def test_pcgrad_is_not_permutation_invariant_but_reproducible() -> None:
    jacobian = conflicting_jacobian(4, seed=7)
    updates = {tuple(PCGrad(seed=s)(jacobian).tolist()) for s in range(10)}
    assert len(updates) > 1
    torch.testing.assert_close(PCGrad(seed=3)(jacobian), PCGrad(seed=3)(jacobian), rtol=0, atol=0)


# --- scaling --------------------------------------------------------------------------------------------------------


@FEW
@given(JACOBIANS, st.floats(1e-6, 1e6))
def test_positive_homogeneity(case: tuple[int, int], s: float) -> None:
    """d(sJ) = s d(J) for all but Nash-MTL, whose update does not depend on the scale at all."""
    jacobian = conflicting_jacobian(*case)
    for name in NAMES:
        agg = UPGrad(norm_eps=0) if name == "upgrad" else fresh(name)  # below norm_eps UPGrad is the mean
        expected = agg(jacobian) if name == "nash_mtl" else s * agg(jacobian)
        agg.reset()
        torch.testing.assert_close(agg(s * jacobian), expected, rtol=1e-7, atol=1e-9 * float(expected.norm()),
                                   msg=name)


def test_upgrad_is_the_mean_below_norm_eps() -> None:
    """torchjd's convention: a Jacobian with ‖J‖_F² below norm_eps = 1e-4 is not projected."""
    jacobian = 1e-3 * torch.tensor(J_BASE, dtype=F64)
    torch.testing.assert_close(UPGrad()(jacobian), jacobian.mean(dim=0))
    assert rates(jacobian, UPGrad(norm_eps=0)(jacobian)).min() > 0


@FEW
@given(JACOBIANS, st.integers(0, 2**31))
def test_linear_under_task_scaling(case: tuple[int, int], seed: int) -> None:
    """A(diag(a c1 + b c2) J) = a A(diag(c1) J) + b A(diag(c2) J) for positive scales: mean, sum, exact UPGrad,
    and PCGrad with a fixed order."""
    jacobian = conflicting_jacobian(*case)
    gen = torch.Generator().manual_seed(seed)
    c1, c2 = (torch.exp(2 * torch.rand(len(jacobian), 1, generator=gen, dtype=F64)) for _ in range(2))
    a, b = 0.7, 1.9
    for make in (Mean, Sum, lambda: UPGrad(norm_eps=0, reg_eps=0), lambda: PCGrad(seed=seed)):
        agg = make()
        left = agg((a * c1 + b * c2) * jacobian)
        agg.reset()
        first = agg(c1 * jacobian)
        agg.reset()
        right = a * first + b * agg(c2 * jacobian)
        torch.testing.assert_close(left, right, rtol=1e-9, atol=1e-9 * float(right.norm()))


def test_upgrad_default_is_only_nearly_linear() -> None:
    jacobian = conflicting_jacobian(3, seed=5)
    c = torch.tensor([[1.0], [10.0], [0.2]], dtype=F64)
    exact, regularised = UPGrad(0, 0), UPGrad()
    gap = (regularised(c * jacobian) - exact(c * jacobian)).norm() / exact(c * jacobian).norm()
    assert 0 < gap < 5e-2  # reg_eps is relative to the trace, dominated here by the largest task


@FEW
@given(JACOBIANS, st.integers(0, 2**31))
def test_task_scaling_invariances(case: tuple[int, int], seed: int) -> None:
    """Scaling a task's gradient: Nash-MTL's update is unchanged; IMTL-G's stays on the same line, but its length
    changes and so can its sign (when the sum of the unnormalised weights changes sign)."""
    jacobian = conflicting_jacobian(*case)
    c = torch.exp(4 * torch.rand(len(jacobian), 1, generator=torch.Generator().manual_seed(seed), dtype=F64) - 2)
    for nash in (NashMTL(), NashMTL(max_norm=0)):
        torch.testing.assert_close(nash(c * jacobian), NashMTL(max_norm=nash.max_norm)(jacobian), rtol=1e-6,
                                   atol=1e-7)
    before, after = IMTLG()(jacobian), IMTLG()(c * jacobian)
    assert float(abs(after @ before) / (after.norm() * before.norm())) == pytest.approx(1.0, abs=1e-10)


@pytest.mark.parametrize("agg", [MGDA(), IMTLG(), AlignedMTL(), CAGrad(), NashMTL(max_norm=0)],
                         ids=["mgda", "imtl_g", "aligned_mtl", "cagrad", "nash_mtl"])
def test_not_linear_under_task_scaling(agg) -> None:
    jacobian = torch.tensor(J_BASE, dtype=F64)
    c1, c2 = torch.tensor([[1.0], [1.0]], dtype=F64), torch.tensor([[9.0], [0.5]], dtype=F64)
    assert not torch.allclose(agg((c1 + c2) * jacobian), agg(c1 * jacobian) + agg(c2 * jacobian), rtol=1e-3)


def test_mgda_is_drawn_to_the_smallest_gradient() -> None:
    """‖d‖ ≤ min_i ‖g_i‖ at the minimum-norm point: shrinking one task's gradient shrinks the update with it."""
    jacobian = conflicting_jacobian(3, seed=2)
    exact = MGDA(epsilon=1e-12, max_iters=10_000)
    for k in (1.0, 0.1, 0.01):
        scaled = jacobian * torch.tensor([[k], [1.0], [1.0]], dtype=F64)
        assert exact(scaled).norm() <= scaled.norm(dim=1).min() * (1 + 1e-9)


# --- fixed points: where the update vanishes ---------------------------------------------------------------------

_G, _H = [3.0, -1.0, 2.0, 0.5], [-1.0, 2.0, 0.0, 1.0]
#: Pareto-stationary Jacobians whose mean gradient is not zero: 0 = (2/3)g + (1/3)(-2g), and 0 = ½g + ¼h + ¼(-2g - h).
PARETO_STATIONARY = {"opposite": [_G, [-2 * x for x in _G]],
                     "three": [_G, _H, [-2 * a - b for a, b in zip(_G, _H)]]}
#: Three gradients that sum to zero: a stationary point of the mean loss (and so Pareto-stationary too).
MEAN_ZERO = [_G, _H, [-a - b for a, b in zip(_G, _H)]]


def relative_norm(jacobian: torch.Tensor, update: torch.Tensor) -> float:
    return float(update.norm() / jacobian.norm(dim=1).max())


@pytest.mark.parametrize("case", list(PARETO_STATIONARY))
def test_which_aggregators_stop_at_pareto_stationary_points(case: str) -> None:
    """MGDA (exactly), Nash-MTL (up to its ridge) and UPGrad (up to reg_eps) give a zero update where no update
    improves every task; the mean and CAGrad with c < 1 stop only where the mean gradient vanishes."""
    jacobian = torch.tensor(PARETO_STATIONARY[case], dtype=F64)
    for agg in (MGDA(), MGDA(epsilon=1e-12, max_iters=10_000), UPGrad(0, 0)):
        assert relative_norm(jacobian, agg(jacobian)) < 1e-6, agg
    for agg in (NashMTL(), UPGrad()):  # the ridge, and reg_eps, which stops the projections short
        assert relative_norm(jacobian, agg(jacobian)) < 1e-3, agg
    for agg in (Mean(), CAGrad(0.5), AlignedMTL(), IMTLG()):
        assert relative_norm(jacobian, agg(jacobian)) > 1e-2, agg


def test_three_task_pcgrad_does_not_stop_at_a_pareto_stationary_point() -> None:
    """With two opposite gradients PCGrad's projections cancel; with three, a later projection undoes an earlier one."""
    opposite = torch.tensor(PARETO_STATIONARY["opposite"], dtype=F64)
    assert relative_norm(opposite, PCGrad(seed=0)(opposite)) < 1e-12
    for jacobian in (torch.tensor(PARETO_STATIONARY["three"], dtype=F64), torch.tensor(MEAN_ZERO, dtype=F64)):
        for seed in range(5):
            assert relative_norm(jacobian, PCGrad(seed=seed)(jacobian)) > 1e-2


def test_imtl_g_has_no_impartial_update_for_opposite_gradients() -> None:
    """e_1ᵀd = e_2ᵀd with e_2 = -e_1 forces d ⟂ g, i.e. d = 0 in the span; the pseudo-inverse returns another α."""
    jacobian = torch.tensor(PARETO_STATIONARY["opposite"], dtype=F64)
    unit_rates = jacobian @ IMTLG()(jacobian) / jacobian.norm(dim=1)
    assert not torch.allclose(unit_rates[0], unit_rates[1])


@pytest.mark.parametrize("name", [n for n in NAMES if n != "pcgrad"])
def test_zero_update_where_the_mean_gradient_vanishes(name: str) -> None:
    jacobian = torch.tensor(MEAN_ZERO, dtype=F64)
    assert relative_norm(jacobian, fresh(name)(jacobian)) < 1e-3


# --- each method's own optimality conditions ------------------------------------------------------------------------


def test_two_task_min_norm_matches_a_grid() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        a, b = rng.normal(size=(2, 3)) * rng.uniform(0.1, 10, size=(2, 1))
        gamma = two_task_min_norm(a @ a, a @ b, b @ b)
        grid = np.linspace(0, 1, 10_001)
        norms = np.linalg.norm(grid[:, None] * a + (1 - grid[:, None]) * b, axis=1)
        assert 0 <= gamma <= 1
        assert np.linalg.norm(gamma * a + (1 - gamma) * b) <= norms.min() + 1e-12


def exact_min_norm(jacobian: torch.Tensor) -> torch.Tensor:
    """The minimum-norm point d* of the convex hull, exactly: z = argmin ‖z‖ s.t. J z ≥ 1 gives d* = z/‖z‖²."""
    mu, distance2 = least_distance(gramian_factor(gramian(jacobian)), np.ones(len(jacobian)))
    return torch.from_numpy(mu) @ jacobian / distance2


@pytest.mark.parametrize(("tasks", "seed"), [(3, 1), (4, 2), (5, 0)])
def test_mgda_approaches_the_minimum_norm_point(tasks: int, seed: int) -> None:
    """Frank–Wolfe converges slowly: the default stop leaves the update a few % off; tighter stops get closer."""
    jacobian = conflicting_jacobian(tasks, seed)
    exact = exact_min_norm(jacobian)
    off = [float((MGDA(eps, iters)(jacobian) - exact).norm() / exact.norm())
           for eps, iters in [(1e-3, 100), (1e-6, 20_000)]]
    assert off[0] < 5e-2 and off[1] < 1e-3


@FEW
@given(JACOBIANS, st.sampled_from([0.1, 0.5, 0.9, 1.5]))
def test_cagrad_satisfies_the_kkt_conditions(case: tuple[int, int], c: float) -> None:
    """d maximises min_i g_iᵀd over ‖d − g0‖ ≤ c‖g0‖ iff d − g0 = Σ μ_i g_i with μ ≥ 0 supported on the tasks at
    the minimum, and (when μ ≠ 0) d on the sphere."""
    jacobian = conflicting_jacobian(*case)
    agg = CAGrad(c)
    weights = agg.weights(gramian(jacobian))
    mu = weights - 1 / len(jacobian)
    update = weights @ jacobian
    g0 = jacobian.mean(dim=0)
    task_rates = jacobian @ update
    scale = float(jacobian.norm(dim=1).max() * update.norm())
    assert mu.min() >= -1e-12
    assert float((update - g0).norm()) == pytest.approx(c * float(g0.norm()), rel=1e-9)
    active = mu > 1e-9 * float(mu.max())
    assert (task_rates[active] - task_rates.min()).abs().max() <= 1e-9 * scale


def test_cagrad_with_c_0_is_the_mean() -> None:
    jacobian = conflicting_jacobian(4, seed=7)
    torch.testing.assert_close(CAGrad(c=0)(jacobian), jacobian.mean(dim=0))


def test_cagrad_with_a_zero_gradient_keeps_the_mean_when_it_is_optimal() -> None:
    """One task cannot improve, so every d in the ball reaches the best rate 0; the closest to g0 is g0."""
    jacobian = torch.tensor([[0.0, 0.0, 0.0], [6.0, 1.0, 1.0], [1.0, -2.0, 0.0]], dtype=F64)
    torch.testing.assert_close(CAGrad()(jacobian), jacobian.mean(dim=0))


@FEW
@given(JACOBIANS)
def test_nash_mtl_solves_the_bargaining_equations(case: tuple[int, int]) -> None:
    """α_i (Gα)_i = 1 for every task, so ‖d‖² = T; with max_norm = 1 the update has norm 1."""
    jacobian = conflicting_jacobian(*case)
    g = gramian(jacobian)
    alpha = NashMTL(max_norm=0).weights(g)
    torch.testing.assert_close(alpha * (g @ alpha), torch.ones(len(g), dtype=F64), rtol=0, atol=1e-6)
    assert float(NashMTL()(jacobian).norm()) == pytest.approx(1.0, rel=1e-12)


def test_nash_mtl_ignores_a_zero_gradient() -> None:
    g, h = conflicting_jacobian(2, seed=4)
    with_zero = NashMTL(max_norm=0)(torch.stack([g, torch.zeros_like(g), h]))
    torch.testing.assert_close(with_zero, NashMTL(max_norm=0)(torch.stack([g, h])))


@FEW
@given(JACOBIANS)
def test_upgrad_projections_are_in_the_dual_cone(case: tuple[int, int]) -> None:
    """Each exact projection w = argmin_{v ≥ u} vᵀGv has Jᵀw in the dual cone, and v ≥ u."""
    from mtl_ref.weighting.upgrad import project_weights

    jacobian = conflicting_jacobian(*case)
    g = gramian(jacobian)
    factor = gramian_factor(g)
    for i in range(len(g)):
        u = np.eye(len(g))[i]
        w = project_weights(factor, u)
        assert (w >= u - 1e-15).all()
        assert (g.numpy() @ w >= -1e-9 * float(g.trace())).all()


@FEW
@given(st.integers(0, 10_000))
def test_two_task_upgrad_is_half_of_pcgrad(seed: int) -> None:
    jacobian = conflicting_jacobian(2, seed)
    torch.testing.assert_close(UPGrad(0, 0)(jacobian), PCGrad(seed=seed)(jacobian) / 2, rtol=1e-9, atol=1e-12)


def test_least_distance_reports_infeasible_bounds() -> None:
    factor = gramian_factor(torch.tensor([[1.0, -1.0], [-1.0, 1.0]], dtype=F64))  # g and -g
    mu, distance2 = least_distance(factor, np.array([1.0, 1.0]))  # gᵀz ≥ 1 and -gᵀz ≥ 1: impossible
    assert distance2 == float("inf") and not mu.any()
    mu, distance2 = least_distance(factor, np.array([1.0, -3.0]))  # gᵀz ≥ 1, gᵀz ≤ 3: z = g/‖g‖² = g
    assert distance2 == pytest.approx(1.0) and mu == pytest.approx([1.0, 0.0])


@pytest.mark.parametrize("scale_mode", ["min", "median", "rmse"])
def test_aligned_mtl_aligns_the_gradients(scale_mode: str) -> None:
    """B J has orthogonal rows of equal norm σ (full-rank J); the update is the mean of those rows."""
    jacobian = conflicting_jacobian(4, seed=9)
    g = gramian(jacobian)
    agg = AlignedMTL(scale_mode)  # type: ignore[arg-type]
    weights = agg.weights(g)
    eigenvalues = torch.linalg.eigvalsh(g)
    sigma2 = {"min": eigenvalues.min(), "median": eigenvalues.sort().values[1], "rmse": eigenvalues.mean()}[scale_mode]
    # The balance matrix B = σ G^{-1/2}: B G B = σ² I.
    lam, vec = torch.linalg.eigh(g)
    balance = sigma2.sqrt() * (vec / lam.sqrt()) @ vec.T
    torch.testing.assert_close(balance @ g @ balance, sigma2 * torch.eye(4, dtype=F64))
    torch.testing.assert_close(weights, balance @ torch.full((4,), 0.25, dtype=F64))


# --- state ----------------------------------------------------------------------------------------------------------


def test_nash_mtl_reuses_weights_and_resets() -> None:
    first, second = conflicting_jacobian(3, seed=1), conflicting_jacobian(3, seed=2)
    agg = NashMTL(update_weights_every=2, max_norm=0)
    w1 = agg.weights(gramian(first))
    reused = agg.weights(gramian(second))
    torch.testing.assert_close(reused, w1)  # reused on the second call
    assert not torch.allclose(agg.weights(gramian(second)), w1)  # solved again on the third
    agg.reset()
    torch.testing.assert_close(agg.weights(gramian(second)), NashMTL(max_norm=0).weights(gramian(second)))
    with pytest.raises(ValueError, match="weights kept for 3 tasks cannot weigh a Jacobian of 2 tasks"):
        agg(second[:2])


def test_nash_mtl_clips_reused_weights_with_the_current_gramian() -> None:
    agg = NashMTL(update_weights_every=5)
    agg(conflicting_jacobian(3, seed=1))
    assert float(agg(10 * conflicting_jacobian(3, seed=2)).norm()) == pytest.approx(1.0)


def test_pcgrad_reset_replays_the_orders() -> None:
    jacobians = [conflicting_jacobian(4, seed) for seed in range(1, 6)]
    agg = PCGrad(seed=11)
    first = [agg(j) for j in jacobians]
    agg.reset()
    assert all(torch.equal(a, agg(j)) for a, j in zip(first, jacobians))


def test_pcgrad_without_a_seed_follows_the_global_generator() -> None:
    jacobian = conflicting_jacobian(5, seed=1)
    torch.manual_seed(0)
    first = PCGrad()(jacobian)
    torch.manual_seed(0)
    assert torch.equal(PCGrad()(jacobian), first)


@pytest.mark.parametrize("name", NAMES)
def test_gramian_weighted_ones_expose_weights(name: str) -> None:
    agg = fresh(name)
    if not isinstance(agg, GramianWeighted):
        assert name in ("mean", "sum")
        return
    jacobian = conflicting_jacobian(3, seed=1)
    weights = agg.weights(gramian(jacobian))
    agg.reset()
    torch.testing.assert_close(weights @ jacobian, agg(jacobian))


def test_all_orders_for_pcgrad_counterexample_are_covered() -> None:
    """The PCGrad counterexample really conflicts for each of the 8 order combinations, not only the seeds tried."""
    g = torch.tensor(PCGRAD_CONFLICTS, dtype=F64) @ torch.tensor(PCGRAD_CONFLICTS, dtype=F64).T
    jacobian = torch.tensor(PCGRAD_CONFLICTS, dtype=F64)
    others = [[j for j in range(3) if j != i] for i in range(3)]
    for orders in itertools.product(*(itertools.permutations(o) for o in others)):
        total = torch.zeros(3, dtype=F64)
        for i, order in enumerate(orders):
            w = torch.zeros(3, dtype=F64)
            w[i] = 1
            for j in order:
                inner = g[j] @ w
                if inner < 0:
                    w[j] -= inner / g[j, j]
            total += w
        assert (jacobian @ (total @ jacobian)).min() < 0
