"""PCGrad: project each task gradient onto the normal plane of the gradients it conflicts with.

Yu, Kumar, Gupta, Levine, Hausman, Finn, "Gradient Surgery for Multi-Task Learning", NeurIPS 2020,
arXiv:2001.06782, Algorithm 1.

For each task ``i``, start from ``g_i^PC = g_i`` and go through the other tasks ``j`` in a random order: if
``g_i^PC · g_j < 0``, remove the conflicting component, ``g_i^PC ← g_i^PC − (g_i^PC · g_j / ‖g_j‖²) g_j``. The
projection is always onto the *original* ``g_j``. The update is ``Σ_i g_i^PC``.

Everything happens in weight space: ``g_i^PC = Jᵀw`` with ``w = e_i`` at the start, and a projection onto ``g_j``
subtracts ``(G w)_j / G_jj`` from ``w_j``, so only the Gramian is needed.

Conventions (torchjd 0.18.0 ``PCGrad``, also the official code, LibMTL and nash-mtl by default): the projected
gradients are *summed*, not averaged; each task draws its own random order of the others. Here the order comes
from a seedable :class:`torch.Generator`: with ``seed=None`` the global torch generator is used exactly as torchjd
uses it (one ``torch.randperm(T)`` per task), so both give the same update after the same ``torch.manual_seed``.

Properties: with two tasks the order does not matter, and PCGrad is twice UPGrad without regularisation (UPGrad
averages); the update never conflicts with either task. With three or more tasks a later projection can undo an
earlier one, so ``J d ≥ 0`` is not guaranteed, even where an update that helps every task exists and whatever
the order. Because of the random order PCGrad is not permutation-invariant.
For a fixed order, scaling a task's gradient by ``c > 0`` scales its projected gradient by ``c`` and leaves the
others unchanged (projections depend on the direction of ``g_j`` only), so ``d`` is linear in positive task scales.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .aggregator import GramianWeighted


class PCGrad(GramianWeighted):
    """Projecting conflicting gradients, summed.

    Args:
        seed: seed of the private generator of the random orders; ``None`` draws them from torch's global generator
            (seeded by :func:`mtl_ref.seed_everything`). :meth:`reset` re-seeds the private generator.
    """

    def __init__(self, seed: int | None = None) -> None:
        super().__init__()
        self.seed = seed
        self.generator = None if seed is None else torch.Generator().manual_seed(seed)

    def reset(self) -> None:
        if self.generator is not None:
            self.generator.manual_seed(self.seed)

    def weights(self, gramian: Tensor) -> Tensor:
        g = gramian.cpu().numpy()
        tasks = len(g)
        total = np.zeros(tasks)
        for i in range(tasks):
            w = np.zeros(tasks)
            w[i] = 1.0
            for j in torch.randperm(tasks, generator=self.generator).tolist():
                inner = g[j] @ w  # g_i^PC · g_j
                if j != i and inner < 0.0 and g[j, j] > 0.0:
                    w[j] -= inner / g[j, j]
            total += w
        return torch.from_numpy(total).to(gramian.device)

    def extra_repr(self) -> str:
        return f"seed={self.seed}"
