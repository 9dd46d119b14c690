"""Many small networks with a main head and helper heads, trained at once with batched matrix products.

An experiment on auxiliary tasks trains the same tiny network many times: seeds × helper weights. Here every
parameter carries a leading model axis M, each linear layer of all M networks is one ``torch.baddbmm``, and one
Adam over the stacked tensors is M independent Adams (Adam works element by element; Kingma & Ba 2015,
Algorithm 1), as in :mod:`mtl_ref.stacked_mlp`. Each model sees its own inputs ``x`` of shape ``(M, n, d)``.

:func:`fit_stacked_params` takes any per-model loss, so one loop serves a helper head, a hint's penalty on virtual
examples or a domain head behind a gradient-reversal layer; it keeps, for each model, the weights with the lowest
validation score (for auxiliary learning: the main task's validation loss, the only task that counts).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from ..stacked_adam import BestWeights

Params = dict[str, Tensor]


def member_generators(count: int, seed: int = 0) -> list[torch.Generator]:
    """One random stream per model: model ``k``'s comes from ``seed`` and ``k`` alone (NumPy's ``SeedSequence``
    spawn key), so a model starts from the same weights however many models are stacked with it."""
    return [torch.Generator().manual_seed(int(np.random.SeedSequence(seed, spawn_key=(k,)).generate_state(1)[0]))
            for k in range(count)]


def stacked_mlp(count: int, sizes: Sequence[int], prefix: str,
                generators: Sequence[torch.Generator] | None = None) -> Params:
    """Parameters of ``count`` MLPs with layer widths ``sizes``: ``{prefix}.{i}.weight`` (M, d_in, d_out) and
    ``{prefix}.{i}.bias`` (M, 1, d_out), drawn like ``nn.Linear``'s default (uniform in ±1/√d_in). Model ``m``
    draws from ``generators[m]`` (see :func:`member_generators`; several calls continue the same streams), or
    from the global generator when none are given."""
    if count < 1 or len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"need count >= 1 and at least two positive layer sizes, got {count} and {list(sizes)}")
    if generators is not None and len(generators) != count:
        raise ValueError(f"need one generator per model: {count} models, {len(generators)} generators")
    streams = generators if generators is not None else [None] * count
    params = {}
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        bound = 1 / math.sqrt(d_in)
        for name, shape in ((f"{prefix}.{i}.weight", (d_in, d_out)), (f"{prefix}.{i}.bias", (1, d_out))):
            params[name] = (torch.stack([torch.rand(shape, generator=g) for g in streams]) * 2 - 1) * bound
    return params


def run_mlp(params: Params, prefix: str, x: Tensor, activation: Callable[[Tensor], Tensor] = torch.tanh) -> Tensor:
    """Outputs ``(M, n, d_out)`` of the MLPs ``prefix`` for inputs ``x`` ``(M, n, d_in)``; no activation after the
    last layer."""
    layers = sum(1 for k in params if k.startswith(f"{prefix}.") and k.endswith(".weight"))
    if layers == 0:
        raise KeyError(f"no layers named {prefix!r}.* among {sorted(params)}")
    for i in range(layers):
        x = torch.baddbmm(params[f"{prefix}.{i}.bias"], x, params[f"{prefix}.{i}.weight"])
        if i < layers - 1:
            x = activation(x)
    return x


def member_module(params: Params, prefix: str, index: int = 0, activation: type[nn.Module] = nn.Tanh,
                  last: nn.Module | None = None) -> nn.Sequential:
    """Model ``index`` of the stacked MLP ``prefix`` as an ``nn.Sequential`` of ``nn.Linear`` layers with the same
    weights (``activation`` between layers as in :func:`run_mlp`, then ``last`` if given), e.g. to draw it."""
    layers: list[nn.Module] = []
    count = sum(1 for k in params if k.startswith(f"{prefix}.") and k.endswith(".weight"))
    if count == 0:
        raise KeyError(f"no layers named {prefix!r}.* among {sorted(params)}")
    for i in range(count):
        weight, bias = params[f"{prefix}.{i}.weight"][index], params[f"{prefix}.{i}.bias"][index, 0]
        linear = nn.Linear(*weight.shape)
        with torch.no_grad():
            linear.weight.copy_(weight.T)
            linear.bias.copy_(bias)
        layers += [linear] + ([activation()] if i < count - 1 else [])
    return nn.Sequential(*layers, *([last] if last is not None else []))


@dataclass(frozen=True)
class StackedFit:
    """The kept weights of every model and the step at which each was kept."""

    params: Params
    best_step: Tensor


def fit_stacked_params(
    params: Params,
    loss: Callable[[Params, int], Tensor],
    *,
    steps: int,
    lr: float = 1e-2,
    val: Callable[[Params], Tensor] | None = None,
    eval_every: int = 25,
) -> StackedFit:
    """Train the stacked ``params`` with Adam for ``steps`` full steps of ``loss(params, step)`` (shape (M,)).

    Each model's loss is its own, so the sum over models trains each with its own gradient. With ``val`` (a score
    per model, lower is better) every ``eval_every`` steps and at the end, each model keeps the weights with its
    lowest score; without it, the last weights are kept.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    live = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    count = next(iter(live.values())).shape[0]
    opt = torch.optim.Adam(live.values(), lr=lr)  # one rate for every model: torch's Adam is the stacked Adam
    best = BestWeights(live) if val is not None else None
    for step in range(1, steps + 1):
        per_model = loss(live, step)
        if per_model.shape != (count,):
            raise ValueError(f"the loss must give one value per model, shape ({count},), got {tuple(per_model.shape)}")
        opt.zero_grad(set_to_none=True)
        per_model.sum().backward()
        opt.step()
        if best is not None and (step % eval_every == 0 or step == steps):
            with torch.no_grad():
                best.offer(live, val(live), step)
    if best is None:
        return StackedFit({k: v.detach().clone() for k, v in live.items()}, torch.full((count,), steps))
    return StackedFit(best.kept, best.at)


