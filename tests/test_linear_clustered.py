"""Clustered MTL: the Σ-step against a generic solver, the alternating minimiser, and cluster recovery."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from mtl_ref.linear.clustered import (clustered_mtl, clustered_objective, clustered_penalty, constraint_set,
                                      optimal_sigma, task_clusters)


def _clustered_tasks(seed=0, T=12, n=10, d=15, r=3):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(r), T // r)
    W = rng.normal(size=(d, r))[:, labels] + 0.1 * rng.normal(size=(d, T))
    X = rng.normal(size=(T, n, d))
    return X, np.einsum("tni,it->tn", X, W) + 0.5 * rng.normal(size=(T, n)), labels


def test_sigma_step_matches_cvxpy() -> None:
    cp = pytest.importorskip("cvxpy")
    W = np.random.default_rng(0).normal(size=(4, 5))
    a, b, g = constraint_set(5, 2, 0.5, 4.0)
    S = optimal_sigma(W, a, b, g)
    Pi = np.eye(5) - 0.2
    A = Pi @ W.T @ W @ Pi
    V = cp.Variable((5, 5), PSD=True)
    C = np.linalg.cholesky(A + 1e-12 * np.eye(5))
    prob = cp.Problem(cp.Minimize(cp.matrix_frac(C, V)),
                      [V >> a * np.eye(5), V << b * np.eye(5), cp.trace(V) == g])
    prob.solve(solver="CLARABEL")
    assert np.trace(A @ np.linalg.inv(S)) == pytest.approx(prob.value, rel=1e-4)
    vals = np.linalg.eigvalsh(S)
    assert vals.min() >= a - 1e-9 and vals.max() <= b + 1e-9 and vals.sum() == pytest.approx(g)


def test_alternating_minimisation_decreases_to_a_stationary_point() -> None:
    X, Y, _ = _clustered_tasks()
    W, S = clustered_mtl(X, Y, 3, 0.1, 1.0, 10.0)
    best = clustered_objective(X, Y, W, 3, 0.1, 1.0, 10.0)
    rng = np.random.default_rng(1)
    for _ in range(5):   # the relaxed objective is convex: no nearby point is lower
        assert clustered_objective(X, Y, W + 1e-3 * rng.normal(size=W.shape), 3, 0.1, 1.0, 10.0) > best
    assert np.allclose(clustered_penalty(S, 0.1), clustered_penalty(S, 0.1).T)


def test_recovers_planted_clusters() -> None:
    X, Y, labels = _clustered_tasks()
    _, S = clustered_mtl(X, Y, 3, 0.1, 1.0, 10.0)
    assert adjusted_rand_score(labels, task_clusters(S, 3)) == 1.0


def test_argument_checks() -> None:
    with pytest.raises(ValueError, match="clusters"):
        constraint_set(4, 5, 1.0, 2.0)
    with pytest.raises(ValueError, match="ε_B ≤ ε_W"):
        constraint_set(4, 2, 3.0, 2.0)
    with pytest.raises(ValueError, match="empty"):
        optimal_sigma(np.ones((2, 3)), 1.0, 2.0, 10.0)
