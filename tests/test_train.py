"""The training loop: fit, evaluate, mean_losses, make_optimizer and History, on a tiny hard-sharing problem."""

import json
import math
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook

from mtl_ref import History, Task, evaluate, fit, task_losses
from mtl_ref.data import CorrelatedRegression, MultiTaskData
from mtl_ref.models import CrossStitch, HardSharing, MultiTaskModel, Sluice, mlp
from mtl_ref.train import make_optimizer, mean_losses
from mtl_ref.weighting import LossWeighting, Static

TIMING = ("seconds", "examples_per_second")


def problem():
    source = CorrelatedRegression(num_tasks=2, correlation=0.5, dim=8, num_sines=2, seed=0)
    return source.sample(96, seed=1), source.sample(64, seed=2)


TRAIN, TEST = problem()


def tasks():
    return [Task.regression("y1"), Task.regression("y2")]


def make_model(seed: int = 0) -> HardSharing:
    torch.manual_seed(seed)
    return HardSharing(mlp([8, 16], last_activation=True), {"y1": nn.Linear(16, 1), "y2": nn.Linear(16, 1)})


def run(seed: int = 0, model_seed: int = 0, **kwargs):
    model = make_model(model_seed)
    options = {"epochs": 4, "batch_size": 16, "lr": 1e-2, "progress": False, "test": TEST, "seed": seed, **kwargs}
    return fit(model, tasks(), TRAIN, **options), model


def without_timing(history: History) -> dict:
    d = history.to_dict()
    assert all(len(d[k]) == len(history.train_loss) and all(v > 0 for v in d[k]) for k in TIMING)
    return {k: v for k, v in d.items() if k not in TIMING}


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@contextmanager
def optimizer_steps():
    """Record, at every optimizer step, the optimizer and a copy of every gradient it is about to apply."""
    seen = []

    def hook(optimizer, args, kwargs):
        seen.append((optimizer, [p.grad.clone() if p.grad is not None else None
                                 for group in optimizer.param_groups for p in group["params"]]))

    handle = register_optimizer_step_pre_hook(hook)
    try:
        yield seen
    finally:
        handle.remove()


# --- fit -------------------------------------------------------------------------------------------------------

def test_fit_lowers_the_training_loss_and_records_everything():
    history, model = run(epochs=6)
    assert history.tasks == ["y1", "y2"]
    assert np.array(history.train_loss).shape == (6, 2)
    for task in ("y1", "y2"):
        assert history.loss(task)[-1] < 0.7 * history.loss(task)[0]
    assert history.eval_epochs == [1, 2, 3, 4, 5, 6] and len(history.scores) == 6
    assert history.final == history.scores[-1] == evaluate(model, tasks(), TEST)
    assert history.metric("y1", "mse")[-1] < history.metric("y1", "mse")[0]
    np.testing.assert_array_equal(history.weight_trace(), np.ones((6 * 6, 2)))  # Equal, 6 steps per epoch
    assert history.val_loss == [] and history.best_epoch is None
    assert len(history.seconds) == len(history.examples_per_second) == 6
    assert model.training


def test_same_seed_is_bit_identical_on_cpu():
    (h1, m1), (h2, m2) = run(seed=3), run(seed=3)
    assert without_timing(h1) == without_timing(h2)
    np.testing.assert_array_equal(h1.weight_trace(), h2.weight_trace())
    assert same_weights(m1, m2)


def test_different_seed_differs():
    (h1, m1), (h2, m2) = run(seed=3), run(seed=4)
    assert h1.train_loss[-1] != h2.train_loss[-1]
    assert not same_weights(m1, m2)


def test_amp_is_a_no_op_on_cpu():
    (h1, m1), (h2, m2) = run(epochs=1, amp=True), run(epochs=1, amp=False)
    assert without_timing(h1) == without_timing(h2) and same_weights(m1, m2)


