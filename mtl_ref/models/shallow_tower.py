"""The shallow tower for selection bias of YouTube's multitask ranker (Zhao et al., RecSys 2019, Section 4.3).

Implicit feedback is biased: an item shown higher is clicked more whatever its relevance. The main model (an MMoE
ranker) sees the user and item features; a *shallow tower* sees only the bias features (position, device) and
outputs a bias logit that is **added** to the main model's logit of every biased objective during training::

    logit_k(x, b) = main_k(x) + shallow_k(b)     (k a biased objective: click, watch time)

At serving time the tower is dropped (the position of an item is what the ranking decides, so it cannot be an
input): the ranking uses ``main_k(x)`` alone. In training the position is missing for a fraction of the examples
(10 % in the paper) so that the model also learns to predict without it. Here the bias features are one-hot slots
(``(position, device)`` pairs and "missing") and the shallow tower is one linear layer: its weights are the learned
bias of each slot, which can be read off and compared with the bias planted in a synthetic log.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .base import MultiTaskModel


class ShallowTower(MultiTaskModel):
    """``main`` on the first ``feature_dim`` inputs plus a linear tower on the remaining ``bias_dim`` (one-hot).

    ``biased`` lists the objectives whose outputs receive the tower's logit. ``forward(x)`` is the training-time
    output; :meth:`serve` drops the tower.
    """

    def __init__(self, main: MultiTaskModel, feature_dim: int, bias_dim: int, biased: Sequence[str]) -> None:
        super().__init__()
        unknown = [t for t in biased if t not in main.task_names]
        if unknown:
            raise ValueError(f"biased objectives {unknown} are not tasks of the main model {main.task_names}")
        self.main, self.feature_dim, self.bias_dim = main, feature_dim, bias_dim
        self.task_names = list(main.task_names)
        self.biased = list(biased)
        # One logit per slot and biased objective; zero at the start, so training begins from the main model alone.
        self.tower = nn.Parameter(torch.zeros(bias_dim, len(self.biased)))

    def _split(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if x.shape[-1] != self.feature_dim + self.bias_dim:
            raise ValueError(f"expected inputs with {self.feature_dim} features and {self.bias_dim} bias slots, "
                             f"got {x.shape[-1]} columns")
        return x[..., :self.feature_dim], x[..., self.feature_dim:]

    def bias_logits(self, bias_features: Tensor) -> dict[str, Tensor]:
        """``{objective: (B, 1)}``: the tower's logit for every biased objective."""
        z = bias_features @ self.tower
        return {t: z[..., i:i + 1] for i, t in enumerate(self.biased)}

    def learned_bias(self) -> Tensor:
        """``(bias_dim, len(biased))``: the logit the tower adds for each one-hot slot."""
        return self.tower.detach()

    def forward(self, x: Tensor, task: str | None = None, serving: bool = False) -> dict[str, Tensor] | Tensor:
        """Training-time outputs; with ``serving`` the main model's alone (the tower dropped)."""
        features, bias = self._split(x)
        out = self.main(features, task=task)
        if serving:
            return out
        offsets = self.bias_logits(bias)
        if task is not None:
            return out + offsets[task] if task in offsets else out
        return {t: y + offsets[t] if t in offsets else y for t, y in out.items()}

    def serve(self, x: Tensor) -> dict[str, Tensor]:
        """The serving-time predictions: the main model alone, the bias features ignored."""
        return self(x, serving=True)

    def shared_parameters(self) -> list[nn.Parameter]:
        """The main model's shared parameters; the tower's per-objective logits are not shared."""
        return self.main.shared_parameters()


def serving_score(predictions: dict[str, Tensor], weights: dict[str, float]) -> Tensor:
    """The ranking score: ``Σ_k w_k · p_k`` over the objectives in ``weights`` (Zhao et al., Section 3).

    Binary objectives enter as probabilities (``sigmoid`` of the logit) — pass them already transformed; a negative
    weight (dismissals) pushes an item down. The weights are a product decision, not something the model learns.
    """
    missing = [k for k in weights if k not in predictions]
    if missing:
        raise KeyError(f"no prediction for objectives {missing}; have {list(predictions)}")
    return sum(w * predictions[k] for k, w in weights.items())  # type: ignore[return-value]
