"""Small synthetic problems with one main task and a helper task, one per kind of helper (Caruana 1997, 1998).

Every generator takes the split sizes (``{"train": 40, "val": 200, "test": 2000}``) and a seed, draws the problem's
structure (directions, weights) from the seed, and returns ``{split: {name: tensor}}`` with inputs ``"x"`` (n, d),
the main target ``"y"`` (n,) and the helper target ``"aux"`` (n,) or (n, k). Each docstring says what the helper
knows that the main task's labels, on few rows, teach slowly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch
from torch import Tensor

Splits = dict[str, dict[str, Tensor]]


def _splits(sizes: Mapping[str, int], draw: Callable[[int, torch.Generator], dict[str, Tensor]],
            gen: torch.Generator) -> Splits:
    if not sizes or min(sizes.values()) < 1:
        raise ValueError(f"every split needs at least one row, got {dict(sizes)}")
    return {name: draw(n, gen) for name, n in sizes.items()}


def _directions(gen: torch.Generator, d: int, k: int) -> Tensor:
    """``k`` orthonormal directions in R^d (columns), drawn from the generator."""
    if k > d:
        raise ValueError(f"cannot draw {k} orthonormal directions in {d} dimensions")
    q, _ = torch.linalg.qr(torch.randn(d, k, generator=gen))
    return q


def related_tasks(sizes: Mapping[str, int], seed: int, d: int = 20, k: int = 3, n_aux: int = 4,
                  noise: float = 0.1) -> Splits:
    """Main and helpers read the same k features: ``y = a·tanh(2 xU) + ε``, ``aux_j = c_j·tanh(2 xU) + ε``.

    ``U`` (d × k) is orthonormal; the helpers' rows teach where ``U`` lies (returned as ``"basis"`` in every split).
    """
    gen = torch.Generator().manual_seed(seed)
    u = _directions(gen, d, k)
    a, c = torch.randn(k, generator=gen), torch.randn(k, n_aux, generator=gen)

    def draw(n: int, g: torch.Generator) -> dict[str, Tensor]:
        x = torch.randn(n, d, generator=g)
        z = torch.tanh(2 * x @ u)
        return {"x": x, "y": z @ a + noise * torch.randn(n, generator=g),
                "aux": z @ c + noise * torch.randn(n, n_aux, generator=g), "basis": u}
    return _splits(sizes, draw, gen)


def symmetric_target(sizes: Mapping[str, int], seed: int, d: int = 4, noise: float = 0.1) -> Splits:
    """An even target, ``f(x) = f(-x)``: ``y = (x·a)² + cos(2 x·b) + ε``; the hint's virtual examples are any
    ``x`` paired with ``-x`` (Abu-Mostafa 1995). ``"aux"`` holds unlabelled inputs for the hint."""
    gen = torch.Generator().manual_seed(seed)
    a, b = torch.randn(d, generator=gen) / math.sqrt(d), torch.randn(d, generator=gen) / math.sqrt(d)

    def draw(n: int, g: torch.Generator) -> dict[str, Tensor]:
        x = torch.randn(n, d, generator=g)
        y = (x @ a).square() + torch.cos(2 * x @ b) + noise * torch.randn(n, generator=g)
        return {"x": x, "y": y, "aux": torch.randn(n, d, generator=g)}
    return _splits(sizes, draw, gen)


def intermediate_feature(sizes: Mapping[str, int], seed: int, d: int = 10, noise: float = 0.05,
                         feature_noise: float | None = None) -> Splits:
    """The main target is a bumpy function of one intermediate quantity, ``h = (x·a)(x·b)``: ``y = sin(2h) + ε``;
    the hint output names ``h`` (Suddarth & Kergosien 1990's rule-injection hints). With ``feature_noise`` the
    helper is a measurement ``f = h + feature_noise·η`` instead, and ``"h"`` keeps the noiseless value."""
    gen = torch.Generator().manual_seed(seed)
    ab = _directions(gen, d, 2)

    def draw(n: int, g: torch.Generator) -> dict[str, Tensor]:
        x = torch.randn(n, d, generator=g)
        p = x @ ab
        h = p[:, 0] * p[:, 1]
        out = {"x": x, "y": torch.sin(2 * h) + noise * torch.randn(n, generator=g), "aux": h}
        if feature_noise is not None:
            out.update(aux=h + feature_noise * torch.randn(n, generator=g), h=h)
        return out
    return _splits(sizes, draw, gen)


def rare_feature(sizes: Mapping[str, int], seed: int, d: int = 10, d_small: int = 10, rate: float = 0.1,
                 effect: float = 2.0, noise: float = 0.1) -> Splits:
    """A small object that shows up in a few rows: its ``d_small`` inputs are zero except where it is present (a
    fraction ``rate`` of rows), and then ``y = x·w + effect·s + ε`` with ``s = tanh(2 x_s·v)``; elsewhere
    ``y = x·w + ε``. The helper labels ``s`` (0 where the object is absent), a clean signal about the object that
    the main labels mix with everything else (the "lane markings" of Caruana's 1D-ALVINN)."""
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(d, generator=gen) / math.sqrt(d)
    v = _directions(gen, d_small, 1)[:, 0]

    def draw(n: int, g: torch.Generator) -> dict[str, Tensor]:
        x = torch.randn(n, d + d_small, generator=g)
        r = (torch.rand(n, generator=g) < rate).float()
        x[:, d:] *= r[:, None]
        s = torch.tanh(2 * x[:, d:] @ v)
        y = x[:, :d] @ w + effect * s + noise * torch.randn(n, generator=g)
        return {"x": x, "y": y, "aux": s, "present": r}
    return _splits(sizes, draw, gen)


def other_objects(sizes: Mapping[str, int], seed: int, d: int = 5, d_small: int = 20, k: int = 3,
                  n_other: int = 12, rate: float = 0.3, effect: float = 2.0, noise: float = 0.1) -> Splits:
    """Small objects read by one shared detector, and extra labels for the kinds the main task does not ask about.

    The ``d_small`` inputs of the small-object region are zero except in a fraction ``rate`` of rows; there, kind
    ``j`` of object scores ``c_j·tanh(2 x_s U)``, with the detector ``U`` (``d_small`` × ``k``, orthonormal,
    ``"basis"``) shared by every kind. The main target is ``y = x·w + effect·s + ε`` with ``s`` the score of the
    one kind it cares about (``"signal"``, 0 where the region is empty); the helper (``"aux"``, ``n_other``
    columns) is the scores of the other kinds, the labels a team would pay annotators for: they say nothing about
    ``y`` directly but, on the same rows, teach where ``U`` lies (Caruana 1997).
    """
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(d, generator=gen) / math.sqrt(d)
    u = _directions(gen, d_small, k)
    a, c = torch.randn(k, generator=gen) / math.sqrt(k), torch.randn(k, n_other, generator=gen) / math.sqrt(k)

    def draw(n: int, g: torch.Generator) -> dict[str, Tensor]:
        x = torch.randn(n, d + d_small, generator=g)
        r = (torch.rand(n, generator=g) < rate).float()
        x[:, d:] *= r[:, None]
        z = torch.tanh(2 * x[:, d:] @ u)  # the shared detector's k features, 0 where the region is empty
        s = z @ a
        y = x[:, :d] @ w + effect * s + noise * torch.randn(n, generator=g)
        return {"x": x, "y": y, "aux": z @ c + noise * torch.randn(n, n_other, generator=g) * r[:, None],
                "signal": s, "present": r, "basis": u}
    return _splits(sizes, draw, gen)


def quantised_target(sizes: Mapping[str, int], seed: int, d: int = 10, k: int = 3) -> Splits:
    """A binary main target cut from a graded one: ``z = Σ_j tanh(2 x·u_j)`` over ``k`` directions, ``y = 1[z > 0]``;
    the helper is ``z`` itself (Caruana's quantisation smoothing)."""
    gen = torch.Generator().manual_seed(seed)
    u = _directions(gen, d, k)

    def draw(n: int, g: torch.Generator) -> dict[str, Tensor]:
        x = torch.randn(n, d, generator=g)
        z = torch.tanh(2 * x @ u).sum(1)
        return {"x": x, "y": (z > 0).float(), "aux": z}
    return _splits(sizes, draw, gen)


def noisy_feature(sizes: Mapping[str, int], seed: int, feature_noise: float, d: int = 10,
                  noise: float = 0.05) -> Splits:
    """A feature that can be an input or an output (Caruana & de Sa 1997): the problem of
    :func:`intermediate_feature` with a measurement ``f = h + feature_noise·η`` that exists at test time too
    (``"aux"``)."""
    return intermediate_feature(sizes, seed, d, noise, feature_noise=feature_noise)


def low_rank_inputs(sizes: Mapping[str, int], seed: int, d: int = 30, k: int = 4, input_noise: float = 0.5,
                    noise: float = 0.1) -> Splits:
    """Inputs on a k-dimensional subspace plus noise, ``x = zA + σn``, and ``y = w·tanh(z) + ε``: the setting of a
    supervised autoencoder (Le, Patterson & White 2018), whose helper target is the input itself (``"aux" = x``);
    the latent ``z`` and an orthonormal basis of the subspace (``"basis"``, d × k) are returned for probing."""
    gen = torch.Generator().manual_seed(seed)
    basis = _directions(gen, d, k)
    w = torch.randn(k, generator=gen)

    def draw(n: int, g: torch.Generator) -> dict[str, Tensor]:
        z = torch.randn(n, k, generator=g)
        x = z @ basis.T * math.sqrt(d / k) + input_noise * torch.randn(n, d, generator=g)
        return {"x": x, "y": torch.tanh(z) @ w + noise * torch.randn(n, generator=g), "aux": x, "z": z,
                "basis": basis}
    return _splits(sizes, draw, gen)


def admissions(sizes: Mapping[str, int], seed: int, d: int = 12, k: int = 3, n_labs: int = 8,
               input_noise: float = 1.0, lab_noise: float = 0.2) -> Splits:
    """An admissions-style risk problem (Caruana, Baluja & Mitchell 1996): a latent severity ``u`` (k factors),
    pre-admission measurements ``x = uB + noise`` (the inputs), lab results ``L = tanh(uC) + noise`` that arrive
    only after admission (``"aux"``: outputs in training, unavailable at prediction time), and death
    ``y ~ Bernoulli(σ(2·Σ tanh(u) - 1))``; ``"risk"`` is that probability and ``"basis"`` (d × k) spans the
    inputs' signal subspace."""
    gen = torch.Generator().manual_seed(seed)
    b = torch.randn(k, d, generator=gen)
    c = torch.randn(k, n_labs, generator=gen)
    basis, _ = torch.linalg.qr(b.T)  # the inputs' signal subspace, d × k

    def draw(n: int, g: torch.Generator) -> dict[str, Tensor]:
        u = torch.randn(n, k, generator=g)
        x = u @ b + input_noise * torch.randn(n, d, generator=g)
        risk = torch.sigmoid(2 * torch.tanh(u).sum(1) - 1)
        return {"x": x, "y": (torch.rand(n, generator=g) < risk).float(),
                "aux": torch.tanh(u @ c) + lab_noise * torch.randn(n, n_labs, generator=g), "risk": risk,
                "basis": basis}
    return _splits(sizes, draw, gen)
