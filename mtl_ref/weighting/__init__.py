"""Balancing tasks: loss weighting and gradient aggregation."""

from __future__ import annotations

from typing import Any

from .aggregator import Aggregator, GramianWeighted, Mean, Sum
from .aligned_mtl import AlignedMTL
from .base import LossWeighting, Weighting
from .cagrad import CAGrad
from .imtl_g import IMTLG
from .mgda import MGDA
from .nash_mtl import NashMTL
from .pcgrad import PCGrad
from .static import Equal, Static
from .upgrad import UPGrad

#: Gradient aggregators by name.
AGGREGATORS: dict[str, type[Aggregator]] = {
    "mean": Mean, "sum": Sum, "mgda": MGDA, "pcgrad": PCGrad, "cagrad": CAGrad, "nash_mtl": NashMTL, "imtl_g": IMTLG,
    "aligned_mtl": AlignedMTL, "upgrad": UPGrad,
}


def aggregator(name: str, **hparams: Any) -> Aggregator:
    """The aggregator called ``name``, built with ``hparams``."""
    if name not in AGGREGATORS:
        raise ValueError(f"unknown aggregator {name!r}; valid names are {', '.join(AGGREGATORS)}")
    return AGGREGATORS[name](**hparams)


__all__ = ["Weighting", "LossWeighting", "Equal", "Static", "Aggregator", "GramianWeighted", "Mean", "Sum",
           "MGDA", "PCGrad", "CAGrad", "NashMTL", "IMTLG", "AlignedMTL", "UPGrad", "AGGREGATORS", "aggregator"]
