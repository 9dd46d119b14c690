"""Hard parameter sharing: one shared trunk, one head per task (Caruana 1997).

:class:`HardSharing` is the workhorse multi-task model. :class:`Independent` holds one separate network per task:
the single-task baselines, trained side by side under exactly the same protocol. :func:`branch_at` builds the
family in between by cutting one stack of layers at a chosen depth.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

from torch import Tensor, nn

from .base import MultiTaskModel

#: The layers that map features to features; the last of them in a trunk is its "last shared layer".
FEATURE_MAPS: tuple[type[nn.Module], ...] = (nn.Linear, nn.Bilinear, nn.Conv1d, nn.Conv2d, nn.Conv3d,
                                             nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


class HardSharing(MultiTaskModel):
    """``heads[t](trunk(x))`` for every task ``t``.

    The trunk's output is the shared representation; it is kept in ``self.representation`` after each forward
    pass for methods that work on representation gradients.
    """

    def __init__(self, trunk: nn.Module, heads: Mapping[str, nn.Module]) -> None:
        super().__init__()
        if not heads:
            raise ValueError("HardSharing needs at least one task head")
        self.trunk = trunk
        self.heads = nn.ModuleDict(dict(heads))
        self.task_names = list(heads)

    def forward(self, x: Tensor, task: str | None = None) -> dict[str, Tensor] | Tensor:
        z = self.trunk(x)
        self.representation = z
        if task is not None:
            return self.heads[task](z)
        return {t: head(z) for t, head in self.heads.items()}

    def shared_parameters(self) -> list[nn.Parameter]:
        return list(self.trunk.parameters())

    def last_shared_parameters(self) -> list[nn.Parameter]:
        """The weights and bias of the trunk's last linear or convolution layer (the last one registered).

        This is the layer W of GradNorm (Chen et al., ICML 2018, arXiv:1711.02257), where gradient norms are measured.
        Normalisation layers after it (batch norm, layer norm) are skipped: their affine parameters rescale each
        feature, they do not map features to features, and their gradient norms say little about a task's pull
        on the trunk.
        """
        layers = [m for m in self.trunk.modules() if isinstance(m, FEATURE_MAPS)]
        if not layers:
            raise ValueError("the trunk has no linear or convolution layer")
        return list(layers[-1].parameters(recurse=False))


class Independent(MultiTaskModel):
    """One separate network per task: nothing is shared."""

    def __init__(self, nets: Mapping[str, nn.Module]) -> None:
        super().__init__()
        self.nets = nn.ModuleDict(dict(nets))
        self.task_names = list(nets)

    def forward(self, x: Tensor, task: str | None = None) -> dict[str, Tensor] | Tensor:
        if task is not None:
            return self.nets[task](x)
        return {t: net(x) for t, net in self.nets.items()}

    def shared_parameters(self) -> list[nn.Parameter]:
        return []


def branch_at(layers: Sequence[nn.Module], depth: int, tasks: Sequence[str]) -> MultiTaskModel:
    """Share the first ``depth`` of ``layers`` and give each task its own copy of the rest.

    ``depth = 0`` gives independent networks, ``depth = len(layers) - 1`` shares everything but the last layer.
    Each task's copy starts from the same initial weights, so the runs differ only in what is shared.
    """
    if not 0 <= depth < len(layers):
        raise ValueError(f"depth must be in [0, {len(layers) - 1}] for {len(layers)} layers, got {depth}")
    tail = nn.Sequential(*layers[depth:])
    branches = {t: copy.deepcopy(tail) for t in tasks}
    if depth == 0:
        return Independent(branches)
    return HardSharing(nn.Sequential(*layers[:depth]), branches)
