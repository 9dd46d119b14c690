"""Tiny dense-prediction tasks, data and models shared by the dense model tests."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor

from mtl_ref import Task
from mtl_ref.data.tensors import MultiTaskData
from mtl_ref.metrics import MSE, Accuracy
from mtl_ref.models import (MTAN, CrossStitch, MultiTaskModel, Sluice, segnet_single_task, segnet_split,
                            soft_sharing_segnet)

TASKS = {"segmentation": 5, "depth": 1, "normal": 3}
NORMALIZED = ("normal",)
#: Three blocks, so 16 × 16 images reach a 2 × 2 bottleneck.
WIDTHS = (4, 8, 8)
CONVS = (2, 2, 3)
SIZE = 16

BUILDERS: dict[str, Callable[[], MultiTaskModel]] = {
    "single_task": partial(segnet_single_task, TASKS, WIDTHS, CONVS, normalized=NORMALIZED),
    "split": partial(segnet_split, TASKS, WIDTHS, CONVS, normalized=NORMALIZED),
    "mtan": partial(MTAN, TASKS, WIDTHS, CONVS, normalized=NORMALIZED),
    "cross_stitch": partial(CrossStitch, TASKS, WIDTHS, CONVS, normalized=NORMALIZED),
    "sluice": partial(Sluice, TASKS, WIDTHS, CONVS, normalized=NORMALIZED, orthogonality=0.01),
    "soft_l2": partial(soft_sharing_segnet, TASKS, WIDTHS, CONVS, normalized=NORMALIZED, penalty="l2", weight=0.1),
    "soft_trace_norm": partial(soft_sharing_segnet, TASKS, WIDTHS, CONVS, normalized=NORMALIZED,
                               penalty="trace_norm", weight=0.01, same_init=False),
}


def build(name: str, seed: int = 0) -> MultiTaskModel:
    torch.manual_seed(seed)
    return BUILDERS[name]()


def images(batch: int = 2, size: int = SIZE, seed: int = 1) -> Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))


def normal_loss(prediction: Tensor, target: Tensor) -> Tensor:
    """1 − mean cosine between unit normals (the MTAN paper's normal loss, without a validity mask)."""
    return 1 - (prediction * target).sum(dim=1).mean()


def dense_tasks() -> list[Task]:
    return [Task("segmentation", F.cross_entropy, {"acc": Accuracy()}),
            Task("depth", F.l1_loss, {"mse": MSE()}, same_shape=True),
            Task("normal", normal_loss, {"mse": MSE()}, same_shape=True)]


def dense_data(n: int = 4, size: int = SIZE, seed: int = 2) -> MultiTaskData:
    g = torch.Generator().manual_seed(seed)
    return MultiTaskData(torch.randn(n, 3, size, size, generator=g), {
        "segmentation": torch.randint(0, TASKS["segmentation"], (n, size, size), generator=g),
        "depth": torch.rand(n, 1, size, size, generator=g),
        "normal": F.normalize(torch.randn(n, 3, size, size, generator=g), dim=1),
    })


def task_losses(outputs: dict[str, Tensor], data: MultiTaskData) -> Tensor:
    """The ``(T,)`` losses of ``outputs`` against ``data``'s targets, in the order of :data:`TASKS`."""
    return torch.stack([t.loss(outputs[t.name], data.y[t.name]) for t in dense_tasks()])
