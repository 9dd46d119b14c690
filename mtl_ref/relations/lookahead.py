"""TAG's lookahead inter-task affinity, for every ordered pair of tasks in one batched functional update.

Task Affinity Grouping (Fifty, Amid, Zhao, Yu, Anil, Finn, NeurIPS 2021, arXiv:2109.04617, Section 3) asks how a
gradient step on task i alone changes task j's loss on the same batch. With the lookahead shared parameters

    θ_s^{t+1|i} = θ_s^t − η ∇_{θ_s} L_i(X^t, θ_s^t, θ_i^t)                        (Eq. 1)

the affinity of task i onto task j at step t is

    Z^t_{i→j} = 1 − L_j(X^t, θ_s^{t+1|i}, θ_j^t) / L_j(X^t, θ_s^t, θ_j^t)          (Eq. 2)

positive when i's step lowers j's loss. TAG averages Z^t over training (every k steps in the authors' code) and
groups tasks with the averaged matrix (:mod:`mtl_ref.relations.grouping`).

No model is copied: the T task gradients come from one batched vector-Jacobian product
(:func:`~mtl_ref.relations.gradient_cosine.task_gradients`), the T lookahead parameter sets are one tensor with a
leading T axis, and every task's loss at every lookahead point is one :func:`torch.func.vmap` of the loss function
over that axis. The step is plain SGD with rate η (Eq. 1), whatever optimiser trains the network.
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor
from torch.func import vmap

from .gradient_cosine import TaskLosses, task_gradients


def lookahead_affinity(task_losses: TaskLosses, shared: Mapping[str, Tensor], lr: float,
                       gradients: tuple[Tensor, Mapping[str, Tensor]] | None = None,
                       stacked_losses: TaskLosses | None = None) -> Tensor:
    """Z_{i→j} of Eq. 2 for every ordered pair: ``(*batch, T, T)``, row i = the task that steps, column j = the
    task whose loss is read.

    ``task_losses(shared) -> (*batch, T)`` evaluates the task losses on a fixed batch with fixed heads; the
    ``*batch`` leading dimensions are independent stacked models. ``gradients`` may pass the losses and per-task
    gradients at ``shared`` already computed by
    :func:`~mtl_ref.relations.gradient_cosine.task_gradients` (to share them with the gradient cosine).
    ``stacked_losses`` may evaluate the losses at the T lookahead parameter sets at once (parameters with a leading
    T axis, losses ``(T, *batch, T)``) where the model can batch them more cheaply than ``vmap(task_losses)``.
    """
    if lr <= 0:
        raise ValueError(f"the lookahead learning rate must be positive, got {lr}")
    losses, grads = task_gradients(task_losses, shared) if gradients is None else gradients
    ahead = {name: value - lr * grads[name] for name, value in shared.items()}  # (T, *shape): one set per task
    after = (stacked_losses or vmap(task_losses))(ahead)  # (T_i, *batch, T_j)
    return 1 - after.movedim(0, -2) / losses.unsqueeze(-2)