def linear_probe_r2(features: Tensor, target: Tensor, test_features: Tensor, test_target: Tensor,
                    ridge: float = 1e-3) -> Tensor:
    """Test R² ``(M,)`` of a ridge-regression probe fit per model on ``features`` (M, n, h) → ``target`` (M, n).

    The probe reads how linearly a quantity is present in a representation (Alain & Bengio 2016); it is fit on
    training rows and scored on test rows.
    """
    def design(f: Tensor) -> Tensor:
        return torch.cat([f, torch.ones_like(f[..., :1])], -1)

    a, b = design(features), design(test_features)
    eye = torch.eye(a.shape[-1]) * ridge * a.shape[1]
    coef = torch.linalg.solve(a.transpose(1, 2) @ a + eye, a.transpose(1, 2) @ target.unsqueeze(-1))
    pred = (b @ coef).squeeze(-1)
    resid = (test_target - pred).square().mean(1)
    return 1 - resid / test_target.var(1, unbiased=False)


def linear_probe_accuracy(features: Tensor, labels: Tensor, test_features: Tensor, test_labels: Tensor,
                          steps: int = 300, lr: float = 0.1) -> Tensor:
    """Test accuracy ``(M,)`` of a logistic-regression probe fit per model on ``features`` (M, n, h) → 0/1
    ``labels`` (M, n), all M probes at once (full-batch Adam on standardised features)."""
    mean, std = features.mean(1, keepdim=True), features.std(1, keepdim=True) + 1e-6
    f, g = (features - mean) / std, (test_features - mean) / std
    probe = {"p.0.weight": torch.zeros(f.shape[0], f.shape[2], 1), "p.0.bias": torch.zeros(f.shape[0], 1, 1)}

    def loss(p: Params, step: int) -> Tensor:
        logits = run_mlp(p, "p", f).squeeze(-1)
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, labels, reduction="none").mean(1)

    with torch.enable_grad():
        fitted = fit_stacked_params(probe, loss, steps=steps, lr=lr).params
    return ((run_mlp(fitted, "p", g).squeeze(-1) > 0).float() == test_labels).float().mean(1)
