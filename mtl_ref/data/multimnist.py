"""MultiMNIST from the MNIST files in their original IDX format (Sener & Koltun 2018's construction).

Readers who have MNIST (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte`` and the ``t10k-`` pair, plain or
gzipped) can run the MultiDigits experiments on MultiMNIST instead. For every image, a random partner from the same
split is chosen; on a 36×36 canvas the image sits at the top left, the partner 6 pixels down and right, overlaps
take the maximum (the last 2 rows and columns stay empty), and the canvas is resized back to 28×28 by nearest-neighbour sampling. Tasks: ``left`` (top-left
digit) and ``right`` (bottom-right digit). Nothing is downloaded: pass the folder that holds the files.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .multidigits import overlay
from .tensors import MultiTaskData

IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
             0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzipped if its name ends in ``.gz``) into an array of its declared type and shape."""
    path = Path(path)
    raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic number {raw[:4].hex()})")
    dtype, ndim = raw[2], raw[3]
    if dtype not in IDX_TYPES:
        raise ValueError(f"{path}: unknown IDX data type 0x{dtype:02x}")
    start = 4 + 4 * ndim
    if len(raw) < start:
        raise ValueError(f"{path}: truncated header ({len(raw)} bytes; {ndim} dimensions need {start})")
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    itemsize, count = np.dtype(IDX_TYPES[dtype]).itemsize, int(np.prod(shape))
    if len(raw) - start != count * itemsize:
        raise ValueError(f"{path}: header says shape {shape} ({count * itemsize} bytes of data), "
                         f"file holds {len(raw) - start}")
    return np.frombuffer(raw, dtype=IDX_TYPES[dtype], offset=start).reshape(shape)


def _find(root: Path, name: str) -> Path:
    for candidate in (root / name, root / f"{name}.gz"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"neither {name} nor {name}.gz is in {root}")


def multimnist(root: str | Path, split: str = "train", seed: int = 0, limit: int | None = None) -> MultiTaskData:
    """The MultiMNIST ``split`` (``train`` or ``test``) built from the MNIST IDX files in ``root``."""
    if split not in FILES:
        raise ValueError(f"split must be one of {sorted(FILES)}, got {split!r}")
    root = Path(root)
    images = read_idx(_find(root, FILES[split][0]))
    labels = read_idx(_find(root, FILES[split][1]))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{root}: expected images (N, H, W) and labels (N,), got {images.shape} and {labels.shape}")
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    x = torch.tensor(images, dtype=torch.float32) / 255.0
    y = torch.tensor(labels, dtype=torch.long)
    g = torch.Generator().manual_seed(seed)
    partner = torch.randint(len(y), (len(y),), generator=g)
    side = x.shape[-1]
    shift, size = round(side * 6 / 28), round(side * 36 / 28)
    canvas = overlay(x, x[partner], shift=shift)[:, None]
    canvas = F.pad(canvas, (0, size - canvas.shape[-1], 0, size - canvas.shape[-2]))
    canvas = F.interpolate(canvas, size=tuple(x.shape[-2:]), mode="nearest")
    return MultiTaskData(canvas, {"left": y, "right": y[partner]})
