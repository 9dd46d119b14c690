"""Least squares on several tasks coupled by a quadratic penalty on the task weights.

Many linear multi-task methods penalise the weight matrix :math:`W = [w_1, \\dots, w_T] \\in \\mathbb{R}^{d\\times T}`
with a quadratic form across tasks, :math:`\\operatorname{tr}(W Q W^\\top)` for a positive semi-definite
:math:`T\\times T` matrix :math:`Q` (Evgeniou, Micchelli & Pontil, "Learning multiple tasks with kernel methods",
JMLR 2005, Eq. 9). :math:`Q = \\lambda I` gives independent ridge regressions, mean-regularised MTL
(:mod:`mtl_ref.linear.mean_regularized`) and clustered MTL (:mod:`mtl_ref.linear.clustered`) choose other
:math:`Q`. The minimiser of

.. math:: \\sum_t \\lVert y_t - X_t w_t \\rVert^2 + \\operatorname{tr}(W Q W^\\top)

solves one linear system of size :math:`dT`: :math:`(\\operatorname{blockdiag}_t(X_t^\\top X_t) + Q\\otimes I_d)
\\operatorname{vec} W = \\operatorname{vec}(X_t^\\top y_t)_t`.

Task data come as arrays with a leading task dimension: ``X`` of shape ``(T, n, d)`` and ``Y`` of shape ``(T, n)``.
"""

from __future__ import annotations

import numpy as np


def check_tasks(X: np.ndarray, Y: np.ndarray) -> tuple[int, int, int]:
    """Check that ``X`` is ``(T, n, d)`` and ``Y`` is ``(T, n)``; return ``(T, n, d)``."""
    X, Y = np.asarray(X), np.asarray(Y)
    if X.ndim != 3:
        raise ValueError(f"X must have shape (tasks, samples, features), got {X.shape}")
    if Y.shape != X.shape[:2]:
        raise ValueError(f"Y must have shape (tasks, samples) = {X.shape[:2]}, got {Y.shape}")
    return X.shape  # type: ignore[return-value]


def coupled_ridge(X: np.ndarray, Y: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """The weights ``W`` (``d × T``) minimising ``Σ_t ||y_t − X_t w_t||² + tr(W Q Wᵀ)``.

    Args:
        X: inputs, ``(T, n, d)``.
        Y: targets, ``(T, n)``.
        Q: the task coupling, a symmetric positive semi-definite ``(T, T)`` matrix (positive definite, or the data
            must pin down the remaining directions).
    """
    T, _, d = check_tasks(X, Y)
    Q = np.asarray(Q, dtype=float)
    if Q.shape != (T, T):
        raise ValueError(f"Q must be ({T}, {T}) for {T} tasks, got {Q.shape}")
    if not np.allclose(Q, Q.T):
        raise ValueError("Q must be symmetric")
    gram = np.einsum("tni,tnj->tij", X, X)                      # (T, d, d)
    A = np.kron(Q, np.eye(d))                                    # task-major ordering: index t*d + i
    for_blocks = A.reshape(T, d, T, d)
    for_blocks[np.arange(T), :, np.arange(T), :] += gram
    b = np.einsum("tni,tn->ti", X, Y).ravel()
    return np.linalg.solve(A, b).reshape(T, d).T


def ridge_per_task(X: np.ndarray, Y: np.ndarray, lam: float) -> np.ndarray:
    """Independent ridge regressions, ``min ||y_t − X_t w_t||² + λ||w_t||²`` for each task (``Q = λI``)."""
    T, _, d = check_tasks(X, Y)
    if lam <= 0:
        raise ValueError(f"the ridge strength must be positive, got {lam}")
    gram = np.einsum("tni,tnj->tij", X, X) + lam * np.eye(d)
    return np.linalg.solve(gram, np.einsum("tni,tn->ti", X, Y)[..., None])[..., 0].T


def task_mse(X: np.ndarray, Y: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Each task's mean squared error of ``W`` (``d × T``) on ``(X, Y)``: an array of length ``T``."""
    check_tasks(X, Y)
    return ((np.einsum("tni,it->tn", X, W) - Y) ** 2).mean(axis=1)
