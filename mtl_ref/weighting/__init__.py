"""Balancing tasks: loss weighting and gradient aggregation."""

from __future__ import annotations

import inspect
from typing import Any

from .aggregator import Aggregator, GramianWeighted, Mean, Sum
from .aligned_mtl import AlignedMTL
from .base import LossWeighting, Weighting
from .cagrad import CAGrad
from .dwa import DWA
from .famo import FAMO
from .gradnorm import GradNorm
from .imtl_g import IMTLG
from .jacobian import GradientAggregation, TaskJacobian, jacobian
from .mgda import MGDA
from .nash_mtl import NashMTL
from .pcgrad import PCGrad
from .rlw import RLW
from .static import Equal, Static
from .uncertainty import UncertaintyWeighting
from .upgrad import UPGrad

#: Gradient aggregators by name.
AGGREGATORS: dict[str, type[Aggregator]] = {
    "mean": Mean, "sum": Sum, "mgda": MGDA, "pcgrad": PCGrad, "cagrad": CAGrad, "nash_mtl": NashMTL, "imtl_g": IMTLG,
    "aligned_mtl": AlignedMTL, "upgrad": UPGrad,
}

#: Methods that weight the task losses, by name (hyperparameters are their constructors' arguments).
LOSS_WEIGHTINGS: dict[str, type[Weighting]] = {
    "equal": Equal,
    "static": Static,
    "uncertainty": UncertaintyWeighting,
    "gradnorm": GradNorm,
    "dwa": DWA,
    "rlw": RLW,
    "famo": FAMO,
}


def aggregator(name: str, **hparams: Any) -> Aggregator:
    """The aggregator called ``name``, built with ``hparams``."""
    if name not in AGGREGATORS:
        raise ValueError(f"unknown aggregator {name!r}; valid names are {', '.join(AGGREGATORS)}")
    return AGGREGATORS[name](**hparams)


def method_names() -> list[str]:
    """Every name :func:`method` accepts: the loss weightings, then the registered aggregators."""
    return [*LOSS_WEIGHTINGS, *AGGREGATORS]


def method(name: str, num_tasks: int | None = None, **hparams: Any) -> Weighting:
    """The training method called ``name``, built with ``hparams``.

    A loss weighting takes its constructor's arguments (``method("static", weights=[1, 2])``,
    ``method("gradnorm", num_tasks=2, alpha=1.5)``). An aggregator name gives :class:`GradientAggregation` around
    that aggregator: ``level`` (``"parameters"`` by default, or ``"representation"``) goes to the wrapper, the
    other hyperparameters to the aggregator (``method("mean", level="representation")``).

    ``num_tasks`` goes to the methods whose constructor takes it (uncertainty weighting, GradNorm, aggregators that
    need T) and is ignored by the others, so that ``method(name, num_tasks=T)`` builds any of them.
    """
    if name in LOSS_WEIGHTINGS:
        cls = LOSS_WEIGHTINGS[name]
        return cls(**_with_num_tasks(cls, num_tasks, hparams))
    if name in AGGREGATORS:
        level = hparams.pop("level", "parameters")
        return GradientAggregation(aggregator(name, **_with_num_tasks(AGGREGATORS[name], num_tasks, hparams)),
                                   level=level)
    raise ValueError(f"unknown method {name!r}; valid names are {', '.join(method_names())}")


def _with_num_tasks(cls: type, num_tasks: int | None, hparams: dict[str, Any]) -> dict[str, Any]:
    if num_tasks is not None and "num_tasks" in inspect.signature(cls).parameters:
        return {"num_tasks": num_tasks, **hparams}
    return hparams


__all__ = ["Weighting", "LossWeighting", "Equal", "Static", "UncertaintyWeighting", "GradNorm", "DWA", "RLW", "FAMO",
           "Aggregator", "GramianWeighted", "Mean", "Sum", "MGDA", "PCGrad", "CAGrad", "NashMTL", "IMTLG", "AlignedMTL",
           "UPGrad", "AGGREGATORS", "aggregator", "LOSS_WEIGHTINGS",
           "GradientAggregation", "TaskJacobian", "jacobian", "method", "method_names"]
