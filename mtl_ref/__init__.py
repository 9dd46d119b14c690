"""mtl_ref: the reference package of the executable book on multi-task learning.

Start a chapter with :func:`setup`, which prints the profile and device and seeds everything::

    import mtl_ref
    profile, device = mtl_ref.setup(seed=0)

``import mtl_ref`` imports torch and the training loop only; the parts that need pandas or SciPy's statistics
(:func:`run_grid`, :class:`Claims`, :func:`delta_m_table`, …) are imported on first use, and scikit-learn only
when a data set built from it is.
"""

from __future__ import annotations

import importlib
from typing import Any

import torch

from .delta_m import delta_m, flat_scores, nested_scores
from .device import autocast, pick_device, seed_everything
from .own_loop import backward
from .profiles import Profile, current_profile
from .tasks import Task, task_losses
from .train import History, evaluate, fit

__version__ = "0.1.0"

#: Public names imported on first use: name -> module that defines it.
_LAZY = {"Claims": ".claims", "results_dir": ".runner", "run_grid": ".runner", "delta_m_table": ".study",
         "single_task_baselines": ".study", "Baselines": ".study"}

__all__ = ["setup", "backward", "delta_m", "flat_scores", "nested_scores", "autocast", "pick_device",
           "seed_everything", "Profile", "current_profile", "Task", "task_losses", "History", "evaluate", "fit",
           *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def setup(seed: int = 0, device: str | torch.device | None = None) -> tuple[Profile, torch.device]:
    """Pick the profile and device, seed everything, apply the plot style, and say what was chosen."""
    from .plots import use_style

    profile = current_profile()
    dev = pick_device(device)
    seed_everything(seed)
    use_style()
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else dev.type
    print(f"mtl_ref {__version__} | profile: {profile} | device: {name} | torch {torch.__version__} | seed {seed}")
    return profile, dev
