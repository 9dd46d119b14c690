"""Train many task groups at once: one small hard-sharing MLP per (problem instance, group), batched.

Measuring which tasks help each other means training many networks: every pair of T tasks (T(T − 1)/2), every
task alone, the groups a search picks, each over several seeds. They are small MLPs, so all of them train as one
stack (the idea of :mod:`mtl_ref.stacked_mlp`): every parameter has a leading model axis M and each layer of all M
networks is one ``torch.baddbmm``. Every network has a trunk (``depth`` ReLU layers of ``width`` units) and one
linear head per task of the problem. Network m trains on the tasks ``groups[m]`` (a row of K task indices, padded
with -1 for a group of fewer than K tasks), and its loss is the sum of the mean squared errors of those tasks, each
on a batch of the task's own inputs; only these K tasks are computed, so pairs cost pairs, not all T tasks. Adam
works element by element (Kingma & Ba 2015, Algorithm 1), so one Adam over the stacked tensors is M independent
Adams.

Every step draws a batch with replacement from the training rows of the network's problem instance; every
``eval_every`` steps the validation errors are taken and each network keeps the weights with the lowest mean
relative validation loss over *its own* tasks (each task's loss divided by its value at initialisation,
:mod:`mtl_ref.selection`), so a single-task network is early-stopped on its task.

With ``affinity_every = k``, every k steps the networks also record TAG's lookahead affinity
(:func:`~mtl_ref.relations.lookahead.lookahead_affinity`) and the gradient cosine
(:func:`~mtl_ref.relations.gradient_cosine.gradient_cosine`) of their tasks on the trunk, on that step's batch,
averaged over training (Fifty et al. 2021, arXiv:2109.04617, Section 3): over the records up to the step whose
weights the network keeps, so that the steps after early stopping, which fit noise, do not count.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..data.tensors import MultiTaskData
from ..stacked_adam import BestWeights, StackedAdam
from .gradient_cosine import cosine_matrix, task_gradients
from .lookahead import lookahead_affinity


@dataclass(frozen=True)
class Rows:
    """Each task's own rows in S problem instances: ``x`` (S, T, N, d), ``y`` (S, T, N), ``n`` (S,) real rows
    per task of each instance."""

    x: Tensor
    y: Tensor
    n: Tensor

    @classmethod
    def of(cls, sets: Sequence[Mapping[str, MultiTaskData]], names: Sequence[str]) -> Rows:
        """Stack ``sets[s][task]`` (each task with inputs of its own, all tasks of an instance of equal size, as
        :meth:`~mtl_ref.data.CorrelatedRegression.sample_tasks` gives them), padding to the longest instance."""
        sizes = [{len(s[name]) for name in names} for s in sets]
        if any(len(k) != 1 for k in sizes):
            raise ValueError(f"the tasks of one instance must have data sets of equal size, got {sizes}")
        n = [k.pop() for k in sizes]
        first = sets[0][names[0]]
        x = first.x.new_zeros(len(sets), len(names), max(n), first.x.shape[1])
        y = first.x.new_zeros(len(sets), len(names), max(n))
        for i, s in enumerate(sets):
            for t, name in enumerate(names):
                x[i, t, :n[i]] = s[name].x
                y[i, t, :n[i]] = s[name].y[name].squeeze(-1)
        return cls(x, y, torch.tensor(n, device=x.device))


def init_nets(count: int, dim: int, width: int, num_tasks: int, *, depth: int = 1, seed: int = 0,
              device: torch.device | str = "cpu") -> dict[str, Tensor]:
    """Parameters of ``count`` networks, initialised like ``nn.Linear`` (uniform in ±1/√fan_in)."""
    if min(count, dim, width, num_tasks, depth) < 1:
        raise ValueError(f"count, dim, width, num_tasks and depth must be positive, got "
                         f"{(count, dim, width, num_tasks, depth)}")
    g = torch.Generator().manual_seed(seed)

    def uniform(*shape: int, fan_in: int) -> Tensor:
        return ((torch.rand(*shape, generator=g) * 2 - 1) / math.sqrt(fan_in)).to(device)

    params, fan_in = {}, dim
    for layer in range(depth):
        params[f"trunk.{layer}.weight"] = uniform(count, width, fan_in, fan_in=fan_in)
        params[f"trunk.{layer}.bias"] = uniform(count, width, fan_in=fan_in)
        fan_in = width
    params["heads.weight"] = uniform(count, num_tasks, width, fan_in=width)
    params["heads.bias"] = uniform(count, num_tasks, fan_in=width)
    return params


def is_shared(name: str) -> bool:
    """Whether a parameter belongs to the trunk (the shared parameters θ_s)."""
    return name.startswith("trunk.")


def group_tensor(groups: Sequence[Sequence[int]], num_tasks: int, device: torch.device | str = "cpu") -> Tensor:
    """Groups of task indices as a ``(G, K)`` long tensor padded with -1, K the largest group."""
    width = max(len(g) for g in groups)
    bad = [g for g in groups if not g or len(set(g)) != len(g) or not all(0 <= t < num_tasks for t in g)]
    if bad:
        raise ValueError(f"each group needs distinct task indices in [0, {num_tasks}), got {bad[:3]}")
    return torch.tensor([list(g) + [-1] * (width - len(g)) for g in groups], dtype=torch.long, device=device)


def predict(params: Mapping[str, Tensor], x: Tensor, tasks: Tensor) -> Tensor:
    """Predictions ``(M, K, B)`` of network m for task ``tasks[m, k]`` on that task's inputs ``x[m, k]``
    (``x``: (M, K, B, d)); the trunk runs once on all of a network's rows, each block goes to its task's head."""
    count, slots, rows = x.shape[:3]
    h, layer = x.flatten(1, 2), 0
    while f"trunk.{layer}.weight" in params:
        w, b = params[f"trunk.{layer}.weight"], params[f"trunk.{layer}.bias"]
        h = torch.relu(torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2)))
        layer += 1
    index = tasks.clamp(min=0)
    weight = params["heads.weight"].gather(1, index[..., None].expand(-1, -1, h.shape[-1]))  # (M, K, width)
    bias = params["heads.bias"].gather(1, index)  # (M, K)
    return torch.einsum("mkbw,mkw->mkb", h.view(count, slots, rows, -1), weight) + bias[..., None]


def task_mse(params: Mapping[str, Tensor], x: Tensor, y: Tensor, tasks: Tensor, real: Tensor | None = None) -> Tensor:
    """Mean squared error ``(M, K)`` of every network on each of its tasks; ``x`` (M, K, B, d), ``y`` (M, K, B);
    ``real`` (M, B) marks the rows that count (all by default)."""
    err = (predict(params, x, tasks) - y).square()
    if real is None:
        return err.mean(2)
    return (err * real[:, None, :]).sum(2) / real.sum(1, keepdim=True)


def _rows(rows: Rows, instance: Tensor, tasks: Tensor, idx: Tensor) -> tuple[Tensor, Tensor]:
    """Inputs (M, K, B, d) and targets (M, K, B) of rows ``idx`` ((M, K, B) or (B,)) of each network's tasks."""
    at = (instance[:, None, None], tasks.clamp(min=0)[..., None], idx if idx.dim() == 3 else idx[None, None, :])
    return rows.x[at], rows.y[at]


