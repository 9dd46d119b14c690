"""Uncertainty weighting (Kendall, Gal & Cipolla, CVPR 2018, arXiv:1705.07115).

Each task's likelihood gets a learned observation noise σ_k, trained with the model by maximum likelihood. In the
log-variance parametrisation the paper trains, s_k = log σ_k² (no division by zero, and more stable), the terms of
the objective are

    regression (Gaussian likelihood):         ½·e^{−s_k}·L_k + ½·s_k
    classification (softmax scaled by 1/σ²):     e^{−s_k}·L_k + ½·s_k

which is Eq. 10 of the paper, ``L_1/(2σ_1²) + L_2/σ_2² + log σ_1 + log σ_2``, for one task of each kind. At the
optimum of a regression term e^{s_k} = L_k, so the effective weight ½e^{−s_k} ≈ 1/(2L_k): noisy or high-loss tasks
are down-weighted. Nothing bounds Σ_k w_k, so the weights grow as the losses fall (GradNorm paper, Section 4).

Initial values in other code: s = 0 in Gal's notebook and in nash-mtl (which also gives s its own learning rate,
0.025); s = −0.5 in LibMTL and in the MTAN code. Most code uses the regression form for every task.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .base import LossWeighting

#: The factor on e^{−s}·L for each kind of task likelihood.
KINDS = {"regression": 0.5, "classification": 1.0}


class UncertaintyWeighting(LossWeighting):
    """``Σ_k c_k·e^{−s_k}·L_k + ½·s_k`` with learned log-variances ``s`` and ``c_k`` from the task's likelihood kind.

    Args:
        num_tasks: T.
        kinds: ``"regression"`` or ``"classification"`` per task; regression for every task by default.
        init: the initial log-variance s(0), the same for every task.
        lr: learning rate of ``s`` (``None``: the model's); :func:`~mtl_ref.fit` gives ``s`` its own parameter group.

    The logged weights are the effective ones, ``c_k·e^{−s_k}``.
    """

    def __init__(self, num_tasks: int, kinds: Sequence[str] | None = None, init: float = 0.0,
                 lr: float | None = None) -> None:
        super().__init__()
        kinds = ["regression"] * num_tasks if kinds is None else list(kinds)
        if len(kinds) != num_tasks:
            raise ValueError(f"{len(kinds)} likelihood kinds for {num_tasks} tasks")
        bad = [k for k in kinds if k not in KINDS]
        if bad:
            raise ValueError(f"unknown likelihood kind(s) {bad}; valid kinds are {list(KINDS)}")
        self.kinds = kinds
        self.init = init
        self.lr = lr
        self.log_vars = nn.Parameter(torch.full((num_tasks,), float(init)))
        self.register_buffer("factors", torch.tensor([KINDS[k] for k in kinds]))

    def reset(self) -> None:
        super().reset()
        with torch.no_grad():
            self.log_vars.fill_(self.init)

    @property
    def sigma(self) -> Tensor:
        """The learned noise standard deviations σ_k = e^{s_k/2}."""
        return (0.5 * self.log_vars.detach()).exp()

    def combine(self, losses: Tensor) -> Tensor:
        if losses.shape != self.log_vars.shape:
            raise ValueError(f"uncertainty weighting was built for {self.log_vars.numel()} tasks, got losses of shape "
                             f"{tuple(losses.shape)}")
        weights = self.factors * torch.exp(-self.log_vars)
        self.log_weights(weights)
        return (weights * losses).sum() + 0.5 * self.log_vars.sum()

    def extra_repr(self) -> str:
        return f"kinds={self.kinds}, init={self.init}, lr={self.lr}"
