"""fit_members: each stacked member follows exactly torch.optim.Adam on its own batches; selection; predictions."""

import copy

import pytest
import torch

from mtl_ref import Task
from mtl_ref.models import MMoE, ShallowTower
from mtl_ref.stacked_members import Split, fit_members, member_losses, predict, stack

TASKS = [Task.regression("a"), Task.binary("b")]


def data(members, n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(members, n, 5, generator=g)
    return Split(x, {"a": x[..., :1] * 2 + 0.1, "b": (x[..., 1:2] > 0).float()})


def build(seed):
    torch.manual_seed(seed)
    return MMoE(5, ["a", "b"], 3, [6], [4])


def test_a_member_follows_adam_alone():
    train, val = data(2, 40, 0), data(2, 20, 1)
    models = [build(0), build(1)]
    base = copy.deepcopy(models[0]).to("meta")
    steps, batch, lrs = 4, 8, [0.01, 0.003]
    h = fit_members(base, stack(models), TASKS, train, val=val, test=val, steps=steps, batch_size=batch, lr=lrs,
                    seed=5, eval_every=100)
    # The oracle: member 1 trained alone with torch.optim.Adam on the same batch indices.
    g = torch.Generator().manual_seed(5)
    alone = build(1)
    opt = torch.optim.Adam(alone.parameters(), lr=lrs[1])
    for _ in range(steps):
        idx = torch.randint(40, (2, batch), generator=g)[1]
        out = alone(train.x[1, idx])
        loss = (torch.nn.functional.mse_loss(out["a"], train.y["a"][1, idx])
                + torch.nn.functional.binary_cross_entropy_with_logits(out["b"], train.y["b"][1, idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    for name, p in alone.named_parameters():
        torch.testing.assert_close(h.final[name][1], p.detach(), atol=1e-5, rtol=1e-4)


def test_selection_keeps_the_best_validation_block_and_scores_test_there():
    train, val, test = data(3, 60, 0), data(3, 30, 1), data(3, 30, 2)
    models = [build(s) for s in range(3)]
    base = copy.deepcopy(models[0]).to("meta")
    h = fit_members(base, stack(models), TASKS, train, val=val, test=test, steps=60, batch_size=16, lr=0.01,
                    eval_every=10)
    assert h.val.shape == h.test.shape == (3, 6, 2) and list(h.steps) == [10, 20, 30, 40, 50, 60]
    score = (h.val / h.val_initial[:, None]).mean(-1)
    assert (h.best == score.argmin(1)).all()
    kept = member_losses(TASKS, predict(base, h.params, test.x), test.y).numpy()
    torch.testing.assert_close(torch.as_tensor(kept), torch.as_tensor(h.test_selected), atol=1e-5, rtol=1e-4)


def test_unused_parameters_and_bad_inputs():
    main = MMoE(3, ["a", "b"], 2, [4], [3])
    model = ShallowTower(main, 3, 2, biased=[])  # its tower is read by no task
    train = data(1, 20, 0)
    base = copy.deepcopy(model).to("meta")
    h = fit_members(base, stack([model]), TASKS, train, val=train, test=train, steps=3, batch_size=4, lr=0.01)
    assert (h.final["tower"] == 0).all()
    with pytest.raises(ValueError, match="batch_size"):
        fit_members(base, stack([model]), TASKS, train, val=train, test=train, steps=1, batch_size=50, lr=0.01)
    with pytest.raises(ValueError, match="learning rates"):
        fit_members(base, stack([model]), TASKS, train, val=train, test=train, steps=1, batch_size=4, lr=[0.1, 0.2])
    with pytest.raises(ValueError, match="neither regression nor binary"):
        fit_members(base, stack([model]), [Task.classification("a")], train, val=train, test=train, steps=1,
                    batch_size=4, lr=0.01)
