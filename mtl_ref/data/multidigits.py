"""MultiDigits: two overlapping handwritten digits per image, built from scikit-learn's bundled digits.

This follows Sener & Koltun's MultiMNIST construction (NeurIPS 2018, after Sabour et al. 2017) on a smaller
canvas. Each 8×8 digit of scikit-learn's ``load_digits`` (1,797 images from the UCI "Optical Recognition of
Handwritten Digits" set, 16 grey levels) is upsampled to 16×16; one digit is placed at the top left and a second
at the bottom right of a 20×20 canvas, shifted by 4 pixels in each direction, and where they overlap the brighter
pixel wins. Task ``left`` is the top-left digit's class, task ``right`` the bottom-right one's.

The source images are split into training and test sources first (stratified by class), and each pair draws
both of its digits from one side of that split, so no handwritten digit appears in both training and test images.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .tensors import MultiTaskData

DIGIT = 16  # side of one upsampled digit
SHIFT = 4  # offset of the second digit
CANVAS = DIGIT + SHIFT


def source_digits(test_fraction: float = 0.3, split_seed: int = 0) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The upsampled source digits ``(N, 16, 16)`` in [0, 1] and their labels, split into ``train`` and ``test``."""
    from sklearn.datasets import load_digits  # imported here: scikit-learn takes seconds to import
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32)[:, None] / 16.0
    images = F.interpolate(images, size=(DIGIT, DIGIT), mode="bilinear", align_corners=False)[:, 0].clamp(0, 1)
    labels = torch.tensor(digits.target, dtype=torch.long)
    idx = np.arange(len(labels))
    train_idx, test_idx = train_test_split(idx, test_size=test_fraction, stratify=digits.target, random_state=split_seed)
    return {"train": (images[train_idx], labels[train_idx]), "test": (images[test_idx], labels[test_idx])}


def overlay(left: torch.Tensor, right: torch.Tensor, shift: int = SHIFT) -> torch.Tensor:
    """Place ``left`` at the top left and ``right`` shifted by ``shift`` on one canvas; overlaps take the max.

    Works on batches ``(N, s, s) -> (N, s + shift, s + shift)``.
    """
    n, s, _ = left.shape
    canvas = left.new_zeros(n, s + shift, s + shift)
    canvas[:, :s, :s] = left
    canvas[:, shift:, shift:] = torch.maximum(canvas[:, shift:, shift:], right)
    return canvas


def pairs(images: torch.Tensor, labels: torch.Tensor, n: int, seed: int) -> MultiTaskData:
    """``n`` random (left, right) pairs drawn with replacement from ``images``; tasks ``left`` and ``right``."""
    g = torch.Generator().manual_seed(seed)
    i = torch.randint(len(labels), (n,), generator=g)
    j = torch.randint(len(labels), (n,), generator=g)
    x = overlay(images[i], images[j])[:, None]
    return MultiTaskData(x, {"left": labels[i], "right": labels[j]})


def multidigits(n_train: int, n_test: int, seed: int = 0, device: torch.device | str = "cpu"
                ) -> tuple[MultiTaskData, MultiTaskData]:
    """Training and test sets of MultiDigits images ``(N, 1, 20, 20)`` with tasks ``left`` and ``right``."""
    sources = source_digits()
    train = pairs(*sources["train"], n_train, seed=2 * seed)
    test = pairs(*sources["test"], n_test, seed=2 * seed + 1)
    return train.to(device), test.to(device)
