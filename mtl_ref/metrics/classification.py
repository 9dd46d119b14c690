"""Metrics for classification tasks (logits in, class indices or binary labels as targets)."""

from __future__ import annotations

from torch import Tensor

from .base import MeanMetric


class Accuracy(MeanMetric):
    """Fraction of examples whose arg-max logit is the target class. Logits ``(B, C)``, targets ``(B,)``."""

    higher_is_better = True

    def values(self, prediction: Tensor, target: Tensor) -> Tensor:
        return prediction.argmax(dim=1) == target


class BinaryAccuracy(MeanMetric):
    """Accuracy of ``logit > 0`` against 0/1 targets of the same shape (multi-label tasks)."""

    higher_is_better = True

    def values(self, prediction: Tensor, target: Tensor) -> Tensor:
        return (prediction > 0) == (target > 0.5)
