"""FAMO, Fast Adaptive Multitask Optimization (Liu, Feng, Stone & Liu, NeurIPS 2023, arXiv:2306.03792).

FAMO aims to decrease every task's log-loss at the same rate while computing one gradient per step. It keeps logits
ξ (initially 0) and task weights z = softmax(ξ), with lower bounds ℓ*_k on the losses (0 by default).

θ-step: backpropagate ``Σ_k (z_k/c)·log(L_k − ℓ*_k + ε)`` with ``c = Σ_k z_k/(L_k − ℓ*_k + ε)`` held constant. Its
gradient is ``Σ_k (z_k / (c·(L_k − ℓ*_k))) ∇L_k``: a convex combination of the task gradients, each scaled by the
inverse of its loss (the logged weights are these coefficients; they sum to 1).

ξ-step, after the optimizer step, from the same batch's new losses L'_k: with
``δ_k = log(L_k − ℓ*_k + ε) − log(L'_k − ℓ*_k + ε)`` (how much task k's log-loss fell), take one Adam step on ξ
with gradient ``J_softmax(ξ)ᵀ δ + γ ξ`` (Adam's weight decay is the γξ term). A task whose log-loss fell more
gets a smaller weight at the next step. This is the practical (Adam) form of the paper's update, as in the authors'
``famo.py``, whose defaults these are: learning rate 0.025 and γ = 0.01 (LibMTL uses γ = 0.001, the authors' toy
experiment γ = 0).

The reference code also clips the gradient norm of the shared parameters to 1.0 after the θ-step. Here clipping is
the training loop's job: ``fit(..., grad_clip=1.0)`` clips the norm of all the model's parameters together.
The ξ-step costs one extra forward pass per step (``after_step`` recomputes the batch's losses without a graph).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from .base import LossWeighting

EPS = 1e-8


class FAMO(LossWeighting):
    """Task weights ``z = softmax(ξ)`` adapted so that all task log-losses fall at the same rate.

    Args:
        min_losses: the lower bounds ℓ* (one number for every task, or one per task).
        w_lr: learning rate of ξ's own Adam optimizer (ξ is ``w`` in the authors' code); ξ is not in the model's
            optimizer.
        gamma: weight decay γ on ξ.
    """

    def __init__(self, min_losses: float | Sequence[float] = 0.0, w_lr: float = 0.025, gamma: float = 0.01) -> None:
        super().__init__()
        self.register_buffer("min_losses", torch.as_tensor(min_losses, dtype=torch.float32))
        if self.min_losses.ndim > 1:
            raise ValueError(f"min_losses must be a number or one number per task, got shape "
                             f"{tuple(self.min_losses.shape)}")
        self.w_lr = w_lr
        self.gamma = gamma
        self._logits: Tensor | None = None
        self._optimizer: torch.optim.Optimizer | None = None
        self._log_losses: Tensor | None = None

    def reset(self) -> None:
        super().reset()
        self._logits = None
        self._optimizer = None
        self._log_losses = None

    @property
    def weights(self) -> Tensor:
        """The current task weights ``z = softmax(ξ)``."""
        if self._logits is None:
            raise RuntimeError("FAMO has no weights before its first step")
        return torch.softmax(self._logits.detach(), dim=0)

    def combine(self, losses: Tensor) -> Tensor:
        if self._logits is None:
            self._logits = torch.zeros(len(losses), device=losses.device, requires_grad=True)
            self._optimizer = torch.optim.Adam([self._logits], lr=self.w_lr, weight_decay=self.gamma)
        if losses.shape != self._logits.shape or self.min_losses.numel() not in (1, len(losses)):
            raise ValueError(f"FAMO has {self._logits.numel()} task logits and {self.min_losses.numel()} lower "
                             f"bounds, got losses of shape {tuple(losses.shape)}")
        gaps = losses - self.min_losses + EPS
        z = self.weights
        c = (z / gaps.detach()).sum()
        self.log_weights(z / (c * gaps.detach()))
        self._log_losses = gaps.detach().log()
        return (z / c * gaps.log()).sum()

    def after_step(self, losses_after: Callable[[], Tensor]) -> None:
        """The ξ-step: one Adam step on the logits from the fall of each task's log-loss over the θ-step."""
        if self._log_losses is None:
            raise RuntimeError("FAMO.after_step was called before a step")
        decrease = self._log_losses - (losses_after() - self.min_losses + EPS).log()
        z = self.weights
        self._logits.grad = z * (decrease - (z * decrease).sum())  # J_softmax(ξ)ᵀ δ, J symmetric
        self._optimizer.step()
        self._log_losses = None

    def extra_repr(self) -> str:
        return f"w_lr={self.w_lr}, gamma={self.gamma}, min_losses={self.min_losses.tolist()}"