def test_restore_best_restores_the_best_validation_epoch():
    # Validation targets are the negated training targets: the better the fit, the worse the validation loss, so
    # the best validation epoch comes early and restoring it matters.
    val = MultiTaskData(TRAIN.x[:48], {k: -v[:48] for k, v in TRAIN.y.items()})
    history, model = run(epochs=5, val=val, restore_best=True)
    totals = (np.array(history.val_loss) / np.array(history.val_loss_initial)).mean(axis=1)
    assert np.array(history.val_loss).shape == (5, 2) and len(history.val_loss_initial) == 2
    assert history.best_epoch == int(np.argmin(totals)) + 1 < 5
    assert history.final == evaluate(model, tasks(), TEST)
    assert history.final != history.scores[-1]
    assert history.scores[history.best_epoch - 1] == history.final
    # the weights are exactly those after best_epoch epochs of the same run
    _, shorter = run(epochs=history.best_epoch)
    assert same_weights(model, shorter)
    torch.testing.assert_close(mean_losses(model, tasks(), val), torch.tensor(history.val_loss[history.best_epoch - 1]))


def test_restore_best_selects_on_the_relative_loss_not_the_sum():
    # Task y2's validation loss is scaled up a thousandfold: the sum would follow y2 alone, the relative criterion
    # weighs both tasks alike, and the two pick different epochs here.
    val = MultiTaskData(TRAIN.x[:48], {"y1": -TRAIN.y["y1"][:48], "y2": 1000 * TRAIN.y["y2"][:48]})
    history, _ = run(epochs=6, val=val, restore_best=True)
    losses, initial = np.array(history.val_loss), np.array(history.val_loss_initial)
    assert history.best_epoch == int(np.argmin((losses / initial).mean(axis=1))) + 1
    assert history.best_epoch != int(np.argmin(losses.sum(axis=1))) + 1


def test_val_without_restore_best_only_records():
    val = MultiTaskData(TRAIN.x[:48], {k: -v[:48] for k, v in TRAIN.y.items()})
    history, model = run(epochs=3, val=val)
    assert len(history.val_loss) == 3 and history.best_epoch is None
    assert history.final == history.scores[-1]
    _, plain = run(epochs=3)
    assert same_weights(model, plain)  # validation does not disturb training


def test_restore_best_without_val_errors():
    with pytest.raises(ValueError, match=r"restore_best needs a validation set \(val=...\)"):
        run(restore_best=True)


def test_eval_every():
    history, _ = run(epochs=5, eval_every=2)
    assert history.eval_epochs == [2, 4, 5] and len(history.scores) == 3
    assert history.metric("y2", "mse").shape == (3,)
    assert history.final == history.scores[-1]
    history, _ = run(epochs=3, test=None)
    assert history.scores == [] and history.eval_epochs == [] and history.final == {}


def test_nan_target_raises_naming_the_task():
    y2 = TRAIN.y["y2"].clone()
    y2[50, 0] = math.nan
    data = MultiTaskData(TRAIN.x, {"y1": TRAIN.y["y1"], "y2": y2})
    # Caught before the first step, whatever the batch size.
    for batch_size in (len(data), 16):
        with pytest.raises(ValueError, match=r"^task 'y2', training targets: 1 of 96 values are NaN or infinite$"):
            fit(make_model(), tasks(), data, epochs=2, batch_size=batch_size, progress=False)


class Flaky(nn.Module):
    """Fine on the first forward pass, then predicts infinity for ``y1``."""

    def __init__(self):
        super().__init__()
        self.inner, self.calls = make_model(), 0

    def forward(self, x):
        self.calls += 1
        out = self.inner(x)
        if self.calls > 1:
            out["y1"] = out["y1"] + math.inf
        return out


def test_loss_that_goes_bad_after_the_first_step_is_caught_at_the_end_of_the_epoch():
    with pytest.raises(FloatingPointError, match=r"^non-finite loss for task 'y1' = inf \(at step 2 of epoch 1\)$"):
        fit(Flaky(), tasks(), TRAIN, epochs=2, batch_size=16, progress=False)


