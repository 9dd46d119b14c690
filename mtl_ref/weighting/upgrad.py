"""UPGrad: project every task gradient onto the dual cone of all of them, and average.

Quinton & Rey, "Jacobian Descent for Multi-Objective Optimization", arXiv:2406.16232 (2024): the projection
``π_J`` onto the dual cone (Eq. 3), its dual form (Proposition 1), and the aggregator ``A_UPGrad``.

The dual cone of the rows of ``J`` is the set of updates that conflict with no task, ``{d : J d ≥ 0}``.
``A_UPGrad(J) = (1/T) Σ_i π_J(g_i)``, where ``π_J(x)`` is the closest point of the dual cone to ``x``. By
Proposition 1, ``π_J(Jᵀu) = Jᵀw`` with ``w = argmin_{v ≥ u} vᵀGv``, a ``T``-dimensional problem; ``g_i/T = Jᵀ(e_i/T)``,
so the weights are ``Σ_i w(e_i/T)``. With a factor ``FᵀF = G`` and ``v = u + x`` the problem is the non-negative
least-squares problem ``min_{x ≥ 0} ‖F x + F u‖`` (:mod:`~mtl_ref.weighting.qp`), solved exactly.

Conventions (torchjd 0.18.0 ``UPGrad``): before solving, ``G`` is divided by its trace (replaced by zeros when the
trace is below ``norm_eps``) and ``reg_eps·I`` is added, with ``norm_eps = reg_eps = 1e-4``. The regularisation
makes every projection slightly short of the cone, so ``J d ≥ 0`` and linearity under scaling hold up to ~``reg_eps``;
``norm_eps = reg_eps = 0`` gives the exact projections. Beware the ``norm_eps`` threshold: it is absolute, so a
Jacobian with ``‖J‖_F² = Σ_i ‖g_i‖² < norm_eps`` (e.g. small gradients late in training) is aggregated as the
plain mean, conflicts included. ``reg_eps`` is relative to the trace, so it competes with each task's share
``s_i = ‖g_i‖²/‖J‖_F²``: the projection onto a task's half-space is carried out only to the fraction
``s_i/(s_i + reg_eps)`` of its length (two tasks), so a task with ``s_i ≪ reg_eps`` is barely protected from
conflict; this is what slows UPGrad on the plateau of the 2-D toy (``book/conflicting_gradients.ipynb``). torchjd
solves the problems with quadprog; the solutions are the same.

Properties: non-conflicting, permutation-invariant, and linear under scaling: scaling a task's gradient by
``c > 0`` scales its projected gradient by ``c``. With two tasks UPGrad with ``reg_eps = 0`` is half of PCGrad.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .aggregator import GramianWeighted
from .qp import gramian_factor


def project_weights(factor: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``w = argmin_{v ≥ u} vᵀGv`` for ``FᵀF = G``: the weights of the projection of ``Jᵀu`` onto the dual cone."""
    from scipy.optimize import nnls  # imported here: SciPy's optimisers take a second to import

    x, _ = nnls(factor, -factor @ u)
    return u + x


class UPGrad(GramianWeighted):
    """Unconflicting projection of gradients: the mean of the projections of the gradients onto the dual cone.

    Args:
        norm_eps: below this trace, the Gramian is replaced by zeros (and UPGrad becomes the mean).
        reg_eps: added to the diagonal of the trace-normalised Gramian.
    """

    def __init__(self, norm_eps: float = 1e-4, reg_eps: float = 1e-4) -> None:
        super().__init__()
        if norm_eps < 0 or reg_eps < 0:
            raise ValueError(f"norm_eps and reg_eps must be non-negative, got {norm_eps} and {reg_eps}")
        self.norm_eps = norm_eps
        self.reg_eps = reg_eps

    def weights(self, gramian: Tensor) -> Tensor:
        tasks = len(gramian)
        trace = gramian.trace()
        if trace > 0 and trace >= self.norm_eps:
            normalised = gramian / trace
        else:
            normalised = torch.zeros_like(gramian)
        regularised = normalised + self.reg_eps * torch.eye(tasks, dtype=gramian.dtype, device=gramian.device)
        factor = gramian_factor(regularised)
        total = sum(project_weights(factor, u) for u in np.eye(tasks) / tasks)  # u = e_i/T: the rows of J, averaged
        return torch.from_numpy(total).to(gramian.device)

    def extra_repr(self) -> str:
        return f"norm_eps={self.norm_eps}, reg_eps={self.reg_eps}"
