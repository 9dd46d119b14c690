"""Which checkpoint a run keeps: a criterion that favours no weighting method.

Early stopping on the *sum* of the validation losses favours whichever method puts most weight on the task with
the largest loss scale, so it is not a neutral referee between weightings. The book selects on the **mean relative
validation loss**

    r(θ) = (1/T) Σ_k L_k^val(θ) / L_k^val(θ_0),

each task's validation loss divided by its value at initialisation (θ_0, the same for every method run from the
same seed). It is free of the tasks' scales, and every method is judged by the same number.

A hyperparameter chosen on validation is only *tuned* if the grid brackets it: :func:`grid_end` says when the choice
sits at an end of its grid, where a wider grid might have chosen otherwise, so that a chapter can say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from torch import nn


def relative_loss(val_loss: Sequence[float], initial: Sequence[float]) -> float:
    """Mean over tasks of ``val_loss[k] / initial[k]`` (see the module docstring)."""
    val, ref = np.asarray(val_loss, dtype=float), np.asarray(initial, dtype=float)
    if val.shape != ref.shape:
        raise ValueError(f"one validation loss per task is needed, got {val.shape[0]} and {ref.shape[0]}")
    if not np.all(ref > 0):
        raise ValueError(f"initial validation losses must be positive to divide by, got {ref.tolist()}")
    return float(np.mean(val / ref))


class BestCheckpoint:
    """Keeps a copy of the weights with the lowest :func:`relative_loss` seen so far."""

    def __init__(self, initial: Sequence[float]) -> None:
        self.initial = list(initial)
        self.best = float("inf")
        self.epoch: int | None = None
        self._state: dict | None = None

    def offer(self, model: nn.Module, val_loss: Sequence[float], epoch: int) -> None:
        """Keep ``model``'s weights if ``val_loss`` beats the best so far (NaN never does)."""
        score = relative_loss(val_loss, self.initial)
        if score < self.best:
            self.best, self.epoch = score, epoch
            self._state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def restore(self, model: nn.Module) -> bool:
        """Load the kept weights into ``model``; False if no checkpoint was kept."""
        if self._state is None:
            return False
        model.load_state_dict(self._state)
        return True


def grid_end(value: float, grid: Sequence[float], *, floor: float | None = None) -> Literal["smallest", "largest"] | None:
    """Which end of ``grid`` the chosen ``value`` lies at, or None when the grid brackets it.

    None also for a grid of one value (nothing was tuned, so nothing can be widened) and for a value equal to
    ``floor``, a bound the grid cannot go past (a weight decay or an auxiliary weight of 0: the smallest there is).
    """
    values = [float(v) for v in grid]
    if not values:
        raise ValueError("the grid is empty")
    if not any(np.isclose(float(value), v) for v in values):
        raise ValueError(f"the chosen value {value!r} is not in its grid {values}")
    if len(values) == 1 or (floor is not None and np.isclose(float(value), floor)):
        return None
    if np.isclose(float(value), min(values)):
        return "smallest"
    if np.isclose(float(value), max(values)):
        return "largest"
    return None