class Huge(nn.Module):
    """Predicts 6.3e18 for ``y1``: each step's loss (~4e37) is finite, their sum over the epoch overflows float32."""

    def __init__(self):
        super().__init__()
        self.inner = make_model()

    def forward(self, x):
        out = self.inner(x)
        return {**out, "y1": out["y1"] * 0 + 6.3e18}


def test_epoch_mean_that_overflows_is_reported():
    with pytest.raises(FloatingPointError, match=r"^non-finite loss for task 'y1' = inf \(mean over epoch 1\)$"):
        fit(Huge(), tasks(), TRAIN, epochs=1, batch_size=4, progress=False)  # 24 steps


class Rename(nn.Module):
    """A model whose output is changed by ``edit`` before it is returned."""

    def __init__(self, edit):
        super().__init__()
        self.inner, self.edit = make_model(), edit

    def forward(self, x):
        return self.edit(self.inner(x))


@pytest.mark.parametrize("edit, error, message", [
    (lambda o: {**o, "y3": o["y1"]}, KeyError, r"predictions \['y3'\] that match no task"),
    (lambda o: {"y1": o["y1"]}, KeyError, r"task 'y2' has no prediction in the model output"),
    (lambda o: {**o, "y2": o["y2"][:, 0]}, ValueError,
     r"task 'y2': prediction has shape \(16,\) but target has shape \(16, 1\)"),
    (lambda o: {**o, "y1": o["y1"][:8]}, ValueError, r"task 'y1': prediction has shape \(8, 1\) but target has shape"),
])
def test_bad_model_outputs_raise_from_inside_fit(edit, error, message):
    with pytest.raises(error, match=message):
        fit(Rename(edit), tasks(), TRAIN, epochs=1, batch_size=16, progress=False)


def test_missing_target_raises_from_inside_fit():
    with pytest.raises(KeyError, match=r"task 'y2' has no targets in the training data \(it holds \['y1'\]\)"):
        fit(make_model(), tasks(), TRAIN.select(["y1"]), epochs=1, batch_size=16, progress=False)


class Penalised(HardSharing):
    """Hard sharing with a penalty whose gradient is ``coef`` on every weight of the first trunk layer."""

    coef = 0.5

    def regularization(self):
        return self.coef * self.trunk[0].weight.sum()


def test_regularization_penalty_changes_the_gradients():
    def grads_of_one_step(model):
        with optimizer_steps() as seen:
            fit(model, tasks(), TRAIN, epochs=1, batch_size=len(TRAIN), progress=False)
        (_, grads), = seen
        return dict(zip([n for n, _ in model.named_parameters()], grads))

    plain = grads_of_one_step(make_model())
    torch.manual_seed(0)
    penalised = Penalised(mlp([8, 16], last_activation=True), {"y1": nn.Linear(16, 1), "y2": nn.Linear(16, 1)})
    assert same_weights(penalised, make_model())
    with_penalty = grads_of_one_step(penalised)
    assert with_penalty.keys() == plain.keys()
    for name in plain:
        shift = 0.5 if name == "trunk.0.weight" else 0.0
        torch.testing.assert_close(with_penalty[name], plain[name] + shift)


def test_grad_clip_and_weight_decay():
    with optimizer_steps() as seen:
        run(epochs=1, grad_clip=1e-3, weight_decay=0.1)
    assert len(seen) == 6
    for optimizer, grads in seen:
        assert isinstance(optimizer, torch.optim.AdamW)
        assert torch.cat([g.flatten() for g in grads]).norm() <= 1e-3 * (1 + 1e-5)


def test_static_method_weights_are_in_the_history():
    history, _ = run(epochs=2, method=Static([1.0, 2.0]))
    np.testing.assert_array_equal(history.weight_trace(), np.tile([1.0, 2.0], (12, 1)))


