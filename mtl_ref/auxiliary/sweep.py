"""Main task alone against main task + helper: seeds × helper weights of one small network, trained at once.

Every model is a trunk (an MLP with tanh units), a main head and, for a helper that is an extra output, a helper
head on the trunk's last layer. Model ``(s, w)`` trains on seed ``s``'s data with the loss

.. math:: L_\\text{main} + w \\, L_\\text{helper},

keeps the weights with the lowest *main* validation loss (the helper is discarded at deployment, so only the main
task decides), and the helper's weight is then chosen per seed on the main task's validation loss from a grid that
includes 0 (:func:`~mtl_ref.auxiliary.weight_choice.choose_weight`). All models of one seed start from the same
initialisation, so the comparison with ``w = 0`` (the main task alone) is paired.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from .stacked_heads import Params, fit_stacked_params, member_generators, run_mlp, stacked_mlp
from .weight_choice import choose_weight

Splits = Mapping[str, Mapping[str, Tensor]]
#: A helper's loss per model, from the parameters, the trunk (params, x) -> features and the stacked training data.
HelperLoss = Callable[[Params, Callable[[Params, Tensor], Tensor], Mapping[str, Tensor]], Tensor]


@dataclass(frozen=True)
class HelperSweep:
    """Results ``(S, W)`` per seed and helper weight, the chosen weight's index per seed, and the kept weights."""

    weights: tuple[float, ...]
    val: Tensor
    test: Tensor
    chosen: Tensor
    params: Params

    @property
    def main_only(self) -> Tensor:
        """Test metric ``(S,)`` of the main task trained alone (weight 0, the grid's first entry)."""
        return self.test[:, 0]

    @property
    def with_helper(self) -> Tensor:
        """Test metric ``(S,)`` at the helper weight chosen on validation."""
        return self.test[torch.arange(len(self.test)), self.chosen]

    def features(self, x: Tensor) -> Tensor:
        """Trunk features ``(M, n, h)`` of every model for inputs ``x`` ``(M, n, d)``."""
        return trunk(self.params, x)


def trunk(params: Params, x: Tensor) -> Tensor:
    """The shared representation: tanh of the trunk MLP's last layer."""
    return torch.tanh(run_mlp(params, "trunk", x))


def main_loss(pred: Tensor, y: Tensor, kind: Literal["mse", "bce"]) -> Tensor:
    """Per-model mean squared error or binary cross-entropy with logits, over the rows: ``(M, n)`` → ``(M,)``."""
    if kind == "mse":
        return (pred - y).square().mean(1)
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(pred, y, reduction="none").mean(1)
    raise ValueError(f"unknown main loss {kind!r}; use 'mse' or 'bce'")


def head_mse(params: Params, features: Callable[[Params, Tensor], Tensor], train: Mapping[str, Tensor]) -> Tensor:
    """The default helper: a linear head on the trunk, squared error to ``train["aux"]`` (one or more outputs)."""
    aux = train["aux"] if train["aux"].dim() == 3 else train["aux"].unsqueeze(-1)
    return (run_mlp(params, "aux", features(params, train["x"])) - aux).square().mean((1, 2))


def stack_splits(splits: Sequence[Splits], split: str, repeat: int) -> dict[str, Tensor]:
    """Every tensor of ``split`` stacked over seeds, each seed repeated ``repeat`` times: (S·repeat, ...)."""
    return {k: torch.stack([s[split][k] for s in splits]).repeat_interleave(repeat, 0) for k in splits[0][split]}


def sweep_helper_weight(
    splits: Sequence[Splits],
    weights: Sequence[float],
    *,
    main: Literal["mse", "bce"] = "mse",
    helper: HelperLoss | None = head_mse,
    hidden: Sequence[int] = (32,),
    steps: int = 800,
    lr: float = 3e-3,
    seed: int = 0,
    metric: Callable[[Tensor, Mapping[str, Tensor]], Tensor] | None = None,
) -> HelperSweep:
    """Train seeds × ``weights`` networks on ``splits`` (one per seed, with ``train``, ``val`` and ``test``).

    ``helper=None`` trains the main task alone (use ``weights=[0.0]``); ``metric(pred, test)`` gives the test
    metric per model (default: the main loss for ``"mse"``, accuracy for ``"bce"``).
    """
    if float(weights[0]) != 0.0:
        raise ValueError(f"the grid must start at 0 (main task alone), got {list(weights)}")
    seeds, count = len(splits), len(weights)
    w = torch.tensor([float(v) for v in weights]).repeat(seeds)
    data = {name: stack_splits(splits, name, count) for name in ("train", "val", "test")}
    gens = member_generators(seeds, seed)
    width = data["train"]["x"].shape[-1]
    params = stacked_mlp(seeds, [width, *hidden], "trunk", gens) | stacked_mlp(seeds, [hidden[-1], 1], "main", gens)
    if helper is head_mse:
        aux = data["train"]["aux"]
        params |= stacked_mlp(seeds, [hidden[-1], 1 if aux.dim() == 2 else aux.shape[-1]], "aux", gens)
    params = {k: v.repeat_interleave(count, 0) for k, v in params.items()}  # same start for every weight of a seed

    def predict(p: Params, x: Tensor) -> Tensor:
        return run_mlp(p, "main", trunk(p, x)).squeeze(-1)

    def loss(p: Params, step: int) -> Tensor:
        total = main_loss(predict(p, data["train"]["x"]), data["train"]["y"], main)
        return total if helper is None else total + w * helper(p, trunk, data["train"])

    def val(p: Params) -> Tensor:
        return main_loss(predict(p, data["val"]["x"]), data["val"]["y"], main)

    kept = fit_stacked_params(params, loss, steps=steps, lr=lr, val=val, eval_every=20).params
    with torch.no_grad():
        pred = predict(kept, data["test"]["x"])
        if metric is not None:
            test = metric(pred, data["test"])
        elif main == "mse":
            test = main_loss(pred, data["test"]["y"], "mse")
        else:
            test = ((pred > 0).float() == data["test"]["y"]).float().mean(1)
        scores = val(kept).view(seeds, count)
    return HelperSweep(tuple(float(v) for v in weights), scores, test.view(seeds, count),
                       choose_weight(scores, weights), kept)
