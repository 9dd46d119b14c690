"""Stacked training: each member of the stack learns exactly what it would learn alone."""

import numpy as np
import pytest
import torch

from mtl_ref import Task
from mtl_ref.data import CorrelatedRegression
from mtl_ref.models import FiLMConditioned, HardSharing, mlp
from mtl_ref.stacked import fit_stacked
from mtl_ref.task_batches import fit_task_batches

PROBLEM = CorrelatedRegression(num_tasks=2, correlation=0.5, dim=5, num_sines=2, seed=1)
TASKS = [Task.regression(t) for t in PROBLEM.task_names]


def build(kind: str, seed: int):
    torch.manual_seed(seed)
    if kind == "film":
        return FiLMConditioned([5, 8, 8, 1], PROBLEM.task_names)
    return HardSharing(mlp([5, 8], last_activation=True), {t: mlp([8, 1]) for t in PROBLEM.task_names})


@pytest.mark.parametrize("kind", ["hard", "film"])
@pytest.mark.parametrize("per_task", [False, True])
def test_a_stacked_member_matches_fit_task_batches(kind, per_task):
    seeds, sizes, rates = [0, 1], [24, 40], [1e-2, 3e-3]  # members differ in seed, weights, data and learning rate
    train = [PROBLEM.sample_tasks(n, seed=s) for n, s in zip(sizes, seeds)]
    val = [PROBLEM.sample_tasks(10 + 5 * s, seed=100 + s) for s in seeds]
    test = [PROBLEM.sample_tasks(30, seed=200) for _ in seeds]
    models = [build(kind, s) for s in seeds]
    stacked = fit_stacked(models, TASKS, train, val=val, test=test, steps=12, batch_size=16, lr=rates, seeds=seeds,
                          eval_every=3, per_task=per_task)
    assert stacked.val.shape == (2, 4, 2) and stacked.test.shape == stacked.best_block.shape == (2, 2)
    for m, (s, r) in enumerate(zip(seeds, rates)):
        alone = build(kind, s)
        history = fit_task_batches(alone, TASKS, train[m], steps=12, batch_size=16, val=val[m], test=test[m], lr=r,
                                   seed=s, eval_every=3, progress=False)
        np.testing.assert_allclose(stacked.val_initial[m], history.val_loss_initial, rtol=1e-5)
        np.testing.assert_allclose(stacked.val[m], history.val_loss, rtol=1e-4)
        relative = np.array(history.val_loss) / np.array(history.val_loss_initial)
        best = relative.argmin(axis=0) if per_task else [relative.mean(axis=1).argmin()] * 2
        assert stacked.best_block[m].tolist() == list(best)
        expected = [history.scores[e][t.name]["mse"] for e, t in zip(best, TASKS)]
        np.testing.assert_allclose(stacked.test[m], expected, rtol=1e-4)
        kept_val = [history.val_loss[e][k] for k, e in enumerate(best)]
        np.testing.assert_allclose(stacked.val_selected[m], kept_val, rtol=1e-4)
        for name, p in alone.named_parameters():
            torch.testing.assert_close(stacked.params[name][m], p.detach(), rtol=1e-4, atol=1e-5)
    assert all(p.grad is None for model in models for p in model.parameters())  # the models are left untouched


def test_members_follow_their_own_param_groups():
    class Fast(HardSharing):
        def param_groups(self, lr):
            return [{"params": self.shared_parameters(), "lr": lr},
                    {"params": list(self.heads.parameters()), "lr": 10 * lr}]

    torch.manual_seed(0)
    model = Fast(mlp([5, 8], last_activation=True), {t: mlp([8, 1]) for t in PROBLEM.task_names})
    data = PROBLEM.sample_tasks(32, seed=0)
    stacked = fit_stacked([model], TASKS, [data], val=[data], test=[data], steps=1, batch_size=16, lr=1e-3,
                          seeds=[0])
    moved = {n: (stacked.params[n][0] - p.detach()).abs().max().item() for n, p in model.named_parameters()}
    # Adam's first step moves every weight with a non-zero gradient by about its learning rate.
    assert moved["trunk.0.bias"] == pytest.approx(1e-3, rel=1e-2)
    assert moved["heads.y1.0.bias"] == pytest.approx(1e-2, rel=1e-2)


def test_inputs_are_checked():
    data = PROBLEM.sample_tasks(8, seed=0)
    with pytest.raises(ValueError, match="smaller than batch_size=16"):
        fit_stacked([build("hard", 0)], TASKS, [data], val=[data], test=[data], steps=1, batch_size=16, lr=1e-3,
                    seeds=[0])
    with pytest.raises(ValueError, match="per model"):
        fit_stacked([build("hard", 0)], TASKS, [data], val=[data], test=[], steps=1, batch_size=4, lr=1e-3,
                    seeds=[0])
