"""Choosing a device, seeding, and mixed precision.

The device is CUDA if present, then Apple's MPS, then the CPU; ``MTL_DEVICE`` (for example ``cpu`` or
``cuda:1``) overrides the choice. Nothing in the package hard-codes a device: models and data are moved to the
device a chapter picks.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator

import numpy as np
import torch

ENV_VAR = "MTL_DEVICE"


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The device to run on: the argument, else ``MTL_DEVICE``, else CUDA, MPS, CPU in that order.

    ``"gpu"`` is read as ``"cuda"``. A device that this machine does not have is a ``RuntimeError`` that says so.
    """
    choice = device if device is not None else os.environ.get(ENV_VAR) or None
    if choice is not None:
        return available_device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def available_device(device: str | torch.device) -> torch.device:
    """``torch.device(device)`` (``"gpu"`` read as ``"cuda"``), checked to exist on this machine."""
    if isinstance(device, str) and device.strip().lower().split(":")[0] == "gpu":
        device = "cuda" + device.strip()[3:]
    try:
        dev = torch.device(device)
    except RuntimeError as error:
        raise RuntimeError(f"device {device!r} is not a device name torch knows (try 'cpu', 'cuda', 'cuda:1' or "
                           f"'mps'): {str(error).splitlines()[0]}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {dev} was requested but CUDA is not available")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) is not None
                                  and torch.backends.mps.is_available()):
        raise RuntimeError(f"device {dev} was requested but MPS is not available")
    return dev


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a CPU generator seeded with ``seed`` for data order.

    On the CPU the same seed gives bit-identical results. On CUDA some kernels are not deterministic, so
    results agree only up to floating-point noise unless deterministic algorithms are switched on.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``device``: bf16 on CUDA when supported, else fp16 on CUDA, none elsewhere."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


@contextlib.contextmanager
def autocast(device: torch.device, enabled: bool = True) -> Iterator[None]:
    """Mixed precision on CUDA (see :func:`amp_dtype`), a no-op elsewhere or when ``enabled`` is false."""
    dtype = amp_dtype(device) if enabled else None
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield
