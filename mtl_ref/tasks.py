"""A task as the book defines it: a name, a loss L_i and the metrics that judge it.

The data-generating part of a task, p_i(x) and p_i(y|x), lives in the data sets (:mod:`mtl_ref.data`);
a :class:`Task` holds what the training loop needs: how to turn a prediction and a target into a scalar
loss, and how to score predictions. Models return a ``dict`` mapping each task's name to its prediction,
and :func:`task_losses` checks that the two agree before computing anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from .metrics import MSE, Accuracy, BinaryAccuracy, Metric

LossFn = Callable[[Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class Task:
    """One task of a multi-task problem.

    Three constructors cover the usual cases:

    - ``Task.regression(name)``: MSE loss on predictions ``(B, 1)`` (or any shape equal to the target's), scored
      by MSE;
    - ``Task.classification(name)``: cross-entropy on logits ``(B, C)`` against class indices ``(B,)`` (int64,
      in ``0..C-1``), scored by accuracy;
    - ``Task.binary(name)``: binary cross-entropy on logits against 0/1 float targets of the same shape, scored
      by accuracy.

    Anything else is ``Task(name, loss, metrics)`` with a loss of your own.

    Args:
        name: the key of this task in model outputs and in target dicts.
        loss: ``loss(prediction, target) -> scalar``.
        metrics: name -> :class:`~mtl_ref.metrics.Metric`; each declares whether higher is better.
        same_shape: if true, prediction and target must have identical shapes (element-wise losses such as
            MSE would otherwise broadcast silently). If false, only the batch dimension is checked.
        kind: ``"classification"``, ``"binary"`` or ``"regression"`` for the constructors above, whose targets
            are then checked before training (:meth:`check_target`); ``None`` for a task of your own.
    """

    name: str
    loss: LossFn
    metrics: Mapping[str, Metric] = field(default_factory=dict)
    same_shape: bool = False
    kind: str | None = None

    @classmethod
    def classification(cls, name: str) -> Task:
        """Cross-entropy on logits ``(B, C)`` against class indices ``(B,)``, scored by accuracy."""
        return cls(name, F.cross_entropy, {"acc": Accuracy()}, kind="classification")

    @classmethod
    def binary(cls, name: str) -> Task:
        """Binary cross-entropy on logits against 0/1 targets of the same shape (one or many labels)."""
        return cls(name, F.binary_cross_entropy_with_logits, {"acc": BinaryAccuracy()}, same_shape=True,
                   kind="binary")

    @classmethod
    def regression(cls, name: str) -> Task:
        """Mean squared error, scored by MSE."""
        return cls(name, F.mse_loss, {"mse": MSE()}, same_shape=True, kind="regression")

    def check(self, prediction: Tensor, target: Tensor, split: str = "training") -> None:
        """Raise a ``ValueError`` naming this task (and ``split``) if prediction and target cannot go together."""
        if not isinstance(prediction, Tensor):
            raise TypeError(f"task {self.name!r}: prediction is a {type(prediction).__name__}, expected a Tensor")
        if self.same_shape and prediction.shape != target.shape:
            raise ValueError(
                f"task {self.name!r}: prediction has shape {tuple(prediction.shape)} but target has shape "
                f"{tuple(target.shape)}; this task's loss needs equal shapes"
            )
        if prediction.shape[:1] != target.shape[:1]:
            raise ValueError(
                f"task {self.name!r}: prediction has batch size {prediction.shape[0]} but target has "
                f"{target.shape[0]} (shapes {tuple(prediction.shape)} and {tuple(target.shape)})"
            )
        if self.kind == "classification":
            self.check_target(target, split)
            if prediction.ndim != 2:
                raise ValueError(f"task {self.name!r}: a classification head must return logits of shape (B, C), "
                                 f"got shape {tuple(prediction.shape)}")
            self.check_labels(prediction.shape[1], target, split)

    def check_target(self, target: Tensor, split: str = "training") -> None:
        """Raise a ``ValueError`` naming this task and ``split`` if ``target`` does not suit the task's kind.

        Every floating-point target must be finite; classification targets must be int64 class indices of shape
        ``(B,)``, not negative; binary targets must be floating-point 0/1. Costs one host synchronisation.
        """
        where = f"task {self.name!r}, {split} targets"
        if target.is_floating_point():
            bad = int((~torch.isfinite(target)).sum())
            if bad:
                raise ValueError(f"{where}: {bad} of {target.numel()} values are NaN or infinite")
        if self.kind == "classification":
            if target.dtype != torch.long:
                raise ValueError(f"{where}: class indices must have dtype torch.int64 (long), got {target.dtype}; "
                                 f"convert with .long()")
            if target.ndim != 1:
                raise ValueError(f"{where}: class indices must have shape (B,), got {tuple(target.shape)}")
            if target.numel() and int(target.min()) < 0:
                raise ValueError(f"{where}: class indices must be at least 0, found {int(target.min())}")
        elif self.kind == "binary":
            if not target.is_floating_point():
                raise ValueError(f"{where}: binary targets must be floating-point 0/1 of the prediction's shape, "
                                 f"got dtype {target.dtype}; convert with .float()")
            if not bool(((target == 0) | (target == 1)).all()):
                raise ValueError(f"{where}: binary targets must be 0 or 1")

    def check_labels(self, num_classes: int, target: Tensor, split: str = "training") -> None:
        """Raise a ``ValueError`` naming this task and ``split`` if a class index is not below ``num_classes``."""
        if target.numel() and int(target.max()) >= num_classes:
            raise ValueError(f"task {self.name!r}, {split} targets: label {int(target.max())} is out of range for a "
                             f"head with {num_classes} classes (labels must be in 0..{num_classes - 1})")


def check_outputs(tasks: Sequence[Task], outputs: Mapping[str, Tensor], targets: Mapping[str, Tensor],
                  allow_extra: bool = False, split: str = "training") -> None:
    """Check that outputs and targets cover exactly the tasks, with compatible shapes.

    With ``allow_extra``, outputs for other tasks are ignored (scoring a subset of a model's tasks). ``split``
    names the data in error messages.

    Raises:
        KeyError: an output or target that matches no task, or a task with no output or no target.
        ValueError: a prediction whose shape does not fit its target.
    """
    names = [t.name for t in tasks]
    extra = sorted(set(outputs) - set(names))
    if extra and not allow_extra:
        raise KeyError(f"model output has predictions {extra} that match no task; the tasks are {names}")
    for t in tasks:
        if t.name not in outputs:
            raise KeyError(f"task {t.name!r} has no prediction in the model output (it returned {sorted(outputs)})")
        if t.name not in targets:
            raise KeyError(f"task {t.name!r} has no target in the batch (it holds {sorted(targets)})")
        t.check(outputs[t.name], targets[t.name], split)


def check_finite(tasks: Sequence[Task], losses: Tensor, where: str = "") -> None:
    """Raise a ``FloatingPointError`` naming each task whose loss is NaN or infinite (one host sync)."""
    finite = torch.isfinite(losses.detach()).tolist()
    if all(finite):
        return
    values = losses.detach().tolist()
    bad = ", ".join(f"{t.name!r} = {v}" for t, v, ok in zip(tasks, values, finite) if not ok)
    raise FloatingPointError(f"non-finite loss for task {bad}{' ' + where if where else ''}")


def task_losses(
    tasks: Sequence[Task], outputs: Mapping[str, Tensor], targets: Mapping[str, Tensor], *, check: bool = False
) -> Tensor:
    """The per-task losses of one batch, stacked into a ``(T,)`` tensor in the order of ``tasks``.

    With ``check=True`` the outputs are validated first and the losses are checked to be finite; that costs a
    host synchronisation, so the training loop does it on the first step only and checks the epoch's running
    sums afterwards.
    """
    if check:
        check_outputs(tasks, outputs, targets)
    losses = torch.stack([t.loss(outputs[t.name].float(), targets[t.name]) for t in tasks])
    if check:
        check_finite(tasks, losses)
    return losses
