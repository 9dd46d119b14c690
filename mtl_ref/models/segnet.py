"""SegNet, the encoder–decoder of the MTAN experiments, and the two baselines built from it.

SegNet (Badrinarayanan, Kendall & Cipolla, TPAMI 2017, arXiv:1511.00561) is a VGG-16 encoder (blocks of 2, 2, 3, 3
and 3 convolutions, each block followed by a 2×2 max-pool that remembers where each maximum was) and a mirrored
decoder. Each decoder block first max-unpools: it puts every value back at the position its encoder block's
maximum came from and fills the rest with zeros. The MTAN paper (Liu, Johns & Davison, CVPR 2019, arXiv:1803.10704,
Tables 2 and 3) builds all its NYUv2 and CityScapes baselines on it, with widths [64, 128, 256, 512, 512]:

- **Single task**: one SegNet and head per task (:func:`segnet_single_task`). At the paper's widths one SegNet with
  a 13-class segmentation head has 24,981,069 parameters, the unit of the paper's "#P" column.
- **Split**: one shared SegNet, split only at the task heads (:func:`segnet_split`); the shared SegNet alone has
  24,943,296 parameters.

``F.max_unpool2d`` has a batching rule, so these models also work under ``torch.vmap`` and with
``torch.autograd.grad(..., is_grads_batched=True)``, which computes all task gradients in one backward pass.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from .dense import check_image, check_layout, conv_bn_relu, dense_heads, init_weights
from .hard_sharing import HardSharing, Independent

#: The channel widths of SegNet's five blocks in the MTAN paper.
PAPER_WIDTHS: tuple[int, ...] = (64, 128, 256, 512, 512)
#: Convolutions per encoder block in VGG-16's layout; the decoder mirrors them.
VGG16_CONVS: tuple[int, ...] = (2, 2, 3, 3, 3)


class SegNet(nn.Module):
    """Encoder–decoder: ``(B, in_channels, H, W)`` images to ``(B, widths[0], H, W)`` features.

    Encoder block ``j`` has ``convs[j]`` layers (3×3 convolution, batch norm, ReLU) of ``widths[j]`` channels and
    ends with a 2×2 max-pool. Decoder block ``j`` mirrors encoder block ``n - 1 - j``: a max-unpool with that
    block's indices, one layer from ``decoder_in[j]`` to ``decoder_out[j]`` channels and ``convs[n - 1 - j] - 1``
    more at ``decoder_out[j]``. H and W must be divisible by ``2 ** n``.

    :meth:`down` and :meth:`up` run one block at a time, so that models which mix several SegNets between blocks
    (cross-stitch, sluice) can step through them in lockstep.
    """

    def __init__(self, widths: Sequence[int] = PAPER_WIDTHS, convs: Sequence[int] = VGG16_CONVS,
                 in_channels: int = 3) -> None:
        super().__init__()
        check_layout(widths, convs)
        n = len(widths)
        self.widths = tuple(widths)
        self.decoder_in = tuple(widths[n - 1 - j] for j in range(n))
        self.decoder_out = tuple(widths[max(n - 2 - j, 0)] for j in range(n))
        self.out_channels = widths[0]
        self.encoder = nn.ModuleList(
            _block(c_in, width, count) for c_in, width, count in zip((in_channels, *widths[:-1]), widths, convs))
        self.decoder = nn.ModuleList(
            _block(c_in, c_out, count) for c_in, c_out, count in zip(self.decoder_in, self.decoder_out, convs[::-1]))
        init_weights(self)

    @property
    def blocks(self) -> int:
        """The number of encoder blocks (= decoder blocks = halvings of the image size)."""
        return len(self.widths)

    def down(self, j: int, x: Tensor) -> tuple[Tensor, Tensor]:
        """Encoder block ``j`` then max-pool: the pooled features and the indices of the maxima."""
        return F.max_pool2d(self.encoder[j](x), 2, return_indices=True)

    def up(self, j: int, x: Tensor, indices: Tensor) -> Tensor:
        """Max-unpool with ``indices`` (from the mirrored encoder block) then decoder block ``j``."""
        return self.decoder[j](F.max_unpool2d(x, indices, 2))

    def forward(self, x: Tensor) -> Tensor:
        check_image(x, self.blocks)
        indices = []
        for j in range(self.blocks):
            x, idx = self.down(j, x)
            indices.append(idx)
        for j in range(self.blocks):
            x = self.up(j, x, indices[-1 - j])
        return x


def _block(in_channels: int, out_channels: int, count: int) -> nn.Sequential:
    """``count`` layers: ``in_channels → out_channels``, then ``out_channels → out_channels``."""
    return nn.Sequential(conv_bn_relu(in_channels, out_channels),
                         *(conv_bn_relu(out_channels, out_channels) for _ in range(count - 1)))


def segnet_split(tasks: Mapping[str, int], widths: Sequence[int] = PAPER_WIDTHS,
                 convs: Sequence[int] = VGG16_CONVS, *, normalized: Collection[str] = (),
                 in_channels: int = 3) -> HardSharing:
    """Hard sharing ("Split" in the MTAN paper): one SegNet for all tasks, a :class:`~.dense.DenseHead` per task.

    The SegNet's output is the shared representation (``model.representation`` after a forward pass).
    """
    trunk = SegNet(widths, convs, in_channels)
    return HardSharing(trunk, dense_heads(tasks, trunk.out_channels, normalized))


def segnet_single_task(tasks: Mapping[str, int], widths: Sequence[int] = PAPER_WIDTHS,
                       convs: Sequence[int] = VGG16_CONVS, *, normalized: Collection[str] = (),
                       in_channels: int = 3) -> Independent:
    """The single-task baselines: a separate SegNet and head for every task, trained side by side."""
    check_layout(widths, convs)
    heads = dense_heads(tasks, widths[0], normalized)
    return Independent({name: nn.Sequential(SegNet(widths, convs, in_channels), head) for name, head in heads.items()})
