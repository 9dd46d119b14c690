"""Metrics of the three dense NYUv2 tasks, as MTAN (Liu et al., CVPR 2019, ``im2im_pred/utils.py``) and LibMTL
(``examples/nyu/utils.py``) compute them, accumulated over a whole evaluation set.

Shapes: segmentation logits ``(B, C, H, W)`` against labels ``(B, H, W)`` (``-1`` = void); depth ``(B, 1, H, W)``
against depth with ``0`` = invalid; normals ``(B, 3, H, W)`` against unit normals with ``(0, 0, 0)`` = invalid.
Every metric keeps its state on the device of the predictions and synchronises with the host only in
``compute``. Ratios (mIoU, pixel accuracy, the fractions of normals within a threshold) are fractions in
[0, 1]; the papers print them multiplied by 100.

Where we follow the reference code and where we depart from it:

* Segmentation: one confusion matrix over every pixel of the set whose label is in ``[0, C)`` (as MTAN since
  November 2020 and LibMTL; MTAN's paper numbers averaged per image). IoU_c = TP / (TP + FP + FN); **classes that
  appear in neither the labels nor the predictions of the whole set are left out of the mean** (their IoU is
  0/0; MTAN's code returns NaN for mIoU then). Pixel accuracy = trace / total of the same matrix.
* Depth: absolute error ``Σ|p - g| / N`` and relative error ``Σ(|p - g| / g) / N`` over the N valid pixels (``g ≠ 0``)
  **of the whole set** (as LibMTL, which weights batch means by their valid pixels). MTAN averages the
  per-batch means without weights, so its numbers depend on the batch size.
* Normals: the prediction is L2-normalised per pixel, the angle is ``degrees(acos(clamp(⟨p, g⟩, -1, 1)))`` over
  valid pixels, pooled over the set (MTAN takes per-batch means and medians). A pixel is valid when any
  component of ``g`` is non-zero (MTAN's ``sum(g) != 0`` would also drop valid normals whose components sum to
  zero). The mean and the fractions below 11.25°, 22.5° and 30° are exact; the median comes from a histogram of
  the angles kept on the device (storing every angle of NYUv2's test set would take 290 MB). Its bins are
  2⁻⁷° ≈ 0.0078° wide, a power of two, so that a float32 angle's bin is computed without rounding; each of the
  two middle angles is read as the centre of its bin, so the median is within half a bin, 2⁻⁸° ≈ 0.0039°, of the
  exact median of the angles (the mean of the two middle angles when their number is even).
"""

from __future__ import annotations

from abc import abstractmethod

import torch
from torch import Tensor

from .base import Metric

MEDIAN_BIN = 2.0**-7  # degrees: a power of two, so that angle / MEDIAN_BIN is exact in float32


def _check(name: str, prediction: Tensor, target: Tensor, channels: int | None) -> None:
    if prediction.dim() != 4 or (channels is not None and prediction.shape[1] != channels):
        want = f"(B, {channels}, H, W)" if channels is not None else "(B, C, H, W)"
        raise ValueError(f"{name}: predictions must be {want}, got shape {tuple(prediction.shape)}")
    spatial = target.shape[-2:] if target.dim() in (3, 4) else None
    if spatial != prediction.shape[-2:] or target.shape[0] != prediction.shape[0]:
        raise ValueError(f"{name}: target shape {tuple(target.shape)} does not fit prediction shape "
                         f"{tuple(prediction.shape)}")


def _empty(name: str) -> ValueError:
    return ValueError(f"{name}.compute(): no valid pixel has been seen since the last reset()")


