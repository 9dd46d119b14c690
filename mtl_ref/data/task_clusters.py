"""Many regression tasks in planted clusters: a known relatedness structure to test task-grouping methods against.

:class:`~mtl_ref.data.correlated.CorrelatedRegression` (Ma et al. 2018, "MMoE", Section 4) gives every pair of
tasks the same cosine p between their weight vectors. Here the T tasks fall into ``clusters`` contiguous blocks
and the planted cosine matrix is

    R_st = 1 (s = t),   R_st = p_in (same cluster),   R_st = p_out (different clusters),

with ``correlation`` = p_in and ``across`` = p_out. The weight vectors are the rows of W = c·chol(R)·Uᵀ for
orthonormal U (as in the parent class), so cos(w_s, w_t) = R_st exactly; labels are MMoE's
y_t = w_tᵀx + Σ_i sin(α_i·w_tᵀx + β_i) + ε_t. R must be positive definite: the constructor says which values fail.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .correlated import CorrelatedRegression


@dataclass(frozen=True)
class TaskClusters(CorrelatedRegression):
    """``num_tasks`` regression tasks in ``clusters`` blocks: cosine ``correlation`` within, ``across`` between.

    Task t belongs to cluster ``t * clusters // num_tasks`` (blocks as equal as the counts allow).
    """

    num_tasks: int = 12
    clusters: int = 3
    across: float = 0.0

    def __post_init__(self) -> None:
        if not 1 <= self.clusters <= self.num_tasks:
            raise ValueError(f"clusters must be between 1 and num_tasks ({self.num_tasks}), got {self.clusters}")
        if self.dim < self.num_tasks:
            raise ValueError(f"dim ({self.dim}) must be at least num_tasks ({self.num_tasks})")
        eigenvalues = torch.linalg.eigvalsh(self.cosine())
        if eigenvalues.min() <= 1e-9 and not (self.correlation == 1.0 and eigenvalues.min() > -1e-9):
            raise ValueError(
                f"within-cluster cosine {self.correlation} and across-cluster cosine {self.across} give a planted "
                f"cosine matrix that is not positive semi-definite for {self.num_tasks} tasks in {self.clusters} "
                f"clusters (smallest eigenvalue {eigenvalues.min().item():.3g})")

    def cluster_of(self) -> list[int]:
        """The cluster of each task, in task order."""
        return [t * self.clusters // self.num_tasks for t in range(self.num_tasks)]

    def cosine(self) -> Tensor:
        """The planted ``(T, T)`` cosine matrix R (float64)."""
        c = torch.tensor(self.cluster_of())
        same = c[:, None] == c[None, :]
        r = torch.where(same, torch.tensor(self.correlation, dtype=torch.float64),
                        torch.tensor(self.across, dtype=torch.float64))
        return r.fill_diagonal_(1.0)

    def weights(self) -> tuple[Tensor, Tensor, Tensor]:
        """``(W, alpha, beta)``: the ``(T, dim)`` task weight vectors and the shared sine parameters."""
        g = torch.Generator().manual_seed(self.seed)
        alpha = torch.randn(self.num_sines, generator=g, dtype=torch.float64)
        beta = torch.randn(self.num_sines, generator=g, dtype=torch.float64)
        u, _ = torch.linalg.qr(torch.randn(self.dim, self.num_tasks, generator=g, dtype=torch.float64))
        # A tiny ridge keeps the Cholesky factor defined when p_in = 1 (identical tasks within a cluster).
        chol = torch.linalg.cholesky(self.cosine() + 1e-12 * torch.eye(self.num_tasks, dtype=torch.float64))
        w = self.scale * chol @ u.T
        return w.float(), alpha.float(), beta.float()
