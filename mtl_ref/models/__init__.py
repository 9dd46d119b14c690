"""Multi-task models: each returns ``{task: prediction}``."""

from .base import MultiTaskModel
from .hard_sharing import HardSharing, Independent, branch_at
from .mlp import mlp

__all__ = ["MultiTaskModel", "HardSharing", "Independent", "branch_at", "mlp"]