class _Confusion(Metric):
    """A ``C × C`` confusion matrix (rows: label, columns: predicted class) over pixels labelled in ``[0, C)``."""

    def __init__(self, num_classes: int) -> None:
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        self.num_classes = num_classes
        super().__init__()

    def reset(self) -> None:
        self._matrix: Tensor | None = None

    def update(self, prediction: Tensor, target: Tensor) -> None:
        c = self.num_classes
        _check(type(self).__name__, prediction, target, c)
        if self._matrix is None:
            self._matrix = torch.zeros(c * c + 1, dtype=torch.long, device=prediction.device)
        valid = (target >= 0) & (target < c)
        # Pixels outside [0, C) go to an extra bin, so no boolean indexing (and no host sync) is needed.
        index = torch.where(valid, target * c + prediction.detach().argmax(1), c * c)
        self._matrix.scatter_add_(0, index.flatten(), torch.ones_like(index.flatten()))

    def matrix(self) -> Tensor:
        """The confusion matrix so far (rows: label, columns: prediction)."""
        if self._matrix is None or self._matrix[:-1].sum() == 0:
            raise _empty(type(self).__name__)
        return self._matrix[:-1].view(self.num_classes, self.num_classes)


class MeanIoU(_Confusion):
    """Mean intersection over union of the classes present in the labels or the predictions of the set."""

    higher_is_better = True

    def compute(self) -> float:
        m = self.matrix().cpu().double()  # on the host: float64 is not available on every device
        tp = m.diagonal()
        union = m.sum(0) + m.sum(1) - tp
        present = union > 0
        return float((tp[present] / union[present]).mean())


class PixelAccuracy(_Confusion):
    """Fraction of pixels labelled in ``[0, C)`` whose predicted class is the label."""

    higher_is_better = True

    def compute(self) -> float:
        m = self.matrix()
        return float(m.diagonal().sum() / m.sum())


class _DepthError(Metric):
    """Sum of per-pixel errors over valid depth pixels (``target ≠ 0``), divided by their number."""

    higher_is_better = False

    def reset(self) -> None:
        self._total: Tensor | float = 0.0
        self._count: Tensor | int = 0

    @abstractmethod
    def errors(self, prediction: Tensor, target: Tensor) -> Tensor:
        """Per-pixel errors (the target is safe to divide by)."""

    def update(self, prediction: Tensor, target: Tensor) -> None:
        _check(type(self).__name__, prediction, target, 1)
        if target.shape != prediction.shape:
            raise ValueError(f"{type(self).__name__}: target shape {tuple(target.shape)} differs from prediction "
                             f"shape {tuple(prediction.shape)}")
        valid = target != 0
        safe = torch.where(valid, target, 1.0)
        error = torch.where(valid, self.errors(prediction.detach().float(), safe.float()), 0.0)
        self._total = self._total + error.sum(dtype=torch.float32)
        self._count = self._count + valid.sum()

    def compute(self) -> float:
        if isinstance(self._count, int) or self._count == 0:
            raise _empty(type(self).__name__)
        return float(self._total / self._count)


class AbsoluteError(_DepthError):
    """Mean ``|p - g|`` over valid depth pixels (metres for NYUv2)."""

    def errors(self, prediction: Tensor, target: Tensor) -> Tensor:
        return (prediction - target).abs()


class RelativeError(_DepthError):
    """Mean ``|p - g| / g`` over valid depth pixels."""

    def errors(self, prediction: Tensor, target: Tensor) -> Tensor:
        return (prediction - target).abs() / target


