"""GradNorm (Chen, Badrinarayanan, Lee & Rabinovich, ICML 2018, arXiv:1711.02257).

The network is trained on ``L(t) = Σ_i w_i(t)·L_i(t)``; the weights are trained on a second loss that pulls the
gradient norm of each weighted task loss at the last shared layer ``W`` towards a common target::

    G_i(t) = ‖∇_W w_i(t)L_i(t)‖₂,   Ḡ(t) = mean_i G_i(t),
    L̃_i(t) = L_i(t)/L_i(0),        r_i(t) = L̃_i(t) / mean_j L̃_j(t)    (relative inverse training rate),
    L_grad(t) = Σ_i |G_i(t) − Ḡ(t)·r_i(t)^α|                             (Eq. 2 of the paper).

The target ``Ḡ·r^α`` is held constant, the network gets ``∇L(t)`` only and the weights ``∇_w L_grad`` only; after
each step the weights are renormalised to sum to T; ``w(0) = 1`` and ``L_i(0)`` is the loss of the first step.
A task that trains slowly (large r_i) gets a larger gradient target, hence a larger weight; α sets how strongly.

The norms need the per-task gradients at ``W`` only: they come from one batched backward pass from the losses to
``W`` (:class:`~mtl_ref.weighting.jacobian.TaskJacobian`), which visits the heads and the last shared layer, not
the whole network. Because ``‖∇_W w_i L_i‖ = |w_i|·‖∇_W L_i‖``, ``L_grad`` depends on ``w`` through that product
only, and its gradient needs no second-order pass through the network.

The weights are a parameter of the method: :func:`~mtl_ref.fit` puts them in the model's optimizer in a group of
their own (learning rate ``lr``, no weight decay).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from .base import Weighting
from .jacobian import TaskJacobian, accumulate_grad


class GradNorm(Weighting):
    """Task weights trained to balance the gradient norms at the last shared layer.

    Args:
        num_tasks: T.
        alpha: the asymmetry α (1.5 in the paper's NYUv2 runs and in LibMTL; 0.12 in the paper's toy; 0 equalises
            the gradient norms).
        lr: learning rate of the weights (``None``: the model's).
    """

    def __init__(self, num_tasks: int, alpha: float = 1.5, lr: float | None = None) -> None:
        super().__init__()
        if num_tasks < 1:
            raise ValueError(f"num_tasks must be at least 1, got {num_tasks}")
        self.alpha = alpha
        self.lr = lr
        self.weights = nn.Parameter(torch.ones(num_tasks))
        self._jacobian = TaskJacobian()
        self._initial_losses: Tensor | None = None

    def reset(self) -> None:
        super().reset()
        with torch.no_grad():
            self.weights.fill_(1.0)
        self._jacobian.reset()
        self._initial_losses = None

    def backward(self, losses: Tensor, model: nn.Module, loss_scale: Tensor | None = None) -> None:
        if losses.shape != self.weights.shape:
            raise ValueError(f"GradNorm was built for {self.weights.numel()} tasks, got losses of shape "
                             f"{tuple(losses.shape)}")
        if not hasattr(model, "last_shared_parameters"):
            raise TypeError(f"GradNorm needs a MultiTaskModel that names its last shared layer, got "
                            f"{type(model).__name__}: subclass mtl_ref.models.MultiTaskModel and define "
                            f"shared_parameters() and last_shared_parameters(), or, in your own loop, call "
                            f"mtl_ref.backward(losses, last_shared_layer.parameters(), method)")
        layer = list(model.last_shared_parameters())
        scaled = losses if loss_scale is None else losses * loss_scale
        rows = self._jacobian(scaled, layer, retain_graph=True)
        if all(g is None for g in rows):
            raise ValueError("no task loss depends on the last shared layer's parameters")
        norms = sum(g.flatten(1).float().pow(2).sum(dim=1) for g in rows if g is not None).sqrt()
        if loss_scale is not None:
            norms = norms / loss_scale  # ‖∇_W L_i‖ of the unscaled losses

        if self._initial_losses is None:
            self._initial_losses = losses.detach().clone()
        loss_ratio = losses.detach() / self._initial_losses
        inverse_rate = loss_ratio / loss_ratio.mean()
        with torch.enable_grad():
            grad_norms = self.weights.abs() * norms
            target = (grad_norms.mean() * inverse_rate ** self.alpha).detach()
            grad_loss = (grad_norms - target).abs().sum()
            (weights_grad,) = torch.autograd.grad(grad_loss, self.weights)
        accumulate_grad([self.weights], [weights_grad if loss_scale is None else weights_grad * loss_scale])

        self.log_weights(self.weights.detach().clone())
        (self.weights.detach() * scaled).sum().backward()

    def after_step(self, losses_after: Callable[[], Tensor]) -> None:
        """Renormalise the weights to sum to T (the new losses are not needed)."""
        with torch.no_grad():
            self.weights.mul_(len(self.weights) / self.weights.sum())

    def extra_repr(self) -> str:
        return f"num_tasks={len(self.weights)}, alpha={self.alpha}, lr={self.lr}"
