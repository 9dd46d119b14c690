"""The three dense tasks of NYUv2 (and SynthScenes): semantic segmentation, depth and surface normals.

Losses as in MTAN (Liu et al., CVPR 2019, ``im2im_pred/utils.py``), each averaged over the valid pixels of
the batch:

* segmentation: cross-entropy of logits ``(B, C, H, W)`` against labels ``(B, H, W)``, ignoring void (``-1``);
* depth: L1 over pixels whose target depth is not ``0``;
* normals: ``1 - cos`` between the L2-normalised prediction and the target, over pixels whose target is not
  ``(0, 0, 0)`` (MTAN normalises in the network's head; here the loss does it, so any head works).

A batch without a valid pixel has loss 0 for that task (MTAN's code would divide by zero). Nothing here
synchronises with the host. The metrics (:mod:`mtl_ref.metrics.dense`) follow the same conventions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .metrics import AbsoluteError, MeanAngle, MeanIoU, MedianAngle, PixelAccuracy, RelativeError, WithinAngle
from .tasks import Task

NORMAL_THRESHOLDS = (11.25, 22.5, 30.0)  # degrees


def segmentation_loss(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean cross-entropy over pixels with a label (``target ≥ 0``)."""
    total = F.cross_entropy(prediction, target, ignore_index=-1, reduction="sum")
    return total / (target >= 0).sum().clamp(min=1)


def depth_loss(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean absolute error over pixels with a depth (``target ≠ 0``)."""
    valid = target != 0
    return torch.where(valid, (prediction - target).abs(), 0.0).sum() / valid.sum().clamp(min=1)


def normal_loss(prediction: Tensor, target: Tensor) -> Tensor:
    """``1 - mean cos`` between normalised predictions and targets over pixels with a normal (``target ≠ 0``)."""
    valid = (target != 0).any(1)
    cos = (F.normalize(prediction, dim=1) * target).sum(1)
    return 1 - torch.where(valid, cos, 0.0).sum() / valid.sum().clamp(min=1)


def dense_tasks(num_classes: int) -> list[Task]:
    """``segmentation`` (mIoU, pixel accuracy), ``depth`` (absolute, relative error) and ``normal`` (mean and
    median angle, fractions within 11.25°, 22.5° and 30°), with the losses above."""
    normal_metrics = {"mean": MeanAngle(), "median": MedianAngle()}
    normal_metrics.update({f"within_{t:g}": WithinAngle(t) for t in NORMAL_THRESHOLDS})
    return [
        Task("segmentation", segmentation_loss, {"miou": MeanIoU(num_classes), "pix_acc": PixelAccuracy(num_classes)}),
        Task("depth", depth_loss, {"abs_err": AbsoluteError(), "rel_err": RelativeError()}, same_shape=True),
        Task("normal", normal_loss, normal_metrics, same_shape=True),
    ]
