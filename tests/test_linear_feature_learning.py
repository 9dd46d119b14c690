"""Argyriou et al.'s alternating algorithm against the squared-trace-norm problem solved by cvxpy."""

import numpy as np
import pytest

from mtl_ref.linear.feature_learning import feature_learning, optimal_d, trace_norm_objective


def _problem(seed=0, T=6, n=12, d=8):
    r = np.random.default_rng(seed)
    U = np.linalg.qr(r.normal(size=(d, 2)))[0]
    X = r.normal(size=(T, n, d))
    return X, np.einsum("tni,it->tn", X, U @ r.normal(size=(2, T))) + 0.1 * r.normal(size=(T, n))


@pytest.mark.parametrize("gamma", [0.3, 3.0])
def test_objective_equals_the_trace_norm_optimum(gamma) -> None:
    cp = pytest.importorskip("cvxpy")
    X, Y = _problem()
    T, _, d = X.shape
    W, _ = feature_learning(X, Y, gamma, eps=1e-12)
    V = cp.Variable((d, T))
    fit = sum(cp.sum_squares(Y[t] - X[t] @ V[:, t]) for t in range(T))
    problem = cp.Problem(cp.Minimize(fit + gamma * cp.square(cp.normNuc(V))))
    problem.solve(solver="CLARABEL")
    assert trace_norm_objective(X, Y, W, gamma) == pytest.approx(problem.value, rel=1e-5)
    assert np.abs(W - V.value).max() < 1e-2


def test_optimal_d_gives_the_squared_trace_norm() -> None:
    W = np.random.default_rng(1).normal(size=(5, 3))
    D = optimal_d(W)
    assert np.trace(D) == pytest.approx(1.0)
    # min_D tr(Wᵀ D⁺ W) over tr D ≤ 1 equals ||W||_*² (Theorem 3.1).
    assert np.trace(W.T @ np.linalg.pinv(D) @ W) == pytest.approx(np.linalg.svd(W, compute_uv=False).sum() ** 2)
    with pytest.raises(ValueError, match="eps"):
        optimal_d(np.zeros((3, 2)))


def test_recovers_a_low_rank_matrix_and_checks_arguments() -> None:
    X, Y = _problem(2, T=10, n=20)
    W, _ = feature_learning(X, Y, 1.0, eps=1e-8)
    s = np.linalg.svd(W, compute_uv=False)
    assert s[2] < 1e-2 * s[0]
    with pytest.raises(ValueError, match="positive"):
        feature_learning(X, Y, 0.0)
