"""The seam between the training loop and the ways of balancing tasks.

A :class:`Weighting` receives the ``(T,)`` per-task losses of a step and leaves gradients in the ``.grad`` of
the model's parameters; the optimizer step that follows is the training loop's. Loss-level methods
(:class:`LossWeighting`) combine the losses into one scalar and backpropagate it once. Gradient-level methods
look at per-task gradients and combine those instead (:mod:`mtl_ref.weighting`).

A method may be stateful (DWA's loss history, FAMO's logits): :meth:`Weighting.reset` returns it to its initial
state, and the per-step task weights it logs are kept in the run's history.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn


class Weighting(nn.Module, metaclass=ABCMeta):
    """Base class: turn one step's per-task losses into parameter gradients."""

    #: Learning rate for the method's own parameters (e.g. uncertainty weighting's log-variances);
    #: ``None`` means the model's learning rate.
    lr: float | None = None

    def __init__(self) -> None:
        super().__init__()
        self._trace: list[Tensor] = []

    @abstractmethod
    def backward(self, losses: Tensor, model: nn.Module, loss_scale: Tensor | None = None) -> None:
        """Accumulate gradients for this step into ``.grad``. ``loss_scale`` multiplies the gradients (AMP)."""

    def before_backward(self, batch_losses: Callable[[], Tensor]) -> None:
        """Called before :meth:`backward` with a function that recomputes the batch's losses, without a graph, at
        the model's parameters as they are when it is called (Auto-Lambda's finite differences)."""

    def after_step(self, losses_after: Callable[[], Tensor]) -> None:
        """Called after the optimizer step with a function that recomputes the batch's losses (FAMO)."""

    def epoch_end(self, mean_losses: Tensor) -> None:
        """Called with the epoch's mean training loss per task (DWA)."""

    def reset(self) -> None:
        """Forget all state, as before the first step."""
        self._trace.clear()

    def log_weights(self, weights: Tensor) -> None:
        """Remember this step's task weights (kept on the device until :meth:`pop_trace`)."""
        self._trace.append(weights.detach().float())

    def pop_trace(self) -> np.ndarray:
        """The weights logged since the last call, as a ``(steps, T)`` array (one host synchronisation)."""
        if not self._trace:
            return np.zeros((0, 0))
        out = torch.stack(self._trace).cpu().numpy()
        self._trace.clear()
        return out


class LossWeighting(Weighting):
    """Methods of the form ``L = Σ_i w_i L_i``: one backward pass of a combined scalar loss."""

    @abstractmethod
    def combine(self, losses: Tensor) -> Tensor:
        """The scalar to backpropagate."""

    def backward(self, losses: Tensor, model: nn.Module, loss_scale: Tensor | None = None) -> None:
        total = self.combine(losses)
        (total if loss_scale is None else total * loss_scale).backward()