@torch.no_grad()
def evaluate(params: Mapping[str, Tensor], rows: Rows, instance: Tensor, groups: Tensor,
             chunk: int = 1024) -> Tensor:
    """Mean squared error ``(M, T)`` of network m on each task of ``groups[m]`` over the real rows of its instance
    ``instance[m]``; NaN for the tasks it was not trained on."""
    total = torch.zeros(groups.shape, device=rows.x.device)
    for start in range(0, rows.x.shape[2], chunk):
        idx = torch.arange(start, min(start + chunk, rows.x.shape[2]), device=rows.x.device)
        real = (idx[None, :] < rows.n[instance, None]).float()
        x, y = _rows(rows, instance, groups, idx)
        total += task_mse(params, x, y, groups, real) * real.sum(1, keepdim=True)
    total = total / rows.n[instance, None]
    out = torch.full((len(groups), rows.y.shape[1]), float("nan"), device=rows.x.device)
    valid = groups >= 0
    out[torch.arange(len(groups), device=groups.device)[:, None].expand_as(groups)[valid], groups[valid]] = total[valid]
    return out


@dataclass(frozen=True)
class Trained:
    """What :func:`fit_groups` returns: the kept weights, the step each network kept, and (with
    ``affinity_every``) the affinities ``(M, K, K)`` between the slots of each group averaged over the records up
    to the kept step, or None."""

    params: dict[str, Tensor]
    best_step: Tensor
    affinity: Tensor | None
    cosine: Tensor | None


