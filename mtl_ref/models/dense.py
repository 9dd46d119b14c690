"""Building blocks of the dense-prediction models: SegNet convolutions and per-pixel task heads.

The dense models take their tasks as a mapping ``{task: out_channels}``, for NYUv2 ``{"segmentation": 13,
"depth": 1, "normal": 3}``: segmentation predicts ``(B, C, H, W)`` logits, depth ``(B, 1, H, W)``. The tasks named
in ``normalized`` have their prediction divided by its L2 norm at every pixel, which makes surface normals unit
vectors.

Layers and initialisation follow the SegNet models of the MTAN code (Liu, Johns & Davison, "End-to-End Multi-Task
Learning with Attention", CVPR 2019, arXiv:1803.10704). Each layer is a 3×3 convolution with batch normalisation
and ReLU. Convolution weights are Xavier-normal and biases zero. A task head is a 3×3 and a 1×1 convolution with
no normalisation and no activation between them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import torch.nn.functional as F
from torch import Tensor, nn


def check_tasks(tasks: Mapping[str, int], normalized: Collection[str]) -> dict[str, int]:
    """Validate ``{task: out_channels}`` and the names in ``normalized``; return the tasks as a ``dict``."""
    if not tasks:
        raise ValueError("a dense multi-task model needs at least one task")
    for name, channels in tasks.items():
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
            raise ValueError(f"task {name!r}: out_channels must be a positive integer, got {channels!r}")
    unknown = sorted(set(normalized) - set(tasks))
    if unknown:
        raise ValueError(f"normalized names {unknown}, which are not tasks of this model (tasks: {list(tasks)})")
    for name in normalized:
        if tasks[name] < 2:
            raise ValueError(f"task {name!r}: a 1-channel output normalised per pixel is always ±1; "
                             f"normalise only outputs with several channels (surface normals)")
    return dict(tasks)


def check_layout(widths: Sequence[int], convs: Sequence[int]) -> None:
    """Validate the channel widths and the number of convolutions of each encoder block."""
    if not widths:
        raise ValueError("widths must name at least one block")
    if len(widths) != len(convs):
        raise ValueError(f"widths has {len(widths)} blocks but convs has {len(convs)}: give one count per block")
    for i, (width, n) in enumerate(zip(widths, convs)):
        if width < 1 or n < 1:
            raise ValueError(f"block {i + 1}: width and number of convolutions must be positive, got {width} and {n}")


def check_image(x: Tensor, blocks: int) -> None:
    """Raise a ``ValueError`` unless ``x`` is ``(B, C, H, W)`` with H and W divisible by ``2 ** blocks``."""
    factor = 2 ** blocks
    if x.ndim != 4 or x.shape[-2] % factor or x.shape[-1] % factor:
        raise ValueError(f"expected images (B, C, H, W) with H and W divisible by 2**{blocks} = {factor} "
                         f"(one halving per block), got shape {tuple(x.shape)}")


def check_task(task: str, names: Sequence[str]) -> str:
    """Return ``task`` if the model has it, raise a ``KeyError`` naming the valid tasks otherwise."""
    if task not in names:
        raise KeyError(f"unknown task {task!r}; this model's tasks are {list(names)}")
    return task


def conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    """3×3 convolution (padding 1), batch normalisation, ReLU."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.BatchNorm2d(out_channels),
                         nn.ReLU(inplace=True))


class DenseHead(nn.Module):
    """A 3×3 convolution (``width → width``) then a 1×1 convolution (``width → out_channels``).

    With ``normalized`` the output is divided by its L2 norm over the channels at every pixel.
    """

    def __init__(self, width: int, out_channels: int, normalized: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(width, width, 3, padding=1)
        self.out = nn.Conv2d(width, out_channels, 1)
        self.normalized = normalized
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        y = self.out(self.conv(x))
        return F.normalize(y, dim=1) if self.normalized else y

    def extra_repr(self) -> str:
        return f"normalized={self.normalized}"


def dense_heads(tasks: Mapping[str, int], width: int, normalized: Collection[str] = ()) -> dict[str, DenseHead]:
    """One :class:`DenseHead` per task, reading ``width``-channel features."""
    tasks = check_tasks(tasks, normalized)
    return {name: DenseHead(width, channels, name in normalized) for name, channels in tasks.items()}


def init_weights(module: nn.Module) -> None:
    """Xavier-normal weights and zero biases for every convolution in ``module`` (batch norm keeps 1 and 0)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.xavier_normal_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