def normal_angles(prediction: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Angles in degrees ``(B, H, W)`` between L2-normalised predictions and targets, and the valid mask."""
    valid = (target != 0).any(1)
    unit = prediction / prediction.norm(dim=1, keepdim=True).clamp(min=1e-12)
    cos = (unit * target).sum(1).clamp(-1, 1)
    return torch.rad2deg(torch.acos(cos)), valid


class _AngleMetric(Metric):
    """Base of the normal metrics: checks shapes and hands the angles of valid pixels to ``accumulate``."""

    def update(self, prediction: Tensor, target: Tensor) -> None:
        _check(type(self).__name__, prediction, target, 3)
        if target.shape != prediction.shape:
            raise ValueError(f"{type(self).__name__}: target shape {tuple(target.shape)} differs from prediction "
                             f"shape {tuple(prediction.shape)}")
        angle, valid = normal_angles(prediction.detach().float(), target.float())
        self.accumulate(angle, valid)

    @abstractmethod
    def accumulate(self, angle: Tensor, valid: Tensor) -> None:
        """Add the angles ``(B, H, W)`` of one batch where ``valid``."""


class MeanAngle(_AngleMetric):
    """Mean angular error in degrees over valid normal pixels."""

    higher_is_better = False

    def reset(self) -> None:
        self._total: Tensor | float = 0.0
        self._count: Tensor | int = 0

    def accumulate(self, angle: Tensor, valid: Tensor) -> None:
        self._total = self._total + torch.where(valid, angle, 0.0).sum()
        self._count = self._count + valid.sum()

    def compute(self) -> float:
        if isinstance(self._count, int) or self._count == 0:
            raise _empty(type(self).__name__)
        return float(self._total / self._count)


class MedianAngle(_AngleMetric):
    """Median angular error in degrees over valid normal pixels, from a histogram with 2⁻⁷° bins (to 2⁻⁸°)."""

    higher_is_better = False
    bins = round(180 / MEDIAN_BIN)

    def reset(self) -> None:
        self._histogram: Tensor | None = None

    def accumulate(self, angle: Tensor, valid: Tensor) -> None:
        if self._histogram is None:
            self._histogram = torch.zeros(self.bins + 1, dtype=torch.long, device=angle.device)
        index = torch.where(valid, (angle / MEDIAN_BIN).long().clamp(max=self.bins - 1), self.bins).flatten()
        self._histogram.scatter_add_(0, index, torch.ones_like(index))

    def compute(self) -> float:
        if self._histogram is None or self._histogram[:-1].sum() == 0:
            raise _empty(type(self).__name__)
        counts = self._histogram[:-1].cpu().double()
        cumulative = counts.cumsum(0)
        total = int(cumulative[-1])
        # The mean of the two middle angles (the same one for an odd count), each read as the centre of its bin.
        return sum(self._angle_of_rank(r, cumulative) for r in ((total + 1) // 2, total // 2 + 1)) / 2

    @staticmethod
    def _angle_of_rank(rank: int, cumulative: Tensor) -> float:
        """The ``rank``-th smallest angle (from 1), to within half a bin: the centre of the bin that holds it.

        Bin ``b`` holds exactly the angles in ``[b, b + 1)·MEDIAN_BIN`` (the last bin also holds 180°), so its
        centre is at most half a bin from any of them. (Spreading the bin's angles evenly over it would be exact
        for smooth distributions but can be off by almost a whole bin when they bunch at one edge.)
        """
        b = int(torch.searchsorted(cumulative, torch.tensor(float(rank), dtype=cumulative.dtype)))
        return MEDIAN_BIN * (b + 0.5)


class WithinAngle(_AngleMetric):
    """Fraction of valid normal pixels with an angular error below ``threshold`` degrees."""

    higher_is_better = True

    def __init__(self, threshold: float) -> None:
        if not 0 < threshold <= 180:
            raise ValueError(f"threshold must be in (0, 180] degrees, got {threshold}")
        self.threshold = threshold
        super().__init__()

    def reset(self) -> None:
        self._hits: Tensor | int = 0
        self._count: Tensor | int = 0

    def accumulate(self, angle: Tensor, valid: Tensor) -> None:
        self._hits = self._hits + (valid & (angle < self.threshold)).sum()
        self._count = self._count + valid.sum()

    def compute(self) -> float:
        if isinstance(self._count, int) or self._count == 0:
            raise _empty(type(self).__name__)
        return float(self._hits / self._count)

    def __repr__(self) -> str:
        return f"WithinAngle({self.threshold}°, higher is better)"
