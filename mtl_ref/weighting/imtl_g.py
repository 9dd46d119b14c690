"""IMTL-G: the update with equal projections onto every task's unit gradient.

Liu, Li, Kuang, Xue, Chen, Yang, Liao, Zhang, "Towards Impartial Multi-task Learning", ICLR 2021
(OpenReview IMPnRXEWpvr): the closed-form gradient balance IMTL-G, in the generalised form of Quinton & Rey,
"Jacobian Descent for Multi-Objective Optimization", arXiv:2406.16232 (2024), which allows linearly dependent rows.

IMTL-G looks for ``d = Σ_i α_i g_i`` with ``Σ_i α_i = 1`` whose projections onto the unit gradients
``u_i = g_i/‖g_i‖`` are all equal: ``u_iᵀd = c``. Since ``J d = G α`` and ``u_iᵀd = (G α)_i/‖g_i‖``, this is
``G α = c·√diag(G)``, so ``α ∝ G⁺ √diag(G)`` (pseudo-inverse ``G⁺``), normalised to sum to 1.

Conventions (torchjd 0.18.0 ``IMTLG``): the pseudo-inverse drops eigenvalues below ``T·ε·λ_max``; when the
unnormalised weights sum to zero the update is zero. Differences: the Gramian is first divided by its trace, which
makes the method scale-free (torchjd compares the raw sum with 1e-12, so it returns zero for gradients of norm
~1e12 and more); the cutoff ``ε`` is float32's machine epsilon whatever the dtype, because a training
Jacobian is float32 and directions below its resolution are noise (torchjd uses its input dtype's epsilon, so the
two differ only for float64 Jacobians with a condition number of ``G`` between ~1e6 and ~1e15).

Properties: ``d(sJ) = s d(J)``. Scaling one task's gradient by ``c > 0`` leaves the *line* of ``d`` unchanged
(the condition only sees unit gradients: ``Jᵀ G⁺ √diag(G)`` does not move) but not its length, since the weights
must still sum to 1, nor always its sign. With two tasks (not exactly opposite) ``u_iᵀd > 0``; with three or more the unnormalised
weights can sum to a negative number, and then ``d`` makes the same *negative* projection onto every task: IMTL-G
is not always non-conflicting, and rescaling a task can flip it into that case.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .aggregator import GramianWeighted

#: Relative eigenvalue cutoff per task of the pseudo-inverse: float32's machine epsilon.
RANK_EPS = torch.finfo(torch.float32).eps
#: Below this (after the Gramian is normalised to unit trace) the weights are read as summing to zero.
ZERO_SUM = 1e-12


class IMTLG(GramianWeighted):
    """Impartial gradient balance: equal projections of the update onto every task's unit gradient."""

    def weights(self, gramian: Tensor) -> Tensor:
        trace = gramian.trace()
        if trace <= 0:
            return torch.zeros(len(gramian), dtype=gramian.dtype, device=gramian.device)
        normalised = gramian / trace
        v = torch.linalg.pinv(normalised, rtol=len(gramian) * RANK_EPS, hermitian=True) @ normalised.diagonal().sqrt()
        total = v.sum()
        return torch.zeros_like(v) if total.abs() < ZERO_SUM else v / total
