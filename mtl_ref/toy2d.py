"""The two-objective toy in two dimensions of the CAGrad paper, and trajectories of any training method on it.

Liu, Liu, Jin, Stone, Liu, "Conflict-Averse Gradient Descent for Multi-task Learning", NeurIPS 2021,
arXiv:2110.14048, Section 5.1 (the toy descends from the PCGrad paper's illustration of conflicting gradients).
With ``c₁ = max(tanh(x₂/2), 0)`` and ``c₂ = max(tanh(−x₂/2), 0)``::

    f₁(x) = c₁·[log max(|0.5(−x₁ − 7) − tanh(−x₂)|, 5e-6) + 6] + c₂·[((−x₁ + 7)² + 0.1(−x₂ − 8)²)/10 − 20]
    f₂(x) = c₁·[log max(|0.5(−x₁ + 3) + tanh(−x₂) + 2|, 5e-6) + 6] + c₂·[((−x₁ − 7)² + 0.1(−x₂ − 8)²)/10 − 20]

For ``x₂ > 0`` each task has a narrow logarithmic valley in a flat plateau; for ``x₂ ≪ 0`` they are shifted
quadratics with minima at ``x₁ = 7`` and ``x₁ = −7``. The Pareto set is close to the segment ``x₁ ∈ [−7, 7]`` at
``x₂ ≈ −8.3552``; the minimum of the mean loss is its midpoint. Navon et al. (Nash-MTL, ICML 2022) scale ``f₁`` by
0.1 to make the pair imbalanced and start from five points.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from .progress import progress_bar
from .weighting.base import LossWeighting, Weighting
from .weighting.jacobian import GradientAggregation

#: ``x₂`` of the Pareto set (to four decimals, as the papers plot it).
PARETO_X2 = -8.3552
#: Starting points of the CAGrad paper.
CAGRAD_STARTS = ((-8.5, 7.5), (-8.5, -5.0), (9.0, 9.0))
#: Starting points of the Nash-MTL paper (imbalanced variant, ``f₁`` scaled by 0.1).
NASH_STARTS = ((-8.5, 7.5), (0.0, 0.0), (9.0, 9.0), (-7.5, -0.5), (9.0, -1.0))


def two_objective(x: Tensor, scales: Sequence[float] = (1.0, 1.0)) -> Tensor:
    """The losses ``(f₁, f₂)`` at points ``x`` of shape ``(..., 2)``, each multiplied by its scale: ``(..., 2)``."""
    if x.shape[-1] != 2:
        raise ValueError(f"points must have 2 coordinates in their last dimension, got shape {tuple(x.shape)}")
    x1, x2 = x[..., 0], x[..., 1]
    c1 = torch.tanh(x2 / 2).clamp(min=0)
    c2 = torch.tanh(-x2 / 2).clamp(min=0)
    valley1 = torch.log((0.5 * (-x1 - 7) - torch.tanh(-x2)).abs().clamp(min=5e-6)) + 6
    valley2 = torch.log((0.5 * (-x1 + 3) + torch.tanh(-x2) + 2).abs().clamp(min=5e-6)) + 6
    bowl1 = ((-x1 + 7) ** 2 + 0.1 * (-x2 - 8) ** 2) / 10 - 20
    bowl2 = ((-x1 - 7) ** 2 + 0.1 * (-x2 - 8) ** 2) / 10 - 20
    f = torch.stack([c1 * valley1 + c2 * bowl1, c1 * valley2 + c2 * bowl2], dim=-1)
    return f * torch.as_tensor(scales, dtype=f.dtype, device=f.device)


def pareto_front(num: int = 200, scales: Sequence[float] = (1.0, 1.0)) -> tuple[Tensor, Tensor]:
    """``num`` points of the Pareto set (``x₁`` from −7 to 7 at ``x₂ = PARETO_X2``) and their losses."""
    x = torch.stack([torch.linspace(-7, 7, num, dtype=torch.float64),
                     torch.full((num,), PARETO_X2, dtype=torch.float64)], dim=1)
    return x, two_objective(x, scales)


def distance_to_front(losses: Tensor, front: Tensor) -> Tensor:
    """Distance in loss space from each point of ``losses`` ``(..., 2)`` to the nearest of the ``front`` points."""
    return torch.cdist(losses.reshape(-1, 2).double(), front.double()).min(dim=1).values.reshape(losses.shape[:-1])


def trajectories(make_method: Callable[[], Weighting], starts: Sequence[Sequence[float]], *, steps: int,
                 lr: float = 1e-3, scales: Sequence[float] = (1.0, 1.0), record_every: int = 100,
                 progress: bool | str = False) -> tuple[Tensor, Tensor]:
    """Train from every start with Adam along the update of ``make_method()``; return positions and losses.

    Every start gets its own method object (stateful methods keep their own state). A gradient-level method's
    aggregator is applied to each start's ``2 × 2`` Jacobian; a loss weighting backpropagates its combined loss.
    The update is written into ``x.grad`` and Adam (one optimizer over all starts: Adam acts coordinate-wise, so
    this is the same as one Adam per start) takes the step, as in the papers. Returns ``(S, R, 2)`` positions and
    ``(S, R, 2)`` losses, recorded at step 0 and every ``record_every`` steps after it. One start at a time through
    the package's methods, this costs milliseconds per step; :mod:`mtl_ref.toy2d_fast` runs all methods together.
    """
    methods = [make_method() for _ in starts]
    for m in methods:
        if not isinstance(m, (GradientAggregation, LossWeighting)):
            raise TypeError(f"{type(m).__name__} is neither a gradient aggregation nor a loss weighting")
        m.reset()
    x = torch.tensor(starts, dtype=torch.float32, requires_grad=True)
    optimizer = torch.optim.Adam([x], lr=lr)
    positions, losses = [x.detach().clone()], [two_objective(x.detach(), scales)]
    label = progress if isinstance(progress, str) else "steps"
    for step in progress_bar(range(steps), enabled=progress is not False, desc=label):
        f = two_objective(x, scales)
        optimizer.zero_grad(set_to_none=True)
        if isinstance(methods[0], GradientAggregation):
            rows = [torch.autograd.grad(f[:, i].sum(), x, retain_graph=i == 0)[0] for i in range(2)]
            jacobians = torch.stack(rows, dim=1)  # (S, 2 tasks, 2 coordinates)
            x.grad = torch.stack([m.aggregator.aggregate(j) for m, j in zip(methods, jacobians)])
        else:
            sum(m.combine(f_s) for m, f_s in zip(methods, f)).backward()
        optimizer.step()
        for s, m in enumerate(methods):
            m.after_step(lambda s=s: two_objective(x.detach()[s], scales))
        if (step + 1) % record_every == 0:
            positions.append(x.detach().clone())
            losses.append(two_objective(x.detach(), scales))
    return torch.stack(positions, dim=1), torch.stack(losses, dim=1)
