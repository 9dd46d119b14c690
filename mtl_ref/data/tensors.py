"""Data sets held as tensors, batched on the device they live on.

The book's data sets are small enough to sit in (GPU) memory whole. :class:`MultiTaskData` keeps the inputs
and one target tensor per task on one device and slices batches by index: no ``DataLoader`` workers, no copy
from the host per step. The order of examples comes from a seeded CPU generator, drawn once per epoch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

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
        """A copy on ``device`` (moved once, before training)."""
        return MultiTaskData(self.x.to(device), {k: v.to(device) for k, v in self.y.items()})

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
