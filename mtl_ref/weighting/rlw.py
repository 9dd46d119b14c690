"""Random Loss Weighting (Lin, Ye, Zhang & Tsang, TMLR 2022, arXiv:2111.10603).

At every step RLW draws fresh weights, λ = softmax(λ̃) with λ̃ ~ N(0, I), and trains on Σ_k λ_k L_k; the weights
sum to 1. The paper proposes it as a baseline that any task-balancing method should beat. (Other codes rescale the
weights to sum to K, which only changes the effective learning rate.)

The draws come from a generator on the losses' device, seeded at :meth:`~RLW.reset`, so a run is reproducible and
drawing needs no transfer from the host.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import LossWeighting


class RLW(LossWeighting):
    """Weights ``softmax(λ̃)``, ``λ̃ ~ N(0, I)`` drawn anew at every step from a generator seeded with ``seed``."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.seed = seed
        self._generator: torch.Generator | None = None

    def reset(self) -> None:
        super().reset()
        self._generator = None

    def combine(self, losses: Tensor) -> Tensor:
        if self._generator is None or self._generator.device != losses.device:
            self._generator = torch.Generator(device=losses.device).manual_seed(self.seed)
        logits = torch.randn(losses.shape, generator=self._generator, device=losses.device, dtype=losses.dtype)
        weights = torch.softmax(logits, dim=0)
        self.log_weights(weights)
        return (weights * losses).sum()

    def extra_repr(self) -> str:
        return f"seed={self.seed}"