def test_to_dict_is_json_serialisable():
    val = MultiTaskData(TRAIN.x[:48], {k: v[:48] for k, v in TRAIN.y.items()})
    history, _ = run(epochs=2, val=val, restore_best=True)
    d = json.loads(json.dumps(history.to_dict()))
    assert d["tasks"] == ["y1", "y2"] and d["best_epoch"] == history.best_epoch
    assert d["final"] == history.final and d["train_loss"] == history.train_loss
    assert set(d) == {"tasks", "train_loss", "val_loss", "val_loss_initial", "best_epoch", "diverged", "scores", "eval_epochs", "final", "weights", *TIMING}


class Recording(LossWeighting):
    """Equal weights; records the losses before each step and, through ``after_step``, after it."""

    def __init__(self):
        super().__init__()
        self.before, self.after = [], []

    def combine(self, losses):
        self.before.append(losses.detach())
        return losses.sum()

    def after_step(self, losses_after):
        self.after.append(losses_after())


def test_after_step_recomputes_the_batch_losses_without_grad():
    method = Recording()
    model = make_model()
    fit(model, tasks(), TRAIN, epochs=2, batch_size=len(TRAIN), method=method, progress=False)
    assert len(method.before) == len(method.after) == 2
    assert all(not a.requires_grad and a.shape == (2,) for a in method.after)
    # the first step's losses after the step are those the second step starts from (full batch, same model)
    torch.testing.assert_close(method.after[0], method.before[1])
    with torch.no_grad():
        torch.testing.assert_close(method.after[1], task_losses(tasks(), model(TRAIN.x), TRAIN.y))


# --- evaluate and mean_losses ----------------------------------------------------------------------------------

def mixed_problem():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(30, 5, generator=g)
    data = MultiTaskData(x, {"c": torch.randint(3, (30,), generator=g), "r": torch.randn(30, 2, generator=g)})
    torch.manual_seed(1)
    model = HardSharing(mlp([5, 8], last_activation=True), {"c": nn.Linear(8, 3), "r": nn.Linear(8, 2)})
    return data, model, [Task.classification("c"), Task.regression("r")]


@pytest.mark.parametrize("training", [True, False])
def test_evaluate_by_hand(training):
    data, model, ts = mixed_problem()
    model.train(training)
    scores = evaluate(model, ts, data, batch_size=7)
    assert model.training is training
    with torch.no_grad():
        out = model(data.x)
    assert scores["c"]["acc"] == pytest.approx((out["c"].argmax(1) == data.y["c"]).float().mean().item())
    assert scores["r"]["mse"] == pytest.approx(((out["r"] - data.y["r"]) ** 2).mean().item(), rel=1e-6)
    again = evaluate(model, ts, data)  # the metrics are reset between calls
    assert again["c"]["acc"] == scores["c"]["acc"] and again["r"]["mse"] == pytest.approx(scores["r"]["mse"])


def test_evaluate_checks_the_outputs():
    data, model, ts = mixed_problem()
    with pytest.raises(KeyError, match="task 'z' has no prediction"):
        evaluate(model, [*ts, Task.regression("z")], data)


@pytest.mark.parametrize("training", [True, False])
def test_mean_losses_weights_batches_by_size(training):
    data, model, ts = mixed_problem()
    model.train(training)
    losses = mean_losses(model, ts, data, batch_size=7)  # 4 batches of 7 and one of 2
    assert model.training is training and not losses.requires_grad
    with torch.no_grad():
        expected = task_losses(ts, model(data.x), data.y)
    torch.testing.assert_close(losses, expected)


# --- make_optimizer --------------------------------------------------------------------------------------------

class Learned(LossWeighting):
    lr = 0.5

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(2))

    def combine(self, losses):
        return (self.scale * losses).sum()


