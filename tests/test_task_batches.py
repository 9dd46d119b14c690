"""fit_task_batches, evaluate_tasks and task_mean_losses: tasks that each have their own data set."""

import numpy as np
import pytest
import torch

from mtl_ref import Task
from mtl_ref.data import MultiTaskData
from mtl_ref.models import ConcatConditioned, HardSharing, mlp
from mtl_ref.task_batches import evaluate_tasks, fit_task_batches, task_mean_losses

NAMES = ["a", "b", "c"]


def task_sets(n: int, seed: int) -> dict[str, MultiTaskData]:
    """Task i regresses y = (i + 1) · x₀ on its own inputs."""
    g = torch.Generator().manual_seed(seed)
    sets = {}
    for i, name in enumerate(NAMES):
        x = torch.randn(n + 4 * i, 2, generator=g)
        sets[name] = MultiTaskData(x, {name: (i + 1) * x[:, :1]})
    return sets


def tasks() -> list[Task]:
    return [Task.regression(n) for n in NAMES]


def model() -> ConcatConditioned:
    torch.manual_seed(0)
    return ConcatConditioned([2, 16, 1], NAMES, embedding_dim=4)


def test_training_lowers_every_tasks_loss_and_records_blocks():
    train, test = task_sets(64, 0), task_sets(32, 1)
    net = model()
    before = task_mean_losses(net, tasks(), test)
    history = fit_task_batches(net, tasks(), train, steps=300, batch_size=16, test=test, eval_every=100,
                               lr=1e-2, progress=False)
    after = task_mean_losses(net, tasks(), test)
    assert before.shape == (3,) and torch.all(after < 0.5 * before)
    assert len(history.train_loss) == 3 and history.eval_epochs == [1, 2, 3] and len(history.seconds) == 3
    assert set(history.final) == set(NAMES)


def test_task_mean_losses_weights_by_examples():
    data = task_sets(10, 0)
    net = model()
    by_hand = []
    with torch.no_grad():
        for t in tasks():
            d = data[t.name]
            by_hand.append(t.loss(net(d.x, task=t.name), d.y[t.name]))
    assert torch.allclose(task_mean_losses(net, tasks(), data, batch_size=3), torch.stack(by_hand), atol=1e-6)


def test_same_seed_same_weights_and_tasks_per_step():
    train = task_sets(32, 0)
    nets = [model(), model()]
    for net in nets:
        fit_task_batches(net, tasks(), train, steps=20, batch_size=8, tasks_per_step=1, seed=3, progress=False)
    for p, q in zip(nets[0].parameters(), nets[1].parameters()):
        assert torch.equal(p, q)


def test_restore_best_keeps_the_lowest_validation_block():
    train, val = task_sets(32, 0), task_sets(32, 2)
    history = fit_task_batches(model(), tasks(), train, steps=60, batch_size=8, val=val, restore_best=True,
                               eval_every=20, lr=5e-2, progress=False)
    totals = (np.array(history.val_loss) / np.array(history.val_loss_initial)).mean(axis=1).tolist()
    assert history.best_epoch == 1 + totals.index(min(totals))


def test_errors_name_the_task():
    train = task_sets(8, 0)
    with pytest.raises(KeyError, match="task 'c' has no training set"):
        fit_task_batches(model(), tasks(), {k: train[k] for k in "ab"}, steps=1, batch_size=4, progress=False)
    with pytest.raises(ValueError, match="tasks_per_step must be between 1 and 3"):
        fit_task_batches(model(), tasks(), train, steps=1, batch_size=4, tasks_per_step=4, progress=False)
    with pytest.raises(ValueError, match="restore_best needs validation sets"):
        fit_task_batches(model(), tasks(), train, steps=1, batch_size=4, restore_best=True, progress=False)
    bad = dict(train, b=MultiTaskData(train["b"].x, {"b": torch.full((12, 1), float("nan"))}))
    with pytest.raises(FloatingPointError, match="non-finite loss for task 'b'"):
        fit_task_batches(model(), tasks(), bad, steps=1, batch_size=4, progress=False)


def test_evaluate_tasks_scores_each_task_on_its_own_set():
    data = task_sets(16, 0)
    heads = {n: torch.nn.Linear(2, 1) for n in NAMES}
    net = HardSharing(torch.nn.Identity(), heads)
    with torch.no_grad():
        for i, n in enumerate(NAMES):
            heads[n].weight.copy_(torch.tensor([[i + 1.0, 0.0]]))
            heads[n].bias.zero_()
    assert all(evaluate_tasks(net, tasks(), data)[n]["mse"] < 1e-10 for n in NAMES)
    with torch.no_grad():
        heads["c"].weight.zero_()
    scores = evaluate_tasks(net, tasks(), data)
    assert scores["c"]["mse"] == pytest.approx(float((data["c"].y["c"] ** 2).mean()), rel=1e-5)
    assert scores["a"]["mse"] < 1e-10
