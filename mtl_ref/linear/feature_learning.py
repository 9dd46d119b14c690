"""Convex multi-task feature learning (Argyriou, Evgeniou & Pontil, "Convex multi-task feature learning", Machine
Learning 73:243–272, 2008).

Tasks that use a few common *directions* of the input space (a shared low-dimensional subspace) are learned by

.. math:: \\min_{W,\\, D \\succeq 0,\\, \\operatorname{tr} D \\le 1}
          \\sum_t \\lVert y_t - X_t w_t \\rVert^2 + \\gamma \\sum_t w_t^\\top D^{-1} w_t ,

(the paper's problem (3.4) for the squared loss). For fixed ``D`` the tasks decouple into generalised ridge
regressions; for fixed ``W`` the best ``D`` is :math:`(WW^\\top)^{1/2} / \\operatorname{tr}(WW^\\top)^{1/2}`
(Eq. 3.7), and the value of the problem is the squared trace norm, :math:`\\min_D \\sum_t w_t^\\top D^{-1} w_t =
\\lVert W\\rVert_*^2` (Theorem 3.1). The alternating algorithm (Algorithm 1) adds :math:`\\varepsilon I` to
:math:`WW^\\top` to keep ``D`` invertible; as ``ε → 0`` it solves the trace-norm problem
:func:`trace_norm_objective`.
"""

from __future__ import annotations

import numpy as np

from .coupled_ridge import check_tasks


def trace_norm_objective(X: np.ndarray, Y: np.ndarray, W: np.ndarray, gamma: float) -> float:
    """``Σ_t ||y_t − X_t w_t||² + γ ||W||_*²`` for task data ``X`` ``(T, n, d)``, ``Y`` ``(T, n)``, ``W`` ``d × T``."""
    check_tasks(X, Y)
    residual = np.einsum("tni,it->tn", X, W) - Y
    return float((residual ** 2).sum() + gamma * np.linalg.svd(W, compute_uv=False).sum() ** 2)


def optimal_d(W: np.ndarray, eps: float = 0.0) -> np.ndarray:
    """The paper's D-step (Eq. 3.7 with its ε-perturbation): ``(WWᵀ + εI)^{1/2} / tr(WWᵀ + εI)^{1/2}``."""
    return _d_and_inverse(W, eps)[0]


def _d_and_inverse(W: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`optimal_d` and its inverse from one eigendecomposition (the inverse needs ``eps > 0`` or full rank)."""
    vals, vecs = np.linalg.eigh(W @ W.T + eps * np.eye(W.shape[0]))
    root = np.sqrt(np.clip(vals, 0.0, None))
    if root.sum() <= 0:
        raise ValueError("W is zero and eps is 0: D is undefined; use eps > 0")
    with np.errstate(divide="ignore"):
        inverse = (vecs * (root.sum() / root)) @ vecs.T
    return (vecs * (root / root.sum())) @ vecs.T, inverse


def feature_learning(X: np.ndarray, Y: np.ndarray, gamma: float, eps: float = 1e-8, max_iter: int = 2000,
                     tol: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """Argyriou et al.'s alternating algorithm; returns ``(W, D)`` with ``W`` of shape ``d × T``.

    Starts from ``D = I/d``. The W-step solves each task's ``(X_tᵀX_t + γ D⁻¹) w_t = X_tᵀ y_t`` (batched over tasks);
    the D-step is :func:`optimal_d`. The perturbation is lowered from 1 to ``eps`` by factors of 10, each stage
    warm-started from the last (the paper's Section 4.2 lets ε go to zero the same way); a stage ends after
    ``max_iter`` steps or when the relative change of the trace-norm objective falls below ``tol``. Small
    singular values converge slowly, so the objective comes within about ``√eps`` of the trace-norm optimum.

    Args:
        X: inputs, ``(T, n, d)``.
        Y: targets, ``(T, n)``.
        gamma: the strength ``γ`` of the squared trace norm.
        eps: the final perturbation ``ε`` that keeps ``D`` invertible.
    """
    T, _, d = check_tasks(X, Y)
    if gamma <= 0 or eps <= 0:
        raise ValueError(f"gamma and eps must be positive, got gamma = {gamma}, eps = {eps}")
    gram = np.einsum("tni,tnj->tij", X, X)
    rhs = np.einsum("tni,tn->ti", X, Y)[..., None]
    D, D_inv = np.eye(d) / d, d * np.eye(d)
    stages = 10.0 ** -np.arange(0, int(np.ceil(-np.log10(eps))) + 1)
    for stage_eps in np.maximum(stages, eps):
        previous = np.inf
        for _ in range(max_iter):
            W = np.linalg.solve(gram + gamma * D_inv, rhs)[..., 0].T
            D, D_inv = _d_and_inverse(W, float(stage_eps))
            value = trace_norm_objective(X, Y, W, gamma)
            if previous - value <= tol * abs(value):
                break
            previous = value
    return W, D
