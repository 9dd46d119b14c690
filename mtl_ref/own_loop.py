"""Balancing tasks in your own training loop: per-task losses in, ``.grad`` filled, with any ``nn.Module``.

:func:`~mtl_ref.fit` is one loop; a student's project usually has its own. :func:`backward` is the one call such a
loop needs in place of ``loss.backward()``::

    out = model(x)
    losses = torch.stack([F.mse_loss(out[t], y[t]) for t in ("a", "b")])
    optimizer.zero_grad()
    mtl_ref.backward(losses, model.trunk.parameters(), "upgrad")   # instead of losses.sum().backward()
    optimizer.step()

It fills ``.grad`` exactly as one step of :func:`~mtl_ref.fit` would for the same model, batch and method: the
shared parameters get the method's combination of the task gradients, every other parameter the losses reach (the
task-specific heads) the gradient of its own task's loss. It plays the role of torchjd's
``mtl_backward(losses, features)`` followed by ``jac_to_grad(shared_params, aggregator)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor, nn

from .weighting.aggregator import Aggregator
from .weighting.base import Weighting
from .weighting.jacobian import GradientAggregation


class DeclaredParameters:
    """Stands in for a :class:`~mtl_ref.models.MultiTaskModel`: which parameters are shared, which are not, and the
    shared features of the forward pass (what the weighting methods ask a model)."""

    def __init__(self, shared: Sequence[nn.Parameter], task: Sequence[nn.Parameter],
                 representation: Tensor | None = None) -> None:
        self.shared, self.task, self.representation = list(shared), list(task), representation

    def shared_parameters(self) -> list[nn.Parameter]:
        return self.shared

    def task_parameters(self) -> list[nn.Parameter]:
        return self.task

    def last_shared_parameters(self) -> list[nn.Parameter]:
        """GradNorm measures gradient norms here: every shared parameter given (pass the last shared layer's)."""
        return self.shared


def backward(losses: Tensor | Sequence[Tensor], shared_params: Iterable[nn.Parameter],
             method: str | Weighting | Aggregator = "mean", *, features: Tensor | None = None) -> None:
    """Accumulate one step's gradients into ``.grad``, balancing the tasks with ``method``.

    Args:
        losses: the per-task losses of the batch, a ``(T,)`` tensor or a sequence of ``T`` scalars.
        shared_params: the parameters every task depends on (e.g. ``model.trunk.parameters()``); the method
            combines the task gradients there. Every other trainable parameter the losses depend on is
            task-specific and gets the gradient of the losses' sum (its own task's gradient).
        method: a name from :func:`mtl_ref.weighting.method_names` (``"mean"``, ``"upgrad"``, ``"mgda"``, ``"equal"``,
            …), an :class:`~mtl_ref.weighting.Aggregator`, or a :class:`~mtl_ref.weighting.Weighting`. A name builds
            a fresh method at every call; a method that keeps state from step to step (DWA, FAMO, GradNorm,
            Nash-MTL's warm start) must be built once and passed here, and its ``after_step`` and ``epoch_end``
            hooks called by your loop where :func:`~mtl_ref.fit` would call them.
        features: the shared features ``z`` of this forward pass. With an aggregator, its Jacobian is then taken
            with respect to ``z`` instead of the shared parameters (the *representation level*, MGDA-UB's cheap
            variant) and the combined direction is backpropagated once through the trunk.

    Raises:
        ValueError: ``losses`` is not one scalar per task, has no graph, or ``shared_params`` is empty.
    """
    losses = losses if isinstance(losses, Tensor) else torch.stack(list(losses))
    if losses.ndim != 1 or losses.numel() == 0:
        raise ValueError(f"expected one scalar loss per task (a (T,) tensor), got shape {tuple(losses.shape)}")
    if not losses.requires_grad:
        raise ValueError("the task losses do not require grad: they were computed without a graph")
    shared = [p for p in shared_params if p.requires_grad]
    if not shared:
        raise ValueError("shared_params is empty (or none requires grad): pass the parameters every task uses, "
                         "e.g. model.trunk.parameters()")
    weighting = _weighting(method, len(losses), representation=features is not None).to(losses.device)
    shared_ids = {id(p) for p in shared}
    task = [p for p in leaf_parameters(losses) if id(p) not in shared_ids]
    weighting.backward(losses, DeclaredParameters(shared, task, features))


def _weighting(method: str | Weighting | Aggregator, num_tasks: int, representation: bool) -> Weighting:
    level = "representation" if representation else "parameters"
    if isinstance(method, str):
        from .weighting import AGGREGATORS, method as named_method

        return named_method(method, num_tasks=num_tasks, **({"level": level} if method in AGGREGATORS else {}))
    if isinstance(method, Aggregator):
        return GradientAggregation(method, level=level)
    if isinstance(method, Weighting):
        return method
    raise TypeError(f"method must be a name, an Aggregator or a Weighting, got {type(method).__name__}")


def leaf_parameters(output: Tensor) -> list[Tensor]:
    """The trainable leaf tensors (parameters) that ``output``'s autograd graph reaches, in a fixed order."""
    found: dict[int, Tensor] = {}
    seen: set = set()
    stack = [output.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        variable = getattr(node, "variable", None)  # AccumulateGrad nodes hold their leaf
        if isinstance(variable, Tensor):
            found.setdefault(id(variable), variable)
        stack.extend(next_node for next_node, _ in node.next_functions)
    return list(found.values())
