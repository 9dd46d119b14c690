"""Conditioning one network on a task descriptor z_i: the other way to share everything.

Instead of one head per task, a single network receives a description of the task it is asked to solve. Two ways to
feed the descriptor in:

* :class:`ConcatConditioned` appends a learned task embedding z_i to the input. Everything is shared; the tasks
  differ only through z_i, which the first layer mixes in additively.
* :class:`FiLMConditioned` modulates every hidden layer multiplicatively: h ← γ_i ⊙ h + β_i with a (γ_i, β_i)
  pair per task and layer (feature-wise linear modulation, Perez et al., AAAI 2018, Eq. 1, with the task identity as
  the conditioning input). γ starts at 1 and β at 0, so training starts from the shared network.

Independent networks (:class:`~mtl_ref.models.Independent`) are the other extreme: nothing shared at all.
Both models are called as ``model(x, task=name)``; ``model(x)`` runs every task.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .base import MultiTaskModel


def _index(task_names: list[str], task: str) -> int:
    try:
        return task_names.index(task)
    except ValueError:
        raise KeyError(f"unknown task {task!r}; this model knows {task_names}") from None


class ConcatConditioned(MultiTaskModel):
    """An MLP ``sizes[0] + embedding_dim -> ... -> sizes[-1]`` whose input is ``[x, z_task]``."""

    def __init__(self, sizes: Sequence[int], task_names: Sequence[str], embedding_dim: int = 8) -> None:
        super().__init__()
        self.task_names = list(task_names)
        self.embedding = nn.Embedding(len(self.task_names), embedding_dim)
        dims = [sizes[0] + embedding_dim, *sizes[1:]]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(dims) - 2:
                layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor, task: str | None = None) -> dict[str, Tensor] | Tensor:
        if task is None:
            return {t: self.forward(x, t) for t in self.task_names}
        z = self.embedding.weight[_index(self.task_names, task)].expand(x.shape[0], -1)
        return self.net(torch.cat([x, z], dim=1))

    def shared_parameters(self) -> list[nn.Parameter]:
        return list(self.net.parameters())


class FiLMConditioned(MultiTaskModel):
    """An MLP ``sizes[0] -> ... -> sizes[-1]`` whose hidden layers are scaled and shifted per task."""

    def __init__(self, sizes: Sequence[int], task_names: Sequence[str]) -> None:
        super().__init__()
        self.task_names = list(task_names)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        hidden = list(sizes[1:-1])
        t = len(self.task_names)
        self.gamma = nn.ParameterList(nn.Parameter(torch.ones(t, h)) for h in hidden)
        self.beta = nn.ParameterList(nn.Parameter(torch.zeros(t, h)) for h in hidden)

    def forward(self, x: Tensor, task: str | None = None) -> dict[str, Tensor] | Tensor:
        if task is None:
            return {t: self.forward(x, t) for t in self.task_names}
        i = _index(self.task_names, task)
        h = x
        for k, layer in enumerate(self.layers[:-1]):
            h = torch.relu(self.gamma[k][i] * layer(h) + self.beta[k][i])
        return self.layers[-1](h)

    def shared_parameters(self) -> list[nn.Parameter]:
        return list(self.layers.parameters())
