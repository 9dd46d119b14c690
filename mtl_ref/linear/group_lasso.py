"""The multi-task Lasso: joint feature selection with the ℓ2,1 norm (Obozinski, Taskar & Jordan, "Joint covariate
selection and joint subspace selection for multiple classification problems", Statistics and Computing 2010).

All tasks share one design ``X`` (``n × p``) and have targets ``Y`` (``n × T``). The weights ``W`` (``p × T``) solve

.. math:: \\min_W \\frac{1}{2n} \\lVert Y - X W \\rVert_F^2 + \\alpha \\sum_j \\lVert W_{j,:} \\rVert_2 ,

the objective of scikit-learn's ``MultiTaskLasso``. The penalty is a Lasso on the norms of the rows: a feature is
used by every task or by none. Replacing the row norms by absolute values, :math:`\\alpha\\sum_{j,t}|W_{jt}|`,
gives ``T`` independent Lassos (:func:`lasso_per_task`).

Both are solved by accelerated proximal gradient (FISTA, Beck & Teboulle 2009, with the adaptive restart of
O'Donoghue & Candès 2015) with step ``1/L``,
``L = σ_max(X)²/n``; the proximal step of the ℓ2,1 norm shrinks each row's norm by ``α/L``
(:func:`prox_l21`), that of the ℓ1 norm each entry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def prox_l21(W: np.ndarray, threshold: float) -> np.ndarray:
    """Row-wise group soft-thresholding: each row ``w_j`` becomes ``max(0, 1 − threshold/||w_j||) w_j``."""
    norms = np.linalg.norm(W, axis=1, keepdims=True)
    return W * np.maximum(0.0, 1.0 - threshold / np.maximum(norms, 1e-300))


def prox_l1(W: np.ndarray, threshold: float) -> np.ndarray:
    """Entry-wise soft-thresholding: ``sign(w) max(0, |w| − threshold)``."""
    return np.sign(W) * np.maximum(0.0, np.abs(W) - threshold)


def _check(X: np.ndarray, Y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0]:
        raise ValueError(f"X must be (n, p) and Y (n, T) with the same n, got {X.shape} and {Y.shape}")
    if alpha < 0:
        raise ValueError(f"alpha must be non-negative, got {alpha}")
    return X, Y


def _fista(X: np.ndarray, Y: np.ndarray, alpha: float, prox: Callable[[np.ndarray, float], np.ndarray],
           W0: np.ndarray | None, max_iter: int, tol: float) -> np.ndarray:
    n = X.shape[0]
    L = np.linalg.norm(X, 2) ** 2 / n
    XtX, XtY = X.T @ X / n, X.T @ Y / n
    W = np.zeros((X.shape[1], Y.shape[1])) if W0 is None else np.array(W0, dtype=float)
    Z, t = W.copy(), 1.0
    for _ in range(max_iter):
        W_new = prox(Z - (XtX @ Z - XtY) / L, alpha / L)
        if np.vdot(Z - W_new, W_new - W) > 0:   # momentum points uphill: restart it
            t = 1.0
        t_new = (1 + np.sqrt(1 + 4 * t * t)) / 2
        Z = W_new + (t - 1) / t_new * (W_new - W)
        change = np.abs(W_new - W).max()
        W, t = W_new, t_new
        if change <= tol * max(1.0, np.abs(W).max()):
            break
    return W


def multi_task_lasso(X: np.ndarray, Y: np.ndarray, alpha: float, W0: np.ndarray | None = None,
                     max_iter: int = 20_000, tol: float = 1e-10) -> np.ndarray:
    """The multi-task Lasso's weights ``W`` (``p × T``), by FISTA; ``W0`` warm-starts it (for a path)."""
    X, Y = _check(X, Y, alpha)
    return _fista(X, Y, alpha, prox_l21, W0, max_iter, tol)


def lasso_per_task(X: np.ndarray, Y: np.ndarray, alpha: float, W0: np.ndarray | None = None,
                   max_iter: int = 20_000, tol: float = 1e-10) -> np.ndarray:
    """``T`` independent Lassos ``min (1/2n)||y_t − X w_t||² + α||w_t||_1``, solved together; ``W`` is ``p × T``."""
    X, Y = _check(X, Y, alpha)
    return _fista(X, Y, alpha, prox_l1, W0, max_iter, tol)


def alpha_max(X: np.ndarray, Y: np.ndarray) -> float:
    """The smallest ``α`` at which the multi-task Lasso's solution is all zero: ``max_j ||X_jᵀ Y||₂ / n``."""
    X, Y = _check(X, Y, 0.0)
    return float(np.linalg.norm(X.T @ Y, axis=1).max() / X.shape[0])


def regularization_path(X: np.ndarray, Y: np.ndarray, alphas: Sequence[float], *, per_task: bool = False,
                        max_iter: int = 20_000, tol: float = 1e-10) -> np.ndarray:
    """Weights along a path of ``alphas`` (solved from the largest down, each warm-started by the previous).

    Returns an array ``(len(alphas), p, T)`` in the order of ``alphas``. ``per_task=True`` solves the per-task
    Lassos instead of the multi-task Lasso.
    """
    solve = lasso_per_task if per_task else multi_task_lasso
    order = np.argsort(alphas)[::-1]
    out = np.zeros((len(alphas), np.shape(X)[1], np.shape(Y)[1]))
    W = None
    for i in order:
        W = solve(X, Y, float(alphas[i]), W0=W, max_iter=max_iter, tol=tol)
        out[i] = W
    return out


def support_scores(W: np.ndarray, true_support: Sequence[int], tol: float = 0.0) -> tuple[float, float]:
    """Precision and recall of the selected features, pooled over tasks.

    A (feature, task) pair is selected when ``|W[j, t]| > tol``; the truth is that features ``true_support`` are
    used by every task. Precision with nothing selected is taken as 1 (nothing wrong was selected).
    """
    W = np.asarray(W)
    truth = np.zeros(W.shape, dtype=bool)
    truth[list(true_support)] = True
    selected = np.abs(W) > tol
    hits = (selected & truth).sum()
    precision = float(hits / selected.sum()) if selected.any() else 1.0
    return precision, float(hits / truth.sum())
