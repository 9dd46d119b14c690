"""Streaming metrics with a declared direction (higher or lower is better)."""

from .base import MeanMetric, Metric
from .classification import Accuracy, BinaryAccuracy
from .dense import AbsoluteError, MeanAngle, MeanIoU, MedianAngle, PixelAccuracy, RelativeError, WithinAngle
from .regression import MAE, MSE

__all__ = ["Metric", "MeanMetric", "Accuracy", "BinaryAccuracy", "MSE", "MAE", "MeanIoU", "PixelAccuracy",
           "AbsoluteError", "RelativeError", "MeanAngle", "MedianAngle", "WithinAngle"]
