"""Many small models of one architecture trained at once: seeds × settings in one stack.

An experiment grid of tiny networks (a few seeds, a few problems, a few learning rates) spends most of its time on
Python overhead when the models are trained one after the other. :func:`fit_stacked` stacks the parameters of M
models of one architecture (``torch.func.stack_module_state``), runs the forward pass of all of them at once with
``torch.vmap``, and steps them with Adam written on the stacked tensors (Kingma & Ba, ICLR 2015, Algorithm 1, in
the form ``torch.optim.Adam`` computes it). Adam acts element-wise, so every member follows exactly the updates it
would get alone, with its own learning rate per parameter group (from its own
:meth:`~mtl_ref.models.MultiTaskModel.param_groups`) and its own data and stream of batch indices.

The protocol is that of :func:`~mtl_ref.task_batches.fit_task_batches` with every task sampled at every step: one
batch from each task's own training set, the sum of the task losses, one step. Every ``eval_every`` steps each
task's validation loss is recorded, and each member keeps the weights of its best block so far (by the mean
relative validation loss of :mod:`mtl_ref.selection`, or task by task for single-task baselines); the test sets
are scored once, with the kept weights.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

from .data.tensors import MultiTaskData
from .models.base import MultiTaskModel
from .stacked_adam import BestWeights, StackedAdam
from .tasks import Task

TaskData = Mapping[str, MultiTaskData]


@dataclass
class StackedHistory:
    """What a stacked run recorded, per member ``m``, block ``e`` and task ``k``.

    Attributes:
        task_names: the tasks, in the order of every per-task axis.
        val_initial: ``(M, T)`` validation losses before the first step.
        val: ``(M, E, T)`` validation losses at the end of each block.
        best_block: ``(M, T)`` the block (0-based) whose weights each member kept for each task.
        test: ``(M, T)`` test losses of the kept weights.
        params: the stacked final weights (the last step's, not the kept ones).
    """

    task_names: list[str]
    val_initial: np.ndarray
    val: np.ndarray
    best_block: np.ndarray
    test: np.ndarray
    params: dict[str, Tensor]

    @property
    def val_selected(self) -> np.ndarray:
        """``(M, T)`` validation losses of the kept weights."""
        return np.take_along_axis(self.val, self.best_block[:, None, :], axis=1)[:, 0]


def _learning_rates(model: nn.Module, lr: float) -> dict[str, float]:
    """Each parameter's learning rate, by name, from the model's own optimizer groups."""
    if isinstance(model, MultiTaskModel):
        by_id = {id(p): g.get("lr", lr) for g in model.param_groups(lr) for p in g["params"]}
    else:
        by_id = {}
    return {name: by_id.get(id(p), lr) for name, p in model.named_parameters()}


def _stack_data(sets: Sequence[TaskData], name: str) -> tuple[Tensor, Tensor, list[int]]:
    """Inputs ``(M, N_max, ...)`` and targets of task ``name`` for every member, zero-padded, and the sizes."""
    sizes = [len(s[name]) for s in sets]
    n = max(sizes)

    def pad(t: Tensor) -> Tensor:
        return torch.cat([t, t.new_zeros((n - len(t), *t.shape[1:]))]) if len(t) < n else t

    return (torch.stack([pad(s[name].x) for s in sets]), torch.stack([pad(s[name].y[name]) for s in sets]), sizes)


@torch.no_grad()
def _losses(batched: Mapping[str, Callable], states: Sequence[dict[str, Tensor]], buffers: dict[str, Tensor],
            tasks: Sequence[Task], sets: Sequence[TaskData]) -> np.ndarray:
    """``(M, T)``: every member's loss on every task's data set, task ``k`` with stacked weights ``states[k]``.

    Members whose sets of a task have the same size are evaluated together.
    """
    out = np.zeros((len(sets), len(tasks)))
    for k, (t, params) in enumerate(zip(tasks, states)):
        groups: dict[int, list[int]] = {}
        for m, s in enumerate(sets):
            groups.setdefault(len(s[t.name]), []).append(m)
        for members in groups.values():
            index = torch.tensor(members, device=next(iter(params.values())).device)
            x = torch.stack([sets[m][t.name].x for m in members])
            y = torch.stack([sets[m][t.name].y[t.name] for m in members])
            prediction = batched[t.name]({n: v[index] for n, v in params.items()},
                                         {n: v[index] for n, v in buffers.items()}, x)
            out[members, k] = vmap(t.loss)(prediction.float(), y).cpu().numpy()
    return out


def fit_stacked(models: Sequence[nn.Module], tasks: Sequence[Task], train: Sequence[TaskData], *,
                val: Sequence[TaskData], test: Sequence[TaskData], steps: int, batch_size: int,
                lr: float | Sequence[float], seeds: Sequence[int], eval_every: int = 100,
                per_task: bool = False) -> StackedHistory:
    """Train ``models`` (one architecture, member ``m`` on ``train[m]``) side by side; see the module docstring.

    Args:
        models: M models with identical parameter names and shapes, called as ``model(x, task=name)``; they are
            not modified (their initial weights are copied into the stack).
        tasks: the tasks every member learns.
        train, val, test: per member, ``{task: data holding that task's target}``.
        steps, batch_size: optimizer steps, and examples drawn per task and step (with replacement; every
            training set must hold at least ``batch_size`` examples).
        lr: the base learning rate, one for all members or one per member.
        seeds: per member, the seed of its batch indices (the same stream as ``fit_task_batches`` with that seed).
        eval_every: steps per block; validation losses are recorded at the end of each block.
        per_task: which weights to keep. By default each member keeps the block with the lowest mean relative
            validation loss (:mod:`mtl_ref.selection`); with ``per_task`` each task keeps the block with its own
            lowest validation loss, which for separate networks is each network early-stopped on its own task.
            The test losses are those of the kept weights.
    """
    count = len(models)
    lrs = [float(lr)] * count if isinstance(lr, (int, float)) else [float(x) for x in lr]
    if not count or not len(train) == len(val) == len(test) == len(seeds) == len(lrs) == count:
        raise ValueError(f"one training, validation and test set, seed and learning rate per model are needed "
                         f"({count} models, {len(train)}, {len(val)}, {len(test)}, {len(seeds)}, {len(lrs)})")
    too_small = [(m, t.name, len(s[t.name])) for m, s in enumerate(train) for t in tasks if len(s[t.name]) < batch_size]
    if too_small:
        raise ValueError(f"training sets smaller than batch_size={batch_size} (member, task, size): {too_small}")
    device = next(iter(train[0].values())).device
    params, buffers = stack_module_state(list(models))
    rates = [_learning_rates(model, r) for model, r in zip(models, lrs)]
    adam = StackedAdam(params, {k: torch.tensor([r[k] for r in rates], device=device) for k in params})
    base = copy.deepcopy(models[0]).to("meta")

    def forward(name: str):
        return vmap(lambda p, b, x: functional_call(base, (p, b), (x,), {"task": name}))

    batched = {t.name: forward(t.name) for t in tasks}
    per_member_loss = {t.name: vmap(t.loss) for t in tasks}
    data = {t.name: _stack_data(train, t.name) for t in tasks}
    generators = [torch.Generator(device=device).manual_seed(s) for s in seeds]
    rows = torch.arange(count, device=device)[:, None]
    val_initial = _losses(batched, [params] * len(tasks), buffers, tasks, val)
    reference = torch.as_tensor(val_initial, device=device)
    slots = len(tasks) if per_task else 1
    best = [BestWeights(params) for _ in range(slots)]
    val_record = []
    for step in range(1, steps + 1):
        total = torch.zeros((), device=device)
        for t in tasks:
            x, y, sizes = data[t.name]
            idx = torch.stack([torch.randint(n, (batch_size,), device=device, generator=g)
                               for n, g in zip(sizes, generators)])
            prediction = batched[t.name](params, buffers, x[rows, idx])
            total = total + per_member_loss[t.name](prediction.float(), y[rows, idx]).sum()
        adam.step(params, dict(zip(params, torch.autograd.grad(total, list(params.values())))))
        if step % eval_every == 0 or step == steps:
            val_record.append(_losses(batched, [params] * len(tasks), buffers, tasks, val))
            relative = torch.as_tensor(val_record[-1], device=device) / reference
            score = relative if per_task else relative.mean(dim=1, keepdim=True)
            for slot, keeper in enumerate(best):
                keeper.offer(params, score[:, slot], len(val_record) - 1)
    kept = [keeper.kept for keeper in best]
    test_loss = _losses(batched, kept if per_task else kept * len(tasks), buffers, tasks, test)
    best_block = torch.stack([keeper.at for keeper in best], dim=1)
    return StackedHistory([t.name for t in tasks], val_initial, np.stack(val_record, axis=1),
                          best_block.expand(count, len(tasks)).numpy().copy(), test_loss,
                          {k: v.detach() for k, v in params.items()})
