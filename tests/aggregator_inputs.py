"""Jacobians for the aggregator tests: conflicting ones, hand-made counterexamples, and degenerate ones."""

from __future__ import annotations

import torch
from torch import Tensor

from mtl_ref.weighting import AGGREGATORS, Aggregator, aggregator

#: torchjd's test matrix (its tests/unit/aggregation/test_values.py): the two gradients conflict.
J_BASE = [[-4.0, 1.0, 1.0], [6.0, 1.0, 1.0]]


def conflicting_jacobian(tasks: int, seed: int, params: int = 40, dtype: torch.dtype = torch.float64) -> Tensor:
    """A ``(tasks, params)`` Jacobian whose gradients conflict strongly, some pairs at least.

    Gaussian gradients in many dimensions are nearly orthogonal, so they rarely conflict. These live in a random
    ``tasks + 2``-dimensional subspace: a shared direction plus larger task-specific parts, so that about half of
    the pairs have negative inner products of order one; the tasks' scales differ by up to e².
    """
    gen = torch.Generator().manual_seed(seed)
    k = tasks + 2
    basis, _ = torch.linalg.qr(torch.randn(params, k, generator=gen, dtype=torch.float64))
    common = torch.randn(k, generator=gen, dtype=torch.float64)
    rows = common + 1.5 * torch.randn(tasks, k, generator=gen, dtype=torch.float64)
    scales = torch.exp(2 * torch.rand(tasks, 1, generator=gen, dtype=torch.float64) - 1)
    return ((rows * scales) @ basis.T).to(dtype)


def min_cosine(jacobian: Tensor) -> float:
    """The most negative cosine between two task gradients."""
    unit = jacobian / jacobian.norm(dim=1, keepdim=True)
    return float((unit @ unit.T).min())


def conflicting_jacobians(tasks: int, count: int, min_cos: float = -0.3) -> list[Tensor]:
    """The first ``count`` :func:`conflicting_jacobian` (by seed) with two gradients at cosine below ``min_cos``."""
    found: list[Tensor] = []
    seed = 0
    while len(found) < count:
        seed += 1
        jacobian = conflicting_jacobian(tasks, seed)
        if min_cosine(jacobian) < min_cos:
            found.append(jacobian)
    return found


#: Three gradients, not Pareto-stationary (their minimum-norm combination has norm 0.54), on which PCGrad's update
#: conflicts with a task whatever the order of the projections.
PCGRAD_CONFLICTS = [[-4.0, -2.0, -1.0], [4.0, 3.0, -2.0], [0.0, 1.0, 4.0]]
#: Two orthogonal unit gradients and a short third one between them, slightly out of their plane: IMTL-G's
#: unnormalised weights sum to a negative number, so its update has the same negative projection onto every task.
IMTLG_CONFLICTS = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.035, 0.035, 0.0035]]


def degenerate_jacobians(dtype: torch.dtype) -> dict[str, Tensor]:
    """Jacobians at the edges: zero rows, collinear and opposite rows, one task, one parameter, extreme scales."""
    g = torch.tensor([3.0, -1.0, 2.0, 0.5])
    h = torch.tensor([-1.0, 2.0, 0.0, 1.0])
    cases = {
        "zero row": torch.stack([g, torch.zeros(4), h]),
        "all zero": torch.zeros(3, 4),
        "collinear": torch.stack([g, 0.3 * g, 2 * g]),
        "opposite": torch.stack([g, -g]),
        "opposite and scaled": torch.stack([g, -0.01 * g, h]),
        "duplicate": torch.stack([g, g, h]),
        "one task": g[None, :],
        "one parameter": torch.tensor([[2.0], [-1.0], [0.5]]),
        "more tasks than parameters": torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0], [1.0, -2.0], [0.3, 0.2]]),
        "mixed scales": torch.stack([1e-8 * g, 1e8 * h, g]),
    }
    for exponent in (-8, -4, 0, 4, 8):
        cases[f"scale 1e{exponent}"] = 10.0**exponent * torch.stack([g, h, -g + 0.1 * h])
    return {name: j.to(dtype) for name, j in cases.items()}


def fresh(name: str, **hparams: float) -> Aggregator:
    """A new aggregator (stateful ones start afresh); PCGrad gets a fixed seed."""
    if name == "pcgrad":
        hparams = {"seed": 0, **hparams}
    return aggregator(name, **hparams)


NAMES = list(AGGREGATORS)
