"""mtl_ref: the reference package of the executable book on multi-task learning.

Start a chapter with :func:`setup`, which prints the profile and device and seeds everything::

    import mtl_ref
    profile, device = mtl_ref.setup(seed=0)
"""

from __future__ import annotations

import torch

from .claims import Claims
from .delta_m import delta_m
from .device import autocast, pick_device, seed_everything
from .profiles import Profile, current_profile
from .runner import results_dir, run_grid
from .tasks import Task, task_losses
from .train import History, evaluate, fit

__version__ = "0.1.0"

__all__ = ["setup", "Claims", "delta_m", "autocast", "pick_device", "seed_everything", "Profile",
           "current_profile", "results_dir", "run_grid", "Task", "task_losses", "History", "evaluate", "fit"]


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
