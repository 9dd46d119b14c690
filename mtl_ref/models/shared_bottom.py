"""The shared-bottom model of the MMoE paper (Ma et al., KDD 2018, eq. 1): ``y_k = h^k(f(x))``.

It is hard parameter sharing (:class:`~mtl_ref.models.HardSharing` with a ReLU MLP trunk ``f`` and one MLP head
``h^k`` per task) and also an MMoE with a single expert, where no gate is left to mix anything. This function builds
it as the latter, so that it runs with the same batched code as the mixture-of-experts models it is compared with
(and broadcasts over stacked models); a unit test checks it computes exactly what the hard-sharing network computes.
"""

from __future__ import annotations

from collections.abc import Sequence

from .mmoe import MMoE


def shared_bottom(in_dim: int, tasks: Sequence[str], bottom: Sequence[int], tower: Sequence[int],
                  out_dim: int = 1) -> MMoE:
    """Bottom ``in_dim -> bottom...`` (ReLU after every layer), towers ``bottom[-1] -> tower... -> out_dim``."""
    if not bottom:
        raise ValueError("shared_bottom needs at least one bottom layer width")
    return MMoE(in_dim, tasks, 1, bottom, tower, out_dim)
