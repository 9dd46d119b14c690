"""Pictures of dense multi-task samples: the image next to its segmentation, depth and surface normals.

For any :class:`~mtl_ref.data.tensors.MultiTaskData` with the tasks ``segmentation``, ``depth`` and ``normal``
(SynthScenes and NYUv2). Conventions, the same in every figure:

* segmentation: class ``c`` always gets colour ``PALETTE[c]``; void (``-1``) is black;
* depth: viridis over one range for the whole figure (near is dark), invalid pixels black;
* normals: shown as RGB ``(n + 1) / 2`` (``x`` right = red, ``y`` up = green, ``z`` towards the camera = blue),
  invalid pixels black.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from torch import Tensor

from .tensors import MultiTaskData

#: Fixed colours of classes 0, 1, 2, ... (enough for NYUv2's 13).
PALETTE = ("#8c6d31", "#bdbdbd", "#e7cb94", "#d6616b", "#6baed6", "#e377c2", "#ff7f0e", "#2ca02c", "#9467bd",
           "#17becf", "#bcbd22", "#1f3b73", "#7f7f7f", "#ad494a", "#637939", "#ce6dbd")


def label_image(label: Tensor) -> np.ndarray:
    """``(H, W)`` class indices (``-1`` = void) as an ``(H, W, 3)`` RGB array."""
    label = label.cpu().numpy()
    if label.max() >= len(PALETTE):
        raise ValueError(f"class {label.max()} has no colour: the palette has {len(PALETTE)}")
    colors = np.array([[int(c[i:i + 2], 16) / 255 for i in (1, 3, 5)] for c in PALETTE])
    image = colors[label.clip(min=0)]
    image[label < 0] = 0
    return image


def normal_image(normal: Tensor) -> np.ndarray:
    """``(3, H, W)`` unit normals (all zero = invalid) as an ``(H, W, 3)`` RGB array."""
    normal = normal.cpu().numpy().transpose(1, 2, 0)
    valid = np.abs(normal).sum(-1, keepdims=True) > 0
    return np.where(valid, (normal + 1) / 2, 0).clip(0, 1)


def plot_dense_samples(data: MultiTaskData, count: int = 4, class_names: Sequence[str] | None = None,
                       start: int = 0) -> Figure:
    """A figure with one row per sample (``count`` of them from ``start``): RGB, segmentation, depth, normals."""
    missing = {"segmentation", "depth", "normal"} - set(data.tasks)
    if missing:
        raise KeyError(f"the data set lacks the tasks {sorted(missing)} (it has {data.tasks})")
    count = min(count, len(data) - start)
    x = data.x[start:start + count].cpu()
    depth = data.y["depth"][start:start + count].cpu()
    valid = depth > 0
    top = float(depth[valid].max()) if valid.any() else 1.0
    height, width = x.shape[-2:]
    fig, axes = plt.subplots(count, 4, figsize=(4 * 2.2 * width / max(height, width), count * 2.2 * height / max(height, width)),
                             squeeze=False, layout="constrained")
    cmap = plt.get_cmap("viridis").with_extremes(bad="black")
    for i in range(count):
        row = axes[i]
        row[0].imshow(x[i].permute(1, 2, 0).clamp(0, 1).numpy())
        row[1].imshow(label_image(data.y["segmentation"][start + i]), interpolation="nearest")
        row[2].imshow(np.ma.masked_where(~valid[i, 0].numpy(), depth[i, 0].numpy()), cmap=cmap, vmin=0, vmax=top,
                      interpolation="nearest")
        row[3].imshow(normal_image(data.y["normal"][start + i]), interpolation="nearest")
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
    for ax, title in zip(axes[0], ("image", "segmentation", f"depth (0 to {top:.1f} m)", "normals")):
        ax.set_title(title, fontsize=9)
    if class_names is not None:
        patches = [Patch(color=PALETTE[c], label=name) for c, name in enumerate(class_names)]
        fig.legend(handles=patches + [Patch(color="black", label="void / invalid")], loc="outside lower center",
                   ncol=min(6, len(patches) + 1), fontsize=8, frameon=False)
    return fig