def fit_groups(params: Mapping[str, Tensor], groups: Tensor, instance: Tensor, train: Rows, val: Rows, *,
               steps: int, batch_size: int, lr: float = 3e-3, eval_every: int = 25, seed: int = 0,
               affinity_every: int = 0, affinity_lr: float | None = None,
               betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> Trained:
    """Train network m on the tasks ``groups[m]`` (:func:`group_tensor`) of instance ``instance[m]``, and keep the
    weights with its best validation score.

    ``affinity_lr`` is the SGD rate η of TAG's lookahead (default: ``lr``).
    """
    count, device = next(iter(params.values())).shape[0], train.x.device
    if groups.dim() != 2 or groups.shape[0] != count or (groups[:, 0] < 0).any():
        raise ValueError(f"groups must be ({count}, K) task indices padded with -1, got shape {tuple(groups.shape)}")
    if instance.shape != (count,) or int(instance.max()) >= train.x.shape[0]:
        raise ValueError(f"instance must give each of the {count} networks one of the {train.x.shape[0]} instances")
    valid = (groups >= 0).float()
    weight = valid / valid.sum(1, keepdim=True)
    params = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    adam = StackedAdam(params, lr, betas=betas, eps=eps)
    gen = torch.Generator(device=device).manual_seed(seed)

    def slot_mse(current: Mapping[str, Tensor]) -> Tensor:  # (M, K), 1 in the padding slots
        return evaluate(current, val, instance, groups).gather(1, groups.clamp(min=0)).where(groups >= 0, 1.0)

    def score(current: Mapping[str, Tensor]) -> Tensor:
        return (slot_mse(current) / initial * weight).sum(1)

    initial = slot_mse(params)
    start = {k: v.detach() for k, v in params.items()}
    best = BestWeights(start, score=score(start))  # the initial weights count too
    recorded: list[tuple[int, Tensor, Tensor]] = []
    for step in range(1, steps + 1):
        idx = (torch.rand(*groups.shape, batch_size, generator=gen, device=device)
               * train.n[instance, None, None]).long()
        x, y = _rows(train, instance, groups, idx)
        if affinity_every and step % affinity_every == 0:
            recorded.append((step, *_affinities(params, x, y, groups, affinity_lr or lr)))
        loss = (task_mse(params, x, y, groups) * valid).sum()
        adam.step(params, dict(zip(params, torch.autograd.grad(loss, list(params.values())))))
        if step % eval_every == 0 or step == steps:
            current = {k: v.detach() for k, v in params.items()}
            best.offer(current, score(current), step)
    kept, best_step = best.kept, best.at
    if not recorded:
        return Trained(kept, best_step, None, None)
    # Average each network's records over the training that led to its kept weights (at least the first record).
    steps_at = torch.tensor([r[0] for r in recorded])
    use = ((steps_at[:, None] <= best_step[None, :]) | (steps_at[:, None] == steps_at[0])).float()  # (R, M)
    use = (use / use.sum(0, keepdim=True)).to(device)[..., None, None]
    return Trained(kept, best_step, (torch.stack([r[1] for r in recorded]) * use).sum(0),
                   (torch.stack([r[2] for r in recorded]) * use).sum(0))


def _affinities(params: Mapping[str, Tensor], x: Tensor, y: Tensor, groups: Tensor,
                lr: float) -> tuple[Tensor, Tensor]:
    """TAG's Z (M, K, K) and the gradient cosine (M, K, K) on the trunk, on one batch, heads fixed."""
    if (groups < 0).any():
        raise ValueError("affinities are recorded for full groups only (no padding)")
    shared = {k: v.detach() for k, v in params.items() if is_shared(k)}
    heads = {k: v.detach() for k, v in params.items() if not is_shared(k)}

    def losses(trunk: dict[str, Tensor]) -> Tensor:
        return task_mse({**trunk, **heads}, x, y, groups)

    def stacked(trunks: dict[str, Tensor]) -> Tensor:  # the K lookahead trunks as K × M networks of one stack
        k = next(iter(trunks.values())).shape[0]
        flat = {name: v.flatten(0, 1) for name, v in trunks.items()}
        flat.update({name: v.repeat(k, *[1] * (v.dim() - 1)) for name, v in heads.items()})
        out = task_mse(flat, x.repeat(k, 1, 1, 1), y.repeat(k, 1, 1), groups.repeat(k, 1))
        return out.view(k, *groups.shape)

    gradients = slot_gradients(params, x, y, groups)  # one backward pass serves both
    return (lookahead_affinity(losses, shared, lr, gradients, stacked),
            cosine_matrix(gradients[1], batch_dims=1))


def slot_gradients(params: Mapping[str, Tensor], x: Tensor, y: Tensor,
                   groups: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """The losses ``(M, K)`` of :func:`task_mse` and each slot's gradient on the trunk, ``{name: (K, M, *shape)}``
    (the layout of :func:`~mtl_ref.relations.gradient_cosine.task_gradients`), from one ordinary backward pass.

    Every slot has rows of its own and the trunk treats rows one by one, so the gradient of the summed loss with
    respect to a layer's pre-activations, at a row of slot k, is the gradient of slot k's loss alone; summing
    (pre-activation gradient × layer input) over the rows of each slot gives every slot's weight gradient, where
    the general vector-Jacobian product with K cotangents would run K backward passes.
    """
    count, slots, rows = x.shape[:3]
    trunk = {k: v.detach() for k, v in params.items() if is_shared(k)}
    inputs, pre, h, layer = [], [], x.flatten(1, 2), 0
    while f"trunk.{layer}.weight" in trunk:
        z = torch.baddbmm(trunk[f"trunk.{layer}.bias"].unsqueeze(1), h, trunk[f"trunk.{layer}.weight"].transpose(1, 2))
        if not pre:
            z.requires_grad_(True)  # a leaf: the graph of the backward pass starts at the first pre-activation
        inputs.append(h.detach())
        pre.append(z)
        h = torch.relu(z)
        layer += 1
    index = groups.clamp(min=0)
    weight = params["heads.weight"].detach().gather(1, index[..., None].expand(-1, -1, h.shape[-1]))
    bias = params["heads.bias"].detach().gather(1, index)
    out = torch.einsum("mkbw,mkw->mkb", h.view(count, slots, rows, -1), weight) + bias[..., None]
    losses = (out - y).square().mean(2)
    delta = torch.autograd.grad(losses.sum(), pre)
    grads = {}
    for layer, (d, a) in enumerate(zip(delta, inputs)):
        d, a = d.view(count, slots, rows, -1), a.view(count, slots, rows, -1)
        grads[f"trunk.{layer}.weight"] = torch.einsum("mkbo,mkbi->kmoi", d, a)
        grads[f"trunk.{layer}.bias"] = d.sum(2).movedim(1, 0)
    return losses.detach(), grads
