"""Plot helpers (Agg backend): what each draws, pareto_mask, and stable colours."""

import matplotlib

matplotlib.use("Agg")

import warnings  # noqa: E402

import matplotlib as mpl  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.container import BarContainer  # noqa: E402

from mtl_ref import History  # noqa: E402
from mtl_ref.plots import (NAMED, PALETTE, bar_errors, color, pareto_mask, plot_front, plot_losses,  # noqa: E402
                           plot_metric, summarize, use_style)


@pytest.fixture(autouse=True)
def close_figures():
    with mpl.rc_context():
        yield
    plt.close("all")


def history(offset: float = 0.0) -> History:
    h = History(["left", "right"], train_loss=[[1.0, 2.0], [0.5, 1.0], [0.25, 0.7]])
    h.scores = [{"left": {"acc": 0.5 + offset}, "right": {"acc": 0.4}},
                {"left": {"acc": 0.7 + offset}, "right": {"acc": 0.6}}]
    h.eval_epochs = [2, 3]
    return h


def grid() -> pd.DataFrame:
    rows = [{"method": m, "task": t, "seed": s, "acc": base + 0.01 * s + (0.1 if t == "b" else 0)}
            for m, base in [("equal", 0.8), ("mgda", 0.7), ("famo", 0.75)] for t in ("a", "b") for s in range(3)]
    return pd.DataFrame(rows)


def test_use_style():
    use_style()
    assert mpl.rcParams["axes.spines.right"] is False and mpl.rcParams["axes.grid"] is True
    assert [c["color"] for c in mpl.rcParams["axes.prop_cycle"]] == PALETTE


def test_color_is_stable_and_case_insensitive():
    assert color("equal") == color("Equal") == NAMED["equal"]
    first = [color(name) for name in ("method-x", "method-y", "Method-X")]
    assert first[0] == first[2] and first[0] != first[1]
    assert [color(name) for name in ("method-x", "method-y")] == first[:2]
    assert all(c in PALETTE for c in first)


def test_plot_losses():
    ax = plot_losses(history(), title="losses")
    assert [line.get_label() for line in ax.get_lines()] == ["left", "right"]
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), [2.0, 1.0, 0.7])
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), [1, 2, 3])
    assert ax.get_yscale() == "log" and ax.get_title() == "losses" and ax.get_legend() is not None
    assert ax.get_lines()[0].get_color() == color("left")
    _, existing = plt.subplots()
    assert plot_losses(history(), ax=existing, log=False) is existing and existing.get_yscale() == "linear"


def test_plot_metric():
    ax = plot_metric({"equal": history(), "mgda": history(0.1), "famo": history(0.2)}, "left", "acc")
    assert [line.get_label() for line in ax.get_lines()] == ["equal", "mgda", "famo"]
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), [0.6, 0.8])
    assert ax.get_lines()[0].get_color() == NAMED["equal"]
    assert ax.get_ylabel() == "left acc"


def test_summarize():
    s = summarize(grid(), "method", "acc")
    assert s["method"].tolist() == ["equal", "mgda", "famo"]  # first-appearance order
    assert s["count"].tolist() == [6, 6, 6]
    assert s.loc[0, "mean"] == pytest.approx(0.86)
    s2 = summarize(grid(), ["method", "task"], "acc")
    assert len(s2) == 6 and s2.loc[0, "std"] == pytest.approx(0.01)


def bars(ax):
    return [c for c in ax.containers if isinstance(c, BarContainer)]


def test_bar_errors_without_hue():
    df = grid()[lambda d: d.task == "a"]
    ax = bar_errors(df, "method", "acc", ylabel="accuracy")
    (container,) = bars(ax)
    assert len(container) == 3
    np.testing.assert_allclose([r.get_height() for r in container], [0.81, 0.71, 0.76])
    (segments,) = [c.get_segments() for c in container.errorbar.lines[2]]  # ±1 std error bars
    std = df.groupby("method", sort=False)["acc"].std().tolist()
    np.testing.assert_allclose([seg[1][1] - seg[0][1] for seg in segments], 2 * np.array(std))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["equal", "mgda", "famo"]
    assert ax.get_ylabel() == "accuracy" and ax.get_title(loc="right") == "mean ± std over 3 seeds"
    assert ax.get_legend() is None


