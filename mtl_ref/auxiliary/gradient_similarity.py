"""Gradient-similarity weighting of auxiliary tasks: use a helper's gradient only while it points the main task's way.

Du, Czarnecki, Jayakumar, Farajtabar, Pascanu, Lakshminarayanan, "Adapting Auxiliary Losses Using Gradient
Similarity", arXiv:1812.02224: the unweighted and the weighted rule. With ``g_main`` and ``g_k`` the
gradients of the main loss and of helper ``k`` with respect to the shared parameters, and ``λ_k`` the helper's
static weight, the shared parameters move along

    g_main + Σ_k s_k λ_k g_k,   with   s_k = 1[cos(g_main, g_k) > 0]   (unweighted)
                                 or   s_k = max(0, cos(g_main, g_k))  (weighted).

Since ``s_k λ_k g_k · g_main ≥ 0``, the update's inner product with ``g_main`` is at least ``‖g_main‖²``: each step
is a descent direction of the main loss, and where ``g_main = 0`` the step is zero, because the cosine is then
defined as 0 and the helper is switched off. The helper can speed the main task up but cannot move its fixed
points (the paper's convergence result). Task-specific parameters get their own task's gradient (times ``λ_k``).

Deviation: the paper also writes the unweighted rule as ``1[cos ≥ 0]`` in places; here the inequality is strict, so
a helper whose gradient is exactly orthogonal to the main one (or zero) is dropped. The descent argument holds
either way, and with real-valued minibatch gradients the two rules almost never differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from ..data.tensors import MultiTaskData
from ..tasks import Task, task_losses
from ..weighting.base import Weighting
from ..weighting.jacobian import TaskJacobian, accumulate_grad, jacobian, split_parameters

Rule = Literal["unweighted", "weighted"]
RULES: tuple[str, ...] = ("unweighted", "weighted")


def cosines(main: Tensor, auxiliary: Tensor) -> Tensor:
    """``cos(main, auxiliary[k])`` for each row ``k``: ``main`` is ``(P,)``, ``auxiliary`` ``(K, P)``.

    A zero gradient has cosine 0 with everything (so a vanished main gradient switches every helper off).
    """
    if main.ndim != 1 or auxiliary.ndim != 2 or auxiliary.shape[1] != main.shape[0]:
        raise ValueError(f"expected main (P,) and auxiliary (K, P) gradients, got shapes {tuple(main.shape)} and "
                         f"{tuple(auxiliary.shape)}")
    norms = auxiliary.norm(dim=1) * main.norm()
    dots = auxiliary @ main
    return torch.where(norms > 0, dots / norms.clamp_min(torch.finfo(dots.dtype).tiny), torch.zeros_like(dots))


def similarity_weights(main: Tensor, auxiliary: Tensor, rule: Rule = "weighted") -> Tensor:
    """The ``(K,)`` factors ``s_k`` of Du et al.: ``1[cos > 0]`` (``"unweighted"``) or ``max(0, cos)``
    (``"weighted"``) between the main gradient ``(P,)`` and each helper gradient, the rows of ``(K, P)``."""
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    cos = cosines(main, auxiliary)
    return (cos > 0).to(cos.dtype) if rule == "unweighted" else cos.clamp_min(0)


class GradientSimilarity(Weighting):
    """Du et al.'s rule as a training method for :func:`~mtl_ref.fit`: one ``main`` task and helpers.

    Args:
        tasks: the task names in the order of the losses.
        main: the name of the main task; every other task is a helper.
        rule: ``"unweighted"`` (keep or drop each helper's gradient) or ``"weighted"`` (scale it by the cosine).
        weights: the helpers' static weights ``λ_k`` (one per helper, in task order; default 1).

    The per-task gradients come from one batched backward pass (:func:`~mtl_ref.weighting.jacobian.jacobian`), or
    from two ordinary ones when there are only two tasks.
    The logged task weights are ``1`` for the main task and ``s_k λ_k`` for each helper.
    """

    def __init__(self, tasks: Sequence[str], main: str, rule: Rule = "weighted",
                 weights: Sequence[float] | None = None) -> None:
        super().__init__()
        tasks = list(tasks)
        if main not in tasks:
            raise ValueError(f"main task {main!r} is not among the tasks {tasks}")
        if rule not in RULES:
            raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
        helpers = len(tasks) - 1
        weights = [1.0] * helpers if weights is None else list(weights)
        if len(weights) != helpers or any(w < 0 for w in weights):
            raise ValueError(f"need {helpers} non-negative helper weights (one per task other than {main!r}), "
                             f"got {weights}")
        self.tasks, self.main, self.rule = tasks, tasks.index(main), rule
        self.register_buffer("static", torch.tensor(weights, dtype=torch.float32), persistent=False)
        self._jacobian = TaskJacobian()

    def reset(self) -> None:
        super().reset()
        self._jacobian.reset()

    def backward(self, losses: Tensor, model: nn.Module, loss_scale: Tensor | None = None) -> None:
        shared, heads = split_parameters(model)
        scaled = losses if loss_scale is None else losses * loss_scale
        params = [*shared, *heads]
        # With two tasks, two ordinary backward passes are cheaper than one batched pass on small networks.
        rows = (self._jacobian(scaled, params) if len(self.tasks) > 2
                else jacobian(scaled, params, batched=False, allow_unused=True))
        flat = torch.cat([g.flatten(1) for g in rows[:len(shared)] if g is not None], dim=1)
        helpers = [i for i in range(len(self.tasks)) if i != self.main]
        with torch.no_grad():
            s = similarity_weights(flat[self.main].float(), flat[helpers].float(), self.rule)
            shared_w = torch.ones(len(self.tasks), device=flat.device)
            shared_w[helpers] = s * self.static
            head_w = torch.ones(len(self.tasks), device=flat.device)
            head_w[helpers] = self.static
        self.log_weights(shared_w)
        accumulate_grad(shared, [_combine(g, shared_w) for g in rows[:len(shared)]])
        accumulate_grad(heads, [_combine(g, head_w) for g in rows[len(shared):]])

    def extra_repr(self) -> str:
        return f"main={self.tasks[self.main]!r}, rule={self.rule!r}"


def _combine(rows: Tensor | None, weights: Tensor) -> Tensor | None:
    """``Σ_i w_i rows[i]`` for a ``(T, *shape)`` Jacobian block."""
    return None if rows is None else torch.tensordot(weights.to(rows.dtype), rows, dims=1)


def gradient_cosines(model: nn.Module, tasks: Sequence[Task], data: MultiTaskData, main: str) -> dict[str, float]:
    """``cos(∇L_main, ∇L_k)`` over the shared parameters for every other task, on the whole of ``data``.

    The cheap proxy for a helper's usefulness that Du et al. build on: one forward pass and one batched backward
    pass, no training. ``model`` must say which parameters are shared
    (:class:`~mtl_ref.models.MultiTaskModel`).
    """
    names = [t.name for t in tasks]
    if main not in names:
        raise ValueError(f"main task {main!r} is not among the tasks {names}")
    shared, _ = split_parameters(model)
    losses = task_losses(tasks, model(data.x), data.y)
    rows = jacobian(losses, shared, allow_unused=True)
    flat = torch.cat([g.flatten(1) for g in rows if g is not None], dim=1).detach()
    m = names.index(main)
    others = [i for i in range(len(names)) if i != m]
    return dict(zip([names[i] for i in others], cosines(flat[m], flat[others]).tolist()))
