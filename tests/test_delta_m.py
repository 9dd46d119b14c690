"""Δm against hand-computed values: mixed directions, averaging over all metrics, and the error paths."""

import pytest
import torch.nn.functional as F

from mtl_ref import Task, delta_m
from mtl_ref.metrics import MAE, MSE


def test_mixed_directions_by_hand():
    tasks = [Task.classification("a"), Task.regression("b")]
    scores = {"a": {"acc": 0.9}, "b": {"mse": 0.5}}
    baseline = {"a": {"acc": 0.8}, "b": {"mse": 0.4}}
    # accuracy +12.5% (better), MSE +25% (worse): (12.5 - 25) / 2
    assert delta_m(scores, baseline, tasks) == pytest.approx(-6.25)


def test_positive_means_better():
    tasks = [Task.classification("a"), Task.regression("b")]
    baseline = {"a": {"acc": 0.5}, "b": {"mse": 1.0}}
    assert delta_m({"a": {"acc": 0.6}, "b": {"mse": 0.8}}, baseline, tasks) == pytest.approx(20.0)
    assert delta_m({"a": {"acc": 0.4}, "b": {"mse": 1.2}}, baseline, tasks) == pytest.approx(-20.0)
    assert delta_m(baseline, baseline, tasks) == 0.0


def test_averages_over_every_metric_not_first_within_tasks():
    tasks = [Task("a", F.mse_loss, {"mse": MSE(), "mae": MAE()}), Task.classification("b")]
    scores = {"a": {"mse": 1.0, "mae": 1.0}, "b": {"acc": 0.6}}
    baseline = {"a": {"mse": 2.0, "mae": 1.0}, "b": {"acc": 0.4}}
    # terms +50%, 0%, +50% -> 100/3 (averaging within the task first would give 37.5)
    assert delta_m(scores, baseline, tasks) == pytest.approx(100 / 3)


def test_negative_baseline_keeps_the_sign_convention():
    tasks = [Task("nll", F.mse_loss, {"nll": MSE()})]  # lower is better
    assert delta_m({"nll": {"nll": -3.0}}, {"nll": {"nll": -2.0}}, tasks) == pytest.approx(50.0)


def test_extra_scores_are_ignored():
    tasks = [Task.classification("a")]
    assert delta_m({"a": {"acc": 1.0, "f1": 0.1}, "z": {"acc": 0.0}}, {"a": {"acc": 0.5}}, tasks) == pytest.approx(100)


@pytest.mark.parametrize("where", ["scores", "baseline"])
def test_missing_metric_names_task_and_metric(where):
    tasks = [Task.classification("a"), Task.regression("b")]
    full = {"a": {"acc": 0.9}, "b": {"mse": 0.5}}
    partial = {"a": {"acc": 0.9}, "b": {}}
    args = (partial, full) if where == "scores" else (full, partial)
    with pytest.raises(KeyError, match="task 'b': metric 'mse' missing from scores or baseline"):
        delta_m(*args, tasks)
    with pytest.raises(KeyError, match="task 'b'"):
        delta_m({"a": {"acc": 0.9}}, full, tasks)


def test_zero_baseline_errors():
    tasks = [Task.classification("a")]
    with pytest.raises(ZeroDivisionError, match="task 'a': baseline acc is 0"):
        delta_m({"a": {"acc": 0.5}}, {"a": {"acc": 0.0}}, tasks)


def test_no_metrics_errors():
    with pytest.raises(ValueError, match="no metrics to compare"):
        delta_m({}, {}, [Task("a", F.mse_loss)])
    with pytest.raises(ValueError, match="no metrics"):
        delta_m({}, {}, [])
