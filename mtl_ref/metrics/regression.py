"""Metrics for regression tasks (predictions and targets of the same shape)."""

from __future__ import annotations

from torch import Tensor

from .base import MeanMetric


class MSE(MeanMetric):
    """Mean squared error over every element."""

    higher_is_better = False

    def values(self, prediction: Tensor, target: Tensor) -> Tensor:
        return (prediction - target) ** 2


class MAE(MeanMetric):
    """Mean absolute error over every element."""

    higher_is_better = False

    def values(self, prediction: Tensor, target: Tensor) -> Tensor:
        return (prediction - target).abs()
