"""Auto-Lambda: learn the task weights by a one-step look-ahead on the main task's validation loss.

Liu, James, Davison, Johns, "Auto-Lambda: Disentangling Dynamic Task Relationships", TMLR 2022, arXiv:2202.03091,
Section 3. The task weights ``λ`` solve the bilevel problem

    min_λ  L_main^val(θ*(λ)),   θ*(λ) = argmin_θ Σ_i λ_i L_i^train(θ),

approximated by one virtual gradient step ``θ' = θ − α Σ_i λ_i ∇_θ L_i^train(θ)`` (Eq. 3). By the chain rule the
hypergradient is ``∂L_main^val(θ')/∂λ_i = −α ∇_θ L_i^train(θ) · v`` with ``v = ∇_{θ'} L_main^val(θ')``, a
mixed second derivative ``∇²_{λ,θ}`` of the training loss applied to ``v``. As in the paper (and DARTS, Liu et al.
2019, Eq. 7) it is replaced by a central finite difference that needs two extra forward passes and no second
backward pass:

    ∇²_{λ,θ} L^train · v ≈ (∇_λ L^train(θ + εv) − ∇_λ L^train(θ − εv)) / 2ε,   ε = 0.01 / ‖v‖,

and ``∇_λ L^train(θ) = (L_1^train(θ), …, L_T^train(θ))``. The weights of all tasks (main task included) start at
``init`` (0.1 in the paper) and take an Adam step on this hypergradient before each model step; the model step then
uses the new weights.

Two details follow the authors' code (github.com/lorenmt/auto-lambda, ``trainer_dense.py`` and ``auto_lambda.py``)
rather than the letter of Eq. 2. The look-ahead's main-task loss is measured on batches of the *training* set drawn
in a second, independently shuffled order, not on a held-out split: pass the training data as ``meta_data`` (with a
``seed`` other than the training loop's), so that the method learns from no labels the other methods lack; a held-out
split gives the bilevel problem as Eq. 2 writes it. And the weights are not constrained: a weight may go below 0
(the model is then trained to raise that loss a little), as in the authors' code.

Deviation: the virtual step is a plain gradient step with rate ``virtual_lr``; the paper's code reuses the
optimizer's momentum and weight decay (SGD).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import torch
from torch import Tensor, nn

from ..data.tensors import Batch, MultiTaskData
from ..tasks import Task, task_losses
from ..weighting.base import Weighting
from ..weighting.jacobian import accumulate_grad, jacobian


def look_ahead_hypergradient(params: Sequence[Tensor], task_grads: Sequence[Tensor], weights: Tensor,
                             virtual_lr: float, main_val_loss: Callable[[], Tensor],
                             train_losses: Callable[[], Tensor]) -> Tensor:
    """``∂L_main^val(θ')/∂λ``, shape ``(T,)``, by the finite differences of Auto-Lambda.

    Args:
        params: the model's parameters ``θ`` (leaf tensors; changed in place and restored before returning).
        task_grads: per parameter, the ``(T, *p.shape)`` gradients of the ``T`` training losses at ``θ``.
        weights: the current task weights ``λ`` ``(T,)``.
        virtual_lr: the virtual step's rate ``α``.
        main_val_loss: the main task's validation loss at the parameters' current values, with a graph.
        train_losses: the ``(T,)`` training losses of the step's batch at the parameters' current values.
    """
    if len(params) != len(task_grads):
        raise ValueError(f"one gradient block per parameter is needed, got {len(task_grads)} for {len(params)}")
    original = [p.detach().clone() for p in params]
    try:
        with torch.no_grad():
            for p, g in zip(params, task_grads):
                p.sub_(virtual_lr * torch.tensordot(weights.to(g.dtype), g, dims=1))
        v = torch.autograd.grad(main_val_loss(), list(params), allow_unused=True)
        v = [torch.zeros_like(p) if g is None else g for p, g in zip(params, v)]
        norm = torch.sqrt(sum(g.square().sum() for g in v))
        if not bool(norm > 0):
            return torch.zeros_like(weights)
        eps = 0.01 / norm
        with torch.no_grad():
            ends = []
            for sign in (1.0, -1.0):
                for p, p0, g in zip(params, original, v):
                    p.copy_(p0 + sign * eps * g)
                ends.append(train_losses().to(weights.dtype))
            return -virtual_lr * (ends[0] - ends[1]) / (2 * eps)
    finally:
        with torch.no_grad():
            for p, p0 in zip(params, original):
                p.copy_(p0)


class AutoLambda(Weighting):
    """Auto-Lambda as a training method for :func:`~mtl_ref.fit`, in its auxiliary-learning form (one main task).

    Args:
        tasks: the tasks, in the order of the losses.
        main: the name of the main task, whose look-ahead loss the weights are tuned to lower.
        meta_data: the data the look-ahead's main-task loss is measured on (batches drawn in turn, reshuffled every
            pass with this method's own generator). The authors use the training set itself, in another order.
        meta_lr: Adam's learning rate for the weights (1e-4 on NYUv2 in the paper).
        virtual_lr: ``α`` of the virtual step (use the model's learning rate).
        init: the weights' initial value (0.1 in the paper).
        batch_size: the look-ahead's batch size.
        seed: seeds the order of the look-ahead's batches (make it differ from the training loop's seed when
            ``meta_data`` is the training set, or both draw the same batches).

    Each step costs, besides the ordinary one, a batched backward pass for the per-task gradients, a forward and
    backward pass on a look-ahead batch and two forward passes on the training batch; the training loop supplies
    those through :meth:`~mtl_ref.weighting.base.Weighting.before_backward`. The logged task weights are ``λ``.
    """

    def __init__(self, tasks: Sequence[Task], main: str, meta_data: MultiTaskData, *, meta_lr: float = 1e-4,
                 virtual_lr: float = 1e-3, init: float = 0.1, batch_size: int = 64, seed: int = 0) -> None:
        super().__init__()
        self.tasks = list(tasks)
        names = [t.name for t in self.tasks]
        if main not in names:
            raise ValueError(f"main task {main!r} is not among the tasks {names}")
        if meta_lr <= 0 or virtual_lr <= 0 or init < 0 or batch_size < 1:
            raise ValueError(f"need meta_lr > 0, virtual_lr > 0, init >= 0 and batch_size >= 1, got {meta_lr}, "
                             f"{virtual_lr}, {init}, {batch_size}")
        self.main, self.meta_data = names.index(main), meta_data
        self.meta_lr, self.virtual_lr, self.init = meta_lr, virtual_lr, init
        self.batch_size, self.seed = batch_size, seed
        self.register_buffer("lambdas", torch.full((len(names),), float(init)), persistent=False)
        self._train_losses: Callable[[], Tensor] | None = None
        self.reset()

    def reset(self) -> None:
        super().reset()
        self.lambdas.fill_(self.init)
        self._meta: torch.optim.Optimizer | None = None
        self._generator = torch.Generator().manual_seed(self.seed)
        self._batches: Iterator[Batch] = iter(())

    def before_backward(self, batch_losses: Callable[[], Tensor]) -> None:
        self._train_losses = batch_losses

    def _meta_batch(self) -> Batch:
        batch = next(self._batches, None)
        if batch is None:
            self._batches = self.meta_data.batches(self.batch_size, shuffle=True, generator=self._generator)
            batch = next(self._batches)
        return batch

    def backward(self, losses: Tensor, model: nn.Module, loss_scale: Tensor | None = None) -> None:
        if self._train_losses is None:
            raise RuntimeError("AutoLambda needs the training loop to call before_backward(batch_losses) before "
                               "backward (mtl_ref.fit does)")
        if loss_scale is not None:
            raise ValueError("AutoLambda does not support loss scaling (AMP with fp16); train in fp32 or bf16")
        params = [p for p in model.parameters() if p.requires_grad]
        rows = jacobian(losses, params, allow_unused=True)
        rows = [torch.zeros(len(losses), *p.shape, device=p.device, dtype=p.dtype) if g is None else g
                for p, g in zip(params, rows)]
        x, y = self._meta_batch()
        main_task = self.tasks[self.main]

        def main_meta_loss() -> Tensor:
            return task_losses([main_task], {main_task.name: model(x)[main_task.name]}, y)[0]

        hyper = look_ahead_hypergradient(params, rows, self.lambdas, self.virtual_lr, main_meta_loss,
                                         self._train_losses)
        if self._meta is None:
            self._meta = torch.optim.Adam([self.lambdas], lr=self.meta_lr)
        self.lambdas.grad = hyper.to(self.lambdas.dtype)
        self._meta.step()
        self._train_losses = None
        self.log_weights(self.lambdas)
        accumulate_grad(params, [torch.tensordot(self.lambdas.to(g.dtype), g, dims=1) for g in rows])

    def extra_repr(self) -> str:
        return f"main={self.tasks[self.main].name!r}, meta_lr={self.meta_lr:g}, virtual_lr={self.virtual_lr:g}"
