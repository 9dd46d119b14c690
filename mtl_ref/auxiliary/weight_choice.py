"""Choose a helper's weight on the main task's validation score, per seed, from a grid that includes 0.

With 0 in the grid, "main task alone" is one of the candidates, so the helper is only kept where it lowers the main
task's validation loss; the comparison with main-only training is then paired by seed and made on test data.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def choose_weight(val_scores: Tensor, weights: Sequence[float]) -> Tensor:
    """Index ``(S,)`` of the weight with the lowest validation score in each row of ``val_scores`` ``(S, W)``.

    Ties go to the first (list the grid from 0 upwards, so a tie keeps the smaller weight).
    """
    if val_scores.dim() != 2 or val_scores.shape[1] != len(weights):
        raise ValueError(f"val_scores must be (seeds, {len(weights)} weights), got {tuple(val_scores.shape)}")
    if 0.0 not in [float(w) for w in weights]:
        raise ValueError(f"the grid must include 0 (main task alone), got {list(weights)}")
    if torch.isnan(val_scores).any():
        raise ValueError("validation scores contain NaN")
    return val_scores.argmin(1)
