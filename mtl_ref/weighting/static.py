"""Equal and static task weights: the linear scalarisation ``L = Σ_i w_i L_i`` with fixed ``w``."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .base import LossWeighting


class Static(LossWeighting):
    """Fixed weights ``w`` (one per task, in the order of the tasks)."""

    def __init__(self, weights: Sequence[float]) -> None:
        super().__init__()
        w = torch.as_tensor(list(weights), dtype=torch.float32)
        if w.ndim != 1 or (w < 0).any() or not torch.isfinite(w).all():
            raise ValueError(f"static weights must be a list of finite non-negative numbers, got {list(weights)}")
        self.register_buffer("weights", w)

    def combine(self, losses: Tensor) -> Tensor:
        if losses.shape != self.weights.shape:
            raise ValueError(f"{self.weights.numel()} static weights for {losses.numel()} task losses")
        self.log_weights(self.weights)
        return (self.weights.to(losses.dtype) * losses).sum()

    def extra_repr(self) -> str:
        return f"weights={self.weights.tolist()}"


class Equal(LossWeighting):
    """Every task weighted 1: the plain sum of the task losses (unitary scalarisation)."""

    def combine(self, losses: Tensor) -> Tensor:
        self.log_weights(torch.ones_like(losses))
        return losses.sum()
