"""MultiMNIST and the IDX reader, on tiny fake MNIST files written in the real format."""

import gzip
import struct

import numpy as np
import pytest
import torch

from mtl_ref.data import multimnist, read_idx

LABELS = np.array([3, 1, 4], dtype=np.uint8)


def fake_images() -> np.ndarray:
    """3 distinct 28×28 digits: a bright block at a different place in each, on a faint ramp."""
    imgs = np.tile((np.arange(28, dtype=np.uint8) * 2)[None, None, :], (3, 28, 1))
    for k in range(3):
        imgs[k, 4 + 6 * k:10 + 6 * k, 3 + 5 * k:12 + 5 * k] = 200 + 20 * k
    return imgs


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    return header + array.tobytes()


def write(path, data: bytes):
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


@pytest.fixture
def mnist_dir(tmp_path):
    """Training files plain, test files gzipped (the loader takes either)."""
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(fake_images()))
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(LABELS))
    write(tmp_path / "t10k-images-idx3-ubyte.gz", idx_bytes(fake_images()[::-1].copy()))
    write(tmp_path / "t10k-labels-idx1-ubyte.gz", idx_bytes(LABELS[::-1].copy()))
    return tmp_path


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_read_idx_images(tmp_path, name):
    out = read_idx(write(tmp_path / name, idx_bytes(fake_images())))
    assert out.dtype == np.uint8 and out.shape == (3, 28, 28)
    assert np.array_equal(out, fake_images())


@pytest.mark.parametrize("name", ["labels-idx1-ubyte", "labels-idx1-ubyte.gz"])
def test_read_idx_labels(tmp_path, name):
    out = read_idx(write(tmp_path / name, idx_bytes(LABELS)))
    assert out.shape == (3,) and out.tolist() == [3, 1, 4]


def test_read_idx_big_endian_types(tmp_path):
    values = np.array([[1.5, -2.0], [3.25, 1e6]], dtype=">f4")
    assert np.array_equal(read_idx(write(tmp_path / "f", idx_bytes(values, 0x0D))), values)
    ints = np.array([-70000, 5, 2**30], dtype=">i4")
    assert read_idx(write(tmp_path / "i", idx_bytes(ints, 0x0C))).tolist() == ints.tolist()


@pytest.mark.parametrize("start", [b"\x01\x00\x08\x03", b"\x00\x01\x08\x03", b"PK\x03\x04", b"\x00\x00"])
def test_read_idx_bad_magic_number(tmp_path, start):
    path = write(tmp_path / "bad", start + idx_bytes(LABELS)[4:] if len(start) == 4 else start)
    with pytest.raises(ValueError, match=rf"{path}: not an IDX file \(bad magic number {start.hex()}\)"):
        read_idx(path)


def test_read_idx_unknown_type(tmp_path):
    path = write(tmp_path / "bad", idx_bytes(LABELS, type_code=0x07))
    with pytest.raises(ValueError, match=rf"{path}: unknown IDX data type 0x07"):
        read_idx(path)


@pytest.mark.parametrize("name", ["images", "images.gz"])
@pytest.mark.parametrize("cut", [1, 28 * 28])
def test_read_idx_truncated_file(tmp_path, name, cut):
    path = write(tmp_path / name, idx_bytes(fake_images())[:-cut])
    with pytest.raises(ValueError, match=rf"{path}: header says shape \(3, 28, 28\)"):
        read_idx(path)


@pytest.mark.parametrize("keep", [4, 12, 15])
def test_read_idx_truncated_header(tmp_path, keep):
    path = write(tmp_path / "images", idx_bytes(fake_images())[:keep])
    with pytest.raises(ValueError, match=rf"{path}: truncated header"):
        read_idx(path)


def test_read_idx_truncated_wider_type(tmp_path):
    path = write(tmp_path / "floats", idx_bytes(np.ones(3, dtype=">f4"), 0x0D)[:-1])
    with pytest.raises(ValueError, match=rf"{path}: header says shape \(3,\)"):
        read_idx(path)


def test_read_idx_trailing_bytes(tmp_path):
    path = write(tmp_path / "long", idx_bytes(LABELS) + b"\x00")
    with pytest.raises(ValueError, match=rf"{path}: header says shape \(3,\)"):
        read_idx(path)


@pytest.mark.parametrize("name", ["nothing-here", "nothing-here.gz"])
def test_read_idx_missing_file(tmp_path, name):
    with pytest.raises(FileNotFoundError, match=name):
        read_idx(tmp_path / name)


def expected_canvas(img: np.ndarray, partner: np.ndarray) -> np.ndarray:
    """Sener & Koltun's construction, independently: 36×36 canvas, partner 6 px down-right, nearest resize."""
    canvas = np.zeros((36, 36))
    canvas[:28, :28] = img
    canvas[6:34, 6:34] = np.maximum(canvas[6:34, 6:34], partner)
    rows = np.arange(28) * 36 // 28
    return canvas[np.ix_(rows, rows)] / 255.0


@pytest.mark.parametrize("split", ["train", "test"])
def test_multimnist(mnist_dir, split):
    imgs, labels = (fake_images(), LABELS) if split == "train" else (fake_images()[::-1], LABELS[::-1])
    d = multimnist(mnist_dir, split=split, seed=0)
    assert d.x.shape == (3, 1, 28, 28) and d.x.dtype == torch.float32
    assert 0 <= d.x.min() and d.x.max() <= 1
    assert d.tasks == ["left", "right"] and d.y["left"].dtype == torch.long
    assert d.y["left"].tolist() == labels.tolist()
    for k in range(3):
        partner = labels.tolist().index(d.y["right"][k].item())  # labels are distinct
        np.testing.assert_allclose(d.x[k, 0].numpy(), expected_canvas(imgs[k], imgs[partner]), rtol=0, atol=1e-7)


def test_multimnist_seed_limit_and_determinism(mnist_dir):
    a, b = multimnist(mnist_dir, seed=1), multimnist(mnist_dir, seed=1)
    assert torch.equal(a.x, b.x) and torch.equal(a.y["right"], b.y["right"])
    rights = {tuple(multimnist(mnist_dir, seed=s).y["right"].tolist()) for s in range(6)}
    assert len(rights) > 1  # the partners depend on the seed
    limited = multimnist(mnist_dir, limit=2)
    assert len(limited) == 2 and limited.y["left"].tolist() == [3, 1]
    assert set(limited.y["right"].tolist()) <= {3, 1}  # partners come from the kept images


def test_multimnist_bad_split(mnist_dir):
    with pytest.raises(ValueError, match=r"split must be one of \['test', 'train'\], got 'val'"):
        multimnist(mnist_dir, split="val")


def test_multimnist_missing_file(tmp_path):
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(fake_images()))
    with pytest.raises(FileNotFoundError, match=rf"neither train-labels-idx1-ubyte nor train-labels-idx1-ubyte.gz "
                                                rf"is in {tmp_path}"):
        multimnist(tmp_path)


def test_multimnist_mismatched_files(tmp_path):
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(fake_images()))
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(LABELS[:2]))
    with pytest.raises(ValueError, match=r"expected images \(N, H, W\) and labels \(N,\), "
                                         r"got \(3, 28, 28\) and \(2,\)"):
        multimnist(tmp_path)