def test_make_optimizer():
    model = make_model()
    frozen = model.heads["y2"].bias
    frozen.requires_grad_(False)
    opt = make_optimizer(model, Static([1, 1]), lr=0.01, weight_decay=0.0)
    assert type(opt) is torch.optim.Adam and len(opt.param_groups) == 1
    assert all(p is not frozen for p in opt.param_groups[0]["params"])
    assert len(opt.param_groups[0]["params"]) == len(list(model.parameters())) - 1
    opt = make_optimizer(model, Learned(), lr=0.01, weight_decay=0.1)
    assert type(opt) is torch.optim.AdamW and len(opt.param_groups) == 2
    assert opt.param_groups[0]["lr"] == 0.01 and opt.param_groups[0]["weight_decay"] == 0.1
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["weight_decay"] == 0.0
    method = Learned()
    method.lr = None
    assert make_optimizer(model, method, lr=0.02, weight_decay=0).param_groups[1]["lr"] == 0.02


def test_fit_trains_the_methods_own_parameters():
    method = Learned()
    run(epochs=1, method=method)
    assert not torch.equal(method.scale.detach(), torch.ones(2))


# --- History ---------------------------------------------------------------------------------------------------

def test_history_helpers():
    h = History(["a", "b"], train_loss=[[1.0, 2.0], [3.0, 4.0]],
                scores=[{"a": {"acc": 0.1}, "b": {"mse": 5.0}}, {"a": {"acc": 0.2}, "b": {"mse": 4.0}}],
                weights=[np.ones((2, 2)), np.full((3, 2), 0.5)])
    np.testing.assert_array_equal(h.loss("b"), [2.0, 4.0])
    np.testing.assert_array_equal(h.metric("a", "acc"), [0.1, 0.2])
    np.testing.assert_array_equal(h.metric("b", "mse"), [5.0, 4.0])
    trace = h.weight_trace()
    assert trace.shape == (5, 2) and trace[-1].tolist() == [0.5, 0.5]
    assert History(["a", "b", "c"]).weight_trace().shape == (0, 3)
    with pytest.raises(ValueError):
        h.loss("c")
    assert json.loads(json.dumps(History(["a"]).to_dict()))["train_loss"] == []


def test_progress_bar_obeys_the_environment(monkeypatch):
    from mtl_ref.progress import progress_bar

    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert progress_bar(range(3)).disable
    monkeypatch.setenv("TQDM_DISABLE", "0")
    assert not progress_bar(range(3)).disable
    assert progress_bar(range(3), enabled=False).disable


@pytest.mark.parametrize("batch_size, epochs", [(0, 1), (4, 0)])
def test_fit_rejects_empty_batches_and_no_epochs(batch_size, epochs):
    data = MultiTaskData(torch.randn(8, 3), {"a": torch.randn(8, 1)})
    model = HardSharing(mlp([3, 4]), {"a": torch.nn.Linear(4, 1)})
    with pytest.raises(ValueError, match="batch_size and epochs"):
        fit(model, [Task.regression("a")], data, epochs=epochs, batch_size=batch_size, progress=False)


@pytest.mark.parametrize("make", [
    lambda scale: CrossStitch({"a": 2, "b": 1}, (4, 8), (1, 1), stitch_lr_scale=scale),
    lambda scale: Sluice({"a": 2, "b": 1}, (4, 8), (1, 1), stitch_lr_scale=scale),
])
def test_make_optimizer_uses_the_models_param_groups(make):
    model = make(100.0)
    opt = make_optimizer(model, Static([1, 1]), lr=0.01, weight_decay=0.0)
    assert [g["lr"] for g in opt.param_groups] == [0.01, 1.0]
    mixing = {id(p) for p in model.stitch_parameters()}
    assert {id(p) for p in opt.param_groups[1]["params"]} == mixing
    everything = [p for g in opt.param_groups for p in g["params"]]
    assert len(everything) == len({id(p) for p in everything}) == len(list(model.parameters()))
    with pytest.raises(ValueError, match="stitch_lr_scale"):
        make(0.0)


