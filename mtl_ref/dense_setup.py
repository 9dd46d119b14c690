"""Sizes and models of the dense (SegNet-based) comparisons, per profile, in one place.

The MTAN chapter compares the architectures of the MTAN paper (Liu, Johns & Davison, CVPR 2019,
arXiv:1803.10704, Table 3) on NYUv2's three tasks: one SegNet per task, a split SegNet, cross-stitch and MTAN.
:data:`DENSE_SETUPS` holds the sizes for each profile, so that a unit test can check that the ``full`` settings
build and train on a tiny batch, and :func:`dense_model` builds any of the architectures from a setup.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from .data.tensors import MultiTaskData
from .models import MTAN, CrossStitch, segnet_single_task, segnet_split

#: The architectures :func:`dense_model` builds, in the order of the paper's table.
ARCHITECTURES: tuple[str, ...] = ("single-task", "split", "cross-stitch", "MTAN")
#: Output channels per task, given the number of segmentation classes (surface normals are normalised).
NORMALIZED = ("normal",)


@dataclass(frozen=True)
class DenseSetup:
    """Image size, data size, SegNet layout and training schedule of one profile.

    ``height`` and ``width`` must be divisible by ``2 ** len(widths)`` (one halving per SegNet block).
    ``n_val`` images form a validation split (checkpoints are chosen on it, never on the test split).
    ``channels_last`` asks for the channels-last memory layout (faster convolutions on
    recent GPUs). ``stitch_lr_scale`` is the cross-stitch units' learning rate in multiples of ``lr``: Misra et
    al. train them 10² to 10³ times faster than the network with SGD; with Adam, whose steps do not scale with
    the gradient, 10 (steps of about 10⁻² for α at the default rate) is the middle of the grid the soft-sharing
    chapter tunes on validation.
    """

    height: int
    width: int
    n_train: int
    n_test: int
    widths: tuple[int, ...]
    convs: tuple[int, ...]
    epochs: int
    batch_size: int
    lr: float = 1e-3
    channels_last: bool = False
    n_val: int = 0
    stitch_lr_scale: float = 10.0

    def tasks(self, num_classes: int) -> dict[str, int]:
        """``{task: out_channels}`` of the three dense tasks."""
        return {"segmentation": num_classes, "depth": 1, "normal": 3}

    def scaled(self, **changes) -> DenseSetup:
        """A copy with some fields changed."""
        return replace(self, **changes)


#: The sizes of the MTAN chapter. Every profile trains the four architectures of a seed (three single-task networks,
#: split, cross-stitch and MTAN) for the same number of epochs. ``full`` is the paper's SegNet (widths 64–512, VGG-16
#: layout) on 128×128 SynthScenes images, meant for a GPU: 2,000 images × 40 epochs per run, about 7 minutes for the
#: chapter's three seeds on one H100 by a count of the convolutions' FLOPs (not yet timed on one); ``quick`` and
#: ``smoke`` are small enough for a laptop's CPU.
DENSE_SETUPS: dict[str, DenseSetup] = {
    "smoke": DenseSetup(16, 16, 48, 32, (8, 16, 32), (2, 2, 3), epochs=3, batch_size=16, n_val=16),
    "quick": DenseSetup(24, 24, 192, 96, (8, 16, 32), (2, 2, 3), epochs=10, batch_size=16, n_val=48),
    "full": DenseSetup(128, 128, 2000, 1000, (64, 128, 256, 512, 512), (2, 2, 3, 3, 3), epochs=40,
                       batch_size=32, lr=1e-4, channels_last=True, n_val=400),
}


def dense_model(architecture: str, setup: DenseSetup, num_classes: int, in_channels: int = 3) -> nn.Module:
    """One of :data:`ARCHITECTURES` with the setup's SegNet layout, for segmentation, depth and normals."""
    tasks = setup.tasks(num_classes)
    args = (tasks, setup.widths, setup.convs)
    kwargs = {"normalized": NORMALIZED, "in_channels": in_channels}
    if architecture == "cross-stitch":
        kwargs["stitch_lr_scale"] = setup.stitch_lr_scale
    builders = {"single-task": segnet_single_task, "split": segnet_split, "cross-stitch": CrossStitch, "MTAN": MTAN}
    if architecture not in builders:
        raise ValueError(f"unknown architecture {architecture!r}; valid ones are {', '.join(ARCHITECTURES)}")
    return builders[architecture](*args, **kwargs)


def to_channels_last(model: nn.Module, data: MultiTaskData) -> tuple[nn.Module, MultiTaskData]:
    """The model and the images in the channels-last memory layout (labels and targets are left as they are)."""
    model = model.to(memory_format=torch.channels_last)
    data = MultiTaskData(data.x.contiguous(memory_format=torch.channels_last), data.y)
    return model, data
