"""Data sets with embedded defaults (generated or bundled), and loaders for the real ones."""

from .auxiliary import (admissions, intermediate_feature, low_rank_inputs, noisy_feature, other_objects,
                        quantised_target, rare_feature, related_tasks, symmetric_target)
from .census import census_income, read_census_file
from .correlated import CorrelatedRegression
from .domains import nuisance_attribute, rotate, rotated_moons, two_moons
from .eavesdropping import eavesdropping
from .helpers import HelperTasks
from .multidigits import multidigits
from .multimnist import multimnist, read_idx
from .nyuv2 import nyuv2
from .recsys import RecsysLog
from .scaled import ScaledTanh, noisy_regression
from .synthscenes import synthscenes
from .task_clusters import TaskClusters
from .tensors import MultiTaskData, train_test_split

__all__ = ["MultiTaskData", "train_test_split", "CorrelatedRegression", "eavesdropping", "multidigits", "multimnist",
           "read_idx", "synthscenes", "nyuv2", "ScaledTanh", "noisy_regression", "related_tasks", "symmetric_target",
           "intermediate_feature", "rare_feature", "other_objects", "quantised_target", "noisy_feature", "low_rank_inputs",
           "admissions", "two_moons", "rotate", "rotated_moons", "nuisance_attribute", "HelperTasks", "TaskClusters",
           "census_income", "read_census_file", "RecsysLog"]