def test_make_optimizer_default_param_groups_keep_one_group():
    model = CrossStitch({"a": 2, "b": 1}, (4, 8), (1, 1))
    assert len(MultiTaskModel.param_groups(model, 0.1)) == 1
    assert MultiTaskModel.param_groups(model, 0.1)[0]["lr"] == 0.1


class Blows(nn.Module):
    """Fine for ``good`` forward passes, then predicts NaN for ``y2``."""

    def __init__(self, good: int):
        super().__init__()
        self.inner, self.calls, self.good = make_model(), 0, good

    def forward(self, x):
        out = self.inner(x)
        if self.training:
            self.calls += 1
            if self.calls > self.good:
                out["y2"] = out["y2"] * math.nan
        return out


def test_stop_on_divergence_keeps_the_best_epoch_before_it():
    steps = TRAIN.num_batches(16)
    model = Blows(good=2 * steps + 1)  # two clean epochs, then NaN in the third epoch's second step
    history = fit(model, tasks(), TRAIN, val=TEST, restore_best=True, test=TEST, epochs=5, batch_size=16,
                  progress=False, on_divergence="stop")
    assert history.diverged == "non-finite loss for task 'y2' = nan (at step 2 of epoch 3)"
    assert len(history.train_loss) == 2 and history.best_epoch in (1, 2)
    assert all(np.isfinite(v) for s in history.final.values() for v in s.values())
    assert History.from_dict(history.to_dict()).diverged == history.diverged


def test_stop_on_divergence_in_the_first_epoch_still_raises():
    with pytest.raises(FloatingPointError, match="non-finite loss for task 'y2' = nan"):
        fit(Blows(good=0), tasks(), TRAIN, val=TEST, restore_best=True, epochs=2, batch_size=16, progress=False,
            on_divergence="stop")


@pytest.mark.parametrize("kwargs, message", [
    ({"on_divergence": "stop"}, "needs restore_best=True"),
    ({"on_divergence": "skip", "restore_best": True}, "must be 'raise' or 'stop', got 'skip'"),
])
def test_on_divergence_is_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit(make_model(), tasks(), TRAIN, val=TEST, epochs=1, batch_size=16, progress=False, **kwargs)


class BreaksInEvaluation(nn.Module):
    """Trains cleanly, but once it has made ``good`` training passes a buffer flips and its evaluation predicts NaN
    for ``y2`` (a buffer, so the best checkpoint restores the working model)."""

    def __init__(self, good: int):
        super().__init__()
        self.inner, self.calls, self.good = make_model(), 0, good
        self.register_buffer("broken", torch.tensor(False))

    def forward(self, x):
        out = self.inner(x)
        if self.training:
            self.calls += 1
            if self.calls > self.good:
                self.broken.fill_(True)
        elif self.broken:
            out["y2"] = out["y2"] * math.nan
        return out


def test_stop_on_divergence_also_stops_on_nonfinite_validation_predictions():
    model = BreaksInEvaluation(good=2 * TRAIN.num_batches(16))  # the third epoch's validation predicts NaN
    history = fit(model, tasks(), TRAIN, val=TEST, restore_best=True, test=TEST, epochs=5, batch_size=16,
                  progress=False, on_divergence="stop")
    assert history.diverged == "the model's predictions on the validation data are NaN or infinite for task(s) 'y2'"
    assert len(history.train_loss) == 2 and history.best_epoch in (1, 2)
    assert all(np.isfinite(v) for s in history.final.values() for v in s.values())


def test_nonfinite_validation_predictions_still_raise_by_default():
    with pytest.raises(ValueError, match="predictions on the validation data are NaN or infinite for task"):
        fit(BreaksInEvaluation(good=0), tasks(), TRAIN, val=TEST, epochs=2, batch_size=16, progress=False)
