"""The task Jacobian in one batched backward pass, and training by aggregating it.

Gradient-level methods need the gradient of every task loss separately: the ``(T, P)`` Jacobian ``J`` whose row
``i`` is ``∇L_i``. Computing it with ``T`` calls of ``loss_i.backward(retain_graph=True)`` walks the network ``T``
times. :func:`jacobian` walks it once: ``torch.autograd.grad(losses, inputs, grad_outputs=I_T,
is_grads_batched=True)`` runs the backward pass under ``torch.vmap`` with the ``T`` rows of the identity as a batch of
output cotangents, so every backward kernel processes the ``T`` vector-Jacobian products together.

:class:`GradientAggregation` turns an :class:`~mtl_ref.weighting.aggregator.Aggregator` into a training method
(Jacobian descent, Quinton & Rey, arXiv:2406.16232). The shared part of the model moves along ``A(J)``; every
task-specific parameter gets the gradient of its own task's loss, as it would from ``Σ_i L_i``. Two levels:

- ``"parameters"``: ``J`` is taken with respect to the shared parameters.
- ``"representation"``: ``J`` is taken with respect to the shared features ``Z`` of the last forward pass, and the
  aggregated ``(B, D)`` direction is backpropagated once through the trunk. This is MGDA-UB's cheap upper-bound
  variant (Sener & Koltun, NeurIPS 2018, arXiv:1810.04650, Section 3.3): the cost is one ordinary backward pass
  through the trunk plus a batched one through the heads.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from .aggregator import Aggregator, check_jacobian
from .base import Weighting

Level = Literal["parameters", "representation"]
LEVELS: tuple[str, ...] = ("parameters", "representation")


def jacobian(losses: Tensor, inputs: Sequence[Tensor], *, batched: bool = True, retain_graph: bool = False,
             allow_unused: bool = False) -> tuple[Tensor | None, ...]:
    """The Jacobian of the ``(T,)`` ``losses`` with respect to each of ``inputs``: one ``(T, *x.shape)`` per input.

    With ``batched=True`` this is one backward pass with ``T`` cotangents at once (``is_grads_batched``, i.e.
    ``torch.vmap`` over vector-Jacobian products); with ``batched=False`` it is ``T`` ordinary backward passes.
    Both give the same numbers. An input that no loss depends on is an error, or ``None`` with ``allow_unused``;
    an input that only some losses depend on gets zero rows for the others.
    """
    if losses.ndim != 1 or losses.numel() == 0:
        raise ValueError(f"expected a 1-D tensor of task losses, got shape {tuple(losses.shape)}")
    if not losses.requires_grad:
        raise ValueError("the task losses do not require grad: they were computed without a graph")
    if batched:
        eye = torch.eye(len(losses), dtype=losses.dtype, device=losses.device)
        rows = torch.autograd.grad(losses, inputs, grad_outputs=eye, retain_graph=retain_graph, allow_unused=True,
                                   is_grads_batched=True)
    else:
        per_task = [torch.autograd.grad(loss, inputs, retain_graph=retain_graph or i < len(losses) - 1,
                                        allow_unused=True) for i, loss in enumerate(losses)]
        rows = tuple(_stack_rows([g[k] for g in per_task], x) for k, x in enumerate(inputs))
    if not allow_unused:
        unused = [k for k, g in enumerate(rows) if g is None]
        if unused:
            raise ValueError(f"no task loss depends on input(s) {unused}; pass allow_unused=True to get None there")
    return rows


def _stack_rows(rows: list[Tensor | None], x: Tensor) -> Tensor | None:
    if all(g is None for g in rows):
        return None
    return torch.stack([torch.zeros_like(x) if g is None else g for g in rows])


class TaskJacobian:
    """:func:`jacobian`, batched while that works and ``T`` backward passes once it has failed.

    Some operations have no batching rule under ``torch.vmap`` (custom autograd functions that read values on the
    host, some fused kernels). A batched backward that fails part-way has already freed the graph it walked, so the
    first call after :meth:`reset` keeps the graph to be able to try again; from the second call on the graph is
    kept only if the caller asks. A failure is reported with a warning that quotes torch's reason.
    """

    def __init__(self) -> None:
        self.batched: bool | None = None  # None: not tried yet

    def reset(self) -> None:
        self.batched = None

    def __call__(self, losses: Tensor, inputs: Sequence[Tensor], *, retain_graph: bool = False
                 ) -> tuple[Tensor | None, ...]:
        if self.batched is not False:
            try:
                rows = jacobian(losses, inputs, retain_graph=retain_graph or self.batched is None, allow_unused=True)
            except RuntimeError as error:
                if self.batched:
                    raise
                reason = str(error).strip().splitlines()[0]
                warnings.warn(f"the batched backward pass failed ({reason}); computing the task Jacobian with one "
                              f"backward pass per task instead", RuntimeWarning, stacklevel=3)
                self.batched = False
            else:
                self.batched = True
                return rows
        return jacobian(losses, inputs, batched=False, retain_graph=retain_graph, allow_unused=True)


def split_parameters(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """The trainable shared and task-specific parameters of a :class:`~mtl_ref.models.MultiTaskModel`."""
    if not (hasattr(model, "shared_parameters") and hasattr(model, "task_parameters")):
        raise TypeError(f"{type(model).__name__} does not say which parameters are shared, and gradient-level "
                        f"methods need to know: subclass mtl_ref.models.MultiTaskModel and define "
                        f"shared_parameters() (e.g. return list(self.trunk.parameters())), or, in your own loop, "
                        f"call mtl_ref.backward(losses, shared_params, method)")
    shared = [p for p in model.shared_parameters() if p.requires_grad]
    heads = [p for p in model.task_parameters() if p.requires_grad]
    if not shared:
        raise ValueError(f"{type(model).__name__} has no trainable shared parameters: there is nothing to aggregate")
    return shared, heads


def accumulate_grad(params: Sequence[Tensor], grads: Sequence[Tensor | None]) -> None:
    """Add ``grads`` to the ``.grad`` of ``params`` (skipping ``None``), as ``backward`` would."""
    for p, g in zip(params, grads):
        if g is None:
            continue
        g = g.to(p.dtype)
        p.grad = g if p.grad is None else p.grad + g


class GradientAggregation(Weighting):
    """Train along ``A(J)``: an :class:`Aggregator` applied to the Jacobian of the task losses.

    Args:
        aggregator: maps the ``(T, P)`` Jacobian to a ``(P,)`` update.
        level: ``"parameters"`` (Jacobian of the shared parameters) or ``"representation"`` (Jacobian of the shared
            features ``model.representation``, then one backward pass through the trunk).

    Task-specific parameters receive the gradient of their own task's loss, unweighted, from the same batched
    backward pass (the sum of their Jacobian rows: the other tasks' rows are zero). Those zero rows are still
    computed, so the heads' part of the backward pass costs T times what it costs for ``Σ_i L_i``; with small heads
    this is minor (``benchmarks/step_time.py``).

    With AMP the losses are differentiated scaled by ``loss_scale`` (so that fp16 gradients do not underflow); the
    aggregator sees the unscaled Jacobian and the gradients written are scaled again.

    The Jacobian is checked (shape, finite) on the first step after :meth:`reset`, like the losses in
    :func:`~mtl_ref.fit`; later steps call the aggregator's ``aggregate`` directly so that the step needs no host
    synchronisation of its own (the aggregators that solve a small problem on the Gramian with SciPy do read the
    ``T × T`` Gramian on the host). The task weights each step used are logged.
    """

    def __init__(self, aggregator: Aggregator, level: Level = "parameters") -> None:
        super().__init__()
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
        self.aggregator = aggregator
        self.level = level
        self._jacobian = TaskJacobian()
        self._checked = False

    def reset(self) -> None:
        super().reset()
        self.aggregator.reset()
        self._jacobian.reset()
        self._checked = False

    def backward(self, losses: Tensor, model: nn.Module, loss_scale: Tensor | None = None) -> None:
        shared, heads = split_parameters(model)
        targets = shared if self.level == "parameters" else [representation(model)]
        scaled = losses if loss_scale is None else losses * loss_scale
        rows = self._jacobian(scaled, [*targets, *heads])
        target_rows, head_rows = rows[:len(targets)], rows[len(targets):]
        if all(g is None for g in target_rows):
            raise ValueError(f"no task loss depends on the model's shared {self.level}")
        matrix = torch.cat([g.flatten(1) for g in target_rows if g is not None], dim=1)
        matrix = matrix.to(torch.promote_types(matrix.dtype, torch.float32))
        if loss_scale is not None:
            matrix = matrix / loss_scale
        update = self._aggregate(matrix, check=loss_scale is None)
        if loss_scale is not None:
            update = update * loss_scale
        if self.level == "parameters":
            accumulate_grad(shared, _unflatten(update, target_rows))
        else:
            z = targets[0]
            z.backward(update.view_as(z).to(z.dtype))
        accumulate_grad(heads, [None if g is None else g.sum(dim=0) for g in head_rows])

    def _aggregate(self, matrix: Tensor, check: bool) -> Tensor:
        if check and not self._checked:
            check_jacobian(matrix)
            self._checked = True
        with torch.no_grad():
            update, weights = self.aggregator.aggregate_with_weights(matrix)
        self.log_weights(weights)
        return update

    def extra_repr(self) -> str:
        return f"level={self.level!r}"


def representation(model: nn.Module) -> Tensor:
    """``model.representation``, checked to be the shared features of the forward pass being differentiated."""
    z = getattr(model, "representation", None)
    if not isinstance(z, Tensor):
        raise ValueError(f"{type(model).__name__} keeps no shared representation (model.representation is "
                         f"{type(z).__name__}); use level='parameters' or a model that stores it, such as HardSharing")
    if not z.requires_grad:
        raise ValueError("model.representation does not require grad: it must come from the forward pass whose "
                         "losses are being differentiated (was the last forward pass run under no_grad?)")
    return z


def _unflatten(update: Tensor, rows: Sequence[Tensor | None]) -> list[Tensor | None]:
    """Cut a flat update into pieces shaped like the (used) inputs whose Jacobian ``rows`` were concatenated."""
    pieces: list[Tensor | None] = []
    start = 0
    for g in rows:
        if g is None:
            pieces.append(None)
            continue
        size = g[0].numel()
        pieces.append(update[start:start + size].view_as(g[0]))
        start += size
    return pieces
