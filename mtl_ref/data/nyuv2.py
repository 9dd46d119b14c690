"""NYUv2 as preprocessed for MTAN (Liu, Johns & Davison, CVPR 2019), for readers who have a copy.

The MTAN release stores 795 training and 654 validation (= test) images, resized to 288×384, one NumPy file per
array and example::

    <root>/{train,val}/image/<i>.npy    (288, 384, 3) RGB
    <root>/{train,val}/label/<i>.npy    (288, 384)    13 classes, -1 = void
    <root>/{train,val}/depth/<i>.npy    (288, 384, 1) metres, 0 = invalid
    <root>/{train,val}/normal/<i>.npy   (288, 384, 3) unit normals, (0, 0, 0) = invalid

with ``i = 0, 1, …``. :func:`nyuv2` returns them in the format of :func:`~mtl_ref.data.synthscenes.synthscenes`:
``x`` RGB ``(N, 3, H, W)`` float32 (values as stored), and targets ``segmentation`` ``(N, H, W)`` long,
``depth`` ``(N, 1, H, W)`` and ``normal`` ``(N, 3, H, W)``. Nothing is downloaded.

Resizing (``size``): the image bilinearly (antialiased when shrinking); labels, depth and normals by nearest
neighbour (pixel centres, ``nearest-exact``), so every target value is one that was measured, void stays void
and invalid pixels stay exactly zero. At full size the training set takes about 3 GB as tensors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .tensors import MultiTaskData

NUM_CLASSES = 13
SPLITS = ("train", "val")
FOLDERS = ("image", "label", "depth", "normal")
#: Channels of each stored array, on its last axis (``None``: a plain ``(H, W)`` array).
CHANNELS = {"image": 3, "label": None, "depth": 1, "normal": 3}


def _indices(folder: Path) -> list[int]:
    if not folder.is_dir():
        raise FileNotFoundError(f"NYUv2: folder {folder} is missing (expected <root>/<split>/{{{','.join(FOLDERS)}}})")
    names = sorted(p.stem for p in folder.glob("*.npy"))
    if not all(name.isdigit() for name in names):
        bad = [name for name in names if not name.isdigit()][:3]
        raise ValueError(f"NYUv2: {folder} holds files not named <index>.npy, e.g. {bad}")
    indices = sorted(int(name) for name in names)
    if indices != list(range(len(indices))):
        missing = sorted(set(range(len(indices))) - set(indices))[:3]
        raise ValueError(f"NYUv2: {folder} holds {len(indices)} files but not 0..{len(indices) - 1} (missing e.g. {missing})")
    return indices


def _load(path: Path, kind: str) -> np.ndarray:
    array = np.load(path)
    channels = CHANNELS[kind]
    ok = array.ndim == 2 if channels is None else array.ndim == 3 and array.shape[-1] == channels
    if not ok:
        want = "(H, W)" if channels is None else f"(H, W, {channels})"
        raise ValueError(f"NYUv2: {path} has shape {array.shape}, expected {want}")
    return array


def nyuv2(root: str | Path, split: str = "train", limit: int | None = None, size: tuple[int, int] | None = None,
          device: torch.device | str = "cpu") -> MultiTaskData:
    """The ``split`` (``train`` or ``val``) of MTAN's NYUv2 in ``root``: the first ``limit`` examples, resized to
    ``size = (height, width)`` if given, on ``device``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    base = Path(root) / split
    counts = {kind: len(_indices(base / kind)) for kind in FOLDERS}
    if len(set(counts.values())) != 1:
        raise ValueError(f"NYUv2: {base} has different numbers of files per folder: {counts}")
    n = counts["image"] if limit is None else min(limit, counts["image"])
    if n == 0:
        raise ValueError(f"NYUv2: {base} holds no examples")
    arrays = {kind: [_load(base / kind / f"{i}.npy", kind) for i in range(n)] for kind in FOLDERS}
    shape = arrays["image"][0].shape[:2]
    for kind, items in arrays.items():
        for i, a in enumerate(items):
            if a.shape[:2] != shape:
                raise ValueError(f"NYUv2: {base / kind / f'{i}.npy'} is {a.shape[:2]}, but {base / 'image' / '0.npy'} "
                                 f"is {shape}")
    x = torch.from_numpy(np.stack(arrays["image"])).float().permute(0, 3, 1, 2)
    label = torch.from_numpy(np.stack(arrays["label"])).round().long()
    depth = torch.from_numpy(np.stack(arrays["depth"])).float().permute(0, 3, 1, 2)
    normal = torch.from_numpy(np.stack(arrays["normal"])).float().permute(0, 3, 1, 2)
    low, high = int(label.min()), int(label.max())
    if low < -1 or high >= NUM_CLASSES:
        raise ValueError(f"NYUv2: labels in {base / 'label'} range over [{low}, {high}], expected -1 (void) to "
                         f"{NUM_CLASSES - 1}")
    if size is not None and tuple(size) != tuple(shape):
        shrink = size[0] < shape[0] or size[1] < shape[1]
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrink)
        label = F.interpolate(label[:, None].float(), size=size, mode="nearest-exact")[:, 0].long()
        depth = F.interpolate(depth, size=size, mode="nearest-exact")
        normal = F.interpolate(normal, size=size, mode="nearest-exact")
    y = {"segmentation": label, "depth": depth.contiguous(), "normal": normal.contiguous()}
    return MultiTaskData(x.contiguous(), y).to(device)
