"""Aligned-MTL: make the task gradients orthogonal and of equal norm before combining them.

Senushkin, Patakin, Kuznetsov, Konushin, "Independent Component Alignment for Multi-Task Learning", CVPR 2023,
arXiv:2305.19000, Algorithm 1.

The stability criterion is the condition number of the gradient system. With the eigendecomposition
``G = V Λ Vᵀ`` (eigenvalues above ``λ_max·T·ε``, rank ``R``), the balance transformation
``B = σ V Λ^{-1/2} Vᵀ`` turns ``J`` into ``Ĵ = B J``, whose rows are orthogonal and all of norm ``σ`` (condition
number 1). The update is ``d = Ĵᵀw = Jᵀ(B w)``, so the weights are ``B w``.

Conventions (torchjd 0.18.0 ``AlignedMTL``): ``w = 1/T`` (the mean; the official code and LibMTL sum, ``w = 1``,
which is ``T`` times larger); ``σ² = scale`` is the smallest kept eigenvalue (``"min"``, default), their median
(``"median"``, the lower median for an even count, as :func:`torch.median`) or their mean (``"rmse"``, the original
implementation's choice). A zero Gramian gives ``B = I``. Difference: the rank cutoff ``ε`` is float32's machine
epsilon whatever the dtype, as for :class:`~mtl_ref.weighting.imtl_g.IMTLG`; torchjd uses its input dtype's.

Properties: ``d(sJ) = s d(J)``; scaling one task's gradient changes ``V``, ``Λ`` and ``σ``, so both the direction
and the length of ``d`` change. ``J d = σ G^{1/2} w`` can have negative entries: Aligned-MTL is not
non-conflicting.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from .aggregator import GramianWeighted

ScaleMode = Literal["min", "median", "rmse"]
SCALE_MODES: tuple[ScaleMode, ...] = ("min", "median", "rmse")
#: Relative eigenvalue cutoff per task: float32's machine epsilon.
RANK_EPS = torch.finfo(torch.float32).eps


class AlignedMTL(GramianWeighted):
    """Combine the gradients after the balance transformation that makes them orthogonal and of equal norm.

    Args:
        scale_mode: the squared common norm ``σ²`` of the aligned gradients: the smallest kept eigenvalue of ``G``
            (``"min"``), their median (``"median"``) or their mean (``"rmse"``).
    """

    def __init__(self, scale_mode: ScaleMode = "min") -> None:
        super().__init__()
        if scale_mode not in SCALE_MODES:
            raise ValueError(f"scale_mode must be one of {SCALE_MODES}, got {scale_mode!r}")
        self.scale_mode = scale_mode

    def weights(self, gramian: Tensor) -> Tensor:
        tasks = len(gramian)
        mean = torch.full((tasks,), 1.0 / tasks, dtype=gramian.dtype, device=gramian.device)
        eigenvalues, eigenvectors = torch.linalg.eigh(gramian)
        kept = eigenvalues > eigenvalues.max() * tasks * RANK_EPS
        if not bool(kept.any()):
            return mean
        eigenvalues, eigenvectors = eigenvalues[kept], eigenvectors[:, kept]
        if self.scale_mode == "min":
            scale = eigenvalues.min()
        elif self.scale_mode == "median":
            scale = eigenvalues.median()
        else:
            scale = eigenvalues.mean()
        balance = scale.sqrt() * (eigenvectors / eigenvalues.sqrt()) @ eigenvectors.T
        return balance @ mean

    def extra_repr(self) -> str:
        return f"scale_mode={self.scale_mode!r}"
