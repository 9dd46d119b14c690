"""Streaming metrics: accumulate over a whole evaluation set, then compute once.

A metric is evaluated over many batches. Each :class:`Metric` keeps its running state as tensors on the
device of the predictions, so evaluating a data set costs one host synchronisation (in ``compute``), not
one per batch. Every metric says which direction is better through ``higher_is_better``; Δm
(:func:`mtl_ref.delta_m`) and the plots read it from there.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor


class Metric(ABC):
    """A metric that is updated batch by batch and computed once at the end."""

    higher_is_better: bool

    def __init__(self) -> None:
        self.reset()

    @abstractmethod
    def reset(self) -> None:
        """Forget everything seen so far."""

    @abstractmethod
    def update(self, prediction: Tensor, target: Tensor) -> None:
        """Add one batch. Must not synchronise with the host."""

    @abstractmethod
    def compute(self) -> float:
        """The metric over every batch since the last :meth:`reset`."""

    def __repr__(self) -> str:
        direction = "higher" if self.higher_is_better else "lower"
        return f"{type(self).__name__}({direction} is better)"


class MeanMetric(Metric):
    """Base for metrics that are a mean of per-example values: subclasses define ``values``."""

    def reset(self) -> None:
        self._total: Tensor | float = 0.0
        self._count: Tensor | int = 0

    @abstractmethod
    def values(self, prediction: Tensor, target: Tensor) -> Tensor:
        """Per-example (or per-element) values whose mean is the metric."""

    def update(self, prediction: Tensor, target: Tensor) -> None:
        v = self.values(prediction.detach(), target).float()
        self._total = self._total + v.sum()
        self._count = self._count + v.numel()

    def compute(self) -> float:
        if isinstance(self._count, int) and self._count == 0:
            raise ValueError(f"{type(self).__name__}.compute() called before any update()")
        return float(torch.as_tensor(self._total) / self._count)
