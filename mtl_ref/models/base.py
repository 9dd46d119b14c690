"""What the training loop and the weighting methods need from a multi-task model.

A multi-task model maps an input batch to a ``dict`` of predictions, one per task. Methods that treat shared
and task-specific parameters differently (gradient aggregation, GradNorm) ask the model which is which; methods
that work on the shared representation (MGDA-UB and the other representation-level variants) read the
representation of the last forward pass from ``model.representation``.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections.abc import Sequence

from torch import Tensor, nn


class MultiTaskModel(nn.Module, metaclass=ABCMeta):
    """Base class: ``forward(x) -> {task: prediction}``; ``forward(x, task=name)`` -> that task's prediction."""

    task_names: list[str]
    representation: Tensor | None = None

    @abstractmethod
    def shared_parameters(self) -> list[nn.Parameter]:
        """Parameters that every task's loss depends on."""

    def task_parameters(self) -> list[nn.Parameter]:
        """Parameters that only one task's loss depends on (everything that is not shared)."""
        shared = {id(p) for p in self.shared_parameters()}
        return [p for p in self.parameters() if id(p) not in shared]

    def regularization(self) -> Tensor | None:
        """A penalty added to the training objective (soft parameter sharing); ``None`` if the model has none."""
        return None

    def param_groups(self, lr: float) -> list[dict]:
        """Optimizer parameter groups at base learning rate ``lr``: one group with every trainable parameter.

        Models whose parameters want their own learning rate (the mixing weights of cross-stitch and sluice
        networks) override this; :func:`mtl_ref.train.make_optimizer` uses it.
        """
        return [{"params": [p for p in self.parameters() if p.requires_grad], "lr": lr}]

    def last_shared_parameters(self) -> list[nn.Parameter]:
        """The last shared layer's parameters, where GradNorm measures gradient norms."""
        raise NotImplementedError(f"{type(self).__name__} does not say which layer is its last shared layer")


def mixing_param_groups(model: nn.Module, mixing: Sequence[nn.Parameter], lr: float, scale: float) -> list[dict]:
    """Two optimizer groups: ``mixing`` (e.g. cross-stitch α) at ``scale * lr``, every other parameter at ``lr``."""
    fast = {id(p) for p in mixing}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in fast]
    return [{"params": rest, "lr": lr}, {"params": [p for p in mixing if p.requires_grad], "lr": scale * lr}]
