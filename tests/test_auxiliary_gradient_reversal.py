"""The gradient-reversal layer: identity forward, -λ·grad backward (checked against autograd's numerical Jacobian)."""

from __future__ import annotations

import math

import pytest
import torch

from mtl_ref.auxiliary import GradientReversal, GradReverse, dann_lambda, grad_reverse


def test_forward_is_the_identity_and_backward_scales_by_minus_lambda() -> None:
    x = torch.randn(5, 3, requires_grad=True)
    y = grad_reverse(x, 0.7)
    assert torch.equal(y, x)
    upstream = torch.randn(5, 3)
    (g,) = torch.autograd.grad(y, x, upstream)
    assert torch.allclose(g, -0.7 * upstream)


@pytest.mark.parametrize("lam", [0.0, 0.3, 2.0])
def test_gradcheck_backward_is_minus_lambda(lam: float) -> None:
    # t -> R_λ(t) - (1 + λ)·stop_grad(t) computes -λ t, so finite differences give -λ I; its analytic Jacobian is
    # R_λ's backward alone (the stopped term has none). gradcheck passes only if that backward is -λ·grad.
    x = torch.randn(4, 3, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: GradReverse.apply(t, lam) - (1 + lam) * t.detach(), (x,))
    # and R_λ alone fails gradcheck (unless λ = -1, excluded): its backward is not its forward's derivative
    assert not torch.autograd.gradcheck(lambda t: GradReverse.apply(t, lam), (x,), raise_exception=False)


def test_module_matches_the_function_and_rejects_negative_lambda() -> None:
    layer = GradientReversal(0.4)
    x = torch.randn(3, requires_grad=True)
    (g,) = torch.autograd.grad(layer(x).sum(), x)
    assert torch.allclose(g, torch.full((3,), -0.4))
    assert "lam=0.4" in repr(layer)
    with pytest.raises(ValueError, match="reversal coefficient"):
        GradientReversal(-1.0)
    with pytest.raises(ValueError, match="reversal coefficient"):
        grad_reverse(x, -0.1)


def test_dann_lambda_schedule() -> None:
    assert dann_lambda(0.0) == 0.0
    assert dann_lambda(1.0) == pytest.approx(2 / (1 + math.exp(-10)) - 1)
    values = [dann_lambda(p / 10) for p in range(11)]
    assert all(a < b for a, b in zip(values, values[1:]))
    assert dann_lambda(0.5, gamma=2.0) == pytest.approx(2 / (1 + math.exp(-1)) - 1)
    with pytest.raises(ValueError, match="progress"):
        dann_lambda(1.5)
