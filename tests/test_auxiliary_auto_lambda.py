"""Auto-Lambda (Liu et al., arXiv:2202.03091): the finite-difference hypergradient against autograd's exact one."""

import numpy as np
import pytest
import torch

from mtl_ref import Task, fit, task_losses
from mtl_ref.auxiliary import AutoLambda, look_ahead_hypergradient
from mtl_ref.data import HelperTasks, MultiTaskData
from mtl_ref.models import HardSharing, mlp

NAMES = ["main", "good", "noise"]


def setup(dtype=torch.float64):
    problem = HelperTasks(dim=6, features=2, relatedness=())
    train, val = problem.sample(32, seed=1), problem.sample(16, seed=2)
    train, val = (MultiTaskData(d.x.to(dtype), {n: d.y[n].to(dtype) for n in NAMES}) for d in (train, val))
    torch.manual_seed(0)
    model = HardSharing(mlp([6, 8, 3], activation=torch.nn.Tanh, last_activation=True),
                        {n: mlp([3, 1 if n == "main" else 2]) for n in NAMES}).to(dtype)
    return model, [Task.regression(n) for n in NAMES], train, val


def test_finite_differences_match_the_exact_hypergradient():
    model, tasks, train, val = setup()
    params = list(model.parameters())
    weights = torch.tensor([0.7, 0.3, 1.2], dtype=torch.float64)
    alpha = 0.05

    # Exact: differentiate L_main^val(θ − α Σ λ_i ∇L_i^train(θ)) with respect to λ through the virtual step.
    lam = weights.clone().requires_grad_(True)
    losses = task_losses(tasks, model(train.x), train.y)
    grads = torch.autograd.grad((lam * losses).sum(), params, create_graph=True)
    virtual = {name: p - alpha * g for (name, p), g in zip(model.named_parameters(), grads)}
    out = torch.func.functional_call(model, virtual, (val.x,))
    exact, = torch.autograd.grad(tasks[0].loss(out["main"], val.y["main"]), lam)

    losses = task_losses(tasks, model(train.x), train.y)
    per_task = [torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True) for loss in losses]
    rows = [torch.stack([torch.zeros_like(p) if g[k] is None else g[k] for g in per_task])
            for k, p in enumerate(params)]
    before = [p.detach().clone() for p in params]
    fd = look_ahead_hypergradient(
        params, rows, weights, alpha,
        main_val_loss=lambda: tasks[0].loss(model(val.x)["main"], val.y["main"]),
        train_losses=lambda: task_losses(tasks, model(train.x), train.y))
    torch.testing.assert_close(fd, exact, rtol=1e-3, atol=1e-7)
    for p, p0 in zip(params, before):  # the parameters are restored
        assert torch.equal(p.detach(), p0)


def test_a_zero_validation_gradient_gives_a_zero_hypergradient():
    model, tasks, train, _ = setup()
    params = list(model.parameters())
    rows = [torch.zeros(3, *p.shape, dtype=p.dtype) for p in params]
    fd = look_ahead_hypergradient(params, rows, torch.ones(3, dtype=torch.float64), 0.1,
                                  main_val_loss=lambda: sum(p.sum() for p in params) * 0,
                                  train_losses=lambda: task_losses(tasks, model(train.x), train.y))
    assert torch.equal(fd, torch.zeros(3, dtype=torch.float64))


def test_one_step_moves_the_weights_against_the_hypergradient_and_the_model_uses_them():
    model, tasks, train, val = setup(torch.float32)
    params = list(model.parameters())
    losses = task_losses(tasks, model(train.x), train.y)
    per_task = [torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True) for loss in losses]
    method = AutoLambda(tasks, "main", val, meta_lr=0.01, virtual_lr=0.05, init=0.1, batch_size=16)
    method.before_backward(lambda: task_losses(tasks, model(train.x), train.y).detach())
    method.backward(losses, model)
    lam = method.pop_trace()[0]
    # Adam's first step moves each weight by the meta learning rate, against the sign of its hypergradient.
    np.testing.assert_allclose(np.abs(lam - 0.1), 0.01, rtol=1e-3)
    # The model's gradient is Σ λ_i ∇L_i at the step's parameters, with the updated weights.
    for k, p in enumerate(params):
        expected = sum(float(w) * (torch.zeros_like(p) if g[k] is None else g[k]) for w, g in zip(lam, per_task))
        torch.testing.assert_close(p.grad, expected, rtol=1e-4, atol=1e-6)


def test_it_trains_through_fit_and_leaves_the_weights_unconstrained():
    model, tasks, train, val = setup(torch.float32)
    method = AutoLambda(tasks, "main", train, meta_lr=0.05, virtual_lr=1e-2, batch_size=8, seed=1)
    history = fit(model, tasks, train, epochs=3, batch_size=8, method=method, lr=1e-2, progress=False)
    weights = np.concatenate(history.weights)
    assert weights.shape == (12, 3) and np.isfinite(weights).all()
    # As in the authors' code, nothing keeps a weight at or above 0: from 0, the first Adam step moves each weight by
    # the meta learning rate against its hypergradient's sign, below 0 where the hypergradient is positive.
    losses = task_losses(tasks, model(train.x), train.y)
    method = AutoLambda(tasks, "main", val, meta_lr=0.01, virtual_lr=0.05, init=0.0, batch_size=16)
    method.before_backward(lambda: task_losses(tasks, model(train.x), train.y).detach())
    method.backward(losses, model)
    lam = method.pop_trace()[0]
    np.testing.assert_allclose(np.abs(lam), 0.01, rtol=1e-3)
    assert (lam < 0).any()


def test_the_look_ahead_batches_cycle_through_their_data_in_their_own_order():
    _, tasks, train, _ = setup(torch.float32)
    a, b = (AutoLambda(tasks, "main", train, batch_size=8, seed=s) for s in (0, 1))
    orders = []
    for method in (a, b):
        rows = [method._meta_batch()[0] for _ in range(2 * train.num_batches(8))]
        first, second = torch.cat(rows[:4]), torch.cat(rows[4:])
        for rows_of_a_pass in (first, second):  # every pass covers each example once
            assert torch.equal(torch.sort(rows_of_a_pass[:, 0]).values, torch.sort(train.x[:, 0]).values)
        assert not torch.equal(first, second)  # reshuffled every pass
        orders.append(first)
    assert not torch.equal(orders[0], orders[1])  # the seed sets the order


def test_bad_arguments_and_a_missing_batch_are_errors():
    model, tasks, train, val = setup(torch.float32)
    with pytest.raises(ValueError, match="main task"):
        AutoLambda(tasks, "other", val)
    with pytest.raises(ValueError, match="meta_lr"):
        AutoLambda(tasks, "main", val, meta_lr=0.0)
    method = AutoLambda(tasks, "main", val)
    with pytest.raises(RuntimeError, match="before_backward"):
        method.backward(task_losses(tasks, model(train.x), train.y), model)
