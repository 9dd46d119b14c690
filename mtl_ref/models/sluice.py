"""Sluice networks (Ruder, Bingel, Augenstein & Søgaard, "Latent Multi-Task Architecture Learning", AAAI 2019,
arXiv:1705.08142).

A generalised cross-stitch network (:mod:`.cross_stitch`). Each task's layer is split into G subspaces, and
after every layer an α matrix mixes all K·G task-subspace blocks:

    [h̃_{1,1}, …, h̃_{K,G}]ᵀ = α [h_{1,1}, …, h_{K,G}]ᵀ        (α is KG × KG)

Each task's head reads a β-weighted sum of its layers' outputs, a hierarchical skip connection:

    h̃_k = Σ_l β_{k,l} h_{k,l}

A penalty pushes the subspaces of each layer apart, ``λ Σ_{k,l} ‖G_{k,l,1}ᵀ G_{k,l,2}‖²_F``, and the training
loop adds it to the objective (:meth:`Sluice.regularization`).

This version for dense prediction makes these choices:

- **Layers and subspaces.** The task networks are SegNets (:class:`~.segnet.SegNet`). A layer is an encoder
  block (after its max-pool) or a decoder block, as for the cross-stitch units. Its G subspaces are G equal
  groups of channels, so every width must be divisible by G.
- **α** is initialised like a cross-stitch unit over the K·G blocks: ``α_same`` on the diagonal and
  ``(1 - α_same) / (KG - 1)`` elsewhere. With G = 1 the layer mixing is the cross-stitch network's.
- **α** of the authors' run script starts balanced (every entry ``1/(KG)``), while the paper describes a bias
  towards one source subspace for each direction; the bias (as in the cross-stitch units) is kept here.
- **β** weights the outputs of the decoder blocks. They differ in resolution and width, so each is brought to
  the head's shape first: a 1×1 convolution (task-specific) where its width differs from ``widths[0]``, then
  bilinear upsampling to the image size. β starts with a bias towards the last layer, as the paper says and the
  authors' run script does by default (its "imbalanced" layer-stitch scheme): ``beta_last = 0.9`` on the last
  decoder block and ``(1 - beta_last) / (n - 1)`` on each other one. ``beta_last = 1 / n`` gives the uniform
  start (the "balanced" scheme, the default of the authors' model class when it is built without the script).
- **Ablation.** ``mix=False`` fixes every α at the identity and leaves it out of training: no activation passes
  between tasks or subspaces, so the task networks are independent, but the β skip path (and the orthogonality
  penalty) stay. Comparing it with the full model separates what the mixing contributes from what the skip
  path contributes.
- **Orthogonality** acts on weights, as in the authors' code, where the penalty is computed from the LSTM
  weight matrices. ``G_{k,l,g}`` holds as columns the filters of the convolution that produces subspace g of
  layer l of task k, flattened. So ``‖G_1ᵀ G_2‖²_F`` sums the squared inner products between the filters of two
  subspaces, and it is zero when the filters of different subspaces are orthogonal. A weight penalty can be
  recomputed after the task losses' backward pass; a penalty on activations could not, because that pass frees
  their graph. With G > 2 the penalty sums over all pairs of subspaces. For three tasks at initialisation the
  sum is about 200 at the paper's widths and about 50 at widths [16, 32, 64, 128, 128], so the default
  λ = 1e-3 keeps it well below the task losses. The authors' code turns the penalty off by default.

Like the cross-stitch network, every task's loss depends on every task network (when the α mix), so
:meth:`~Sluice.shared_parameters` returns the task networks and the α units. The β weights, the 1×1 convolutions
and the heads are task-specific.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from itertools import combinations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import MultiTaskModel, mixing_param_groups
from .cross_stitch import CrossStitchUnit
from .dense import check_image, check_task, check_tasks, dense_heads, init_weights
from .segnet import PAPER_WIDTHS, VGG16_CONVS, SegNet


def subspace_overlap(weight: Tensor, subspaces: int) -> Tensor:
    """``Σ_{g<h} ‖G_gᵀ G_h‖²_F`` for a layer ``weight`` whose output channels form ``subspaces`` equal groups.

    ``G_g`` has one column per output channel of group g (its filter, flattened). With one subspace the sum is
    empty and the result is 0.
    """
    if weight.shape[0] % subspaces:
        raise ValueError(f"a weight with {weight.shape[0]} output channels does not split into {subspaces} "
                         f"equal subspaces")
    groups = weight.flatten(1).chunk(subspaces)
    total = weight.new_zeros(())
    for a, b in combinations(groups, 2):
        total = total + (a @ b.T).pow(2).sum()
    return total


class Sluice(MultiTaskModel):
    """One SegNet and head per task, with α units over G subspaces after every block and β skip weights.

    Args:
        tasks: ``{task: out_channels}``.
        widths, convs: the layout of every task's SegNet (see :class:`~.segnet.SegNet`); every width must be
            divisible by ``subspaces``.
        normalized: tasks whose output is L2-normalised per pixel (surface normals).
        in_channels: channels of the input images.
        subspaces: G, the number of subspaces per layer (2 in the paper).
        orthogonality: λ, the weight of the subspace orthogonality penalty (0 turns it off).
        stitch_lr_scale: the learning rate of the mixing weights (:meth:`stitch_parameters`) as a multiple of
            the base rate, used by :meth:`param_groups`; Misra et al. use 10² to 10³ with SGD.
        alpha_same: the initial weight of a block's own activation in its mixture.
        beta_last: the initial β of the last decoder block; the others share ``1 - beta_last`` equally (with
            a single block its β is 1).
        mix: ``False`` fixes every α at the identity and does not train it (the ablation without mixing).
    """

    def __init__(self, tasks: Mapping[str, int], widths: Sequence[int] = PAPER_WIDTHS,
                 convs: Sequence[int] = VGG16_CONVS, *, normalized: Collection[str] = (), in_channels: int = 3,
                 subspaces: int = 2, orthogonality: float = 1e-3, alpha_same: float = 0.9,
                 stitch_lr_scale: float = 1.0, beta_last: float = 0.9, mix: bool = True) -> None:
        super().__init__()
        if stitch_lr_scale <= 0:
            raise ValueError(f"stitch_lr_scale must be positive, got {stitch_lr_scale}")
        self.stitch_lr_scale = stitch_lr_scale
        tasks = check_tasks(tasks, normalized)
        if subspaces < 1:
            raise ValueError(f"subspaces must be at least 1, got {subspaces}")
        uneven = [w for w in widths if w % subspaces]
        if uneven:
            raise ValueError(f"widths {uneven} do not split into {subspaces} equal subspaces")
        if orthogonality < 0:
            raise ValueError(f"orthogonality must be non-negative, got {orthogonality}")
        n = len(widths)
        if not 0.0 <= beta_last <= 1.0:
            raise ValueError(f"beta_last must be in [0, 1], got {beta_last}")
        self.task_names = list(tasks)
        self.subspaces = subspaces
        self.mix = mix
        self.orthogonality = orthogonality
        self.nets = nn.ModuleDict({name: SegNet(widths, convs, in_channels) for name in tasks})
        units, same = len(tasks) * subspaces, alpha_same if mix else 1.0
        self.encoder_stitch = nn.ModuleList(CrossStitchUnit(units, same) for _ in range(n))
        self.decoder_stitch = nn.ModuleList(CrossStitchUnit(units, same) for _ in range(n))
        if not mix:
            for unit in (*self.encoder_stitch, *self.decoder_stitch):
                unit.alpha.requires_grad_(False)
        decoder_out = next(iter(self.nets.values())).decoder_out
        beta = torch.full((n,), (1.0 - beta_last) / (n - 1)) if n > 1 else torch.ones(1)
        beta[-1] = beta_last if n > 1 else 1.0
        self.beta = nn.ParameterDict({name: nn.Parameter(beta.clone()) for name in tasks})
        self.lateral = nn.ModuleDict({name: nn.ModuleList(
            nn.Conv2d(c, widths[0], 1) if c != widths[0] else nn.Identity() for c in decoder_out) for name in tasks})
        init_weights(self.lateral)
        self.heads = nn.ModuleDict(dense_heads(tasks, widths[0], normalized))
        self.layer_names = [f"encoder {j + 1}" for j in range(n)] + [f"decoder {j + 1}" for j in range(n)]

    def forward(self, x: Tensor, task: str | None = None) -> dict[str, Tensor] | Tensor:
        nets = list(self.nets.values())
        n = nets[0].blocks
        check_image(x, n)
        names = self.task_names if task is None else [check_task(task, self.task_names)]
        xs = [x] * len(nets)
        indices = []
        for j, stitch in enumerate(self.encoder_stitch):
            pooled = [net.down(j, h) for net, h in zip(nets, xs)]
            xs = self._mix(stitch, [h for h, _ in pooled])
            indices.append([idx for _, idx in pooled])
        layers = []
        for j, stitch in enumerate(self.decoder_stitch):
            xs = self._mix(stitch, [net.up(j, h, idx) for net, h, idx in zip(nets, xs, indices[n - 1 - j])])
            layers.append(dict(zip(self.task_names, xs)))
        out = {name: self.heads[name](self._skip(name, [layer[name] for layer in layers], x.shape[-2:]))
               for name in names}
        return out if task is None else out[task]

    def _mix(self, stitch: CrossStitchUnit, xs: list[Tensor]) -> list[Tensor]:
        """Mix the K·G task-subspace blocks of one layer; ``xs`` holds one ``(B, C, H, W)`` tensor per task.

        Without mixing (``mix=False``, α fixed at the identity) the activations pass through unchanged.
        """
        if not self.mix:
            return xs
        stacked = torch.stack(xs)  # (K, B, C, H, W)
        k, b, c, h, w = stacked.shape
        g = self.subspaces
        blocks = stacked.view(k, b, g, c // g, h, w).transpose(1, 2).reshape(k * g, b, c // g, h, w)
        mixed = stitch.mix(blocks).view(k, g, b, c // g, h, w).transpose(1, 2).reshape(k, b, c, h, w)
        return list(mixed.unbind(0))

    def _skip(self, name: str, layers: list[Tensor], size: torch.Size) -> Tensor:
        """``Σ_l β_l h_l`` for one task, each decoder output projected to the head's width and upsampled."""
        total = None
        for beta, lateral, h in zip(self.beta[name], self.lateral[name], layers):
            h = lateral(h)
            if h.shape[-2:] != size:
                h = F.interpolate(h, size=size, mode="bilinear", align_corners=False)
            total = beta * h if total is None else total + beta * h
        return total

    def regularization(self) -> Tensor | None:
        """``λ Σ ‖G_1ᵀ G_2‖²_F`` over every task network's blocks; ``None`` when λ = 0 or G = 1."""
        if self.orthogonality == 0 or self.subspaces == 1:
            return None
        total = sum(subspace_overlap(block[-1][0].weight, self.subspaces)
                    for net in self.nets.values() for block in (*net.encoder, *net.decoder))
        return self.orthogonality * total

    def alphas(self) -> Tensor:
        """The α matrices, ``(2n, KG, KG)``, detached, in the order of :attr:`layer_names`.

        Block ``k * G + g`` is subspace ``g`` of task ``k`` (tasks in the order of ``task_names``).
        """
        return torch.stack([unit.alpha.detach() for unit in (*self.encoder_stitch, *self.decoder_stitch)])

    def betas(self) -> Tensor:
        """The β weights, ``(K, n)``, detached: row ``k`` weights task ``k``'s decoder blocks."""
        return torch.stack([self.beta[name].detach() for name in self.task_names])

    def stitch_parameters(self) -> list[nn.Parameter]:
        """The α of every unit and the β of every task, for an optimizer group with a larger learning rate."""
        return [*(unit.alpha for unit in (*self.encoder_stitch, *self.decoder_stitch)), *self.beta.values()]

    def param_groups(self, lr: float) -> list[dict]:
        """Two optimizer groups: the mixing weights (α and β) at ``stitch_lr_scale * lr``, the rest at ``lr``."""
        return mixing_param_groups(self, self.stitch_parameters(), lr, self.stitch_lr_scale)

    def shared_parameters(self) -> list[nn.Parameter]:
        """The task networks and the α units, which every task's loss depends on (none without mixing)."""
        if not self.mix:
            return []
        alphas = [unit.alpha for unit in (*self.encoder_stitch, *self.decoder_stitch)]
        return [*self.nets.parameters(), *alphas]

    def last_shared_parameters(self) -> list[nn.Parameter]:
        """The last layer (convolution and batch norm) of every task network, mixed by the last α unit."""
        return [p for net in self.nets.values() for p in net.decoder[-1][-1].parameters()]
