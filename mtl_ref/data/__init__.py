"""Data sets with embedded defaults (generated or bundled), and loaders for the real ones."""

from .correlated import CorrelatedRegression
from .eavesdropping import eavesdropping
from .multidigits import multidigits
from .multimnist import multimnist, read_idx
from .nyuv2 import nyuv2
from .scaled import ScaledTanh, noisy_regression
from .synthscenes import synthscenes
from .tensors import MultiTaskData, train_test_split

__all__ = ["MultiTaskData", "train_test_split", "CorrelatedRegression", "eavesdropping", "multidigits", "multimnist", "read_idx",
           "synthscenes", "nyuv2", "ScaledTanh", "noisy_regression"]

from .auxiliary import (admissions, intermediate_feature, low_rank_inputs, noisy_feature, quantised_target,
                        rare_feature, related_tasks, symmetric_target)
from .domains import nuisance_attribute, rotate, rotated_moons, two_moons

__all__ += ["related_tasks", "symmetric_target", "intermediate_feature", "rare_feature", "quantised_target",
            "noisy_feature", "low_rank_inputs", "admissions", "two_moons", "rotate", "rotated_moons",
            "nuisance_attribute"]
from .helpers import HelperTasks  # noqa: E402

__all__ += ["HelperTasks"]
from .task_clusters import TaskClusters  # noqa: E402

__all__ += ["TaskClusters"]
