"""One knob sizes every experiment: the ``MTL_PROFILE`` environment variable.

``smoke`` runs each chapter in well under a minute on a CPU (continuous integration); ``quick`` gives numbers
worth reading on a laptop CPU in minutes; ``full`` is the real experiment, meant for a GPU. Without the variable
the profile is ``full`` when CUDA is available and ``quick`` otherwise. A chapter sizes its experiments with
:meth:`Profile.pick`::

    n_train = profile.pick(smoke=200, quick=2_000, full=20_000)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TypeVar

import torch

PROFILES = ("smoke", "quick", "full")
ENV_VAR = "MTL_PROFILE"

T = TypeVar("T")


@dataclass(frozen=True)
class Profile:
    """The size of a run. ``checks_claims`` says whether chapters assert their claims at this size."""

    name: str

    def __post_init__(self) -> None:
        if self.name not in PROFILES:
            raise ValueError(f"unknown profile {self.name!r}; valid profiles are {', '.join(PROFILES)}")

    def pick(self, smoke: T, quick: T, full: T) -> T:
        """The value for this profile."""
        return {"smoke": smoke, "quick": quick, "full": full}[self.name]

    @property
    def checks_claims(self) -> bool:
        """Claims are asserted at ``quick`` and ``full``; at ``smoke`` the runs are too short to mean anything."""
        return self.name != "smoke"

    def __str__(self) -> str:
        return self.name


def default_profile_name() -> str:
    """``full`` with a CUDA device, ``quick`` otherwise."""
    return "full" if torch.cuda.is_available() else "quick"


def current_profile() -> Profile:
    """The profile named by ``MTL_PROFILE``, or the default for this machine."""
    name = os.environ.get(ENV_VAR, "").strip().lower() or default_profile_name()
    return Profile(name)
