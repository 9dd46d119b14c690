"""Cross-stitch networks (Misra, Shrivastava, Gupta & Hebert, CVPR 2016, arXiv:1604.03539).

Each task has its own network. After chosen layers, a cross-stitch unit replaces the K tasks' activations with
linear combinations of them (the paper writes the unit for K = 2):

    x̃_k = Σ_l α_kl x_l      (k = 1..K)

Here the task networks are SegNets (:class:`~.segnet.SegNet`) with a unit after every encoder block (after its
max-pool) and after every decoder block. Each decoder block unpools with its own network's indices.

Design choices:

- **One K×K matrix per unit.** Every task gets its own mixture of all tasks (row ``k`` of α feeds task ``k``), as
  in the paper. The SegNet baseline of the MTAN code keeps one weight per task and layer and feeds the same
  mixture to every task; that simplification is not reproduced. Finer units (one matrix per channel) are a
  possible variant; here there is one matrix per unit.
- **Initialisation** ``α_kk = α_same`` and ``α_kl = (1 - α_same) / (K - 1)``. Every row sums to 1, and
  ``α_same = 0.9`` gives the paper's best pair (0.9, 0.1) for K = 2.
- **Learning rate.** The paper trains the units with a learning rate 10² to 10³ times the base rate.
  :meth:`CrossStitch.param_groups` puts the α parameters (:meth:`CrossStitch.stitch_parameters`) in their own
  optimizer parameter group at ``stitch_lr_scale`` times the base rate; :func:`mtl_ref.train.make_optimizer`
  uses it.

A mixed activation feeds every later layer of every task, so each task's loss depends on every task network.
:meth:`~CrossStitch.shared_parameters` therefore returns the task networks and the units, and only the heads
are task-specific. With α = I the model is exactly K independent networks. ``model.representation`` stays
``None``: there is no single shared feature.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import torch
from torch import Tensor, nn

from .base import MultiTaskModel, mixing_param_groups
from .dense import check_image, check_task, check_tasks, dense_heads
from .segnet import PAPER_WIDTHS, VGG16_CONVS, SegNet


class CrossStitchUnit(nn.Module):
    """Mixes ``units`` same-shaped activations: output ``k`` is ``Σ_l alpha[k, l] * inputs[l]``."""

    def __init__(self, units: int, alpha_same: float = 0.9) -> None:
        super().__init__()
        if units < 1:
            raise ValueError(f"a cross-stitch unit mixes at least one activation, got units={units}")
        if not 0.0 <= alpha_same <= 1.0:
            raise ValueError(f"alpha_same must be in [0, 1], got {alpha_same}")
        off = (1.0 - alpha_same) / (units - 1) if units > 1 else 0.0
        alpha = torch.full((units, units), off)
        alpha.fill_diagonal_(alpha_same if units > 1 else 1.0)
        self.alpha = nn.Parameter(alpha)

    def forward(self, inputs: Sequence[Tensor]) -> list[Tensor]:
        return list(self.mix(torch.stack(list(inputs))).unbind(0))

    def mix(self, stacked: Tensor) -> Tensor:
        """The same on activations stacked along a new first dimension: ``(units, ...)`` in and out."""
        if len(stacked) != len(self.alpha):
            raise ValueError(f"this unit mixes {len(self.alpha)} activations, got {len(stacked)}")
        return torch.einsum("kl,l...->k...", self.alpha, stacked)


class CrossStitch(MultiTaskModel):
    """One SegNet and head per task, with a :class:`CrossStitchUnit` after every encoder and decoder block.

    Args:
        tasks: ``{task: out_channels}``.
        widths, convs: the layout of every task's SegNet (see :class:`~.segnet.SegNet`).
        normalized: tasks whose output is L2-normalised per pixel (surface normals).
        in_channels: channels of the input images.
        stitch_lr_scale: the learning rate of the mixing weights (:meth:`stitch_parameters`) as a multiple of
            the base rate, used by :meth:`param_groups`; Misra et al. use 10² to 10³ with SGD.
        alpha_same: the initial weight of a task's own activation in its mixture.
    """

    def __init__(self, tasks: Mapping[str, int], widths: Sequence[int] = PAPER_WIDTHS,
                 convs: Sequence[int] = VGG16_CONVS, *, normalized: Collection[str] = (),
                 in_channels: int = 3, alpha_same: float = 0.9, stitch_lr_scale: float = 1.0) -> None:
        super().__init__()
        if stitch_lr_scale <= 0:
            raise ValueError(f"stitch_lr_scale must be positive, got {stitch_lr_scale}")
        self.stitch_lr_scale = stitch_lr_scale
        tasks = check_tasks(tasks, normalized)
        self.task_names = list(tasks)
        self.nets = nn.ModuleDict({name: SegNet(widths, convs, in_channels) for name in tasks})
        n = len(widths)
        self.encoder_stitch = nn.ModuleList(CrossStitchUnit(len(tasks), alpha_same) for _ in range(n))
        self.decoder_stitch = nn.ModuleList(CrossStitchUnit(len(tasks), alpha_same) for _ in range(n))
        self.heads = nn.ModuleDict(dense_heads(tasks, widths[0], normalized))
        self.layer_names = [f"encoder {j + 1}" for j in range(n)] + [f"decoder {j + 1}" for j in range(n)]

    def forward(self, x: Tensor, task: str | None = None) -> dict[str, Tensor] | Tensor:
        nets = list(self.nets.values())
        n = nets[0].blocks
        check_image(x, n)
        if task is not None:
            check_task(task, self.task_names)
        xs = [x] * len(nets)
        indices = []
        for j, stitch in enumerate(self.encoder_stitch):
            pooled = [net.down(j, h) for net, h in zip(nets, xs)]
            xs = stitch([h for h, _ in pooled])
            indices.append([idx for _, idx in pooled])
        for j, stitch in enumerate(self.decoder_stitch):
            xs = stitch([net.up(j, h, idx) for net, h, idx in zip(nets, xs, indices[n - 1 - j])])
        features = dict(zip(self.task_names, xs))
        if task is not None:
            return self.heads[task](features[task])
        return {name: self.heads[name](features[name]) for name in self.task_names}

    def alphas(self) -> Tensor:
        """The units' matrices, ``(2n, K, K)``, detached, in the order of :attr:`layer_names`.

        Row ``k`` of a matrix is task ``k``'s mixture, with tasks in the order of ``task_names``.
        """
        return torch.stack([unit.alpha.detach() for unit in (*self.encoder_stitch, *self.decoder_stitch)])

    def stitch_parameters(self) -> list[nn.Parameter]:
        """The α of every unit, for an optimizer parameter group with a larger learning rate."""
        return [unit.alpha for unit in (*self.encoder_stitch, *self.decoder_stitch)]

    def param_groups(self, lr: float) -> list[dict]:
        """Two optimizer groups: the mixing weights (α) at ``stitch_lr_scale * lr``, the rest at ``lr``."""
        return mixing_param_groups(self, self.stitch_parameters(), lr, self.stitch_lr_scale)

    def shared_parameters(self) -> list[nn.Parameter]:
        """The task networks and the units: the stitches make every task's loss depend on all of them."""
        return [*self.nets.parameters(), *self.stitch_parameters()]

    def last_shared_parameters(self) -> list[nn.Parameter]:
        """The last layer (convolution and batch norm) of every task network, mixed by the last unit."""
        return [p for net in self.nets.values() for p in net.decoder[-1][-1].parameters()]
