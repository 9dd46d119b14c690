"""Model size: the number of parameters, the "#P" of architecture comparisons."""

from __future__ import annotations

from torch import nn


def count_parameters(model: nn.Module) -> int:
    """The number of scalar parameters of ``model``, each tensor counted once even if several modules hold it.

    Works on models built on the meta device (``with torch.device("meta"): ...``), which allocates no memory.
    """
    return sum(p.numel() for p in model.parameters())
