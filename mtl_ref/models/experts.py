"""A bank of expert MLPs, softmax gates and task towers, each run as one batched tensor operation.

Mixture-of-experts models (MMoE, Ma et al., KDD 2018; PLE, Tang et al., RecSys 2020) evaluate ``n`` small
networks of the same shape on every example. Written as a Python loop over ``n`` ``nn.Linear`` layers this costs
``n`` kernel launches per layer; here the weights of all experts are stacked along a leading expert dimension
(``(n, in, out)``) and each layer of all experts is one ``torch.einsum``. Task towers and gates are stacked the same
way over a task dimension. Each stacked member is initialised as ``nn.Linear`` would initialise it alone (weights
and biases uniform in ``±1/sqrt(fan_in)``), so a bank of one expert is an ordinary MLP.

Every operation also broadcasts over *leading* dimensions of parameters and inputs: with the parameters of ``M``
copies of a model stacked along a new first dimension (:func:`torch.func.stack_module_state`) and inputs
``(M, B, ...)``, :func:`torch.func.functional_call` runs all ``M`` models at once (no ``vmap`` needed).
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


def _check_input(x: Tensor, count: int, width: int, each: bool, what: str) -> None:
    if x.shape[-1] != width or (each and (x.dim() < 3 or x.shape[-2] != count)):
        expected = f"(B, {count}, {width})" if each else f"(B, {width})"
        raise ValueError(f"expected {what} inputs {expected}, got {tuple(x.shape)}")


class StackedMLP(nn.Module):
    """``count`` MLPs of widths ``sizes`` (ReLU between layers), evaluated together.

    ``forward(x)`` gives every member the same input ``(B, in)``; ``forward(x, each=True)`` gives member ``i`` row
    ``i`` of ``(B, count, in)``. The output is ``(B, count, out)``. With ``last_activation`` the ReLU follows the
    last layer too (experts, whose outputs are features); without it the last layer is linear (towers).
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

    def forward(self, x: Tensor, each: bool = False) -> Tensor:
        _check_input(x, self.count, self.sizes[0], each, "stacked MLP")
        pattern = "...bni,...nio->...bno" if each else "...bi,...nio->...bno"
        h = torch.einsum(pattern, x, self.weights[0]) + self.biases[0].unsqueeze(-3)
        layers = len(self.weights)
        for i in range(1, layers + 1):
            if i < layers or self.last_activation:
                h = torch.relu(h)
            if i < layers:
                h = torch.einsum("...bni,...nio->...bno", h, self.weights[i]) + self.biases[i].unsqueeze(-3)
        return h


def expert_bank(num_experts: int, in_dim: int, widths: Sequence[int]) -> StackedMLP:
    """``num_experts`` ReLU MLPs ``in_dim -> widths[0] -> ... -> widths[-1]``: outputs ``(B, n, widths[-1])``."""
    return StackedMLP(num_experts, [in_dim, *widths], last_activation=True)


def towers(num_tasks: int, in_dim: int, widths: Sequence[int], out_dim: int = 1) -> StackedMLP:
    """One tower per task, ``in_dim -> widths... -> out_dim``, linear output; call with ``each=True``."""
    return StackedMLP(num_tasks, [in_dim, *widths, out_dim], last_activation=False)


class Gates(nn.Module):
    """``count`` softmax gates over ``num_experts`` experts: ``g_k(x) = softmax(W_k x + b_k)`` (MMoE, eq. 8).

    ``forward(x)`` gives every gate the input ``(B, in)``; ``forward(x, each=True)`` gives gate ``k`` row ``k`` of
    ``(B, count, in)``. The output ``(B, count, num_experts)`` sums to one over the experts.

    Deviation from the papers: MMoE's gate (eq. 8) and PLE's (eq. 4) are ``softmax(W_k x)``, without a bias. Here
    ``bias=True`` is the default, as in common implementations, so a gate can prefer an expert for every input;
    ``bias=False`` gives the papers' form.
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

    def logits(self, x: Tensor, each: bool = False) -> Tensor:
        """``(B, count, num_experts)``: the gates' scores ``W_k x (+ b_k)`` before the softmax."""
        _check_input(x, self.count, self.in_dim, each, "gate")
        z = torch.einsum("...bki,...kin->...bkn" if each else "...bi,...kin->...bkn", x, self.weight)
        return z if self.bias is None else z + self.bias.unsqueeze(-3)

    def forward(self, x: Tensor, each: bool = False) -> Tensor:
        return torch.softmax(self.logits(x, each), dim=-1)


def tower_outputs(towers: StackedMLP, h: Tensor, task_names: Sequence[str],
                  task: str | None = None) -> dict[str, Tensor] | Tensor:
    """Each task's tower on its row of ``h`` ``(B, T, in)``: ``{task: (B, out)}``, or the one ``task``'s output."""
    if task is not None and task not in task_names:
        raise KeyError(f"unknown task {task!r}; the model's tasks are {list(task_names)}")
    y = towers(h, each=True)  # (B, T, out)
    if task is not None:
        return y[..., list(task_names).index(task), :]
    return {t: y[..., k, :] for k, t in enumerate(task_names)}

