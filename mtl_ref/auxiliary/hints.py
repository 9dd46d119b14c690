"""A hint as an extra error term on virtual examples (Abu-Mostafa 1990; "Hints", Neural Computation 1995, Sec. 2).

An invariance hint says ``f(x) = f(T x)`` for a known transformation ``T``. It needs no labels: any input is a
virtual example, and the hint's error :math:`E_h = \\mathbb{E}_x\\,(f(x) - f(Tx))^2` is minimised alongside the data
error. :func:`symmetry_hint` is that error for the main head of a :func:`~mtl_ref.auxiliary.sweep.sweep_helper_weight`
network with ``T x = -x`` (an even target), on the unlabelled inputs stored as ``"aux"``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from torch import Tensor

from .stacked_heads import Params, run_mlp


def symmetry_hint(params: Params, features: Callable[[Params, Tensor], Tensor], train: Mapping[str, Tensor]) -> Tensor:
    """Hint error ``(M,)``: mean over the virtual inputs ``train["aux"]`` (M, n, d) of ``(f(x) - f(-x))²``."""
    virtual = train["aux"]
    if virtual.shape[-1] != train["x"].shape[-1]:
        raise ValueError(f"virtual inputs need {train['x'].shape[-1]} features, got {virtual.shape[-1]}")
    both = run_mlp(params, "main", features(params, virtual)) - run_mlp(params, "main", features(params, -virtual))
    return both.squeeze(-1).square().mean(1)
