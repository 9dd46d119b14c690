"""Multi-task Lasso and per-task Lasso against scikit-learn."""

import numpy as np
import pytest
from sklearn.linear_model import Lasso, MultiTaskLasso

from mtl_ref.linear.group_lasso import (alpha_max, lasso_per_task, multi_task_lasso, prox_l1, prox_l21,
                                        regularization_path, support_scores)


def _problem(seed=0, n=100, p=30, T=8):
    r = np.random.default_rng(seed)
    X = r.normal(size=(n, p))
    W = np.zeros((p, T))
    W[:5] = r.normal(size=(5, T))
    return X, X @ W + r.normal(size=(n, T))


@pytest.mark.parametrize("alpha", [0.05, 0.3, 1.0])
def test_agrees_with_sklearn_multitask_lasso(alpha) -> None:
    X, Y = _problem()
    ours = multi_task_lasso(X, Y, alpha, tol=1e-13, max_iter=100_000)
    ref = MultiTaskLasso(alpha=alpha, fit_intercept=False, tol=1e-14, max_iter=200_000).fit(X, Y).coef_.T
    assert np.abs(ours - ref).max() < 1e-6


def test_per_task_lasso_agrees_with_sklearn_lasso() -> None:
    X, Y = _problem(1)
    ours = lasso_per_task(X, Y, 0.2, tol=1e-13, max_iter=100_000)
    for t in range(Y.shape[1]):
        ref = Lasso(alpha=0.2, fit_intercept=False, tol=1e-14, max_iter=200_000).fit(X, Y[:, t]).coef_
        assert np.abs(ours[:, t] - ref).max() < 1e-6


def test_alpha_max_zeroes_the_solution_and_rows_are_shared() -> None:
    X, Y = _problem(2)
    a = alpha_max(X, Y)
    assert np.abs(multi_task_lasso(X, Y, a * 1.0001)).max() == 0
    W = multi_task_lasso(X, Y, 0.5 * a)
    rows = np.abs(W) > 0
    assert (rows.all(axis=1) | ~rows.any(axis=1)).all()   # a feature is used by every task or by none
    assert rows.any()


def test_path_matches_cold_starts_and_is_ordered_as_given() -> None:
    X, Y = _problem(3)
    alphas = [0.1, 1.0, 0.3]
    path = regularization_path(X, Y, alphas)
    for a, W in zip(alphas, path):
        assert np.abs(W - multi_task_lasso(X, Y, a)).max() < 1e-6
    per_task = regularization_path(X, Y, alphas, per_task=True)
    assert np.abs(per_task[1] - lasso_per_task(X, Y, 1.0)).max() < 1e-6


def test_proximal_operators() -> None:
    W = np.array([[3.0, 4.0], [0.3, 0.4]])
    assert np.allclose(prox_l21(W, 1.0), [[2.4, 3.2], [0.0, 0.0]])
    assert np.allclose(prox_l1(W, 1.0), [[2.0, 3.0], [0.0, 0.0]])


def test_support_scores() -> None:
    W = np.zeros((6, 2))
    W[[0, 1, 5]] = 1.0
    precision, recall = support_scores(W, [0, 1, 2])
    assert precision == pytest.approx(4 / 6) and recall == pytest.approx(4 / 6)
    assert support_scores(np.zeros((6, 2)), [0]) == (1.0, 0.0)


def test_shape_errors() -> None:
    with pytest.raises(ValueError, match="same n"):
        multi_task_lasso(np.zeros((5, 2)), np.zeros((4, 3)), 0.1)
    with pytest.raises(ValueError, match="non-negative"):
        multi_task_lasso(np.zeros((5, 2)), np.zeros((5, 3)), -1.0)
