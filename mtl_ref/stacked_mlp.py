"""Many small regression MLPs of one architecture, trained at once with batched matrix products.

The fast special case of :mod:`mtl_ref.stacked` (which takes any model, through ``vmap``): for networks built from
:func:`~mtl_ref.models.mlp` with squared-error tasks, each layer of all copies is one ``torch.baddbmm``.

A seeds × configurations grid of tiny networks spends its time on a CPU in per-step overhead, not arithmetic.
:func:`torch.func.stack_module_state` stacks the parameters of M copies of a model along a new leading dimension,
and each linear layer of all M copies then runs as one batched matrix product (``torch.baddbmm``; on a CPU this is
several times faster than ``vmap`` over ``functional_call`` for layers this small). Each copy keeps its own
initialisation, its own data and its own Adam state: Adam works element by element (Kingma & Ba 2015,
Algorithm 1), so one Adam over the stacked tensors *is* M independent Adams, and each model may have a learning
rate of its own.

The models are :class:`~mtl_ref.models.HardSharing` networks or single-task networks (one ``nn.Sequential``),
built from :func:`~mtl_ref.models.mlp` (linear layers and parameter-free activations). Single-task baselines are
stacked as one network per task, so that each is early-stopped on its own task.

The protocol is that of :func:`mtl_ref.task_batches.fit_task_batches`, for squared-error tasks: every step draws a
batch (with replacement) from each task's own training set, sums the task losses and takes one step; every
``eval_every`` steps the validation losses are taken, and with ``restore_best`` each model keeps the weights with
the lowest mean relative validation loss (:mod:`mtl_ref.selection`).

Data of model m and task t are padded to a common length in a :class:`Split`; ``n[m]`` rows are real.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.func import stack_module_state

from .data.tensors import MultiTaskData
from .models.hard_sharing import HardSharing
from .stacked_adam import BestWeights, StackedAdam


@dataclass(frozen=True)
class Split:
    """One split of every model's data: ``x`` (M, T, N, d), ``y`` (M, T, N, 1), ``n`` (M,) real rows per model."""

    x: Tensor
    y: Tensor
    n: Tensor

    @classmethod
    def of(cls, sets: Sequence[Mapping[str, MultiTaskData]], names: Sequence[str]) -> Split:
        """Pad the data sets ``sets[m][task]`` (one mapping per model, all tasks of a model of equal size)."""
        sizes = [{len(s[t]) for t in names} for s in sets]
        if any(len(k) != 1 for k in sizes):
            raise ValueError("the tasks of one model must have data sets of equal size")
        n = [k.pop() for k in sizes]
        first = sets[0][names[0]]
        x = first.x.new_zeros(len(sets), len(names), max(n), first.x.shape[1])
        y = first.x.new_zeros(len(sets), len(names), max(n), 1)
        for m, s in enumerate(sets):
            for t, name in enumerate(names):
                x[m, t, :n[m]] = s[name].x
                y[m, t, :n[m]] = s[name].y[name]
        return cls(x, y, torch.tensor(n, device=x.device))


class Stack:
    """M copies of one architecture: ``params`` maps each parameter's name to a tensor with a leading M axis."""

    def __init__(self, models: Sequence[nn.Module]) -> None:
        if not isinstance(models[0], (HardSharing, nn.Sequential)):
            raise TypeError(f"only HardSharing and nn.Sequential models can be stacked, got {type(models[0]).__name__}")
        params, buffers = stack_module_state(list(models))
        if buffers or any(isinstance(m, nn.Dropout) for m in models[0].modules()):
            raise ValueError("stacked models must have no buffers and no dropout (linear layers and activations)")
        self.params = {k: v.detach() for k, v in params.items()}
        self.base = copy.deepcopy(models[0]).to("meta")

    def __len__(self) -> int:
        return next(iter(self.params.values())).shape[0]

    def forward(self, params: Mapping[str, Tensor], x: Tensor, task: str) -> Tensor:
        """Predictions ``(M, B, 1)`` of every model for its own inputs ``x`` ``(M, B, d)``."""
        if isinstance(self.base, HardSharing):
            return _sequential(self.base.heads[task], params, f"heads.{task}.",
                               _sequential(self.base.trunk, params, "trunk.", x))
        return _sequential(self.base, params, "", x)

    @torch.no_grad()
    def mse(self, split: Split, names: Sequence[str], params: Mapping[str, Tensor] | None = None,
            chunk: int = 512) -> Tensor:
        """Mean squared error ``(M, T)`` of every model and task over the real rows of ``split``.

        ``params`` defaults to the stack's own (after :func:`fit_stacked`, the kept ones).
        """
        params = self.params if params is None else params
        total = torch.zeros(split.x.shape[:2], device=split.x.device)
        for start in range(0, split.x.shape[2], chunk):
            rows = torch.arange(start, min(start + chunk, split.x.shape[2]), device=split.x.device)
            real = (rows[None, :] < split.n[:, None]).float()  # (M, rows)
            for t, name in enumerate(names):
                err = (self.forward(params, split.x[:, t, rows], name) - split.y[:, t, rows]).square()
                total[:, t] += (err.squeeze(-1) * real).sum(1)
        return total / split.n[:, None]


