"""Stacked training: M small networks trained side by side behave like M networks trained one by one."""

import pytest
import torch
from torch import nn

from mtl_ref.data import MultiTaskData
from mtl_ref.models import HardSharing, mlp
from mtl_ref.stacked_mlp import Split, Stack, fit_stacked

NAMES = ["a", "b"]


def shared(seed: int) -> HardSharing:
    torch.manual_seed(seed)
    return HardSharing(mlp([3, 8], last_activation=True), {t: mlp([8, 1]) for t in NAMES})


def task_sets(n: int, seed: int) -> dict[str, MultiTaskData]:
    g = torch.Generator().manual_seed(seed)
    return {t: MultiTaskData(torch.randn(n, 3, generator=g), {t: torch.randn(n, 1, generator=g)}) for t in NAMES}


def test_split_pads_and_mse_ignores_the_padding():
    sets = [task_sets(5, 0), task_sets(9, 1)]
    split = Split.of(sets, NAMES)
    assert split.x.shape == (2, 2, 9, 3) and split.n.tolist() == [5, 9]
    assert split.x[0, :, 5:].abs().sum() == 0
    models = [shared(0), shared(1)]
    mse = Stack(models).mse(split, NAMES, chunk=4)
    for m, (model, s) in enumerate(zip(models, sets)):
        for t, name in enumerate(NAMES):
            expected = (model(s[name].x, task=name) - s[name].y[name]).square().mean()
            assert mse[m, t] == pytest.approx(expected.item(), rel=1e-5)


def test_split_needs_equal_sizes_within_a_model():
    sets = task_sets(5, 0)
    sets["b"] = task_sets(6, 1)["b"]
    with pytest.raises(ValueError, match="equal size"):
        Split.of([sets], NAMES)


def test_stacked_adam_matches_torch_adam_model_by_model():
    """Same batches, same initialisation: the stacked update is torch's Adam, each model with its own rate."""
    sets = [task_sets(6, 0), task_sets(6, 1)]
    train, lrs, steps, batch = Split.of(sets, NAMES), [1e-2, 3e-3], 5, 4
    stack = Stack([shared(0), shared(1)])
    fit_stacked(stack, NAMES, train, steps=steps, batch_size=batch, lr=torch.tensor(lrs), seed=3)
    gen = torch.Generator().manual_seed(3)
    batches = [(torch.rand(2, len(NAMES), batch, generator=gen) * train.n[:, None, None]).long() for _ in range(steps)]
    for m in range(2):
        model = shared(m)
        optimizer = torch.optim.Adam(model.parameters(), lr=lrs[m])
        for idx in batches:
            loss = sum((model(train.x[m, t, idx[m, t]], task=name) - train.y[m, t, idx[m, t]]).square().mean()
                       for t, name in enumerate(NAMES))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        for name, value in model.state_dict().items():
            torch.testing.assert_close(stack.params[name][m], value, rtol=1e-5, atol=1e-6)


def test_frozen_parameters_stay_and_single_task_networks_stack():
    stack = Stack([shared(0), shared(1)])
    trunk = {k: v.clone() for k, v in stack.params.items() if k.startswith("trunk.")}
    fit_stacked(stack, NAMES, Split.of([task_sets(8, 0), task_sets(8, 1)], NAMES), steps=3, batch_size=4,
                trainable=lambda name: name.startswith("heads."))
    for k, v in trunk.items():
        assert torch.equal(stack.params[k], v)
    single = Stack([mlp([3, 4, 1]), mlp([3, 4, 1])])
    assert single.mse(Split.of([{"a": task_sets(4, 0)["a"]}] * 2, ["a"]), ["a"]).shape == (2, 1)


def test_restore_best_keeps_each_models_best_validation_step():
    """Each model keeps the evaluated step with its lowest mean relative validation loss (here: the training data)."""
    train = Split.of([task_sets(16, 0), task_sets(16, 1)], NAMES)
    stack = Stack([shared(0), shared(1)])
    initial = stack.mse(train, NAMES)
    fitted = fit_stacked(stack, NAMES, train, steps=40, batch_size=8, val=train, restore_best=True, eval_every=10,
                         lr=1e-2)
    assert set(fitted.best_step.tolist()) <= {10, 20, 30, 40}
    kept = (stack.mse(train, NAMES) / initial).mean(1)
    last = (stack.mse(train, NAMES, fitted.last) / initial).mean(1)
    assert (kept <= last + 1e-6).all()  # the last step is among those offered, so the kept one is never worse


def test_only_mlp_models_stack():
    with pytest.raises(TypeError):
        Stack([nn.Linear(2, 2)])
    with pytest.raises(ValueError, match="dropout"):
        Stack([mlp([2, 4, 1], dropout=0.1)])
    with pytest.raises(ValueError, match="restore_best"):
        fit_stacked(Stack([shared(0)]), NAMES, Split.of([task_sets(4, 0)], NAMES), steps=1, batch_size=2,
                    restore_best=True)
