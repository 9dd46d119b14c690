"""Regression tasks with a controllable task correlation (Ma et al. 2018, "MMoE", Section 4).

The construction of the paper, for two tasks: draw orthonormal u_1, u_2 in R^d, set w_1 = c·u_1 and
w_2 = c·(p·u_1 + sqrt(1 - p²)·u_2), so that cos(w_1, w_2) = p; then for x ~ N(0, I)

    y_t = w_tᵀx + Σ_{i=1}^m sin(α_i·w_tᵀx + β_i) + ε_t,   α_i, β_i ~ N(0, 1) shared by the tasks, ε_t ~ N(0, σ²).

For T tasks we use w_t = c·Σ_k L_tk·u_k with L the Cholesky factor of the equicorrelation matrix
R = (1 - p)·I + p·11ᵀ, so that cos(w_s, w_t) = p for every pair; for T = 2 this is exactly the paper's
construction. R is positive definite for -1/(T-1) < p ≤ 1 (p = 1 is handled as a limit: identical tasks).
The label correlation is monotone in p but below it because of the sine terms.

``noise_dims`` appends inputs that are pure noise and carry no signal for any task (used to show how a
second task helps a network ignore them).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .tensors import MultiTaskData


@dataclass(frozen=True)
class CorrelatedRegression:
    """A family of ``num_tasks`` regression tasks with pairwise weight-vector correlation ``correlation``.

    The problem (weight vectors, α, β) is fixed by ``seed``; :meth:`sample` draws examples from it.
    """

    num_tasks: int = 2
    correlation: float = 0.9
    dim: int = 100
    scale: float = 1.0
    num_sines: int = 10
    noise: float = 0.1
    noise_dims: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.num_tasks < 1:
            raise ValueError(f"num_tasks must be at least 1, got {self.num_tasks}")
        if self.dim < self.num_tasks:
            raise ValueError(f"dim ({self.dim}) must be at least num_tasks ({self.num_tasks})")
        low = -1.0 / (self.num_tasks - 1) if self.num_tasks > 1 else -1.0
        if not low < self.correlation <= 1.0:
            raise ValueError(
                f"correlation must be in ({low:.3g}, 1] for {self.num_tasks} equicorrelated tasks, got {self.correlation}"
            )

    @property
    def task_names(self) -> list[str]:
        return [f"y{t + 1}" for t in range(self.num_tasks)]

    def weights(self) -> tuple[Tensor, Tensor, Tensor]:
        """``(W, alpha, beta)``: the ``(T, dim)`` task weight vectors and the shared sine parameters."""
        g = torch.Generator().manual_seed(self.seed)
        # α and β first, so that they do not depend on the number of tasks or the input dimension.
        alpha = torch.randn(self.num_sines, generator=g, dtype=torch.float64)
        beta = torch.randn(self.num_sines, generator=g, dtype=torch.float64)
        u, _ = torch.linalg.qr(torch.randn(self.dim, self.num_tasks, generator=g, dtype=torch.float64))
        p = self.correlation
        r = (1 - p) * torch.eye(self.num_tasks, dtype=torch.float64) + p
        # A tiny ridge keeps the Cholesky factor defined at p = 1 (all tasks identical up to 1e-6).
        chol = torch.linalg.cholesky(r + 1e-12 * torch.eye(self.num_tasks, dtype=torch.float64))
        w = self.scale * chol @ u.T
        return w.float(), alpha.float(), beta.float()

    def sample(self, n: int, seed: int, device: torch.device | str = "cpu") -> MultiTaskData:
        """``n`` examples: inputs ``(n, dim + noise_dims)`` and one ``(n, 1)`` target per task."""
        w, alpha, beta = self.weights()
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(n, self.dim, generator=g)
        proj = x @ w.T  # (n, T)
        y = proj + torch.sin(proj[..., None] * alpha + beta).sum(-1)
        y = y + self.noise * torch.randn(y.shape, generator=g)
        if self.noise_dims:
            x = torch.cat([x, torch.randn(n, self.noise_dims, generator=g)], dim=1)
        targets = {name: y[:, t:t + 1].contiguous() for t, name in enumerate(self.task_names)}
        return MultiTaskData(x, targets).to(device)

    def sample_tasks(self, n: int, seed: int, device: torch.device | str = "cpu") -> dict[str, MultiTaskData]:
        """``n`` examples for each task with inputs of its own: ``{task: data holding that task's target}``."""
        return {name: self.sample(n, seed=seed * self.num_tasks + t, device=device).select([name])
                for t, name in enumerate(self.task_names)}
