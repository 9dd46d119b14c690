"""Soft parameter sharing: one network per task, tied together by a penalty on their weights.

Each task has its own trunk and head, as in :class:`~.hard_sharing.Independent`, and all trunks have the same
architecture. Nothing is shared. Instead :meth:`SoftSharing.regularization` returns ``λ Σ_layers Ω(W_1, …, W_T)``
over the corresponding weights of the T trunks, and the training loop adds it to the objective. Two penalties:

- **L2 distance** (Duong, Cohn, Bird & Cook, "Low Resource Dependency Parsing: Cross-lingual Parameter Sharing in a
  Neural Network Parser", ACL 2015): ``Ω = ‖W_a − W_b‖²_F`` for two tasks (:func:`l2_distance`). For T tasks it
  is summed over all pairs, which equals T times the squared distance to the mean:
  ``Σ_{a<b} ‖W_a − W_b‖²_F = T Σ_t ‖W_t − W̄‖²_F``. So the pairwise and the to-the-mean generalisations differ only
  by the scale of λ; the pairwise sum is kept because it is the paper's penalty when T = 2.
- **Trace norm** (Yang & Hospedales, "Trace Norm Regularised Deep Multi-Task Learning", ICLR 2017 workshop,
  arXiv:1606.04038): stack the T weights into a tensor ``W`` of shape ``d_1 × … × d_m × T``, with the task mode
  last as in the paper. Then ``Ω = Σ_i ‖W_(i)‖_*``, the nuclear norms of its mode-i unfoldings (:func:`trace_norm`).
  The paper has three variants. Using all modes gives its Tucker variant with every γ_i = 1. Using only the task
  mode (``modes=(-1,)``) is its **last axis flattening** variant: the nuclear norm of the T × (d_1⋯d_m) matrix
  whose rows are the flattened task weights. (The third, a tensor-train variant, is not implemented.) Every mode
  couples the tasks: the mode-i unfolding of a weight mode i places the T task slices side by side, so its rank is
  that of all tasks' weights together, and a low rank means the tasks share a subspace along that mode.

Only the trunk weights with two or more dimensions (convolution kernels, linear weights) are tied. Biases,
normalisation parameters and the heads are free; the heads' output layers differ in shape from task to task
anyway. A large λ with the L2 penalty approaches hard sharing; λ = 0 gives independent networks.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Mapping, Sequence
from itertools import combinations

import torch
from torch import Tensor, nn

from .dense import check_tasks, dense_heads
from .hard_sharing import Independent
from .segnet import PAPER_WIDTHS, VGG16_CONVS, SegNet

Penalty = Callable[[Sequence[Tensor]], Tensor]


def l2_distance(weights: Sequence[Tensor]) -> Tensor:
    """``Σ_{a<b} ‖W_a − W_b‖²_F`` over the T same-shaped ``weights``: exactly zero when they are all equal."""
    total = weights[0].new_zeros(())
    for a, b in combinations(weights, 2):
        total = total + (a - b).pow(2).sum()
    return total


def trace_norm(weights: Sequence[Tensor], modes: Sequence[int] | None = None) -> Tensor:
    """``Σ_i ‖W_(i)‖_*`` for the T same-shaped ``weights`` stacked along a new last (task) dimension.

    ``modes`` index the stacked tensor's dimensions: ``0 … m-1`` are the weight's and ``m`` (or ``-1``) is the
    task mode. ``None`` takes every mode. The mode-i unfolding has one row per index along dimension i.

    Every call takes the singular values of every unfolding (``torch.linalg.svdvals``, whose gradient stays finite
    when singular values coincide or vanish, as they do for identical task weights). The weight modes of wide
    layers dominate the cost: for a 512-channel 3×3 convolution and three tasks they are 512 × 13,824 matrices.
    The task-mode unfolding has only T rows.
    """
    stacked = torch.stack(list(weights), dim=-1)
    total = stacked.new_zeros(())
    for mode in range(stacked.ndim) if modes is None else modes:
        if not -stacked.ndim <= mode < stacked.ndim:
            raise ValueError(f"mode {mode} does not exist for weights of shape {tuple(stacked.shape[:-1])} "
                             f"stacked over {stacked.shape[-1]} tasks (valid: {-stacked.ndim} to {stacked.ndim - 1})")
        unfolded = stacked.movedim(mode, 0).reshape(stacked.shape[mode], -1)
        total = total + torch.linalg.svdvals(unfolded).sum()
    return total


#: The penalties :func:`soft_sharing_segnet` knows by name.
PENALTIES: dict[str, Penalty] = {"l2": l2_distance, "trace_norm": trace_norm}


class SoftSharing(Independent):
    """``heads[t](trunks[t](x))`` for every task, with ``regularization() = weight · Σ_layers penalty(...)``.

    Args:
        trunks: one network per task, all with the same parameter names and shapes.
        heads: one head per task (the same task names).
        penalty: maps the T corresponding weights of one layer to a scalar, e.g. :func:`l2_distance`,
            :func:`trace_norm` or ``functools.partial(trace_norm, modes=(-1,))``.
        weight: λ, the penalty's weight in the objective.
    """

    def __init__(self, trunks: Mapping[str, nn.Module], heads: Mapping[str, nn.Module], penalty: Penalty,
                 weight: float) -> None:
        if set(trunks) != set(heads):
            raise ValueError(f"trunks are given for tasks {sorted(trunks)} but heads for {sorted(heads)}")
        if weight < 0:
            raise ValueError(f"the penalty weight must be non-negative, got {weight}")
        super().__init__({name: nn.Sequential(trunks[name], heads[name]) for name in trunks})
        self.penalty = penalty
        self.weight = weight
        _check_same_architecture({name: net[0] for name, net in self.nets.items()})

    def tied_weights(self) -> dict[str, list[nn.Parameter]]:
        """``{parameter name: [that parameter in each task's trunk]}`` for every tied (≥ 2-D) trunk weight."""
        trunks = [dict(net[0].named_parameters()) for net in self.nets.values()]
        return {name: [params[name] for params in trunks] for name, p in trunks[0].items() if p.ndim >= 2}

    def regularization(self) -> Tensor | None:
        """``weight · Σ_layers penalty(W_1, …, W_T)``; ``None`` when the weight is 0."""
        if self.weight == 0:
            return None
        return self.weight * sum(self.penalty(weights) for weights in self.tied_weights().values())


def _check_same_architecture(trunks: Mapping[str, nn.Module]) -> None:
    """Raise a ``ValueError`` naming the task and parameter where the trunks' parameters differ."""
    items = iter(trunks.items())
    first_task, first = next(items)
    reference = {name: tuple(p.shape) for name, p in first.named_parameters()}
    if not any(len(shape) >= 2 for shape in reference.values()):
        raise ValueError(f"the trunk of task {first_task!r} has no weight with 2 or more dimensions to tie")
    for task, trunk in items:
        shapes = {name: tuple(p.shape) for name, p in trunk.named_parameters()}
        for name in sorted(set(reference) | set(shapes)):
            if reference.get(name) != shapes.get(name):
                raise ValueError(f"the trunks differ: parameter {name!r} is {reference.get(name, 'missing')} for "
                                 f"task {first_task!r} and {shapes.get(name, 'missing')} for task {task!r}")


def soft_sharing_segnet(tasks: Mapping[str, int], widths: Sequence[int] = PAPER_WIDTHS,
                        convs: Sequence[int] = VGG16_CONVS, *, penalty: str | Penalty = "l2", weight: float,
                        normalized: Collection[str] = (), in_channels: int = 3,
                        same_init: bool = True) -> SoftSharing:
    """A SegNet and a :class:`~.dense.DenseHead` per task, tied by ``penalty`` (``"l2"``, ``"trace_norm"`` or a
    function as in :class:`SoftSharing`) with weight ``weight``.

    With ``same_init`` every trunk starts from the same weights: the L2 penalty starts at zero and the stacked
    weights start at rank one in the task mode, so the tasks move apart only as far as their losses pull them.
    Otherwise every trunk gets its own random initialisation.
    """
    tasks = check_tasks(tasks, normalized)
    if isinstance(penalty, str):
        if penalty not in PENALTIES:
            raise ValueError(f"unknown penalty {penalty!r}; the named penalties are {sorted(PENALTIES)}")
        penalty = PENALTIES[penalty]
    if same_init:
        first = SegNet(widths, convs, in_channels)
        trunks = {name: copy.deepcopy(first) for name in tasks}
    else:
        trunks = {name: SegNet(widths, convs, in_channels) for name in tasks}
    return SoftSharing(trunks, dense_heads(tasks, widths[0], normalized), penalty, weight)
