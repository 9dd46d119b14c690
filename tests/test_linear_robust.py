"""Robust MTL (low-rank + outlier-task term) against cvxpy."""

import numpy as np
import pytest

from mtl_ref.linear.robust import prox_columns, prox_trace_norm, robust_mtl, robust_objective


def _tasks(seed=0, T=6, n=15, d=5):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(d, 1)) + 0.1 * rng.normal(size=(d, T))
    W[:, -1] = -2 * W[:, 0] + rng.normal(size=d)   # the last task is an outlier
    X = rng.normal(size=(T, n, d))
    return X, np.einsum("tni,it->tn", X, W) + 0.3 * rng.normal(size=(T, n))


def test_matches_cvxpy() -> None:
    cp = pytest.importorskip("cvxpy")
    X, Y = _tasks()
    T, _, d = X.shape
    alpha, beta = 3.0, 8.0
    L, S = robust_mtl(X, Y, alpha, beta, tol=1e-12, max_iter=50_000)
    Lv, Sv = cp.Variable((d, T)), cp.Variable((d, T))
    fit = sum(cp.sum_squares(Y[t] - X[t] @ (Lv[:, t] + Sv[:, t])) for t in range(T))
    problem = cp.Problem(cp.Minimize(fit + alpha * cp.normNuc(Lv) + beta * cp.sum(cp.norm(Sv, 2, axis=0))))
    problem.solve(solver="CLARABEL")
    assert robust_objective(X, Y, L, S, alpha, beta) == pytest.approx(problem.value, rel=1e-6)
    assert np.abs((L + S) - (Lv.value + Sv.value)).max() < 1e-3


def test_outlier_task_gets_the_largest_column() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(6, 15, 5))
    W = np.outer(rng.normal(size=5), np.ones(6))
    W[:, -1] = 3 * rng.normal(size=5)          # an outlier in no common direction
    Y = np.einsum("tni,it->tn", X, W) + 0.3 * rng.normal(size=(6, 15))
    L, S = robust_mtl(X, Y, 100.0, 10.0)
    norms = np.linalg.norm(S, axis=0)
    assert norms.argmax() == 5


def test_proximal_operators() -> None:
    S = np.array([[3.0, 0.3], [4.0, 0.4]])
    assert np.allclose(prox_columns(S, 1.0), [[2.4, 0.0], [3.2, 0.0]])
    L = np.diag([3.0, 0.5])
    assert np.allclose(prox_trace_norm(L, 1.0), np.diag([2.0, 0.0]))
    with pytest.raises(ValueError, match="positive"):
        robust_mtl(*_tasks(), 0.0, 1.0)
