"""Nash-MTL: the tasks bargain over the update, and the Nash bargaining solution decides.

Navon, Shamsian, Achituve, Maron, Kawaguchi, Chechik, Fetaya, "Multi-Task Learning as a Bargaining Game",
ICML 2022, arXiv:2202.01017, Algorithm 1.

The Nash bargaining solution maximises ``Σ_i log(g_iᵀd)`` over a ball of updates. It is ``d = Σ_i α_i g_i`` with
``α > 0`` solving ``α_i (G α)_i = 1`` for every task: each task's rate of improvement is ``g_iᵀd = 1/α_i``. The
solution does not depend on the scale of any task: multiplying ``g_i`` by ``c > 0`` divides ``α_i`` by ``c`` and
leaves ``d`` unchanged. At the solution ``‖d‖² = Σ_i α_i (G α)_i = T``.

Solver: ``α_i (G α)_i = 1`` says ``∇h(α) = G α − 1/α = 0`` for the strictly convex
``h(α) = ½ αᵀGα − Σ_i log α_i`` on ``α > 0``, which is self-concordant; damped Newton steps
``α ← α − Δ/(1 + λ)`` (``Δ`` the Newton step, ``λ² = ∇hᵀΔ``) stay positive and converge from any start,
quadratically at the end, so a few steps reach float64 precision. The paper, and torchjd, instead solve a sequence
of convex programs with cvxpy (a concave–convex procedure, at most ``optim_niter`` of them, warm-started from the
previous step's ``α``, stopping once ``α`` moves by less than 1e-6); when that converges the two updates agree to
about 1e-6. But a program can come out unbounded or fail (for ~1.5% of random conflicting Jacobians with 2–5 tasks,
mostly ones whose gradient sum conflicts with a task); torchjd then keeps its starting weights, all ones on a
first call, and returns the clipped sum of the gradients, which may conflict. Newton has no such failure.

``h`` has a minimiser only when no convex combination of the gradients is zero (the point is not
Pareto-stationary): no update improves every task otherwise. Tasks with a zero gradient are left out (weight 0),
and a ridge ``RIDGE·I`` is added to the cosine matrix of the others so that there is always a minimiser: a
Pareto-stationary Jacobian then gets an update close to zero, and the weights move by ~1e-8 relative.

Conventions (torchjd 0.18.0 ``NashMTL``): the weights are those of the original ``G`` (torchjd solves with ``G``
normalised by its Frobenius norm, this solver with unit gradients; the solution is the same); ``max_norm = 1.0``
rescales the update to norm ``max_norm`` when it is longer (``0`` disables it): since ``‖d‖ = √T`` at the
solution, the update then always has norm 1;
``update_weights_every = 1`` (with ``k > 1`` the weights are solved on every ``k``-th call and reused in between,
clipped with the current ``G``); ``optim_niter = 20`` bounds the solver's iterations (here Newton steps).
Stateful: :meth:`reset` forgets the step count and the reused weights. The number of tasks is taken from the
Jacobian; torchjd asks for it up front.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .aggregator import GramianWeighted

#: Added to the diagonal of the cosine matrix of the gradients, so that a solution always exists.
RIDGE = 1e-8
#: Newton stops after the step taken at a squared Newton decrement ``λ²`` below this: that step leaves ``λ ≤ 2λ²``,
#: at the rounding floor.
DECREMENT_TOL = 1e-16


def bargaining_weights(gramian: np.ndarray, max_iters: int) -> np.ndarray:
    """``α`` with ``α_i (G α)_i = 1``, by damped Newton on ``½ αᵀGα − Σ_i log α_i`` (tasks with a zero gradient: 0).

    The problem is solved for the unit gradients, whose Gramian is the cosine matrix ``C = D⁻¹GD⁻¹``
    (``D = diag(‖g_i‖)``), plus the ridge; then ``α = D⁻¹β``. The solution is the same, but the solve no longer
    depends on how differently the tasks are scaled.
    """
    norms = np.sqrt(np.clip(np.diagonal(gramian), 0.0, None))
    alive = norms > 0
    alpha = np.zeros(len(gramian))
    if not alive.any():
        return alpha
    d = norms[alive]
    cosines = gramian[np.ix_(alive, alive)] / np.outer(d, d) + RIDGE * np.eye(len(d))
    beta = np.full(len(d), np.sqrt(len(d) / cosines.sum()))  # the best multiple of 1: exact for orthogonal or two tasks
    for _ in range(max_iters):
        gradient = cosines @ beta - 1.0 / beta
        step = np.linalg.solve(cosines + np.diag(1.0 / beta**2), gradient)
        decrement2 = float(gradient @ step)
        beta = beta - step / (1.0 + np.sqrt(max(decrement2, 0.0)))
        if decrement2 < DECREMENT_TOL:
            break
    alpha[alive] = beta / d
    return alpha


class NashMTL(GramianWeighted):
    """Nash bargaining weights ``α_i (G α)_i = 1``, with the update clipped to ``max_norm``.

    Args:
        max_norm: largest norm of the update (``0`` for no clipping).
        update_weights_every: solve for the weights on every this many calls, reuse them in between.
        optim_niter: most Newton steps per solve.
    """

    def __init__(self, max_norm: float = 1.0, update_weights_every: int = 1, optim_niter: int = 20) -> None:
        super().__init__()
        if not max_norm >= 0:
            raise ValueError(f"max_norm must be non-negative, got {max_norm}")
        if update_weights_every < 1 or optim_niter < 1:
            raise ValueError(f"update_weights_every and optim_niter must be at least 1, got {update_weights_every} "
                             f"and {optim_niter}")
        self.max_norm = max_norm
        self.update_weights_every = update_weights_every
        self.optim_niter = optim_niter
        self.reset()

    def reset(self) -> None:
        self.step = 0
        self.alpha: np.ndarray | None = None

    def weights(self, gramian: Tensor) -> Tensor:
        g = gramian.cpu().numpy()
        if self.alpha is None or self.step % self.update_weights_every == 0:
            self.alpha = bargaining_weights(g, self.optim_niter)
        elif len(self.alpha) != len(g):
            raise ValueError(f"weights kept for {len(self.alpha)} tasks cannot weigh a Jacobian of {len(g)} tasks; "
                             "call reset() when the tasks change")
        self.step += 1
        alpha = self.alpha
        norm = float(np.sqrt(max(alpha @ g @ alpha, 0.0)))
        if 0 < self.max_norm < norm:
            alpha = alpha * (self.max_norm / norm)
        return torch.from_numpy(alpha).to(gramian.device)

    def extra_repr(self) -> str:
        return (f"max_norm={self.max_norm}, update_weights_every={self.update_weights_every}, "
                f"optim_niter={self.optim_niter}")
