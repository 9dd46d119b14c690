"""The study every multi-task project runs: single-task baselines, then Δm of each method against them.

:func:`single_task_baselines` trains one network per task under the protocol of the multi-task runs (same data,
budget and optimiser), each early-stopped on its own task's validation loss. :func:`delta_m_table` turns a grid of
runs (:func:`~mtl_ref.run_grid`) into one row per configuration: Δm against the baseline of the same seed, its
mean over seeds and an interval for that mean.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from .data.tensors import MultiTaskData
from .delta_m import Scores, delta_m, nested_scores
from .tasks import Task
from .train import History, fit


@dataclass
class Baselines:
    """Single-task results: ``scores`` is ``{task: {metric: value}}`` (the baseline of :func:`~mtl_ref.delta_m`),
    ``histories`` each task's :class:`~mtl_ref.History`."""

    scores: dict[str, dict[str, float]]
    histories: dict[str, History]


def single_task_baselines(make_model: Callable[[Task], nn.Module], tasks: Sequence[Task], train: MultiTaskData, *,
                          val: MultiTaskData, test: MultiTaskData, seed: int = 0, **fit_options: Any) -> Baselines:
    """Train one model per task with :func:`~mtl_ref.fit`, each on its own task only, and score it on ``test``.

    Args:
        make_model: ``make_model(task)`` returns a fresh model whose output is ``{task.name: prediction}``; it is
            called after ``torch.manual_seed(seed)``, so each baseline starts from the same weights at every call.
        tasks, train, val, test: as for :func:`~mtl_ref.fit`; every split keeps only the task's targets.
        seed: seeds the initial weights and the order of the examples.
        fit_options: the rest of the protocol (``epochs``, ``batch_size``, ``lr``, …), the same as the multi-task
            runs'. ``restore_best`` is on: each baseline keeps its epoch of lowest validation loss on its own task.
    """
    histories = {}
    for task in tasks:
        torch.manual_seed(seed)
        model = make_model(task).to(train.device)
        keep = [task.name]
        histories[task.name] = fit(model, [task], train.select(keep), val=val.select(keep), test=test.select(keep),
                                   seed=seed, **{"restore_best": True, **fit_options})
    return Baselines({t: h.final[t] for t, h in histories.items()}, histories)


def delta_m_table(runs: pd.DataFrame, tasks: Sequence[Task], by: str | Sequence[str],
                  baseline: Any | Mapping[int, Scores], *, level: float = 0.95, interval: str = "t") -> pd.DataFrame:
    """Δm of every configuration against the baseline, paired by seed, with an interval over seeds.

    Args:
        runs: a grid's results (:func:`~mtl_ref.run_grid`), one row per run with a ``seed`` column and the scores
            as ``task/metric`` columns (:func:`~mtl_ref.flat_scores`).
        tasks: the tasks whose metrics Δm averages.
        by: the column(s) naming a configuration (``"method"``, or ``["arch", "weighting"]``).
        baseline: either the value of ``by`` whose rows are the single-task runs, or ``{seed: scores}`` (e.g.
            from :func:`single_task_baselines` per seed). Each run is compared with the baseline of its own seed.
        level, interval: the interval of the mean Δm (:func:`mtl_ref.claims.paired_interval`: ``"t"`` or
            ``"bootstrap"``); with one seed it is infinite.

    Returns:
        One row per configuration (in the order of ``runs``): ``by``, ``delta_m`` (mean over seeds, in %),
        ``std``, ``low``, ``high`` (the interval), ``n`` (seeds).

    Raises:
        KeyError: a seed with no baseline run, or a missing score column (naming it).
    """
    from .claims import paired_interval

    keys = [by] if isinstance(by, str) else list(by)
    if isinstance(baseline, Mapping):
        reference = {int(s): scores for s, scores in baseline.items()}
        rows = runs
    else:
        is_base = runs[keys[0]] == baseline
        reference = {int(r["seed"]): nested_scores(r, tasks) for _, r in runs[is_base].iterrows()}
        rows = runs[~is_base]
    if rows.empty:
        raise ValueError(f"no runs besides the baseline {baseline!r} to compare")
    table = []
    for group, part in rows.groupby(keys, sort=False):
        values = []
        for _, row in part.iterrows():
            seed = int(row["seed"])
            if seed not in reference:
                raise KeyError(f"seed {seed} has no baseline run (baseline seeds: {sorted(reference)})")
            values.append(delta_m(nested_scores(row, tasks), reference[seed], tasks))
        mean, low, high = paired_interval(values, interval, level)
        names = group if isinstance(group, tuple) else (group,)
        table.append({**dict(zip(keys, names)), "delta_m": mean, "std": float(np.std(values, ddof=1)) if
                      len(values) > 1 else float("nan"), "low": low, "high": high, "n": len(values)})
    return pd.DataFrame(table)
