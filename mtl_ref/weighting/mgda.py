"""MGDA: the minimum-norm point of the convex hull of the task gradients.

Désidéri, "Multiple-gradient descent algorithm (MGDA) for multiobjective optimization", C. R. Math. 350:313–318
(2012); solver from Sener & Koltun, "Multi-Task Learning as Multi-Objective Optimization", NeurIPS 2018,
arXiv:1810.04650: Algorithm 1 (two tasks, closed form) inside the Frank–Wolfe loop of Algorithm 2.

MGDA solves ``min_{α ∈ Δ} ‖Σ_i α_i g_i‖²`` over the simplex and steps along ``d = Σ_i α_i g_i``. At the exact
minimiser every task improves, ``g_iᵀd ≥ ‖d‖² ≥ 0``, and ``d = 0`` exactly when the point is Pareto-stationary.
Frank–Wolfe starts from ``α = 1/T``; each iteration picks the task ``t`` whose gradient has the smallest inner
product with the current ``d``, and moves ``α`` towards ``e_t`` by the step that minimises the norm on the segment:
a two-task problem, solved in closed form by :func:`two_task_min_norm`.

Conventions (torchjd 0.18.0 ``MGDA``, same iterations): ``epsilon = 1e-3``, ``max_iters = 100``; the loop stops
as soon as a step is below ``epsilon``, so ``α`` is an *approximate* minimiser. Frank–Wolfe converges slowly: with
the defaults the update is typically 1–3% away from the exact minimum-norm point, and ``J d ≥ 0`` can fail by
~1% of ``‖g_i‖‖d‖``; ``epsilon = 1e-6`` with ``max_iters = 20_000`` gets within ~0.1%.

Behaviour under scaling: ``d(sJ) = s d(J)``, but scaling one task's gradient changes the weights. The minimum norm
is at most the smallest gradient norm, ``‖d‖ ≤ min_i ‖g_i‖`` at the exact minimiser, so a task with a small
gradient pulls the update towards itself (MGDA's known bias).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .aggregator import GramianWeighted


def two_task_min_norm(aa: float, ab: float, bb: float) -> float:
    """The ``γ ∈ [0, 1]`` minimising ``‖γ a + (1 − γ) b‖²`` from ``aᵀa``, ``aᵀb`` and ``bᵀb`` (Algorithm 1)."""
    if ab >= aa:
        return 1.0
    if ab >= bb:
        return 0.0
    return (bb - ab) / (aa + bb - 2.0 * ab)


def min_norm_weights(gramian: np.ndarray, epsilon: float, max_iters: int) -> np.ndarray:
    """Frank–Wolfe on ``min_{α ∈ Δ} αᵀGα`` from ``α = 1/T``, until a step is below ``epsilon`` (Algorithm 2)."""
    tasks = len(gramian)
    alpha = np.full(tasks, 1.0 / tasks)
    for _ in range(max_iters):
        g_alpha = gramian @ alpha
        t = int(np.argmin(g_alpha))
        gamma = two_task_min_norm(gramian[t, t], g_alpha[t], alpha @ g_alpha)
        alpha = (1.0 - gamma) * alpha
        alpha[t] += gamma
        if gamma < epsilon:
            break
    return alpha


class MGDA(GramianWeighted):
    """Multiple-gradient descent: ``d = Σ_i α_i g_i`` with ``α`` the (approximate) minimum-norm simplex weights.

    Args:
        epsilon: stop when the Frank–Wolfe step ``γ`` falls below this.
        max_iters: at most this many Frank–Wolfe iterations.
    """

    def __init__(self, epsilon: float = 1e-3, max_iters: int = 100) -> None:
        super().__init__()
        if not epsilon > 0:
            raise ValueError(f"epsilon must be positive, got {epsilon}")
        if max_iters < 1:
            raise ValueError(f"max_iters must be at least 1, got {max_iters}")
        self.epsilon = epsilon
        self.max_iters = max_iters

    def weights(self, gramian: Tensor) -> Tensor:
        alpha = min_norm_weights(gramian.cpu().numpy(), self.epsilon, self.max_iters)
        return torch.from_numpy(alpha).to(gramian.device)

    def extra_repr(self) -> str:
        return f"epsilon={self.epsilon}, max_iters={self.max_iters}"
