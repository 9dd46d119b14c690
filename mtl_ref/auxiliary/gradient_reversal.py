"""The gradient-reversal layer and its schedule (Ganin & Lempitsky 2015, "Unsupervised Domain Adaptation by
Backpropagation"; Ganin et al. 2016, JMLR, "Domain-Adversarial Training of Neural Networks").

The layer :math:`R_\\lambda` is the identity in the forward pass and multiplies the gradient by :math:`-\\lambda` in
the backward pass (JMLR eqs. 13–14). Placed between a feature extractor and a helper head that predicts a nuisance
(the domain, a protected attribute), one ordinary backward pass trains the head to predict the nuisance while it
pushes the features to hide it: the saddle point of :math:`E = \\sum L_y - \\lambda \\sum L_d` (JMLR eq. 9).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class GradReverse(torch.autograd.Function):
    """:math:`R_\\lambda(x) = x` forward; :math:`\\partial R_\\lambda / \\partial x = -\\lambda I` backward."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: Tensor, lam: float) -> Tensor:
        """The identity (a view of ``x``); remembers :math:`\\lambda` for the backward pass."""
        ctx.lam = float(lam)
        return x.view_as(x)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> tuple[Tensor, None]:
        """The incoming gradient times :math:`-\\lambda`; none for :math:`\\lambda` itself."""
        return -ctx.lam * grad, None


def grad_reverse(x: Tensor, lam: float = 1.0) -> Tensor:
    """Apply :class:`GradReverse` with coefficient ``lam`` (≥ 0)."""
    if lam < 0:
        raise ValueError(f"the reversal coefficient must be >= 0, got {lam}")
    return GradReverse.apply(x, lam)


class GradientReversal(nn.Module):
    """The gradient-reversal layer as a module; set :attr:`lam` during training (e.g. from :func:`dann_lambda`)."""

    def __init__(self, lam: float = 1.0) -> None:
        super().__init__()
        if lam < 0:
            raise ValueError(f"the reversal coefficient must be >= 0, got {lam}")
        self.lam = lam

    def forward(self, x: Tensor) -> Tensor:
        """``x`` unchanged; in the backward pass the gradient is multiplied by ``-lam`` (:class:`GradReverse`)."""
        return grad_reverse(x, self.lam)

    def extra_repr(self) -> str:
        """The reversal coefficient, shown when the module is printed."""
        return f"lam={self.lam:g}"


def dann_lambda(progress: float, gamma: float = 10.0) -> float:
    """DANN's schedule :math:`\\lambda_p = 2 / (1 + \\exp(-\\gamma p)) - 1` for training progress ``p`` in [0, 1].

    It rises from 0 to almost 1 (0.9999 at ``p = 1`` with the paper's :math:`\\gamma = 10`), so that the domain
    head's noisy early signal does not disturb the features (Ganin & Lempitsky 2015, Sec. 5.2).
    """
    if not 0.0 <= progress <= 1.0:
        raise ValueError(f"training progress must lie in [0, 1], got {progress}")
    return 2.0 / (1.0 + math.exp(-gamma * progress)) - 1.0
