"""Bad inputs are errors that name the task, the split and the value: NaN/inf targets and predictions, empty
splits, classification targets, devices this machine lacks, Δm of a broken run, restore_best without an epoch."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import mtl_ref
from mtl_ref import Task, delta_m, evaluate, fit, pick_device
from mtl_ref.data import CorrelatedRegression, MultiTaskData
from mtl_ref.models import HardSharing, mlp

SOURCE = CorrelatedRegression(num_tasks=2, correlation=0.5, dim=8, num_sines=2, seed=0)
TRAIN, TEST = SOURCE.sample(48, seed=1), SOURCE.sample(32, seed=2)
TASKS = [Task.regression("y1"), Task.regression("y2")]


def model() -> HardSharing:
    torch.manual_seed(0)
    return HardSharing(mlp([8, 16], last_activation=True), {"y1": nn.Linear(16, 1), "y2": nn.Linear(16, 1)})


def with_target(data: MultiTaskData, task: str, index: int, value: float) -> MultiTaskData:
    target = data.y[task].clone()
    target[index, 0] = value
    return MultiTaskData(data.x, {**data.y, task: target})


def run(train=TRAIN, **kwargs):
    return fit(kwargs.pop("model", None) or model(), kwargs.pop("tasks", TASKS), train, epochs=1, batch_size=16,
               progress=False, **kwargs)


@pytest.mark.parametrize("value", [math.nan, math.inf])
@pytest.mark.parametrize(("split", "argument"), [("validation", "val"), ("test", "test")])
def test_non_finite_validation_or_test_targets_name_task_and_split(value, split, argument):
    bad = with_target(TEST, "y2", 3, value)
    with pytest.raises(ValueError, match=rf"^task 'y2', {split} targets: 1 of 32 values are NaN or infinite$"):
        run(**{argument: bad})


class NaNWhenEvaluated(HardSharing):
    """Finite predictions in training mode; task y1's become NaN in evaluation mode."""

    def forward(self, x, task=None):
        out = super().forward(x, task)
        if not self.training:
            out["y1"] = out["y1"] * math.nan
        return out


def nan_model() -> NaNWhenEvaluated:
    torch.manual_seed(0)
    return NaNWhenEvaluated(mlp([8, 16], last_activation=True), {"y1": nn.Linear(16, 1), "y2": nn.Linear(16, 1)})


def test_non_finite_test_predictions_are_an_error_not_mse_nan():
    with pytest.raises(ValueError, match=r"^the model's predictions on the test data are NaN or infinite for "
                                         r"task\(s\) 'y1'$"):
        evaluate(nan_model(), TASKS, TEST)
    with pytest.raises(ValueError, match=r"predictions on the test data are NaN or infinite for task\(s\) 'y1'"):
        run(model=nan_model(), test=TEST)


def test_non_finite_validation_predictions_stop_restore_best_from_restoring_nothing():
    with pytest.raises(ValueError, match=r"predictions on the validation data are NaN or infinite for task\(s\) "
                                         r"'y1'"):
        run(model=nan_model(), val=TEST, restore_best=True)


def test_restore_best_that_picks_no_epoch_raises(monkeypatch):
    monkeypatch.setattr(mtl_ref.train.BestCheckpoint, "offer", lambda self, model, val_loss, epoch: None)
    with pytest.raises(RuntimeError, match=r"restore_best could not pick an epoch: .*validation losses \[\["):
        run(val=TEST, restore_best=True)


EMPTY = TRAIN.subset(slice(0, 0))


@pytest.mark.parametrize(("split", "kwargs"), [("training", {"train": EMPTY}), ("validation", {"val": EMPTY}),
                                               ("test", {"test": EMPTY})])
def test_empty_data_names_the_split(split, kwargs):
    with pytest.raises(ValueError, match=rf"^the {split} data is empty \(0 examples\)$"):
        run(**kwargs)


def test_evaluate_on_empty_data_names_the_split():
    with pytest.raises(ValueError, match=r"^the test data is empty"):
        evaluate(model(), TASKS, EMPTY)


def digits(labels: torch.Tensor) -> MultiTaskData:
    torch.manual_seed(0)
    return MultiTaskData(torch.randn(len(labels), 4), {"digit": labels})


def classifier(classes: int = 5) -> HardSharing:
    torch.manual_seed(0)
    return HardSharing(nn.Linear(4, 8), {"digit": nn.Linear(8, classes)})


DIGIT = [Task.classification("digit")]
LABELS = torch.arange(12) % 5


