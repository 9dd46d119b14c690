"""Plot helpers with one consistent style for the whole book.

Every chapter calls :func:`use_style` once. Methods and tasks keep their colours from figure to figure
(:func:`color`); bars always show the mean over seeds with the standard deviation as error bars and say how many
seeds went into them; Pareto fronts are drawn as steps through the non-dominated points.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from .train import History

PALETTE = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C",
           "#CCB974", "#64B5CD"]
#: Fixed colours for the names that recur across chapters, so that "equal" is the same blue everywhere.
NAMED = {
    "single-task": "#8C8C8C", "independent": "#8C8C8C", "equal": "#4C72B0", "hard sharing": "#4C72B0",
    "static": "#937860", "uncertainty": "#DD8452", "gradnorm": "#55A868", "dwa": "#C44E52", "rlw": "#8172B3",
    "famo": "#DA8BC3", "mgda": "#64B5CD", "pcgrad": "#CCB974", "cagrad": "#2F4B7C", "nash_mtl": "#A05195",
    "imtl_g": "#F95D6A", "aligned_mtl": "#665191", "upgrad": "#FF7C43", "mean": "#4C72B0", "sum": "#003F5C",
}
_assigned: dict[str, str] = {}


def use_style() -> None:
    """The book's matplotlib style: light grid, no top/right spines, readable sizes, crisp output."""
    mpl.rcParams.update({
        "figure.figsize": (6.4, 3.6), "figure.dpi": 110, "savefig.dpi": 150, "figure.constrained_layout.use": True,
        "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
        "axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 9, "legend.frameon": False,
        "xtick.labelsize": 9, "ytick.labelsize": 9, "lines.linewidth": 1.8, "axes.prop_cycle": mpl.cycler(color=PALETTE),
    })


def color(name: str) -> str:
    """A colour for ``name`` that stays the same in every figure of the session."""
    key = name.lower()
    if key in NAMED:
        return NAMED[key]
    if key not in _assigned:
        _assigned[key] = PALETTE[len(_assigned) % len(PALETTE)]
    return _assigned[key]


def _axes(ax: Axes | None) -> Axes:
    return ax if ax is not None else plt.subplots()[1]


def plot_losses(history: History, ax: Axes | None = None, title: str | None = None, log: bool = True) -> Axes:
    """Training loss per task against epochs."""
    ax = _axes(ax)
    epochs = np.arange(1, len(history.train_loss) + 1)
    for task in history.tasks:
        ax.plot(epochs, history.loss(task), label=task, color=color(task))
    if log:
        ax.set_yscale("log")
    ax.set(xlabel="epoch", ylabel="training loss", title=title)
    ax.legend()
    return ax


def plot_metric(histories: dict[str, History], task: str, metric: str, ax: Axes | None = None) -> Axes:
    """One task's evaluation metric against epochs, one line per run (e.g. per method)."""
    ax = _axes(ax)
    for label, h in histories.items():
        values = h.metric(task, metric)
        ax.plot(np.arange(1, len(values) + 1), values, label=label, color=color(label))
    ax.set(xlabel="epoch", ylabel=f"{task} {metric}")
    ax.legend()
    return ax


def summarize(df: pd.DataFrame, by: str | Sequence[str], value: str) -> pd.DataFrame:
    """Mean, standard deviation and number of seeds of ``value`` for each group."""
    return df.groupby(by, sort=False)[value].agg(["mean", "std", "count"]).reset_index()


def bar_errors(df: pd.DataFrame, x: str, y: str, ax: Axes | None = None, hue: str | None = None,
               ylabel: str | None = None) -> Axes:
    """Bars of the mean of ``y`` per ``x`` (and ``hue``) over seeds, with ±1 standard deviation."""
    ax = _axes(ax)
    groups = list(dict.fromkeys(df[x]))
    hues = list(dict.fromkeys(df[hue])) if hue else [None]
    width = 0.8 / len(hues)
    n_seeds = df.groupby([x] + ([hue] if hue else []))[y].count().min()
    for j, h in enumerate(hues):
        part = df if h is None else df[df[hue] == h]
        stats = summarize(part, x, y).set_index(x).reindex(groups)
        pos = np.arange(len(groups)) + (j - (len(hues) - 1) / 2) * width
        colors = [color(str(g)) for g in groups] if h is None else color(str(h))
        ax.bar(pos, stats["mean"], width, yerr=stats["std"].fillna(0), capsize=3, color=colors, label=h,
               alpha=0.9)
    ax.set_xticks(np.arange(len(groups)), [str(g) for g in groups], rotation=20 if len(groups) > 4 else 0)
    ax.set_ylabel(ylabel or y)
    ax.set_title(f"mean ± std over {n_seeds} seed{'s' if n_seeds != 1 else ''}", fontsize=9, loc="right")
    if hue:
        ax.legend(title=hue)
    ax.grid(axis="x", visible=False)
    return ax


def pareto_mask(points: np.ndarray) -> np.ndarray:
    """Which rows of ``points`` (lower is better in every column) no other row dominates."""
    points = np.asarray(points, dtype=float)
    keep = np.ones(len(points), dtype=bool)
    for i, p in enumerate(points):
        dominated = np.all(points <= p, axis=1) & np.any(points < p, axis=1)
        keep[i] = not dominated.any()
    return keep


def plot_front(points: Iterable[Sequence[float]], ax: Axes | None = None, label: str = "front",
               color_name: str = "static", annotate: Sequence[str] | None = None) -> Axes:
    """Points of a two-objective trade-off (lower is better) and the step line through the non-dominated ones."""
    ax = _axes(ax)
    pts = np.asarray(list(points), dtype=float)
    mask = pareto_mask(pts)
    front = pts[mask][np.argsort(pts[mask][:, 0])]
    c = color(color_name)
    ax.scatter(pts[:, 0], pts[:, 1], s=18, color=c, alpha=0.5)
    ax.step(front[:, 0], front[:, 1], where="post", color=c, label=label)
    if annotate is not None:
        for (a, b), text in zip(pts, annotate):
            ax.annotate(text, (a, b), textcoords="offset points", xytext=(4, 3), fontsize=7, color=c)
    ax.legend()
    return ax
