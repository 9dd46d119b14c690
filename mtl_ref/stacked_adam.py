"""Adam on stacked parameters, and each member's best weights: the two pieces every stacked trainer shares.

The book trains grids of small networks (seeds × settings) as one *stack*: every parameter carries a leading member
axis ``M`` (:func:`torch.func.stack_module_state`). Adam acts element by element (Kingma & Ba, ICLR 2015,
Algorithm 1), so one Adam over the stacked tensors is ``M`` independent Adams, each member with its own learning
rate. :class:`StackedAdam` computes the update as ``torch.optim.Adam`` does,

    θ ← θ − (η / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε),

and :class:`BestWeights` keeps, for every member, the weights at which its validation score was lowest so far
(early stopping by selection, :mod:`mtl_ref.selection`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor


def _per_member(values: Tensor, like: Tensor) -> Tensor:
    """``(M,)`` values shaped to broadcast against a stacked parameter ``(M, ...)``."""
    return values.view(-1, *[1] * (like.dim() - 1))


class StackedAdam:
    """Adam over a dict of stacked parameters ``{name: (M, ...)}``, updated in place by :meth:`step`.

    ``lr`` is one learning rate, one per member ``(M,)``, or a dict giving each parameter its own ``(M,)`` rates
    (parameter groups with their own learning rates, member by member).
    """

    def __init__(self, params: Mapping[str, Tensor], lr: float | Tensor | Mapping[str, Tensor],
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        if not params:
            raise ValueError("StackedAdam needs at least one parameter")
        count = next(iter(params.values())).shape[0]
        self.betas, self.eps, self.steps = betas, eps, 0
        self.moments = {k: (torch.zeros_like(v), torch.zeros_like(v)) for k, v in params.items()}
        self.rates = {}
        for k, v in params.items():
            rate = torch.as_tensor(lr[k] if isinstance(lr, Mapping) else lr, dtype=v.dtype, device=v.device)
            if rate.dim() > 1 or rate.numel() not in (1, count):
                raise ValueError(f"learning rate of {k!r}: one value or one per member ({count}), "
                                 f"got shape {tuple(rate.shape)}")
            self.rates[k] = _per_member(rate.expand(count), v)

    @torch.no_grad()
    def step(self, params: Mapping[str, Tensor], grads: Mapping[str, Tensor | None]) -> None:
        """One Adam step on ``params`` (in place) with ``grads``; a parameter whose gradient is ``None`` (no task
        reads it) is left as it is."""
        self.steps += 1
        beta1, beta2 = self.betas
        correction1, correction2 = 1 - beta1 ** self.steps, math.sqrt(1 - beta2 ** self.steps)
        for k, g in grads.items():
            if g is None:
                continue
            m, v = self.moments[k]
            m.lerp_(g, 1 - beta1)
            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            params[k].sub_(self.rates[k] / correction1 * m / (v.sqrt() / correction2 + self.eps))


class BestWeights:
    """For each member of a stack, the weights with the lowest score offered so far, and when they were offered.

    ``score`` is the starting score per member (default: +∞, so the first offer is kept); ``at`` says when the
    starting weights were taken (a step or a record index). A NaN score is never lower, so a diverged member keeps
    its last good weights.
    """

    def __init__(self, params: Mapping[str, Tensor], score: Tensor | None = None, at: int = 0) -> None:
        self.kept = {k: v.detach().clone() for k, v in params.items()}
        count, device = next(iter(params.values())).shape[0], next(iter(params.values())).device
        self.score = torch.full((count,), float("inf"), device=device) if score is None else score.detach().clone()
        self.at = torch.full((count,), at, dtype=torch.long)

    def offer(self, params: Mapping[str, Tensor], score: Tensor, at: int) -> Tensor:
        """Keep the members' ``params`` where ``score`` ``(M,)`` is lower than their best; returns that mask."""
        better = score < self.score
        self.score = torch.where(better, score, self.score)
        self.at = torch.where(better.cpu(), torch.tensor(at), self.at)
        self.kept = {k: torch.where(_per_member(better, v), v.detach(), self.kept[k]) for k, v in params.items()}
        return better
