"""The NYUv2 loader, on a tiny fake copy in MTAN's layout."""

import numpy as np
import pytest
import torch

from mtl_ref.data.nyuv2 import NUM_CLASSES, nyuv2


def fake_nyuv2(root, split="train", n=3, height=8, width=12, seed=0):
    """``n`` examples of random arrays in MTAN's layout; returns them (HWC, as stored)."""
    rng = np.random.default_rng(seed)
    stored = {
        "image": rng.random((n, height, width, 3), dtype=np.float32),
        "label": rng.integers(-1, NUM_CLASSES, (n, height, width)).astype(np.float32),
        "depth": (rng.random((n, height, width, 1)) * 5 * (rng.random((n, height, width, 1)) > 0.2)).astype(np.float32),
        "normal": np.zeros((n, height, width, 3), dtype=np.float32),
    }
    normal = rng.normal(size=(n, height, width, 3))
    stored["normal"] = (normal / np.linalg.norm(normal, axis=-1, keepdims=True) * (stored["depth"] > 0)).astype(np.float32)
    for kind, arrays in stored.items():
        folder = root / split / kind
        folder.mkdir(parents=True)
        for i, a in enumerate(arrays):
            np.save(folder / f"{i}.npy", a)
    return stored


def test_loads_channels_first_in_the_synthscenes_format(tmp_path):
    stored = fake_nyuv2(tmp_path)
    data = nyuv2(tmp_path, "train")
    assert data.tasks == ["segmentation", "depth", "normal"]
    assert data.x.shape == (3, 3, 8, 12) and data.x.dtype == torch.float32
    assert data.y["segmentation"].shape == (3, 8, 12) and data.y["segmentation"].dtype == torch.long
    assert data.y["depth"].shape == (3, 1, 8, 12) and data.y["normal"].shape == (3, 3, 8, 12)
    assert data.x[1, 2, 5, 7] == stored["image"][1, 5, 7, 2]
    assert data.y["normal"][2, 0, 3, 4] == stored["normal"][2, 3, 4, 0]
    assert torch.equal(data.y["segmentation"], torch.from_numpy(stored["label"]).long())
    assert (data.y["segmentation"] == -1).any()


def test_limit(tmp_path):
    fake_nyuv2(tmp_path, "val", n=4)
    assert len(nyuv2(tmp_path, "val", limit=2)) == 2
    assert len(nyuv2(tmp_path, "val", limit=10)) == 4


def test_resizing_keeps_void_and_invalid_pixels_as_they_were(tmp_path):
    stored = fake_nyuv2(tmp_path, n=2, height=8, width=12)
    data = nyuv2(tmp_path, size=(4, 6))
    assert data.x.shape == (2, 3, 4, 6) and data.y["segmentation"].shape == (2, 4, 6)
    # Nearest neighbour at pixel centres takes the pixel at (2i + 1, 2j + 1): measured values only.
    assert torch.equal(data.y["depth"][:, 0], torch.from_numpy(stored["depth"][:, 1::2, 1::2, 0]))
    assert torch.equal(data.y["segmentation"], torch.from_numpy(stored["label"][:, 1::2, 1::2]).long())
    invalid = data.y["depth"][:, 0] == 0
    assert torch.equal(invalid, (data.y["normal"] == 0).all(1))
    norms = data.y["normal"].norm(dim=1)[~invalid]
    assert torch.allclose(norms, torch.ones_like(norms))
    # The image is averaged: its mean is kept.
    assert data.x.mean() == pytest.approx(float(stored["image"].mean()), abs=0.02)


def test_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="split"):
        nyuv2(tmp_path, "test")
    with pytest.raises(FileNotFoundError, match="image"):
        nyuv2(tmp_path, "train")
    fake_nyuv2(tmp_path)
    (tmp_path / "train" / "depth" / "2.npy").unlink()
    with pytest.raises(ValueError, match="different numbers of files"):
        nyuv2(tmp_path)
    np.save(tmp_path / "train" / "depth" / "5.npy", np.zeros((8, 12, 1), dtype=np.float32))
    with pytest.raises(ValueError, match="not 0..2"):
        nyuv2(tmp_path)
    (tmp_path / "train" / "depth" / "5.npy").unlink()
    np.save(tmp_path / "train" / "depth" / "2.npy", np.zeros((8, 12), dtype=np.float32))
    with pytest.raises(ValueError, match=r"depth/2.npy has shape \(8, 12\), expected \(H, W, 1\)"):
        nyuv2(tmp_path)
    np.save(tmp_path / "train" / "depth" / "2.npy", np.zeros((8, 10, 1), dtype=np.float32))
    with pytest.raises(ValueError, match=r"depth/2.npy is \(8, 10\)"):
        nyuv2(tmp_path)
    np.save(tmp_path / "train" / "depth" / "2.npy", np.zeros((8, 12, 1), dtype=np.float32))
    np.save(tmp_path / "train" / "label" / "1.npy", np.full((8, 12), 13.0, dtype=np.float32))
    with pytest.raises(ValueError, match=r"range over \[-1, 13\]"):
        nyuv2(tmp_path)
