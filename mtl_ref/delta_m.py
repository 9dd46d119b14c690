"""Δm: one number for "how much better than single-task learning", over every metric of every task.

We follow Maninis, Radosavovic & Kokkinos (CVPR 2019, Eq. 4) with the sign that makes positive mean better, and
average over all K metrics (not first within each task, as LibMTL does):

    Δm = 100% · (1/K) Σ_k (-1)^{l_k} (M_k - B_k) / B_k,

where M_k is the multi-task model's value of metric k, B_k the single-task baseline's (trained under the same
protocol), and l_k = 1 if lower is better for metric k. Papers from CAGrad onwards report the negative of this.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .tasks import Task

Scores = Mapping[str, Mapping[str, float]]


def delta_m(scores: Scores, baseline: Scores, tasks: Sequence[Task]) -> float:
    """Δm in percent of ``scores`` against ``baseline`` (both ``{task: {metric: value}}``); positive = better.

    The direction of each metric comes from the task's metric objects.
    """
    terms = []
    for task in tasks:
        for name, metric in task.metrics.items():
            try:
                m, b = scores[task.name][name], baseline[task.name][name]
            except KeyError as e:
                raise KeyError(f"task {task.name!r}: metric {name!r} missing from scores or baseline") from e
            for which, value in (("score", m), ("baseline", b)):
                if not math.isfinite(value):
                    raise ValueError(f"task {task.name!r}: the {which} of metric {name!r} is {value}; Δm needs "
                                     f"finite scores")
            if b == 0:
                raise ZeroDivisionError(f"task {task.name!r}: baseline {name} is 0, so a relative change is undefined")
            sign = 1.0 if metric.higher_is_better else -1.0
            terms.append(sign * (m - b) / abs(b))
    if not terms:
        raise ValueError("no metrics to compare: the tasks declare none")
    return 100.0 * sum(terms) / len(terms)


def flat_scores(scores: Scores, sep: str = "/") -> dict[str, float]:
    """``{task: {metric: value}}`` as one flat dict ``{"task/metric": value}``: columns for a grid's table."""
    return {f"{task}{sep}{name}": value for task, metrics in scores.items() for name, value in metrics.items()}


def nested_scores(row: Mapping[str, Any], tasks: Sequence[Task], sep: str = "/") -> dict[str, dict[str, float]]:
    """The ``{task: {metric: value}}`` scores of one grid row (a ``pandas`` row or a dict) whose results were
    :func:`flat_scores`; what :func:`delta_m` takes. Raises a ``KeyError`` naming a missing column."""
    scores: dict[str, dict[str, float]] = {}
    for task in tasks:
        for name in task.metrics:
            key = f"{task.name}{sep}{name}"
            if key not in row:
                raise KeyError(f"task {task.name!r}: no column {key!r} in the row (it has {list(row.keys())})")
            scores.setdefault(task.name, {})[name] = float(row[key])
    return scores
