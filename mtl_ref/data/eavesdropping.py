"""Eavesdropping: a feature that is easy to learn for one task and hard for another (Caruana 1997, Section 2.3).

A hidden feature z = wᵀx of Gaussian inputs x ∈ R^d (w a fixed unit vector) drives two tasks:

    task ``easy``:  y = z + ε           (linear in x: a gradient points straight at w)
    task ``hard``:  y = cos(ω z) + ε    (even in z: E[y·x] = 0, so no linear signal points at w)

A network trained on ``hard`` alone has to find w without a first-order hint; trained together with ``easy`` its
shared layers can take z from the easy task, and the hard task's head only has to learn cos(ω ·).
"""

from __future__ import annotations

import torch

from .tensors import MultiTaskData


def hidden_direction(dim: int, seed: int = 0) -> torch.Tensor:
    """The unit vector w that defines the hidden feature."""
    w = torch.randn(dim, generator=torch.Generator().manual_seed(seed))
    return w / w.norm()


def eavesdropping(n: int, seed: int, *, dim: int = 20, frequency: float = 2.0, noise: float = 0.1,
                  problem_seed: int = 0, device: torch.device | str = "cpu") -> MultiTaskData:
    """``n`` examples with targets ``easy`` (z) and ``hard`` (cos(ωz)), each ``(n, 1)``.

    ``problem_seed`` fixes w (:func:`hidden_direction`); ``seed`` draws the examples.
    """
    w = hidden_direction(dim, problem_seed)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=g)
    z = (x @ w)[:, None]
    easy = z + noise * torch.randn(n, 1, generator=g)
    hard = torch.cos(frequency * z) + noise * torch.randn(n, 1, generator=g)
    return MultiTaskData(x, {"easy": easy, "hard": hard}).to(device)
