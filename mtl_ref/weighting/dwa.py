"""Dynamic Weight Average (Liu, Johns & Davison, CVPR 2019, arXiv:1803.10704, Eq. 7).

DWA weights each task by how slowly its loss has been falling, measured epoch by epoch:

    λ_k(t) = K·exp(w_k(t−1)/T) / Σ_i exp(w_i(t−1)/T),   w_k(t−1) = L_k(t−1) / L_k(t−2),

where L_k(t) is task k's mean training loss over epoch t and T the temperature (2 in the paper; a large T makes
the weights equal). λ_k = 1 for the first two epochs, and Σ_k λ_k = K always. It needs nothing but the loss values.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import LossWeighting


class DWA(LossWeighting):
    """Weights ``K·softmax(w/T)`` from the ratio ``w`` of the last two epochs' mean training losses."""

    def __init__(self, temperature: float = 2.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"the temperature must be positive, got {temperature}")
        self.temperature = temperature
        self._history: list[Tensor] = []
        self._weights: Tensor | None = None

    def reset(self) -> None:
        super().reset()
        self._history = []
        self._weights = None

    def epoch_end(self, mean_losses: Tensor) -> None:
        """Remember the epoch's mean losses; from the end of the second epoch on, compute the next epoch's λ."""
        self._history = [*self._history[-1:], mean_losses.detach().float().clone()]
        if len(self._history) == 2:
            previous, last = self._history
            self._weights = len(last) * torch.softmax(last / previous / self.temperature, dim=0)

    def combine(self, losses: Tensor) -> Tensor:
        weights = torch.ones_like(losses) if self._weights is None else self._weights.to(losses.dtype)
        if weights.shape != losses.shape:
            raise ValueError(f"DWA weights for {weights.numel()} tasks, got losses of shape {tuple(losses.shape)}")
        self.log_weights(weights)
        return (weights * losses).sum()

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}"
