"""Glued numbers are remembered so that a chapter can list them where MyST roles do not render."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mtl_ref import glue as glue_module
from mtl_ref.glue import glue, glue_interval, glued_numbers


def test_glue_returns_the_value_and_lists_it_labelled(monkeypatch) -> None:
    monkeypatch.setattr(glue_module, "_GLUED", {})
    assert glue("gain", np.float64(0.3125)) == 0.3125
    glue("n_seeds", 5)
    glue("best", "PCGrad")
    glue("table", pd.DataFrame({"a": [1]}))
    glue("gain", 0.5)  # glued again: the latest value, in its first place
    table = glued_numbers()
    assert list(table.index) == ["gain", "n_seeds", "best", "table"]
    assert table.loc["gain", "value"] == "0.5"
    assert table.loc["n_seeds", "value"] == "5"
    assert table.loc["best", "value"] == "PCGrad"
    assert table.loc["table", "value"] == "<DataFrame>"


@pytest.mark.parametrize("interval, sign", [((0.2, 0.1, 0.3), "above zero"), ((-0.2, -0.3, -0.1), "below zero"),
                                            ((0.1, -0.1, 0.3), "includes zero"), ((0.1, 0.0, 0.2), "includes zero")])
def test_an_interval_is_glued_with_what_it_says_about_zero(monkeypatch, interval, sign) -> None:
    monkeypatch.setattr(glue_module, "_GLUED", {})
    assert glue_interval("gap", interval) == interval
    table = glued_numbers()
    assert list(table.index) == ["gap_mean", "gap_low", "gap_high", "gap_sign"]
    assert table.loc["gap_sign", "value"] == sign
    assert float(table.loc["gap_low", "value"]) == interval[1]


def test_arrays_are_not_turned_into_scalars(monkeypatch) -> None:
    monkeypatch.setattr(glue_module, "_GLUED", {})
    values = np.arange(3)
    assert glue("values", values) is values
    assert glued_numbers().loc["values", "value"] == "<ndarray>"


def test_without_myst_nb_a_glued_figure_is_shown_where_it_is_glued(monkeypatch) -> None:
    import sys

    import matplotlib.pyplot as plt

    shown = []
    monkeypatch.setattr(glue_module, "_GLUED", {})
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # import fails, as on Colab
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", shown.append)
    fig = plt.figure()
    assert glue("fig-x", fig) is fig
    assert glue("n", 3) == 3
    assert shown == [fig]
    plt.close(fig)
