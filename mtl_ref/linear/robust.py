"""Robust multi-task learning: a low-rank part shared by the related tasks plus an outlier-task term (Chen, Zhou &
Ye, "Integrating low-rank and group-sparse structures for robust multi-task learning", KDD 2011, Eq. 2).

The weights split as :math:`W = L + S`: :math:`L` is kept low-rank by the trace norm (the related tasks share a few
directions, as in :mod:`mtl_ref.linear.feature_learning`), and :math:`S` is column-sparse by the sum of its columns'
norms, so that a task the others cannot explain gets a column of its own in :math:`S` instead of bending :math:`L`:

.. math:: \\min_{L, S} \\sum_t \\lVert y_t - X_t (l_t + s_t) \\rVert^2 + \\alpha \\lVert L \\rVert_*
          + \\beta \\sum_t \\lVert s_t \\rVert_2 .

Solved by accelerated proximal gradient (FISTA with adaptive restart): the proximal step of the trace norm
soft-thresholds the singular values of :math:`L`, that of the column norms shrinks each column of :math:`S`.
"""

from __future__ import annotations

import numpy as np

from .coupled_ridge import check_tasks


def prox_trace_norm(L: np.ndarray, threshold: float) -> np.ndarray:
    """Singular-value soft-thresholding: ``U max(Σ − threshold, 0) Vᵀ``."""
    U, s, Vt = np.linalg.svd(L, full_matrices=False)
    return (U * np.maximum(s - threshold, 0.0)) @ Vt


def prox_columns(S: np.ndarray, threshold: float) -> np.ndarray:
    """Column-wise group soft-thresholding: each column ``s_t`` becomes ``max(0, 1 − threshold/||s_t||) s_t``."""
    norms = np.linalg.norm(S, axis=0, keepdims=True)
    return S * np.maximum(0.0, 1.0 - threshold / np.maximum(norms, 1e-300))


def robust_objective(X: np.ndarray, Y: np.ndarray, L: np.ndarray, S: np.ndarray, alpha: float, beta: float) -> float:
    """``Σ_t ||y_t − X_t (l_t + s_t)||² + α ||L||_* + β Σ_t ||s_t||``."""
    check_tasks(X, Y)
    fit = ((np.einsum("tni,it->tn", X, L + S) - Y) ** 2).sum()
    return float(fit + alpha * np.linalg.svd(L, compute_uv=False).sum() + beta * np.linalg.norm(S, axis=0).sum())


def robust_mtl(X: np.ndarray, Y: np.ndarray, alpha: float, beta: float, max_iter: int = 5000,
               tol: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
    """The low-rank part ``L`` and the outlier-task part ``S`` (both ``d × T``); the task weights are ``L + S``.

    Args:
        X: inputs, ``(T, n, d)``.
        Y: targets, ``(T, n)``.
        alpha: the trace-norm strength on ``L``.
        beta: the column-norm strength on ``S``; a task with ``s_t ≠ 0`` is one the shared part does not explain.
        tol: stop when the largest change of ``L`` and ``S`` is below ``tol`` times their largest entry.
    """
    T, _, d = check_tasks(X, Y)
    if alpha <= 0 or beta <= 0:
        raise ValueError(f"alpha and beta must be positive, got alpha = {alpha}, beta = {beta}")
    gram = np.einsum("tni,tnj->tij", X, X)
    rhs = np.einsum("tni,tn->ti", X, Y)
    # The gradient of the fit is the same for L and S; (L, S) -> L + S has norm √2, hence the factor 2.
    step = 1.0 / (2 * 2 * np.linalg.eigvalsh(gram).max())
    L, S = np.zeros((d, T)), np.zeros((d, T))
    ZL, ZS, t = L.copy(), S.copy(), 1.0
    for _ in range(max_iter):
        grad = 2 * (np.einsum("tij,jt->ti", gram, ZL + ZS) - rhs).T
        L_new = prox_trace_norm(ZL - step * grad, step * alpha)
        S_new = prox_columns(ZS - step * grad, step * beta)
        if np.vdot(ZL - L_new, L_new - L) + np.vdot(ZS - S_new, S_new - S) > 0:   # restart the momentum
            t = 1.0
        t_new = (1 + np.sqrt(1 + 4 * t * t)) / 2
        ZL = L_new + (t - 1) / t_new * (L_new - L)
        ZS = S_new + (t - 1) / t_new * (S_new - S)
        change = max(np.abs(L_new - L).max(), np.abs(S_new - S).max())
        L, S, t = L_new, S_new, t_new
        if change <= tol * max(1.0, np.abs(L).max(), np.abs(S).max()):
            break
    return L, S
