"""Many copies of a model trained at once, for models whose layers broadcast over a leading member dimension.

The mixture-of-experts models (:mod:`mtl_ref.models.experts`) are written so that every operation broadcasts over
leading dimensions: with the parameters of ``M`` copies stacked along a new first dimension
(:func:`torch.func.stack_module_state`), :func:`torch.func.functional_call` on inputs ``(M, B, d)`` runs the ``M``
models as one set of batched products, with no ``vmap`` and no loop over models. A seeds × settings grid of small
networks then costs about as much per step as one larger network.

Each member has its own initialisation, training data (all tasks share the inputs, as in the MMoE experiments), its
own stream of batch indices and its own learning rate; Adam is written on the stacked tensors (Kingma & Ba, ICLR
2015, Algorithm 1, as ``torch.optim.Adam`` computes it), and since it acts element by element every member follows
exactly the updates it would get alone. Every ``eval_every`` steps the validation and test losses are recorded (the
test curve is for plotting only); each member keeps the weights with the lowest *mean relative validation loss* of
:mod:`mtl_ref.selection` (each task's validation loss over its value at initialisation, averaged over tasks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state

from .stacked_adam import BestWeights, StackedAdam
from .tasks import Task

ELEMENTWISE = {"regression": lambda p, y: F.mse_loss(p, y, reduction="none"),
               "binary": lambda p, y: F.binary_cross_entropy_with_logits(p, y, reduction="none")}


@dataclass(frozen=True)
class Split:
    """Inputs ``x`` ``(M, N, d)`` and targets ``{task: (M, N, 1)}`` of every member (one split)."""

    x: Tensor
    y: Mapping[str, Tensor]

    def __post_init__(self) -> None:
        for name, target in self.y.items():
            if target.shape[:2] != self.x.shape[:2]:
                raise ValueError(f"task {name!r}: targets {tuple(target.shape)} do not match inputs "
                                 f"{tuple(self.x.shape)} in their first two (member, example) dimensions")


@dataclass
class MembersHistory:
    """What :func:`fit_members` recorded for ``M`` members, ``E`` evaluations and ``T`` tasks.

    Attributes:
        task_names: the order of every task axis.
        steps: ``(E,)`` the step of each evaluation.
        val_initial: ``(M, T)`` validation losses before training.
        val, test: ``(M, E, T)`` losses at each evaluation.
        best: ``(M,)`` the evaluation whose weights each member kept.
        params: the kept weights, stacked; ``final``: the last step's.
    """

    task_names: list[str]
    steps: np.ndarray
    val_initial: np.ndarray
    val: np.ndarray
    test: np.ndarray
    best: np.ndarray
    params: dict[str, Tensor]
    final: dict[str, Tensor]

    def _at_best(self, a: np.ndarray) -> np.ndarray:
        return a[np.arange(len(self.best)), self.best]

    @property
    def val_selected(self) -> np.ndarray:
        """``(M, T)`` validation losses of the kept weights."""
        return self._at_best(self.val)

    @property
    def test_selected(self) -> np.ndarray:
        """``(M, T)`` test losses of the kept weights."""
        return self._at_best(self.test)


def stack(models: Sequence[nn.Module]) -> dict[str, Tensor]:
    """The parameters of ``models`` (one architecture, no buffers) stacked along a new first dimension."""
    params, buffers = stack_module_state(list(models))
    if buffers:
        raise ValueError(f"models with buffers cannot be stacked here, found {list(buffers)}")
    return {k: v.detach().clone() for k, v in params.items()}


def predict(base: nn.Module, params: Mapping[str, Tensor], x: Tensor, chunk: int = 4096,
            **kwargs: object) -> dict[str, Tensor]:
    """``{task: (M, N, out)}``: every member's predictions on its inputs ``x`` ``(M, N, d)``, in chunks of examples."""
    with torch.no_grad():
        parts = [functional_call(base, dict(params), (x[:, i:i + chunk],), kwargs) for i in range(0, x.shape[1], chunk)]
    return {t: torch.cat([p[t] for p in parts], dim=1) for t in parts[0]}


def member_losses(tasks: Sequence[Task], predictions: Mapping[str, Tensor], targets: Mapping[str, Tensor]) -> Tensor:
    """``(M, T)``: each member's mean loss on each task."""
    return torch.stack([ELEMENTWISE[t.kind](predictions[t.name], targets[t.name]).flatten(1).mean(1) for t in tasks],
                       dim=1)


def fit_members(base: nn.Module, params: Mapping[str, Tensor], tasks: Sequence[Task], train: Split, *,
                val: Split, test: Split, steps: int, batch_size: int, lr: float | Sequence[float], seed: int = 0,
                eval_every: int = 100) -> MembersHistory:
    """Train the stacked ``params`` of ``M`` copies of ``base`` (member ``m`` on ``train.x[m]``); see the module.

    ``tasks`` are regression or binary tasks (:class:`~mtl_ref.Task`); the step minimises the sum of every member's
    task losses. ``lr`` is one learning rate or one per member.
    """
    unsupported = [t.name for t in tasks if t.kind not in ELEMENTWISE]
    if unsupported:
        raise ValueError(f"tasks {unsupported} are neither regression nor binary tasks")
    count, n = train.x.shape[:2]
    for name, split in (("validation", val), ("test", test)):
        if split.x.shape[0] != count:
            raise ValueError(f"the {name} split has {split.x.shape[0]} members, training has {count}")
    if batch_size > n:
        raise ValueError(f"batch_size={batch_size} exceeds the {n} training examples per member")
    lrs = torch.as_tensor([float(lr)] * count if isinstance(lr, (int, float)) else [float(r) for r in lr],
                          device=train.x.device)
    if len(lrs) != count:
        raise ValueError(f"{len(lrs)} learning rates for {count} members")
    params = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    adam = StackedAdam(params, lrs)
    g = torch.Generator(device=train.x.device).manual_seed(seed)
    rows = torch.arange(count, device=train.x.device)[:, None]

    def evaluate(split: Split) -> Tensor:
        return member_losses(tasks, predict(base, params, split.x), split.y)

    reference = evaluate(val)
    best = BestWeights(params)
    record_steps, vals, tests = [], [], []
    for step in range(1, steps + 1):
        idx = torch.randint(n, (count, batch_size), device=train.x.device, generator=g)
        out = functional_call(base, params, (train.x[rows, idx],))
        loss = member_losses(tasks, out, {t: y[rows, idx] for t, y in train.y.items()}).sum()
        # A parameter no task reads (an empty tower) gets no gradient and stays as it is.
        adam.step(params, dict(zip(params, torch.autograd.grad(loss, list(params.values()), allow_unused=True))))
        if step % eval_every == 0 or step == steps:
            v, t = evaluate(val), evaluate(test)
            record_steps.append(step)
            vals.append(v)
            tests.append(t)
            best.offer(params, (v / reference).mean(1), len(vals) - 1)
    return MembersHistory([t.name for t in tasks], np.array(record_steps), reference.cpu().numpy(),
                          torch.stack(vals, 1).cpu().numpy(), torch.stack(tests, 1).cpu().numpy(), best.at.numpy(),
                          best.kept, {k: v.detach() for k, v in params.items()})
