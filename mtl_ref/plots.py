"""Plot helpers with one consistent style for the whole book.

Every chapter calls :func:`use_style` once. Methods and tasks keep their colours from figure to figure
(:func:`color`); bars always show the mean over seeds with the standard deviation as error bars and say how many
seeds went into them, on an axis that does not hide small differences (:func:`bar_errors`); Pareto fronts are drawn
as steps through the non-dominated points.
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
    """The book's matplotlib style: light grid, no top/right spines, readable sizes, crisp output.

    Figures are laid out with ``tight_layout`` automatically (``figure.autolayout``), so calling
    ``fig.tight_layout()`` yourself changes nothing and warns about nothing; ``plt.subplots(layout="constrained")``
    still gives constrained layout where a figure needs it (colour bars).
    """
    mpl.rcParams.update({
        "figure.figsize": (6.4, 3.6), "figure.dpi": 110, "savefig.dpi": 150, "figure.autolayout": True,
        "figure.constrained_layout.use": False,
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
               ylabel: str | None = None, reference: str | None = None, from_zero: bool | None = None) -> Axes:
    """Bars of the mean of ``y`` per ``x`` (and ``hue``) over seeds, with ±1 standard deviation.

    Bars of similar height far from zero (accuracies of 0.62 and 0.64) would look equal on an axis from 0, so by
    default (``from_zero=None``) the axis then starts near the lowest bar and the title says so; ``from_zero=True``
    keeps 0. With ``reference`` (a value of ``x``), the bars show instead each group's difference from the
    reference group, paired by the ``seed`` column, around a line at 0.
    """
    if reference is not None:
        return _bar_differences(df, x, y, reference, _axes(ax), ylabel)
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
    title = f"mean ± std over {n_seeds} seed{'s' if n_seeds != 1 else ''}"
    stats = summarize(df, [x] + ([hue] if hue else []), y)
    low = float((stats["mean"] - stats["std"].fillna(0)).min())
    high = float((stats["mean"] + stats["std"].fillna(0)).max())
    limits = None if from_zero else _zoomed_limits(low, high)
    if limits is not None:
        ax.set_ylim(*limits)
        title += f"; axis from {limits[0]:.3g}, not 0"
    ax.set_title(title, fontsize=9, loc="right")
    if hue:
        ax.legend(title=hue)
    ax.grid(axis="x", visible=False)
    return ax


def _zoomed_limits(low: float, high: float) -> tuple[float, float] | None:
    """Axis limits around ``[low, high]`` when bars from 0 would hide their differences (their spread is under a
    tenth of their distance from 0), else ``None``."""
    if not (np.isfinite(low) and np.isfinite(high)) or low <= 0 < high or low >= 0 > high:
        return None
    near, span = min(abs(low), abs(high)), high - low
    if span >= 0.1 * near:
        return None
    pad = max(span, 1e-3 * near) * 0.3
    return low - pad, high + pad


def _bar_differences(df: pd.DataFrame, x: str, y: str, reference: str, ax: Axes, ylabel: str | None) -> Axes:
    if "seed" not in df:
        raise ValueError("bar_errors(reference=...) pairs runs by seed, but the table has no 'seed' column")
    table = df.pivot_table(index="seed", columns=x, values=y, sort=False)
    if reference not in table:
        raise ValueError(f"reference {reference!r} is not a value of {x!r} (values: {list(table.columns)})")
    diffs = table.drop(columns=reference).sub(table[reference], axis=0)
    groups = list(diffs.columns)
    ax.bar(np.arange(len(groups)), diffs.mean(), 0.8, yerr=diffs.std().fillna(0), capsize=3,
           color=[color(str(g)) for g in groups], alpha=0.9)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(np.arange(len(groups)), [str(g) for g in groups], rotation=20 if len(groups) > 4 else 0)
    ax.set_ylabel(ylabel or f"{y} − {reference}")
    n = int(diffs.count().min())
    ax.set_title(f"difference from {reference}, paired by seed: mean ± std over {n} seed{'s' if n != 1 else ''}",
                 fontsize=9, loc="right")
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