@pytest.mark.parametrize(("labels", "message"), [
    (LABELS.float(), r"^task 'digit', training targets: class indices must have dtype torch\.int64 \(long\), got "
                     r"torch\.float32; convert with \.long\(\)$"),
    (LABELS.int(), r"dtype torch\.int64 \(long\), got torch\.int32"),
    (LABELS[:, None], r"^task 'digit', training targets: class indices must have shape \(B,\), got \(12, 1\)$"),
    (LABELS - 1, r"^task 'digit', training targets: class indices must be at least 0, found -1$"),
])
def test_classification_targets_are_checked_before_the_first_step(labels, message):
    with pytest.raises(ValueError, match=message):
        run(model=classifier(), tasks=DIGIT, train=digits(labels))


def test_labels_beyond_the_heads_classes_name_the_split():
    run(model=classifier(), tasks=DIGIT, train=digits(LABELS), test=digits(LABELS))
    with pytest.raises(ValueError, match=r"^task 'digit', test targets: label 5 is out of range for a head with 5 "
                                         r"classes \(labels must be in 0\.\.4\)$"):
        run(model=classifier(), tasks=DIGIT, train=digits(LABELS), test=digits(LABELS + 1))
    with pytest.raises(ValueError, match=r"^task 'digit', training targets: label 4 is out of range for a head "
                                         r"with 4 classes"):
        run(model=classifier(4), tasks=DIGIT, train=digits(LABELS))


def test_classification_logits_must_be_two_dimensional():
    class Flat(HardSharing):
        def forward(self, x, task=None):
            return {"digit": super().forward(x)["digit"][:, 0]}

    torch.manual_seed(0)
    flat = Flat(nn.Linear(4, 8), {"digit": nn.Linear(8, 5)})
    with pytest.raises(ValueError, match=r"^task 'digit': a classification head must return logits of shape "
                                         r"\(B, C\), got shape \(12,\)$"):
        run(model=flat, tasks=DIGIT, train=digits(LABELS))


def test_binary_targets_must_be_float_zero_or_one():
    torch.manual_seed(0)
    net = HardSharing(nn.Linear(4, 8), {"flag": nn.Linear(8, 1)})
    x = torch.randn(12, 4)
    with pytest.raises(ValueError, match=r"^task 'flag', training targets: binary targets must be floating-point "
                                         r"0/1 .*got dtype torch\.int64; convert with \.float\(\)$"):
        run(model=net, tasks=[Task.binary("flag")], train=MultiTaskData(x, {"flag": (LABELS[:, None] > 2).long()}))
    with pytest.raises(ValueError, match=r"^task 'flag', training targets: binary targets must be 0 or 1$"):
        run(model=net, tasks=[Task.binary("flag")], train=MultiTaskData(x, {"flag": LABELS[:, None].float()}))


def test_task_docstring_lists_its_constructors():
    for constructor in ("Task.regression(name)", "Task.classification(name)", "Task.binary(name)"):
        assert constructor in Task.__doc__


def test_fit_takes_a_method_by_name():
    history = run(method="upgrad")
    assert history.weight_trace().shape == (3, 2)


@pytest.mark.parametrize(("scores", "baseline", "message"), [
    ({"y1": {"mse": math.nan}, "y2": {"mse": 1.0}}, {"y1": {"mse": 1.0}, "y2": {"mse": 1.0}},
     r"^task 'y1': the score of metric 'mse' is nan; Δm needs finite scores$"),
    ({"y1": {"mse": 1.0}, "y2": {"mse": 1.0}}, {"y1": {"mse": 1.0}, "y2": {"mse": math.inf}},
     r"^task 'y2': the baseline of metric 'mse' is inf"),
])
def test_delta_m_rejects_non_finite_scores(scores, baseline, message):
    with pytest.raises(ValueError, match=message):
        delta_m(scores, baseline, TASKS)


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("MTL_DEVICE", raising=False)


@pytest.mark.parametrize("name", ["gpu", "GPU", "cuda", "gpu:1"])
def test_gpu_without_cuda_gives_the_setup_message(no_cuda, name):
    with pytest.raises(RuntimeError, match=r"^device cuda(:1)? was requested but CUDA is not available$"):
        pick_device(name)
    with pytest.raises(RuntimeError, match=r"^device cuda(:1)? was requested but CUDA is not available$"):
        TRAIN.to(name)


def test_gpu_means_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("gpu") == torch.device("cuda")


def test_an_unknown_device_name_is_named(no_cuda):
    with pytest.raises(RuntimeError, match=r"^device 'tpu' is not a device name torch knows \(try 'cpu', 'cuda'"):
        pick_device("tpu")
