"""The shared-bottom model of the MMoE paper (Ma et al., KDD 2018, eq. 1): ``y_k = h^k(f(x))``.

It is hard parameter sharing (:class:`~mtl_ref.models.HardSharing`) with a ReLU MLP bottom ``f`` and one MLP tower
``h^k`` per task; this function only builds it with the widths the mixture-of-experts models use.
"""

from __future__ import annotations

from collections.abc import Sequence

from .hard_sharing import HardSharing
from .mlp import mlp


def shared_bottom(in_dim: int, tasks: Sequence[str], bottom: Sequence[int], tower: Sequence[int],
                  out_dim: int = 1) -> HardSharing:
    """Bottom ``in_dim -> bottom...`` (ReLU after every layer), towers ``bottom[-1] -> tower... -> out_dim``."""
    if not tasks:
        raise ValueError("shared_bottom needs at least one task")
    if not bottom:
        raise ValueError("shared_bottom needs at least one bottom layer width")
    trunk = mlp([in_dim, *bottom], last_activation=True)
    return HardSharing(trunk, {t: mlp([bottom[-1], *tower, out_dim]) for t in tasks})
