"""Data sets held as tensors, batched on the device they live on.

The book's data sets are small enough to sit in (GPU) memory whole. :class:`MultiTaskData` keeps the inputs
and one target tensor per task on one device and slices batches by index: no ``DataLoader`` workers, no copy
from the host per step. The order of examples comes from a seeded CPU generator, drawn once per epoch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from ..device import available_device

if TYPE_CHECKING:
    from ..tasks import Task

Batch = tuple[Tensor, dict[str, Tensor]]


@dataclass(frozen=True)
class MultiTaskData:
    """Inputs ``x`` (first dimension = examples) and a target tensor per task, all with the same length."""

    x: Tensor
    y: Mapping[str, Tensor]

    def __post_init__(self) -> None:
        n = self.x.shape[0]
        for name, target in self.y.items():
            if target.shape[0] != n:
                raise ValueError(f"task {name!r}: {target.shape[0]} targets for {n} inputs")
            if target.device != self.x.device:
                raise ValueError(f"task {name!r}: targets on {target.device}, inputs on {self.x.device}")

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def tasks(self) -> list[str]:
        return list(self.y)

    @property
    def device(self) -> torch.device:
        return self.x.device

    def to(self, device: torch.device | str) -> MultiTaskData:
        """A copy on ``device`` (moved once, before training); a device this machine lacks is a clear error."""
        device = available_device(device)
        return MultiTaskData(self.x.to(device), {k: v.to(device) for k, v in self.y.items()})

    @classmethod
    def from_arrays(cls, x: Any, targets: Mapping[str, Any], tasks: Sequence[Task] | None = None, *,
                    val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0, standardize: bool = True,
                    device: torch.device | str = "cpu") -> Splits:
        """Training, validation and test data from arrays (NumPy, lists or tensors), split at random.

        Args:
            x: inputs, one row per example.
            targets: task name -> one target per example.
            tasks: with the tasks, each target gets its task's dtype and shape: class indices (int64, ``(N,)``) for
                :meth:`Task.classification <mtl_ref.Task.classification>`, float ``(N, 1)`` columns for 1-D
                regression and binary targets. Without them, integer arrays become int64 and float arrays float32.
            val_fraction, test_fraction: the share of examples in the validation and test splits.
            seed: seeds the split.
            standardize: shift and scale every input feature, and the targets of regression tasks, to mean 0 and
                standard deviation 1, with statistics from the **training split only** (so nothing about the
                validation and test examples leaks into training). Test MSEs are then in units of the training
                targets' variance.
            device: where the three splits live.
        """
        inputs = torch.as_tensor(np.asarray(x), dtype=torch.float32)
        kinds = {t.name: t.kind for t in tasks} if tasks is not None else {}
        missing = sorted(set(kinds) - set(targets))
        if missing:
            raise KeyError(f"tasks {missing} have no targets (the targets are {sorted(targets)})")
        y = {name: _as_target(name, value, kinds.get(name), len(inputs)) for name, value in targets.items()}
        n_val, n_test = round(val_fraction * len(inputs)), round(test_fraction * len(inputs))
        sizes = {"training": len(inputs) - n_val - n_test, "validation": n_val, "test": n_test}
        empty = [split for split, size in sizes.items() if size < 1]
        if empty:
            raise ValueError(f"the {' and '.join(empty)} split(s) would be empty: {len(inputs)} examples with "
                             f"val_fraction={val_fraction}, test_fraction={test_fraction}")
        order = torch.randperm(len(inputs), generator=torch.Generator().manual_seed(seed))
        train_idx, val_idx, test_idx = order.split(list(sizes.values()))
        if standardize:
            inputs = _standardize(inputs, train_idx)
            y = {k: _standardize(v, train_idx) if kinds.get(k) == "regression" else v for k, v in y.items()}
        data = cls(inputs, y).to(device)
        return Splits(data.subset(train_idx), data.subset(val_idx), data.subset(test_idx))

    def subset(self, index: Tensor | slice) -> MultiTaskData:
        """The examples at ``index`` (a slice, or integer indices on any device)."""
        if isinstance(index, Tensor):
            index = index.to(self.device)
        return MultiTaskData(self.x[index], {k: v[index] for k, v in self.y.items()})

    def select(self, tasks: list[str]) -> MultiTaskData:
        """The same examples with the targets of ``tasks`` only."""
        missing = [t for t in tasks if t not in self.y]
        if missing:
            raise KeyError(f"tasks {missing} are not in this data set (it has {self.tasks})")
        return MultiTaskData(self.x, {t: self.y[t] for t in tasks})

    def batches(self, batch_size: int, *, shuffle: bool = False, generator: torch.Generator | None = None,
                drop_last: bool = False) -> Iterator[Batch]:
        """Yield ``(x, {task: y})`` batches; shuffled with ``generator`` (a CPU generator) if asked."""
        n = len(self)
        if shuffle:
            order = torch.randperm(n, generator=generator).to(self.device, non_blocking=True)
        else:
            order = None
        stop = n - n % batch_size if drop_last else n
        for start in range(0, stop, batch_size):
            if order is None:
                idx: Tensor | slice = slice(start, min(start + batch_size, n))
                yield self.x[idx], {k: v[idx] for k, v in self.y.items()}
            else:
                idx = order[start:start + batch_size]
                yield self.x.index_select(0, idx), {k: v.index_select(0, idx) for k, v in self.y.items()}

    def num_batches(self, batch_size: int, drop_last: bool = False) -> int:
        n = len(self)
        return n // batch_size if drop_last else -(-n // batch_size)


def train_test_split(data: MultiTaskData, n_test: int, generator: torch.Generator) -> tuple[MultiTaskData, MultiTaskData]:
    """A random split into ``len(data) - n_test`` training and ``n_test`` test examples."""
    if not 0 < n_test < len(data):
        raise ValueError(f"n_test must be between 1 and {len(data) - 1}, got {n_test}")
    order = torch.randperm(len(data), generator=generator)
    return data.subset(order[n_test:]), data.subset(order[:n_test])


class Splits(NamedTuple):
    """Training, validation and test data (:meth:`MultiTaskData.from_arrays`)."""

    train: MultiTaskData
    val: MultiTaskData
    test: MultiTaskData


def _as_target(name: str, value: Any, kind: str | None, n: int) -> Tensor:
    array = np.asarray(value)
    if len(array) != n:
        raise ValueError(f"task {name!r}: {len(array)} targets for {n} inputs")
    if kind == "classification" or (kind is None and np.issubdtype(array.dtype, np.integer)):
        if not np.issubdtype(array.dtype, np.integer) and not np.array_equal(array, np.round(array)):
            raise ValueError(f"task {name!r}: class labels must be whole numbers, got dtype {array.dtype}")
        return torch.as_tensor(array.reshape(n) if array.shape[1:] == (1,) else array, dtype=torch.long)
    target = torch.as_tensor(array, dtype=torch.float32)
    return target.unsqueeze(1) if target.ndim == 1 and kind in ("regression", "binary") else target


def _standardize(values: Tensor, train_idx: Tensor) -> Tensor:
    """``(values - mean) / std`` per column, both from the rows ``train_idx`` (a constant column keeps std 1)."""
    train = values[train_idx]
    mean, std = train.mean(dim=0), train.std(dim=0)
    return (values - mean) / torch.where(std > 0, std, torch.ones_like(std))
