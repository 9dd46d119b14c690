"""A bank of expert MLPs and a set of task towers, each run as one batched tensor operation.

Mixture-of-experts models (MMoE, Ma et al., KDD 2018; PLE, Tang et al., RecSys 2020) evaluate ``n`` small
networks of the same shape on every example. Written as a Python loop over ``n`` ``nn.Linear`` layers this costs
``n`` kernel launches per layer; here the weights of all experts are stacked along a leading expert dimension
(``(n, in, out)``) and each layer of all experts is one ``torch.einsum``. Task towers are stacked the same way over
a task dimension. Each stacked member is initialised as ``nn.Linear`` would initialise it alone (weights and biases
uniform in ``±1/sqrt(fan_in)``), so a bank of one expert is an ordinary MLP.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn


def _stacked_linear(count: int, fan_in: int, fan_out: int) -> tuple[nn.Parameter, nn.Parameter]:
    bound = 1.0 / math.sqrt(fan_in)
    weight = nn.Parameter(torch.empty(count, fan_in, fan_out).uniform_(-bound, bound))
    bias = nn.Parameter(torch.empty(count, fan_out).uniform_(-bound, bound))
    return weight, bias


class StackedMLP(nn.Module):
    """``count`` MLPs of widths ``sizes`` (ReLU between layers), stacked along dimension 1 of their input.

    ``forward`` takes ``(B, in)`` (the same input for every member) or ``(B, count, in)`` (one input each) and
    returns ``(B, count, out)``. With ``last_activation`` the ReLU follows the last layer too (experts, whose
    outputs are features); without it the last layer is linear (towers, whose outputs are predictions).
    """

    def __init__(self, count: int, sizes: Sequence[int], *, last_activation: bool) -> None:
        super().__init__()
        if count < 1:
            raise ValueError(f"a stacked MLP needs at least one member, got count={count}")
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"sizes must hold an input and an output size, all positive, got {list(sizes)}")
        self.count, self.sizes, self.last_activation = count, list(sizes), last_activation
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for a, b in zip(sizes[:-1], sizes[1:]):
            w, bias = _stacked_linear(count, a, b)
            self.weights.append(w)
            self.biases.append(bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 2:
            if x.shape[1] != self.sizes[0]:
                raise ValueError(f"expected inputs (B, {self.sizes[0]}), got {tuple(x.shape)}")
            h = torch.einsum("bi,nio->bno", x, self.weights[0]) + self.biases[0]
        elif x.dim() == 3 and x.shape[1:] == (self.count, self.sizes[0]):
            h = torch.einsum("bni,nio->bno", x, self.weights[0]) + self.biases[0]
        else:
            raise ValueError(f"expected inputs (B, {self.sizes[0]}) or (B, {self.count}, {self.sizes[0]}), "
                             f"got {tuple(x.shape)}")
        layers = len(self.weights)
        for i in range(1, layers + 1):
            if i < layers or self.last_activation:
                h = torch.relu(h)
            if i < layers:
                h = torch.einsum("bni,nio->bno", h, self.weights[i]) + self.biases[i]
        return h


def expert_bank(num_experts: int, in_dim: int, widths: Sequence[int]) -> StackedMLP:
    """``num_experts`` ReLU MLPs ``in_dim -> widths[0] -> ... -> widths[-1]``: outputs ``(B, n, widths[-1])``."""
    return StackedMLP(num_experts, [in_dim, *widths], last_activation=True)


def towers(num_tasks: int, in_dim: int, widths: Sequence[int], out_dim: int = 1) -> StackedMLP:
    """One tower per task, ``in_dim -> widths... -> out_dim``, linear output: ``(B, T, in) -> (B, T, out_dim)``."""
    return StackedMLP(num_tasks, [in_dim, *widths, out_dim], last_activation=False)


class Gates(nn.Module):
    """``count`` softmax gates over ``num_experts`` experts: ``g_k(x) = softmax(W_k x + b_k)`` (MMoE, eq. 8).

    ``forward`` takes ``(B, in)`` (every gate sees the same input) or ``(B, count, in)`` (gate ``k`` sees row
    ``k``) and returns ``(B, count, num_experts)`` weights that sum to one over the experts. The paper's gate has no
    bias; with ``bias`` (the default here, as in common implementations) a gate can prefer an expert for every input.
    """

    def __init__(self, count: int, in_dim: int, num_experts: int, *, bias: bool = True) -> None:
        super().__init__()
        if num_experts < 1 or count < 1:
            raise ValueError(f"gates need at least one gate and one expert, got count={count}, "
                             f"num_experts={num_experts}")
        w, b = _stacked_linear(count, in_dim, num_experts)
        self.weight = w
        self.bias = b if bias else None
        self.count, self.in_dim = count, in_dim

    def logits(self, x: Tensor) -> Tensor:
        if x.dim() == 2 and x.shape[1] == self.in_dim:
            z = torch.einsum("bi,kin->bkn", x, self.weight)
        elif x.dim() == 3 and x.shape[1:] == (self.count, self.in_dim):
            z = torch.einsum("bki,kin->bkn", x, self.weight)
        else:
            raise ValueError(f"expected gate inputs (B, {self.in_dim}) or (B, {self.count}, {self.in_dim}), "
                             f"got {tuple(x.shape)}")
        return z if self.bias is None else z + self.bias

    def forward(self, x: Tensor) -> Tensor:
        return torch.softmax(self.logits(x), dim=-1)