def test_bar_errors_with_hue():
    ax = bar_errors(grid(), "method", "acc", hue="task")
    a, b = bars(ax)
    assert len(a) == len(b) == 3
    np.testing.assert_allclose([r.get_height() for r in b], [0.91, 0.81, 0.86])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
    assert a[0].get_x() < b[0].get_x() < a[1].get_x()  # side by side within each group


def test_bar_errors_single_seed_title():
    df = grid()[lambda d: (d.seed == 0) & (d.task == "a")]
    ax = bar_errors(df, "method", "acc")
    assert ax.get_title(loc="right") == "mean ± std over 1 seed"
    assert [r.get_height() for r in bars(ax)[0]] == pytest.approx([0.8, 0.7, 0.75])


def test_pareto_mask():
    points = np.array([[1, 5], [2, 3], [3, 3], [4, 1], [5, 5], [2, 3], [0.5, 6]])
    # (3, 3) is dominated by (2, 3); (5, 5) by several; the duplicate (2, 3) points dominate neither each other
    assert pareto_mask(points).tolist() == [True, True, False, True, False, True, True]
    assert pareto_mask([[1.0, 1.0]]).tolist() == [True]
    assert pareto_mask(np.array([[1, 1, 1], [1, 1, 2], [0, 2, 1]])).tolist() == [True, False, True]


def test_plot_front():
    points = [(1, 5), (2, 3), (3, 3), (4, 1), (5, 5)]
    ax = plot_front(points, label="static", annotate=["a", "b", "c", "d", "e"])
    (scatter,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(scatter.get_offsets()) == 5
    (step,) = ax.get_lines()
    assert step.get_label() == "static" and step.get_drawstyle() == "steps-post"
    np.testing.assert_allclose(step.get_xdata(), [1, 2, 4])
    np.testing.assert_allclose(step.get_ydata(), [5, 3, 1])
    assert [t.get_text() for t in ax.texts] == ["a", "b", "c", "d", "e"]
    assert step.get_color() == color("static")


def close_bars() -> pd.DataFrame:
    rows = [{"method": m, "seed": s, "acc": base + 0.002 * s} for m, base in (("equal", 0.62), ("upgrad", 0.64))
            for s in range(3)]
    return pd.DataFrame(rows)


def test_close_bars_far_from_zero_get_an_axis_that_shows_the_difference():
    ax = bar_errors(close_bars(), "method", "acc")
    low, high = ax.get_ylim()
    assert 0.55 < low < 0.62 and 0.64 < high < 0.7
    assert ax.get_title(loc="right") == f"mean ± std over 3 seeds; axis from {low:.3g}, not 0"
    assert bar_errors(close_bars(), "method", "acc", from_zero=True).get_ylim()[0] == 0


def test_bars_against_a_reference_show_paired_differences():
    ax = bar_errors(close_bars(), "method", "acc", reference="equal")
    (container,) = bars(ax)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["upgrad"]
    assert [r.get_height() for r in container] == pytest.approx([0.02])
    assert ax.get_ylabel() == "acc − equal"
    assert ax.get_title(loc="right") == "difference from equal, paired by seed: mean ± std over 3 seeds"
    with pytest.raises(ValueError, match=r"reference 'sum' is not a value of 'method'"):
        bar_errors(close_bars(), "method", "acc", reference="sum")


def test_tight_layout_under_the_package_style_does_not_warn():
    use_style()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.tight_layout()
        fig.canvas.draw()
    plt.close(fig)
