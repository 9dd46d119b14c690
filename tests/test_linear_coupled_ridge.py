"""Coupled ridge regression: the closed form against a direct least-squares solve."""

import numpy as np
import pytest

from mtl_ref.linear.coupled_ridge import check_tasks, coupled_ridge, ridge_per_task, task_mse


def _data(T=3, n=8, d=4, seed=0):
    r = np.random.default_rng(seed)
    return r.normal(size=(T, n, d)), r.normal(size=(T, n))


def test_coupled_ridge_minimises_the_objective() -> None:
    X, Y = _data()
    A = np.random.default_rng(1).normal(size=(3, 3))
    Q = A @ A.T + 0.1 * np.eye(3)
    W = coupled_ridge(X, Y, Q)

    def objective(W):
        return ((np.einsum("tni,it->tn", X, W) - Y) ** 2).sum() + np.trace(W @ Q @ W.T)

    # The gradient vanishes: 2 X_tᵀ(X_t w_t − y_t) + 2 (W Q)_t = 0.
    grad = 2 * np.einsum("tni,tn->it", X, np.einsum("tni,it->tn", X, W) - Y) + 2 * W @ Q
    assert np.abs(grad).max() < 1e-10
    assert objective(W) < objective(W + 1e-3)


def test_ridge_per_task_is_the_diagonal_coupling_and_sklearn_ridge() -> None:
    from sklearn.linear_model import Ridge

    X, Y = _data()
    W = ridge_per_task(X, Y, 2.0)
    assert np.allclose(W, coupled_ridge(X, Y, 2.0 * np.eye(3)))
    for t in range(3):
        assert np.allclose(W[:, t], Ridge(alpha=2.0, fit_intercept=False).fit(X[t], Y[t]).coef_)


def test_task_mse_and_shape_errors() -> None:
    X, Y = _data()
    W = np.zeros((4, 3))
    assert np.allclose(task_mse(X, Y, W), (Y ** 2).mean(axis=1))
    assert check_tasks(X, Y) == (3, 8, 4)
    with pytest.raises(ValueError, match="tasks, samples"):
        check_tasks(X, Y[:, :5])
    with pytest.raises(ValueError, match="Q must be"):
        coupled_ridge(X, Y, np.eye(2))
    with pytest.raises(ValueError, match="positive"):
        ridge_per_task(X, Y, 0.0)
