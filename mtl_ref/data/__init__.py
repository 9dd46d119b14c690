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
from .census import census_income, read_census_file
from .recsys import RecsysLog

__all__ += ["census_income", "read_census_file", "RecsysLog"]
