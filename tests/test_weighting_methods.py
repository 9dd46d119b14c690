"""Every training method, by name, through :func:`mtl_ref.fit`: the registry, weight traces and reset."""

import numpy as np
import pytest
import torch

from mtl_ref import Task, fit
from mtl_ref.data import CorrelatedRegression
from mtl_ref.models import HardSharing, mlp
from mtl_ref.weighting import (AGGREGATORS, LOSS_WEIGHTINGS, Equal, GradientAggregation, Mean, Static, method,
                               method_names)

PROBLEM = CorrelatedRegression(num_tasks=3, dim=8, correlation=0.5)
TASKS = [Task.regression(name) for name in PROBLEM.task_names]
HPARAMS = {"static": {"weights": [1.0, 2.0, 0.5]}}
CONFIGS = [(name, None) for name in LOSS_WEIGHTINGS] + [
    (name, level) for name in AGGREGATORS for level in ("parameters", "representation")]


def build(name: str, level: str | None):
    hparams = dict(HPARAMS.get(name, {}))
    if level is not None:
        hparams["level"] = level
    return method(name, num_tasks=len(TASKS), **hparams)


def make_model() -> HardSharing:
    torch.manual_seed(0)
    return HardSharing(mlp([8, 16, 16], last_activation=True), {t.name: mlp([16, 8, 1]) for t in TASKS})


def run(weighting, epochs: int = 3):
    train = PROBLEM.sample(96, seed=1)
    return fit(make_model(), TASKS, train, epochs=epochs, batch_size=32, method=weighting, lr=1e-2, progress=False)


def test_the_registry_covers_loss_weightings_and_aggregators():
    assert method_names() == [*LOSS_WEIGHTINGS, *AGGREGATORS]
    assert {"equal", "static", "uncertainty", "gradnorm", "dwa", "rlw", "famo", "mean", "sum"} <= set(method_names())
    assert isinstance(method("equal"), Equal)
    assert isinstance(method("static", weights=[1, 2]), Static)
    wrapped = method("mean", level="representation")
    assert isinstance(wrapped, GradientAggregation) and wrapped.level == "representation"
    assert method("sum").level == "parameters"
    assert method("gradnorm", num_tasks=4).weights.shape == (4,)
    with pytest.raises(ValueError, match="unknown method 'nope'; valid names are equal, static, .*mean, sum"):
        method("nope")
    with pytest.raises(TypeError):
        method("mean", temperature=2.0)


@pytest.mark.parametrize(("name", "level"), CONFIGS, ids=[f"{n}-{l}" if l else n for n, l in CONFIGS])
def test_every_method_trains_and_restarts_from_its_initial_state(name, level):
    weighting = build(name, level)
    first = run(weighting)
    steps = 3 * 3
    trace = first.weight_trace()
    assert trace.shape == (steps, len(TASKS))
    assert np.isfinite(first.train_loss).all()
    assert first.train_loss[-1][0] < first.train_loss[0][0] * 1.5
    # fit resets the method: a second run from the same model and data repeats the first exactly
    second = run(weighting)
    np.testing.assert_array_equal(second.train_loss, first.train_loss)
    np.testing.assert_array_equal(second.weight_trace(), trace)


def test_aggregators_registered_later_are_methods_too(monkeypatch):
    class Half(Mean):
        def __init__(self, num_tasks: int, scale: float = 0.5) -> None:
            super().__init__()
            self.num_tasks, self.scale = num_tasks, scale

    monkeypatch.setitem(AGGREGATORS, "half", Half)
    assert "half" in method_names()
    built = method("half", num_tasks=3, scale=0.25, level="representation")
    assert isinstance(built.aggregator, Half)
    assert (built.aggregator.num_tasks, built.aggregator.scale, built.level) == (3, 0.25, "representation")


@pytest.mark.parametrize("name", ["sum", "mean"])
def test_sum_and_mean_train_like_equal_weights_under_adam(name):
    """Sum is equal weights' gradient, and mean scales each parameter's gradient by a constant, which Adam does not
    see (up to its ε): the runs agree up to rounding. This is why the chapter on whether the methods help leaves the
    two out."""
    equal, other = run(Equal()), run(build(name, "parameters"))
    np.testing.assert_allclose(other.train_loss, equal.train_loss, rtol=1e-4)


def test_static_half_weights_train_like_equal_weights_under_adam():
    equal, half = run(Equal()), run(Static([0.5, 0.5, 0.5]))
    np.testing.assert_allclose(half.train_loss, equal.train_loss, rtol=1e-4)
