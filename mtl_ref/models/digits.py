"""The small convolutional network used on MultiDigits images (1 × 20 × 20).

Written as a list of blocks so that chapters can cut it anywhere (:func:`~mtl_ref.models.branch_at`): two
convolution blocks (3×3 convolution, ReLU, 2×2 max-pooling), a fully connected layer, and the output layer.
"""

from __future__ import annotations

from torch import nn


def digit_blocks(widths: tuple[int, int] = (16, 32), features: int = 64, outputs: int = 10,
                 side: int = 20) -> list[nn.Module]:
    """``[conv block, conv block, fully connected, output layer]`` for ``side × side`` single-channel images."""
    a, b = widths
    flat = b * (side // 4) ** 2
    return [
        nn.Sequential(nn.Conv2d(1, a, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),
        nn.Sequential(nn.Conv2d(a, b, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),
        nn.Sequential(nn.Flatten(), nn.Linear(flat, features), nn.ReLU()),
        nn.Linear(features, outputs),
    ]


def digit_trunk(widths: tuple[int, int] = (16, 32), features: int = 64, side: int = 20) -> nn.Sequential:
    """Every block but the output layer: images in, ``features``-dimensional representation out."""
    return nn.Sequential(*digit_blocks(widths, features, side=side)[:-1])
