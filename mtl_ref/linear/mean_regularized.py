"""Mean-regularised multi-task learning (Evgeniou & Pontil, "Regularized multi-task learning", KDD 2004).

Each task's weights are a shared part plus a task-specific offset, :math:`w_t = w_0 + v_t`, and the offsets and the
shared part are penalised separately (the paper's Eq. 2, written for the squared loss):

.. math:: \\min_{w_0, v_t} \\sum_t \\lVert y_t - X_t (w_0 + v_t) \\rVert^2
          + \\frac{\\lambda_1}{T} \\sum_t \\lVert v_t \\rVert^2 + \\lambda_2 \\lVert w_0 \\rVert^2 .

Large :math:`\\lambda_1` forces every task onto the common :math:`w_0` ("common mean"); small :math:`\\lambda_1`
lets them go their own ways. Minimising over :math:`w_0` in closed form (:math:`w_0 = \\rho\\,\\sum_t w_t` with
:math:`\\rho = (\\lambda_1/T)/(\\lambda_1 + \\lambda_2)`, the paper's Lemma 2.1) leaves a quadratic penalty
:math:`\\operatorname{tr}(W Q W^\\top)` on :math:`W` alone, with
:math:`Q = \\frac{\\lambda_1}{T} I - \\frac{(\\lambda_1/T)^2}{\\lambda_1 + \\lambda_2} \\mathbf{1}\\mathbf{1}^\\top`,
so the whole problem is one linear system (:func:`~mtl_ref.linear.coupled_ridge.coupled_ridge`).
"""

from __future__ import annotations

import numpy as np

from .coupled_ridge import check_tasks, coupled_ridge


def mean_regularized_penalty(n_tasks: int, lam_offset: float, lam_mean: float) -> np.ndarray:
    """The ``T × T`` matrix ``Q`` of the penalty ``tr(W Q Wᵀ)`` after eliminating ``w_0``.

    Args:
        n_tasks: ``T``.
        lam_offset: ``λ_1``, the strength on the task offsets ``v_t`` (divided by ``T`` as in the paper).
        lam_mean: ``λ_2``, the strength on the shared weights ``w_0``.
    """
    if lam_offset <= 0 or lam_mean <= 0:
        raise ValueError(f"both strengths must be positive, got λ_1 = {lam_offset}, λ_2 = {lam_mean}")
    a = lam_offset / n_tasks
    return a * np.eye(n_tasks) - a * a / (n_tasks * a + lam_mean) * np.ones((n_tasks, n_tasks))


def mean_regularized(X: np.ndarray, Y: np.ndarray, lam_offset: float, lam_mean: float) -> np.ndarray:
    """The task weights ``W = w_0 1ᵀ + V`` (``d × T``) of mean-regularised MTL, in closed form.

    ``X`` is ``(T, n, d)``, ``Y`` is ``(T, n)``. The shared part is ``shared_part(W, λ_1, λ_2)``.
    """
    T, _, _ = check_tasks(X, Y)
    return coupled_ridge(X, Y, mean_regularized_penalty(T, lam_offset, lam_mean))


def shared_part(W: np.ndarray, lam_offset: float, lam_mean: float) -> np.ndarray:
    """The optimal shared weights ``w_0 = (λ_1/T) Σ_t w_t / (λ_1 + λ_2)`` for task weights ``W`` (``d × T``)."""
    T = W.shape[1]
    return (lam_offset / T) * W.sum(axis=1) / (lam_offset + lam_mean)
