"""Balancing tasks: loss weighting and gradient aggregation."""

from .base import LossWeighting, Weighting
from .static import Equal, Static

__all__ = ["Weighting", "LossWeighting", "Equal", "Static"]
