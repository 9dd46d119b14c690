"""Per-task gradients of the shared parameters in one batched backward pass, and their pairwise cosine.

The cosine between two tasks' gradients on the shared parameters, cos(∇_θs L_i, ∇_θs L_j), is the common cheap
signal of whether two tasks help each other (used to gate auxiliary losses by Du et al. 2018,
arXiv:1812.02224, and as the baseline of TAG, Fifty et al. 2021, arXiv:2109.04617, who average it over every
training step).

The task losses come from a function of the shared parameters, ``task_losses(shared) -> (*batch, T)``, with the
heads and the batch held fixed inside it. ``*batch`` are independent models stacked along leading dimensions (the
parameters of model m only reach the losses of model m), so that one vector-Jacobian product with the T one-hot
cotangents, batched by :func:`torch.func.vmap`, gives every task's gradient for every model at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor
from torch.func import vjp, vmap

TaskLosses = Callable[[dict[str, Tensor]], Tensor]


def task_gradients(task_losses: TaskLosses, shared: Mapping[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
    """The losses ``(*batch, T)`` at ``shared`` and each task's gradient: ``{name: (T, *shape of the parameter)}``."""
    losses, pullback = vjp(task_losses, dict(shared))
    if losses.dim() < 1:
        raise ValueError(f"task_losses must return (*batch, T) losses, got a tensor of shape {tuple(losses.shape)}")
    t = losses.shape[-1]
    basis = torch.eye(t, dtype=losses.dtype, device=losses.device)
    cotangents = basis.view(t, *[1] * (losses.dim() - 1), t).expand(t, *losses.shape)
    (grads,) = vmap(pullback)(cotangents)
    return losses, grads


def gradient_cosine(task_losses: TaskLosses, shared: Mapping[str, Tensor], batch_dims: int = 0) -> Tensor:
    """Cosine between every two tasks' gradients on ``shared``: ``(*batch, T, T)``.

    ``batch_dims`` is the number of leading model dimensions of every shared parameter (0 for one model). A task
    whose gradient is zero has cosine 0 with every task.
    """
    return cosine_matrix(task_gradients(task_losses, shared)[1], batch_dims)


def cosine_matrix(grads: Mapping[str, Tensor], batch_dims: int = 0) -> Tensor:
    """The ``(*batch, T, T)`` cosines of per-task gradients ``{name: (T, *batch, *shape)}`` (as
    :func:`task_gradients` returns them)."""
    flat = torch.cat([g.flatten(start_dim=1 + batch_dims) for g in grads.values()], dim=-1)  # (T, *batch, P)
    flat = torch.nn.functional.normalize(flat.movedim(0, -2), dim=-1)  # (*batch, T, P)
    return flat @ flat.transpose(-1, -2)
