"""MTAN, the Multi-Task Attention Network (Liu, Johns & Davison, CVPR 2019, arXiv:1803.10704).

One SegNet (:class:`~.segnet.SegNet`) is shared by all tasks. Each task reads it through its own soft-attention
modules, one at every encoder and every decoder block ``j``. In the paper's notation, with ``u_j`` the output of
the block's first layer and ``p_j`` the output of its last layer:

    a_j = sigmoid(BN(conv1×1(ReLU(BN(conv1×1([u_j ; f_j(â_{j-1})]))))))
    â_j = a_j ⊙ p_j

In the encoder, ``f_j`` is a 3×3 layer (convolution, batch norm, ReLU) followed by a 2×2 max-pool. The first
block's mask reads ``u_1`` alone. In the decoder, ``f_j`` is a ×2 bilinear upsampling (corners aligned) followed
by a 3×3 layer, and the shared feature ``u_j`` is the unpooled input of the decoder block. The ``f_j`` layers are
shared by all tasks and only the attention modules are task-specific, as in the authors' code. Each task's head
reads its last attended feature.

At the paper's widths [64, 128, 256, 512, 512], with 13 segmentation classes, depth and surface normals, MTAN has
44,229,073 parameters. They split into the shared SegNet (24,943,296), the shared ``f`` layers (10,220,160),
2,984,576 attention parameters per task and 111,889 in the heads. The authors' script reports 44,229,076 (1.77
SegNets, the paper's "#P") because its model also holds the 3 log-variances of uncertainty weighting. Here those
belong to the weighting method, not to the model.

MTAN has no single shared representation: shared features enter the task branches at every block. So
``model.representation`` stays ``None`` and representation-level gradient methods do not apply; parameter-level
ones do. After every forward pass, :attr:`MTAN.masks` holds each task's attention masks, detached, for plotting.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import MultiTaskModel
from .dense import check_image, check_task, check_tasks, conv_bn_relu, dense_heads, init_weights
from .segnet import PAPER_WIDTHS, VGG16_CONVS, SegNet


class Attention(nn.Module):
    """An attention module: ``sigmoid(BN(conv1×1(ReLU(BN(conv1×1(x))))))``, a mask with values in (0, 1)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 1), nn.BatchNorm2d(out_channels), nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class TaskAttention(nn.Module):
    """One task's attention modules: one per encoder block and one per decoder block."""

    def __init__(self, segnet: SegNet) -> None:
        super().__init__()
        widths = segnet.widths
        self.encoder = nn.ModuleList(
            Attention(width if j == 0 else 2 * width, width) for j, width in enumerate(widths))
        self.decoder = nn.ModuleList(
            Attention(c_in + c_out, c_out) for c_in, c_out in zip(segnet.decoder_in, segnet.decoder_out))


class MTAN(MultiTaskModel):
    """A shared SegNet, per-task attention at every block, and a :class:`~.dense.DenseHead` per task.

    Args:
        tasks: ``{task: out_channels}``.
        widths, convs: the SegNet's channel widths and convolutions per encoder block (see
            :class:`~.segnet.SegNet`); H and W of the images must be divisible by ``2 ** len(widths)``.
        normalized: tasks whose output is L2-normalised per pixel (surface normals).
        in_channels: channels of the input images.

    Attributes:
        masks: ``{task: [mask, ...]}`` from the last forward pass, detached, in the order of :attr:`layer_names`
            (encoder blocks, then decoder blocks). Each mask is ``(B, C_j, H_j, W_j)``, the shape of the
            feature it multiplies.
        layer_names: ``["encoder 1", ..., "decoder n"]``.
    """

    def __init__(self, tasks: Mapping[str, int], widths: Sequence[int] = PAPER_WIDTHS,
                 convs: Sequence[int] = VGG16_CONVS, *, normalized: Collection[str] = (),
                 in_channels: int = 3) -> None:
        super().__init__()
        tasks = check_tasks(tasks, normalized)
        self.task_names = list(tasks)
        self.segnet = SegNet(widths, convs, in_channels)
        n = self.segnet.blocks
        self.encoder_f = nn.ModuleList(conv_bn_relu(widths[j], widths[min(j + 1, n - 1)]) for j in range(n))
        self.decoder_f = nn.ModuleList(
            conv_bn_relu(c_in, c_out) for c_in, c_out in zip(self.segnet.decoder_in, self.segnet.decoder_out))
        self.attention = nn.ModuleDict({name: TaskAttention(self.segnet) for name in tasks})
        self.heads = nn.ModuleDict(dense_heads(tasks, widths[0], normalized))
        init_weights(self)
        self.layer_names = [f"encoder {j + 1}" for j in range(n)] + [f"decoder {j + 1}" for j in range(n)]
        self.masks: dict[str, list[Tensor]] = {}

    def forward(self, x: Tensor, task: str | None = None) -> dict[str, Tensor] | Tensor:
        n = self.segnet.blocks
        check_image(x, n)
        names = self.task_names if task is None else [check_task(task, self.task_names)]
        first, last, indices = [], [], []
        h = x
        for block in self.segnet.encoder:
            u = block[0](h)
            p = block[1:](u)
            first.append(u)
            last.append(p)
            h, idx = F.max_pool2d(p, 2, return_indices=True)
            indices.append(idx)
        unpooled, decoded = [], []
        for block, idx in zip(self.segnet.decoder, reversed(indices)):
            h = F.max_unpool2d(h, idx, 2)
            unpooled.append(h)
            h = block(h)
            decoded.append(h)
        out, masks = {}, {}
        for name in names:
            out[name], masks[name] = self._branch(name, first, last, unpooled, decoded)
        self.masks = masks
        return out if task is None else out[task]

    def _branch(self, name: str, first: list[Tensor], last: list[Tensor], unpooled: list[Tensor],
                decoded: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        """One task's prediction and attention masks, given the shared features of the forward pass."""
        attention = self.attention[name]
        masks = []
        a = None
        for j, (module, f) in enumerate(zip(attention.encoder, self.encoder_f)):
            mask = module(first[j] if a is None else torch.cat([first[j], a], dim=1))
            masks.append(mask.detach())
            a = F.max_pool2d(f(mask * last[j]), 2)
        for j, (module, f) in enumerate(zip(attention.decoder, self.decoder_f)):
            a = f(F.interpolate(a, size=unpooled[j].shape[-2:], mode="bilinear", align_corners=True))
            mask = module(torch.cat([unpooled[j], a], dim=1))
            masks.append(mask.detach())
            a = mask * decoded[j]
        return self.heads[name](a), masks

    def shared_parameters(self) -> list[nn.Parameter]:
        """The SegNet and the ``f`` layers between attention modules, which every task uses."""
        return [*self.segnet.parameters(), *self.encoder_f.parameters(), *self.decoder_f.parameters()]

    def last_shared_parameters(self) -> list[nn.Parameter]:
        """The SegNet's last layer (convolution and batch norm), whose output every task's last mask multiplies."""
        return list(self.segnet.decoder[-1][-1].parameters())