def _sequential(layers: nn.Module, params: Mapping[str, Tensor], prefix: str, x: Tensor) -> Tensor:
    """Run the layers of one ``nn.Sequential`` for all M models: ``x`` (M, B, d_in) -> (M, B, d_out)."""
    for i, layer in enumerate(layers):
        if isinstance(layer, nn.Linear):
            weight, bias = params[f"{prefix}{i}.weight"], params[f"{prefix}{i}.bias"]
            x = torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))
        else:
            x = layer(x)
    return x


@dataclass(frozen=True)
class Fitted:
    """What :func:`fit_stacked` leaves besides the kept weights: the step each model kept, and the last weights."""

    best_step: Tensor
    last: dict[str, Tensor]


def fit_stacked(
    stack: Stack,
    names: Sequence[str],
    train: Split,
    *,
    steps: int,
    batch_size: int,
    lr: float | Tensor = 1e-3,
    val: Split | None = None,
    restore_best: bool = False,
    eval_every: int = 20,
    trainable: Callable[[str], bool] = lambda name: True,
    task_weights: Sequence[float] | None = None,
    seed: int = 0,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> Fitted:
    """Train every model of ``stack`` on its own data, in place; with ``restore_best`` keep each one's best weights.

    ``lr`` is one learning rate or one per model. Parameters whose name fails ``trainable`` stay fixed (a frozen
    trunk). Each step sums, over models and tasks, the mean squared error of a batch of ``batch_size`` rows drawn
    with replacement from the model's ``n`` real rows (times ``task_weights``, one per task, if given), and takes
    one Adam step.
    """
    if restore_best and val is None:
        raise ValueError("restore_best needs validation data (val=...)")
    count, device, dim = len(stack), train.x.device, train.x.shape[-1]
    weights = [1.0] * len(names) if task_weights is None else list(task_weights)
    if len(weights) != len(names):
        raise ValueError(f"one weight per task is needed, got {len(weights)} for {len(names)} tasks")
    free = [k for k in stack.params if trainable(k)]
    params = {k: v.clone().requires_grad_(k in free) for k, v in stack.params.items()}
    adam = StackedAdam({k: params[k] for k in free}, lr, betas=betas, eps=eps)
    gen = torch.Generator(device=device).manual_seed(seed)
    initial = stack.mse(val, names) if restore_best else None
    best = BestWeights(stack.params, at=steps) if restore_best else None
    for step in range(1, steps + 1):
        idx = (torch.rand(count, len(names), batch_size, generator=gen, device=device) * train.n[:, None, None]).long()
        x = train.x.gather(2, idx[..., None].expand(-1, -1, -1, dim))
        y = train.y.gather(2, idx[..., None])
        loss = sum(weights[t] * (stack.forward(params, x[:, t], name) - y[:, t]).square().mean()
                   for t, name in enumerate(names))
        grads = torch.autograd.grad(loss * count, [params[k] for k in free])  # each model: its own mean losses
        adam.step(params, dict(zip(free, grads)))
        if restore_best and (step % eval_every == 0 or step == steps):
            current = {k: v.detach() for k, v in params.items()}
            best.offer(current, (stack.mse(val, names, current) / initial).mean(1), step)
    last = {k: v.detach() for k, v in params.items()}
    if best is None:
        stack.params = last
        return Fitted(torch.full((count,), steps), last)
    stack.params = best.kept
    return Fitted(best.at, last)
