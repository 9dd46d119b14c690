"""Loss weightings on hand-computed cases: uncertainty weighting, GradNorm, DWA, RLW and FAMO."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mtl_ref import Task, fit
from mtl_ref.data import MultiTaskData
from mtl_ref.models import HardSharing, mlp
from mtl_ref.weighting import DWA, FAMO, RLW, GradNorm, UncertaintyWeighting


def losses_of(values, dtype=torch.float64) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype, requires_grad=True)


# --- uncertainty weighting --------------------------------------------------------------------------------------

def test_uncertainty_terms_and_gradients():
    uw = UncertaintyWeighting(2, kinds=["regression", "classification"]).double()
    with torch.no_grad():
        uw.log_vars.copy_(torch.tensor([0.5, -1.0]))
    losses = losses_of([2.0, 3.0])
    total = uw.combine(losses)
    s1, s2 = 0.5, -1.0
    assert total.item() == pytest.approx(0.5 * math.exp(-s1) * 2 + 0.5 * s1 + math.exp(-s2) * 3 + 0.5 * s2)
    total.backward()
    torch.testing.assert_close(losses.grad, torch.tensor([0.5 * math.exp(-s1), math.exp(-s2)], dtype=torch.float64))
    expected = torch.tensor([-0.5 * math.exp(-s1) * 2 + 0.5, -math.exp(-s2) * 3 + 0.5], dtype=torch.float64)
    torch.testing.assert_close(uw.log_vars.grad, expected)
    torch.testing.assert_close(torch.from_numpy(uw.pop_trace()), losses.grad.float()[None])


def test_uncertainty_regression_term_is_stationary_at_the_loss():
    uw = UncertaintyWeighting(1).double()
    with torch.no_grad():
        uw.log_vars.fill_(math.log(4.0))
    uw.combine(losses_of([4.0])).backward()
    assert uw.log_vars.grad.item() == pytest.approx(0.0, abs=1e-12)


def test_uncertainty_checks_its_arguments_and_resets():
    with pytest.raises(ValueError, match=r"unknown likelihood kind\(s\) \['poisson'\]"):
        UncertaintyWeighting(2, kinds=["regression", "poisson"])
    with pytest.raises(ValueError, match="1 likelihood kinds for 2 tasks"):
        UncertaintyWeighting(2, kinds=["regression"])
    uw = UncertaintyWeighting(2, init=-0.5)
    with pytest.raises(ValueError, match="built for 2 tasks"):
        uw.combine(losses_of([1.0, 2.0, 3.0], torch.float32))
    with torch.no_grad():
        uw.log_vars.add_(3.0)
    uw.reset()
    assert torch.equal(uw.log_vars.detach(), torch.full((2,), -0.5))


def test_uncertainty_learns_the_noise_levels_of_a_noisy_regression_toy():
    # Gal's example: y1 = 2x + 8 + 10ε and y2 = 3x + 3 + ε share a trunk; σ should head for (10, 1).
    g = torch.Generator().manual_seed(0)
    x = torch.randn(500, 1, generator=g)
    targets = {"y1": 2 * x + 8 + 10 * torch.randn(500, 1, generator=g),
               "y2": 3 * x + 3 + torch.randn(500, 1, generator=g)}
    torch.manual_seed(0)
    model = HardSharing(mlp([1, 64], last_activation=True), {"y1": nn.Linear(64, 1), "y2": nn.Linear(64, 1)})
    uw = UncertaintyWeighting(2, lr=0.05)
    fit(model, [Task.regression("y1"), Task.regression("y2")], MultiTaskData(x, targets), epochs=100, batch_size=50,
        lr=1e-2, method=uw, progress=False)
    sigma = uw.sigma
    assert sigma[0] > 5 * sigma[1]
    assert 7.0 < sigma[0] < 13.0
    assert 0.7 < sigma[1] < 1.3


# --- GradNorm ---------------------------------------------------------------------------------------------------

def tiny_model(seed: int = 0) -> HardSharing:
    torch.manual_seed(seed)
    return HardSharing(nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 4)),
                       {"a": nn.Linear(4, 1), "b": nn.Linear(4, 2)}).double()


def tiny_losses(model: nn.Module, scale_b: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(16, 3, generator=g, dtype=torch.float64)
    out = model(x)
    return torch.stack([F.mse_loss(out["a"], torch.randn(16, 1, generator=g, dtype=torch.float64)),
                        scale_b * out["b"].pow(2).mean()])


def reference_gradnorm_weight_grad(model, losses, weights, initial, alpha):
    """L_grad differentiated the long way: norms of ∇_W(w_i L_i) built with create_graph, as in the paper."""
    w = weights.clone().requires_grad_(True)
    layer = list(model.trunk[2].parameters())
    norms = []
    for i in range(len(losses)):
        gs = torch.autograd.grad(w[i] * losses[i], layer, retain_graph=True, create_graph=True)
        norms.append(torch.sqrt(sum(g.pow(2).sum() for g in gs)))
    norms = torch.stack(norms)
    ratio = losses.detach() / initial
    target = (norms.mean() * (ratio / ratio.mean()) ** alpha).detach()
    grad_loss = (norms - target).abs().sum()
    return torch.autograd.grad(grad_loss, w, retain_graph=True)[0], grad_loss


def test_gradnorm_first_step_matches_the_paper_loss_and_trains_the_network_on_the_weighted_sum():
    model = tiny_model()
    gn = GradNorm(2, alpha=1.5).double()
    losses = tiny_losses(model, scale_b=10.0)
    expected_w_grad, grad_loss = reference_gradnorm_weight_grad(model, losses, torch.ones(2, dtype=torch.float64),
                                                                losses.detach(), 1.5)
    expected = torch.autograd.grad(losses.sum(), list(model.parameters()), retain_graph=True)
    assert grad_loss.item() > 0
    gn.backward(losses, model)
    torch.testing.assert_close(gn.weights.grad, expected_w_grad)
    for p, e in zip(model.parameters(), expected):
        torch.testing.assert_close(p.grad, e)
    # with w = 1 and r = 1 on the first step, L_grad = Σ|n_i − mean n|: the task with the larger norm is pushed down
    assert gn.weights.grad[1] > 0 > gn.weights.grad[0]


def test_gradnorm_later_step_uses_the_first_losses_and_the_current_weights():
    model = tiny_model()
    gn = GradNorm(2, alpha=0.7).double()
    first = tiny_losses(model)
    gn.backward(first, model)
    with torch.no_grad():
        gn.weights.copy_(torch.tensor([0.6, 1.4]))
        model.heads["a"].bias.add_(0.3)
    model.zero_grad(set_to_none=True)
    gn.weights.grad = None
    losses = tiny_losses(model)
    weights = torch.tensor([0.6, 1.4], dtype=torch.float64)
    expected_w_grad, _ = reference_gradnorm_weight_grad(model, losses, weights, first.detach(), 0.7)
    expected = torch.autograd.grad((weights * losses).sum(), list(model.parameters()), retain_graph=True)
    gn.backward(losses, model)
    torch.testing.assert_close(gn.weights.grad, expected_w_grad)
    for p, e in zip(model.parameters(), expected):
        torch.testing.assert_close(p.grad, e)


def test_gradnorm_renormalises_to_the_number_of_tasks_after_each_step():
    gn = GradNorm(3)
    with torch.no_grad():
        gn.weights.copy_(torch.tensor([0.5, 2.0, 1.5]))
    gn.after_step(lambda: pytest.fail("GradNorm does not need the new losses"))
    torch.testing.assert_close(gn.weights.detach(), torch.tensor([0.375, 1.5, 1.125]))
    gn.reset()
    assert torch.equal(gn.weights.detach(), torch.ones(3))


def test_gradnorm_weights_sum_to_the_number_of_tasks_during_training():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 3, generator=g)
    data = MultiTaskData(x, {"a": x[:, :1] * 5, "b": x[:, 1:2] * 0.1})
    torch.manual_seed(0)
    model = HardSharing(mlp([3, 16, 8], last_activation=True), {"a": nn.Linear(8, 1), "b": nn.Linear(8, 1)})
    history = fit(model, [Task.regression("a"), Task.regression("b")], data, epochs=2, batch_size=16,
                  method=GradNorm(2, lr=0.05), progress=False)
    trace = history.weight_trace()
    assert trace.shape == (16, 2)
    assert torch.equal(torch.from_numpy(trace[0]), torch.ones(2))
    torch.testing.assert_close(torch.from_numpy(trace.sum(axis=1)), torch.full((16,), 2.0))
    assert (trace[-1] != 1).all()


# --- DWA --------------------------------------------------------------------------------------------------------

def test_dwa_weights_are_one_for_two_epochs_then_follow_eq_7():
    dwa = DWA(temperature=2.0)
    losses = losses_of([1.0, 1.0], torch.float32)
    epoch_means = [torch.tensor([1.0, 2.0]), torch.tensor([0.5, 1.8]), torch.tensor([0.45, 0.9])]
    seen = []
    for mean in epoch_means:
        dwa.combine(losses)
        seen.append(torch.from_numpy(dwa.pop_trace()[0]))
        dwa.epoch_end(mean)
    dwa.combine(losses)
    seen.append(torch.from_numpy(dwa.pop_trace()[0]))
    assert torch.equal(seen[0], torch.ones(2)) and torch.equal(seen[1], torch.ones(2))
    e1, e2 = math.exp(0.5 / 2), math.exp(0.9 / 2)
    torch.testing.assert_close(seen[2], torch.tensor([2 * e1 / (e1 + e2), 2 * e2 / (e1 + e2)]))
    e1, e2 = math.exp(0.9 / 2), math.exp(0.5 / 2)
    torch.testing.assert_close(seen[3], torch.tensor([2 * e1 / (e1 + e2), 2 * e2 / (e1 + e2)]))
    assert seen[3].sum().item() == pytest.approx(2.0)
    dwa.reset()
    dwa.combine(losses)
    assert torch.equal(torch.from_numpy(dwa.pop_trace()[0]), torch.ones(2))


def test_dwa_combines_with_its_weights():
    dwa = DWA()
    dwa.epoch_end(torch.tensor([1.0, 1.0, 1.0]))
    dwa.epoch_end(torch.tensor([1.0, 1.0, 1.0]))
    losses = losses_of([1.0, 2.0, 3.0], torch.float32)
    assert dwa.combine(losses).item() == pytest.approx(6.0)
    with pytest.raises(ValueError, match="temperature must be positive"):
        DWA(temperature=0)


# --- RLW --------------------------------------------------------------------------------------------------------

def rlw_weights(rlw: RLW, steps: int, tasks: int = 3) -> torch.Tensor:
    for _ in range(steps):
        rlw.combine(torch.ones(tasks, requires_grad=True))
    return torch.from_numpy(rlw.pop_trace())


def test_rlw_weights_sum_to_one_and_are_reproducible_from_the_seed():
    first = rlw_weights(RLW(seed=7), 20)
    assert first.shape == (20, 3)
    assert (first > 0).all()
    torch.testing.assert_close(first.sum(dim=1), torch.ones(20))
    assert first.std(dim=0).min() > 0.05  # drawn anew each step
    assert torch.equal(rlw_weights(RLW(seed=7), 20), first)
    assert not torch.equal(rlw_weights(RLW(seed=8), 20), first)
    rlw = RLW(seed=7)
    rlw_weights(rlw, 5)
    rlw.reset()
    assert torch.equal(rlw_weights(rlw, 20), first)


def test_rlw_weights_come_from_a_softmax_of_standard_normals():
    rlw = RLW(seed=3)
    weights = rlw_weights(rlw, 1, tasks=4)[0]
    logits = torch.randn(4, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(weights, torch.softmax(logits, dim=0))


# --- FAMO -------------------------------------------------------------------------------------------------------

def test_famo_theta_step_is_a_convex_combination_scaled_by_inverse_losses():
    famo = FAMO()
    losses = losses_of([2.0, 0.5], torch.float32)
    famo.combine(losses).backward()
    # z = (½, ½): the gradient coefficients are z_k/(c·L_k) with c = Σ z_k/L_k
    c = 0.5 / 2.0 + 0.5 / 0.5
    expected = torch.tensor([0.5 / (c * 2.0), 0.5 / (c * 0.5)])
    torch.testing.assert_close(losses.grad, expected)
    torch.testing.assert_close(torch.from_numpy(famo.pop_trace()[0]), expected)


def test_famo_gives_a_smaller_weight_to_the_task_whose_log_loss_fell_more():
    famo = FAMO(gamma=0.0)
    famo.combine(losses_of([1.0, 1.0], torch.float32))
    famo.after_step(lambda: torch.tensor([0.5, 0.9]))
    z = famo.weights
    assert z[0] < 0.5 < z[1]
    # Adam's first step moves each logit by lr against the sign of its gradient
    torch.testing.assert_close(torch.log(z[1] / z[0]), torch.tensor(2 * 0.025), rtol=1e-4, atol=0)
    famo.reset()
    famo.combine(losses_of([1.0, 1.0], torch.float32))
    assert torch.equal(famo.weights, torch.full((2,), 0.5))


def test_famo_lower_bounds_enter_the_log_losses():
    famo = FAMO(min_losses=[0.5, 0.0], gamma=0.0)
    losses = losses_of([1.0, 1.0], torch.float32)
    famo.combine(losses).backward()
    # gaps (0.5, 1): the first task's gradient coefficient is twice the second's
    assert losses.grad[0].item() == pytest.approx(2 * losses.grad[1].item())
    with pytest.raises(ValueError, match="2 lower bounds, got losses of shape \\(3,\\)"):
        FAMO(min_losses=[0.5, 0.0]).combine(losses_of([1.0, 1.0, 1.0], torch.float32))
    with pytest.raises(RuntimeError, match="before a step"):
        FAMO().after_step(lambda: torch.ones(2))
