"""A main regression task and helper tasks of known usefulness, for choosing and weighting auxiliary tasks.

Inputs ``x ~ N(0, I_d)``. The main task reads ``k`` features ``tanh(U x)`` (``U`` has ``k`` orthonormal rows) and
is noisy: ``y_main = aᵀ tanh(U x) + σ ε``. Each helper has ``k`` outputs, observed on the same inputs:

- ``"good"``: the main task's features through another (``k × k``) read-out, almost noise-free:
  ``B tanh(U x) + 0.1 ε``;
- ``"noise"``: pure noise, ``s_noise · ε`` (the noise-prediction helper of Auto-Lambda, Liu et al. 2022, Section 5);
- ``"conflict"``: features orthogonal to the main task's, ``s · C tanh(V x)`` with ``V ⊥ U`` and a large scale
  ``s``, so that through a narrow shared layer it competes with the main task for the representation;
- ``"related_<100ρ>"``, one per value of ``relatedness``: features rotated away from the main task's,
  ``W_ρ = ρ U + √(1 − ρ²) V``, read out almost noise-free (``ρ = 1`` gives the good helper's features, ``ρ = 0``
  only foreign ones, at the main task's scale).

The read-outs ``a, B, C`` and the ``ρ``-helpers' are drawn once per problem (``seed``), every row of norm ``√k``;
the problem is fixed by ``seed`` and :meth:`HelperTasks.sample` draws examples from it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .tensors import MultiTaskData


@dataclass(frozen=True)
class HelperTasks:
    """The main task and its helpers (see the module docstring); ``helper_names`` lists the helpers in order."""

    dim: int = 20
    features: int = 4
    main_noise: float = 1.0
    conflict_scale: float = 3.0
    noise_scale: float = 3.0
    relatedness: Sequence[float] = (0.75, 0.5, 0.25)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.features < 1 or 2 * self.features > self.dim:
            raise ValueError(f"need 1 <= features and 2 * features <= dim, got features={self.features}, "
                             f"dim={self.dim}")
        bad = [r for r in self.relatedness if not 0.0 <= r <= 1.0]
        if bad:
            raise ValueError(f"relatedness values must lie in [0, 1], got {bad}")
        if self.main_noise < 0 or self.conflict_scale <= 0:
            raise ValueError(f"main_noise must be >= 0 and conflict_scale > 0, got {self.main_noise}, "
                             f"{self.conflict_scale}")

    @property
    def helper_names(self) -> list[str]:
        """The helpers' names: ``"good"``, ``"noise"``, ``"conflict"``, then ``"related_<100ρ>"`` per relatedness."""
        return ["good", "noise", "conflict", *[f"related_{round(100 * r)}" for r in self.relatedness]]

    @property
    def task_names(self) -> list[str]:
        """``"main"`` followed by :attr:`helper_names`: the keys of the targets that :meth:`sample` returns."""
        return ["main", *self.helper_names]

    def directions(self) -> tuple[Tensor, Tensor]:
        """``(U, V)``: the main task's ``(k, d)`` feature directions and ``k`` orthogonal foreign ones."""
        g = torch.Generator().manual_seed(self.seed)
        q, _ = torch.linalg.qr(torch.randn(self.dim, 2 * self.features, generator=g, dtype=torch.float64))
        return q[:, :self.features].T.float(), q[:, self.features:].T.float()

    def readouts(self) -> tuple[Tensor, Tensor]:
        """``(a, B)``: the main task's ``(k,)`` read-out, and the helpers' ``(2 + len(relatedness), k, k)`` read-out
        matrices (good, conflict, then one per ``ρ``-helper); every row has norm ``√k``."""
        g = torch.Generator().manual_seed(self.seed + 1)
        a = torch.randn(self.features, generator=g)
        b = torch.randn(2 + len(self.relatedness), self.features, self.features, generator=g)
        scale = math.sqrt(self.features)
        return a / a.norm() * scale, b / b.norm(dim=-1, keepdim=True) * scale

    def sample(self, n: int, seed: int, device: torch.device | str = "cpu") -> MultiTaskData:
        """``n`` examples: inputs ``(n, dim)``, the main target ``(n, 1)`` and a ``(n, k)`` target per helper."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        u, v = self.directions()
        a, (b, c, *rest) = self.readouts()
        g = torch.Generator().manual_seed(seed)
        k = self.features
        x = torch.randn(n, self.dim, generator=g)
        eps = torch.randn(3 + len(self.relatedness), n, k, generator=g)
        own, foreign = torch.tanh(x @ u.T), torch.tanh(x @ v.T)
        y = {"main": (own @ a + self.main_noise * eps[0, :, 0])[:, None],
             "good": own @ b.T + 0.1 * eps[1],
             "noise": self.noise_scale * eps[2],
             "conflict": self.conflict_scale * foreign @ c.T}
        for i, (rho, w) in enumerate(zip(self.relatedness, rest)):
            rotated = torch.tanh(x @ (rho * u + math.sqrt(1 - rho ** 2) * v).T)
            y[f"related_{round(100 * rho)}"] = rotated @ w.T + 0.1 * eps[3 + i]
        return MultiTaskData(x, y).to(device)
