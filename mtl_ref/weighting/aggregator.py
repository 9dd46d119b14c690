"""Gradient aggregators: a ``(T, P)`` Jacobian in, a ``(P,)`` update out.

Row ``i`` of the Jacobian is the gradient of task ``i``'s loss with respect to the ``P`` shared parameters (or
shared features). An aggregator decides the direction the shared parameters move; the training loop applies it as
the gradient of an ordinary optimizer step. Most aggregators depend on the Jacobian only through its Gramian
``G = J Jᵀ`` (:class:`GramianWeighted`): they compute ``T`` weights from the small ``T × T`` matrix and return
``wᵀJ``, which keeps them cheap however many parameters there are.
"""

from __future__ import annotations

from abc import abstractmethod

import torch
from torch import Tensor, nn


def check_jacobian(jacobian: Tensor) -> None:
    """Raise a ``ValueError`` unless ``jacobian`` is a finite floating-point 2-D ``(T, P)`` tensor with T ≥ 1."""
    if jacobian.ndim != 2 or jacobian.shape[0] < 1:
        raise ValueError(f"expected a (tasks, parameters) Jacobian, got shape {tuple(jacobian.shape)}")
    if not jacobian.is_floating_point():
        raise ValueError(f"expected a floating-point Jacobian, got dtype {jacobian.dtype}")
    # One cheap pass: a row sum is finite unless the row holds a NaN or an infinity, or the sum overflows; only
    # then is every entry inspected, which also clears rows whose sum merely overflowed.
    if bool(torch.isfinite(jacobian.sum(dim=1)).all()):
        return
    finite = torch.isfinite(jacobian).all(dim=1)
    if not bool(finite.all()):
        rows = torch.nonzero(~finite).flatten().tolist()
        raise ValueError(f"the Jacobian has non-finite entries in the gradient of task(s) {rows}")


#: Columns per block in :func:`gramian`.
GRAMIAN_BLOCK = 65_536


def gramian(jacobian: Tensor) -> Tensor:
    """The Gramian ``G = J Jᵀ`` of a ``(T, P)`` Jacobian, in float64: ``G[i, j]`` is the inner product of the
    gradients of tasks ``i`` and ``j``.

    A float64 Jacobian is multiplied directly. A narrower one is multiplied in blocks of :data:`GRAMIAN_BLOCK`
    columns, each block in float32 and the blocks summed in float64: as fast as one float32 product, with errors of
    ~5e-7 of ``‖g_i‖‖g_j‖`` at ``P = 10⁶`` where one float32 product makes ~2e-5.
    """
    if jacobian.dtype == torch.float64:
        g = jacobian @ jacobian.T
    else:
        tasks = jacobian.shape[0]
        g = jacobian.new_zeros((tasks, tasks), dtype=torch.float64)
        for block in jacobian.split(GRAMIAN_BLOCK, dim=1):
            block = block.float()
            g += (block @ block.T).double()
    return (g + g.T) / 2


class Aggregator(nn.Module):
    """Base class: ``aggregator(jacobian) -> update``. Stateful aggregators override :meth:`reset`."""

    def forward(self, jacobian: Tensor) -> Tensor:
        check_jacobian(jacobian)
        with torch.no_grad():
            return self.aggregate(jacobian)

    def aggregate(self, jacobian: Tensor) -> Tensor:
        """The update for a checked Jacobian."""
        return self.aggregate_with_weights(jacobian)[0]

    @abstractmethod
    def aggregate_with_weights(self, jacobian: Tensor) -> tuple[Tensor, Tensor]:
        """The update ``wᵀJ`` for a checked Jacobian, and the ``(T,)`` task weights ``w`` it used."""

    def reset(self) -> None:
        """Forget any state carried from step to step (none by default)."""


class GramianWeighted(Aggregator):
    """Aggregators of the form ``d = w(G)ᵀ J`` whose weights depend on the Gramian ``G = J Jᵀ`` only.

    The weights are computed in float64 from the float64 Gramian (:func:`gramian`); the update is one
    ``(T,) @ (T, P)`` product in the Jacobian's dtype.
    """

    def aggregate_with_weights(self, jacobian: Tensor) -> tuple[Tensor, Tensor]:
        weights = self.weights(gramian(jacobian))
        return weights.to(jacobian.dtype) @ jacobian, weights

    @abstractmethod
    def weights(self, gramian: Tensor) -> Tensor:
        """The ``(T,)`` weights for a ``(T, T)`` float64 Gramian."""


class Mean(Aggregator):
    """The average of the task gradients: the gradient of ``(1/T) Σ_i L_i``.

    Computed as the product ``(1/T, …, 1/T) @ J``, which is faster than a reduction over the rows.
    """

    def aggregate_with_weights(self, jacobian: Tensor) -> tuple[Tensor, Tensor]:
        weights = jacobian.new_full((jacobian.shape[0],), 1.0 / jacobian.shape[0])
        return weights @ jacobian, weights


class Sum(Aggregator):
    """The sum of the task gradients: the gradient of ``Σ_i L_i`` (equal loss weights).

    Computed as the product ``(1, …, 1) @ J``, which is faster than a reduction over the rows.
    """

    def aggregate_with_weights(self, jacobian: Tensor) -> tuple[Tensor, Tensor]:
        weights = jacobian.new_ones(jacobian.shape[0])
        return weights @ jacobian, weights
