"""Clustered multi-task learning, the convex relaxation of Jacob, Bach & Vert ("Clustered multi-task learning: a
convex formulation", NIPS 2008, arXiv:0809.2085).

With ``r`` clusters of tasks and weights :math:`W = [w_1,\\dots,w_T]`, the penalty splits :math:`W` into its mean
over tasks, the cluster means' spread around it and each task's spread around its cluster mean (the paper's Eq. 2–4):
:math:`\\varepsilon_M \\operatorname{tr}(WUW^\\top) + \\varepsilon_B \\operatorname{tr}(W(M-U)W^\\top)
+ \\varepsilon_W \\operatorname{tr}(W(I-M)W^\\top)` with :math:`U = \\mathbf{1}\\mathbf{1}^\\top/T` and :math:`M`
the projection onto the cluster indicators. Relaxing the unknown partition gives the convex penalty (Eq. 7)

.. math:: \\Omega(W) = \\varepsilon_M \\operatorname{tr}(WUW^\\top)
          + \\min_{\\Sigma \\in \\mathcal{S}} \\operatorname{tr}(W\\Pi\\,\\Sigma^{-1}\\Pi W^\\top),
          \\qquad \\mathcal{S} = \\{\\alpha I \\preceq \\Sigma \\preceq \\beta I,\\
          \\operatorname{tr}\\Sigma = \\gamma\\},

with :math:`\\Pi = I - U`, :math:`\\alpha = 1/\\varepsilon_W`, :math:`\\beta = 1/\\varepsilon_B` and
:math:`\\gamma = (T - r + 1)/\\varepsilon_W + (r - 1)/\\varepsilon_B`. :math:`\\Sigma` is a learned task
similarity. The problem is jointly convex in :math:`(W, \\Sigma)`; we minimise it by alternating exact steps:
for fixed :math:`\\Sigma` the loss plus :math:`\\operatorname{tr}(WQW^\\top)` with
:math:`Q = \\varepsilon_M U + \\Pi\\Sigma^{-1}\\Pi` is a coupled ridge regression; for fixed :math:`W` the best
:math:`\\Sigma` shares the eigenvectors of :math:`\\Pi W^\\top W \\Pi` (:func:`optimal_sigma`).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from .coupled_ridge import check_tasks, coupled_ridge


def constraint_set(n_tasks: int, n_clusters: int, eps_between: float, eps_within: float) -> tuple[float, float, float]:
    """``(α, β, γ)`` of the set ``S`` for ``r`` clusters: ``1/ε_W``, ``1/ε_B`` and ``(T−r+1)/ε_W + (r−1)/ε_B``."""
    if not 1 <= n_clusters <= n_tasks:
        raise ValueError(f"the number of clusters must be in 1..{n_tasks}, got {n_clusters}")
    if not 0 < eps_between <= eps_within:
        raise ValueError(f"need 0 < ε_B ≤ ε_W (tasks are closer within clusters), got ε_B = {eps_between}, "
                         f"ε_W = {eps_within}")
    return (1 / eps_within, 1 / eps_between,
            (n_tasks - n_clusters + 1) / eps_within + (n_clusters - 1) / eps_between)


def optimal_sigma(W: np.ndarray, alpha: float, beta: float, gamma: float) -> np.ndarray:
    """``argmin_{Σ ∈ S} tr(ΠWᵀWΠ Σ⁻¹)``: eigenvalues ``σ_i = clip(√s_i / ν, α, β)`` on the eigenvectors of
    ``ΠWᵀWΠ`` (eigenvalues ``s_i``), with ``ν`` found by root finding so that ``Σσ_i = γ`` (the KKT conditions).
    """
    T = W.shape[1]
    if not alpha * T <= gamma <= beta * T:
        raise ValueError(f"the set S is empty: need αT ≤ γ ≤ βT, got α = {alpha}, β = {beta}, γ = {gamma}, T = {T}")
    Pi = np.eye(T) - 1.0 / T
    s, V = np.linalg.eigh(Pi @ W.T @ W @ Pi)
    root = np.sqrt(np.clip(s, 0.0, None))

    def total(log_nu: float) -> float:
        return float(np.clip(root * np.exp(-log_nu), alpha, beta).sum() - gamma)

    if root.max() == 0 or total(50.0) >= 0 or total(-50.0) <= 0:
        sigma = np.full(T, gamma / T)        # W has no spread between tasks: any feasible Σ is optimal
    else:
        sigma = np.clip(root * np.exp(-brentq(total, -50.0, 50.0, xtol=1e-14)), alpha, beta)
    return (V * sigma) @ V.T


def clustered_penalty(sigma: np.ndarray, eps_mean: float) -> np.ndarray:
    """``Q = ε_M U + Π Σ⁻¹ Π``: the coupling matrix of the W-step for a fixed task similarity ``Σ``."""
    T = sigma.shape[0]
    Pi = np.eye(T) - 1.0 / T
    return eps_mean * np.ones((T, T)) / T + Pi @ np.linalg.solve(sigma, Pi)


def clustered_objective(X: np.ndarray, Y: np.ndarray, W: np.ndarray, n_clusters: int, eps_mean: float,
                        eps_between: float, eps_within: float) -> float:
    """``Σ_t ||y_t − X_t w_t||² + Ω(W)`` with the relaxed clustered penalty Ω (minimised over Σ)."""
    T, _, _ = check_tasks(X, Y)
    a, b, g = constraint_set(T, n_clusters, eps_between, eps_within)
    Q = clustered_penalty(optimal_sigma(W, a, b, g), eps_mean)
    fit = ((np.einsum("tni,it->tn", X, W) - Y) ** 2).sum()
    return float(fit + np.trace(W @ Q @ W.T))


def clustered_mtl(X: np.ndarray, Y: np.ndarray, n_clusters: int, eps_mean: float, eps_between: float,
                  eps_within: float, max_iter: int = 200, tol: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
    """Clustered MTL by alternating minimisation; returns the weights ``W`` (``d × T``) and the similarity ``Σ``.

    Starts from ``Σ = (γ/T) I``. Stops when the objective's relative decrease falls below ``tol``.

    Args:
        X: inputs, ``(T, n, d)``.
        Y: targets, ``(T, n)``.
        n_clusters: the number ``r`` of clusters the relaxation assumes.
        eps_mean: ``ε_M``, the strength on the mean weight vector.
        eps_between: ``ε_B``, on the spread of the cluster means.
        eps_within: ``ε_W ≥ ε_B``, on the spread within clusters.
    """
    T, _, _ = check_tasks(X, Y)
    if eps_mean <= 0:
        raise ValueError(f"ε_M must be positive, got {eps_mean}")
    a, b, g = constraint_set(T, n_clusters, eps_between, eps_within)
    sigma = np.eye(T) * g / T
    previous = np.inf
    for _ in range(max_iter):
        W = coupled_ridge(X, Y, clustered_penalty(sigma, eps_mean))
        sigma = optimal_sigma(W, a, b, g)
        value = float(((np.einsum("tni,it->tn", X, W) - Y) ** 2).sum()
                      + np.trace(W @ clustered_penalty(sigma, eps_mean) @ W.T))
        if previous - value <= tol * abs(value):
            break
        previous = value
    return W, sigma


def task_clusters(sigma: np.ndarray, n_clusters: int, seed: int = 0) -> np.ndarray:
    """Cluster labels of the tasks read off a learned similarity ``Σ``: k-means (scikit-learn) on the rows of
    ``Σ``'s top ``r − 1`` eigenvectors scaled by their eigenvalues above the smallest (spectral embedding)."""
    from sklearn.cluster import KMeans

    vals, vecs = np.linalg.eigh(sigma)
    top = vecs[:, ::-1][:, : max(n_clusters - 1, 1)] * (vals[::-1][: max(n_clusters - 1, 1)] - vals.min())
    return KMeans(n_clusters, n_init=10, random_state=seed).fit_predict(top)
