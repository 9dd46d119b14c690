"""Regression toys whose tasks differ in scale or noise only: the test beds of loss weighting.

:class:`ScaledTanh` is GradNorm's toy (Chen et al., ICML 2018, arXiv:1711.02257, Section 4): T regression tasks

    f_i(x) = σ_i · tanh((B + ε_i) x),   x ∈ R^250,  f_i(x) ∈ R^100,

with B and ε_i fixed matrices of i.i.d. N(0, 10²) and N(0, 3.5²) entries (10 and 3.5 read as standard deviations,
as the public re-implementations do). The paper leaves the inputs unspecified; we draw x uniformly in [−1, 1]^250
and scale it to unit norm. The tasks share B, differ a little through ε_i, and their losses differ by σ_i² — so
the task-normalised loss Σ_i L_i(t)/L_i(0) compares them fairly.

:func:`noisy_regression` is the toy of Kendall, Gal & Cipolla's uncertainty weighting (arXiv:1705.07115, as in
Gal's example notebook): one input x ~ N(0, 1) and two linear tasks with very different observation noise,
y_1 = 2x + 8 + σ_1·ε and y_2 = 3x + 3 + σ_2·ε, with σ = (10, 1) by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .tensors import MultiTaskData


@dataclass(frozen=True)
class ScaledTanh:
    """GradNorm's toy: ``len(sigmas)`` tasks ``σ_i·tanh((B + ε_i)x)``; the matrices are fixed by ``seed``.

    The inputs have norm ``input_norm``: at 1 the entries of ``(B + ε_i)x`` have a standard deviation near 10 and
    the tanh is saturated (a sign function that a small network learns slowly); smaller norms make it smoother.
    """

    sigmas: tuple[float, ...] = (1.0, 100.0)
    dim: int = 250
    out_dim: int = 100
    b_std: float = 10.0
    eps_std: float = 3.5
    input_norm: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if len(self.sigmas) < 1 or any(s <= 0 for s in self.sigmas):
            raise ValueError(f"sigmas must be one or more positive scales, got {self.sigmas}")
        if self.dim < 1 or self.out_dim < 1:
            raise ValueError(f"dim and out_dim must be positive, got {self.dim} and {self.out_dim}")

    @property
    def num_tasks(self) -> int:
        return len(self.sigmas)

    @property
    def task_names(self) -> list[str]:
        return [f"t{i}" for i in range(self.num_tasks)]

    def matrices(self) -> Tensor:
        """The ``(T, out_dim, dim)`` matrices ``B + ε_i``."""
        g = torch.Generator().manual_seed(self.seed)
        b = self.b_std * torch.randn(self.out_dim, self.dim, generator=g)
        eps = self.eps_std * torch.randn(self.num_tasks, self.out_dim, self.dim, generator=g)
        return b + eps

    def sample(self, n: int, seed: int, device: torch.device | str = "cpu") -> MultiTaskData:
        """``n`` examples: unit-norm inputs ``(n, dim)`` and one ``(n, out_dim)`` target per task."""
        g = torch.Generator().manual_seed(seed)
        x = 2 * torch.rand(n, self.dim, generator=g) - 1
        x = self.input_norm * x / x.norm(dim=1, keepdim=True)
        m = self.matrices()
        y = torch.tanh(torch.einsum("tod,nd->tno", m, x))
        targets = {name: (s * y[i]).contiguous() for i, (name, s) in enumerate(zip(self.task_names, self.sigmas))}
        return MultiTaskData(x, targets).to(device)


def noisy_regression(n: int, noise: Sequence[float] = (10.0, 1.0), seed: int = 0,
                     device: torch.device | str = "cpu") -> MultiTaskData:
    """``n`` examples of the uncertainty-weighting toy: x ~ N(0, 1), ``y1 = 2x + 8 + noise[0]·ε``,
    ``y2 = 3x + 3 + noise[1]·ε`` (tasks ``"y1"``, ``"y2"``, targets of shape ``(n, 1)``)."""
    if len(noise) != 2 or any(s < 0 for s in noise):
        raise ValueError(f"noise must be two non-negative standard deviations, got {list(noise)}")
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, generator=g)
    y1 = 2 * x + 8 + noise[0] * torch.randn(n, 1, generator=g)
    y2 = 3 * x + 3 + noise[1] * torch.randn(n, 1, generator=g)
    return MultiTaskData(x, {"y1": y1, "y2": y2}).to(device)
