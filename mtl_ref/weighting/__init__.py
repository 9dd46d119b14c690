"""Balancing tasks: loss weighting and gradient aggregation."""

from __future__ import annotations

from typing import Any

from .aggregator import Aggregator, GramianWeighted, Mean, Sum
from .base import LossWeighting, Weighting
from .jacobian import GradientAggregation, TaskJacobian, jacobian
from .static import Equal, Static

#: Gradient aggregators by name.
AGGREGATORS: dict[str, type[Aggregator]] = {"mean": Mean, "sum": Sum}


def aggregator(name: str, **hparams: Any) -> Aggregator:
    """The aggregator called ``name``, built with ``hparams``."""
    if name not in AGGREGATORS:
        raise ValueError(f"unknown aggregator {name!r}; valid names are {', '.join(AGGREGATORS)}")
    return AGGREGATORS[name](**hparams)


__all__ = ["Weighting", "LossWeighting", "Equal", "Static", "Aggregator", "GramianWeighted", "Mean", "Sum",
           "AGGREGATORS", "aggregator", "GradientAggregation", "TaskJacobian", "jacobian"]
