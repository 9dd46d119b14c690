"""Two problems for adversarial helpers: two moons and their rotation (DANN), and a label with a nuisance.

:func:`rotated_moons` is the synthetic setting of Ganin et al. (2016, JMLR, Sec. 5.1): labelled source moons and the
same moons rotated by 35° as the unlabelled target domain. :func:`nuisance_attribute` hides a binary attribute,
independent of the label, in the inputs, for a representation that should not carry it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor


def two_moons(n: int, noise: float, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """``n`` points of two interleaving half circles (class 0 above, class 1 below), centred at the origin, with
    Gaussian noise of standard deviation ``noise``; as ``sklearn.datasets.make_moons`` then shifted by (-0.5, -0.25)."""
    label = torch.arange(n) % 2
    t = torch.rand(n, generator=generator) * math.pi
    outer = torch.stack([torch.cos(t), torch.sin(t)], 1)
    inner = torch.stack([1 - torch.cos(t), 0.5 - torch.sin(t)], 1)
    x = torch.where(label[:, None] == 0, outer, inner) + noise * torch.randn(n, 2, generator=generator)
    return x - torch.tensor([0.5, 0.25]), label.float()


def rotate(x: Tensor, degrees: float) -> Tensor:
    """Points ``x`` (n, 2) rotated anticlockwise by ``degrees`` about the origin."""
    r = math.radians(degrees)
    return x @ torch.tensor([[math.cos(r), math.sin(r)], [-math.sin(r), math.cos(r)]])


def rotated_moons(sizes: Mapping[str, int], seed: int, degrees: float = 35.0, noise: float = 0.1
                  ) -> dict[str, dict[str, Tensor]]:
    """Per split: labelled source moons (``"x"``, ``"y"``) and target moons rotated by ``degrees``
    (``"x_target"``, ``"y_target"``; the target labels are for scoring only)."""
    if not sizes or min(sizes.values()) < 2:
        raise ValueError(f"every split needs at least two rows, got {dict(sizes)}")
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, n in sizes.items():
        xs, ys = two_moons(n, noise, gen)
        xt, yt = two_moons(n, noise, gen)
        out[name] = {"x": xs, "y": ys, "x_target": rotate(xt, degrees), "y_target": yt}
    return out


def nuisance_attribute(sizes: Mapping[str, int], seed: int, d: int = 10, strength: float = 2.0,
                       noise: float = 1.0) -> dict[str, dict[str, Tensor]]:
    """Inputs carrying a label ``y`` and an independent nuisance ``a`` (both fair coins), each along its own
    direction: ``x = (2y-1)·u + strength·(2a-1)·v + noise·n``. ``"aux"`` is the nuisance."""
    if not sizes or min(sizes.values()) < 1:
        raise ValueError(f"every split needs at least one row, got {dict(sizes)}")
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, 2, generator=gen))
    out = {}
    for name, n in sizes.items():
        y = (torch.rand(n, generator=gen) < 0.5).float()
        a = (torch.rand(n, generator=gen) < 0.5).float()
        x = (2 * y - 1)[:, None] * q[:, 0] + strength * (2 * a - 1)[:, None] * q[:, 1] + noise * torch.randn(n, d, generator=gen)
        out[name] = {"x": x, "y": y, "aux": a}
    return out
