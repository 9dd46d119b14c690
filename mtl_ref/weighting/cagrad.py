"""CAGrad: the update near the mean gradient that most improves the worst-off task.

Liu, Liu, Jin, Stone, Liu, "Conflict-Averse Gradient Descent for Multi-task Learning", NeurIPS 2021,
arXiv:2110.14048, Algorithm 1.

With ``g0`` the mean gradient, CAGrad solves ``max_d min_i g_iᵀd`` subject to ``‖d − g0‖ ≤ c‖g0‖``: inside a ball
around the mean gradient, the direction whose smallest rate of improvement ``θ = min_i g_iᵀd`` is largest. The
paper solves the dual, ``min_{w ∈ Δ} g_wᵀg0 + c‖g0‖·‖g_w‖`` (``g_w = Σ_i w_i g_i``), and takes
``d = g0 + c‖g0‖·g_w/‖g_w‖``.

Here the primal is solved directly, to float64 precision. For a target rate ``θ``, the smallest change
``z = d − g0`` that gives every task at least ``θ`` solves the least-distance problem
``min ‖z‖ s.t. g_iᵀz ≥ θ − g_iᵀg0``, which one NNLS problem solves exactly (:func:`~mtl_ref.weighting.qp.
least_distance`); its length grows with ``θ``. The answer is the largest ``θ`` whose change fits in the ball,
found by Brent's method to float64 resolution, and ``d = g0 + z = Jᵀ(1/T + μ)`` with ``μ ≥ 0`` the multipliers of ``z``.
(When several ``d`` reach the best rate, which can happen at a Pareto-stationary point, e.g. when a task has a
zero gradient, this picks the one closest to ``g0``.)

Conventions (torchjd 0.18.0 ``CAGrad``): ``c = 0.5`` (LibMTL's ``calpha``; the paper uses 0.4 on NYUv2 and
CityScapes); the update is ``d`` itself, around the *mean* gradient, with no rescaling. (The paper's image
experiments divide by ``1 + c²``, LibMTL's ``rescale=1``; nash-mtl multiplies by ``T`` to match a sum of losses.)
Differences: torchjd returns a zero update when ``‖J‖_F² < norm_eps = 1e-4`` or when the optimal ``‖g_w‖`` falls
below ``norm_eps`` after the Gramian is normalised to unit trace (e.g. whenever a task's gradient is zero); here
CAGrad stays positively homogeneous, ``d(sJ) = s d(J)`` for every ``s > 0``, and such a ``J`` gets the maximin
update closest to ``g0``. torchjd solves the dual with Clarabel at its default tolerances, which leaves its update
~1e-4 (relative) short of the optimum.

Properties: ``c = 0`` gives the mean. For ``c < 1`` (the range of the paper's convergence result, to a stationary
point of the mean loss) the update may conflict with a task; for ``c ≥ 1`` the ball contains ``d = 0``, so the best
rate is ``≥ 0`` and the update never conflicts. CAGrad is permutation-invariant; scaling one task's gradient moves
``g0`` and the ball, so it is not linear in the task scales.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .aggregator import GramianWeighted
from .qp import gramian_factor, least_distance


class CAGrad(GramianWeighted):
    """Conflict-averse gradient: the best worst-case improvement within ``c‖g0‖`` of the mean gradient ``g0``.

    Args:
        c: radius of the ball around the mean gradient, relative to its norm (``c ≥ 0``).
    """

    def __init__(self, c: float = 0.5) -> None:
        super().__init__()
        if not c >= 0:
            raise ValueError(f"c must be non-negative, got {c}")
        self.c = c

    def weights(self, gramian: Tensor) -> Tensor:
        from scipy.optimize import brentq  # imported here: SciPy's optimisers take a second to import

        tasks = len(gramian)
        mean = np.full(tasks, 1.0 / tasks)
        trace = float(gramian.trace())
        if trace <= 0:
            return torch.from_numpy(mean).to(gramian.device)
        normalised = gramian / trace  # the problem is scale-free: solve it at unit trace
        factor = gramian_factor(normalised)
        g = normalised.cpu().numpy()
        rates = g @ mean  # g_iᵀg0
        radius = self.c * np.sqrt(max(float(mean @ rates), 0.0))  # c‖g0‖

        def excess(theta: float) -> float:  # ‖z(θ)‖² − radius², increasing in θ; ≤ 0 where θ fits
            return least_distance(factor, theta - rates)[1] - radius**2

        # θ = min_i g_iᵀg0 needs no change; by Cauchy–Schwarz no change of length ≤ radius gets past
        # min_i (g_iᵀg0 + radius‖g_i‖). Between the two, Brent's method finds where the change reaches the ball's
        # edge (a few NNLS solves); the rate kept is the largest one that fits, to float64 resolution.
        low = float(rates.min())
        high = float((rates + radius * np.sqrt(np.clip(np.diagonal(g), 0.0, None))).min())
        if high > low:
            if excess(high) <= 0:
                low = high
            else:
                tol = 4 * np.finfo(float).eps * max(abs(low), abs(high))
                root = brentq(excess, low, high, xtol=tol)  # within tol of where the change reaches the edge
                low = root if excess(root) <= 0 else max(low, root - tol)
        multipliers, _ = least_distance(factor, low - rates)
        return torch.from_numpy(mean + multipliers).to(gramian.device)

    def extra_repr(self) -> str:
        return f"c={self.c}"
