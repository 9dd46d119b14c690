"""MultiDigits: shapes, ranges, determinism, and no handwritten digit shared by training and test images."""

import pytest
import torch

from mtl_ref.data import multidigits
from mtl_ref.data.multidigits import CANVAS, DIGIT, SHIFT, overlay, pairs, source_digits


@pytest.fixture(scope="module")
def sources():
    return source_digits()


@pytest.fixture(scope="module")
def data():
    return multidigits(60, 40, seed=0)


def test_source_digits(sources):
    (xtr, ytr), (xte, yte) = sources["train"], sources["test"]
    assert xtr.shape[1:] == xte.shape[1:] == (DIGIT, DIGIT)
    assert len(xtr) + len(xte) == 1797 and len(xte) == pytest.approx(0.3 * 1797, abs=1)
    assert 0 <= min(xtr.min(), xte.min()) and max(xtr.max(), xte.max()) <= 1
    assert set(ytr.tolist()) == set(yte.tolist()) == set(range(10))
    # stratified: every class has about 30% of its examples in the test split
    for c in range(10):
        share = (yte == c).sum() / ((yte == c).sum() + (ytr == c).sum())
        assert 0.25 < share < 0.35


def test_source_splits_are_disjoint(sources):
    as_bytes = [{img.numpy().tobytes() for img in sources[s][0]} for s in ("train", "test")]
    assert len(as_bytes[0]) == len(sources["train"][0]) and len(as_bytes[1]) == len(sources["test"][0])
    assert not as_bytes[0] & as_bytes[1]


def test_shapes_types_and_ranges(data):
    train, test = data
    assert train.x.shape == (60, 1, CANVAS, CANVAS) and test.x.shape == (40, 1, 20, 20)
    assert train.tasks == test.tasks == ["left", "right"]
    for d in data:
        assert d.x.dtype == torch.float32 and 0 <= d.x.min() and d.x.max() <= 1
        for y in d.y.values():
            assert y.dtype == torch.long and y.shape == (len(d),) and 0 <= y.min() and y.max() <= 9


def decompose(image, candidates):
    """Every (left, right) pair of candidate digits whose overlay is exactly ``image`` (20×20)."""
    left_only = torch.zeros(DIGIT, DIGIT, dtype=torch.bool)
    left_only[:SHIFT], left_only[:, :SHIFT] = True, True
    right_only = torch.zeros(DIGIT, DIGIT, dtype=torch.bool)
    right_only[DIGIT - SHIFT:], right_only[:, DIGIT - SHIFT:] = True, True

    def fits(region, only):  # below the image everywhere (overlaps take the max), equal where alone
        return ((candidates <= region) & ((candidates == region) | ~only)).flatten(1).all(1).nonzero()[:, 0]

    lefts, rights = fits(image[:DIGIT, :DIGIT], left_only), fits(image[SHIFT:, SHIFT:], right_only)
    return [(i, j) for i in lefts.tolist() for j in rights.tolist()
            if torch.equal(overlay(candidates[i][None], candidates[j][None])[0], image)]


def test_training_and_test_images_share_no_source_digit(sources, data):
    # Decompose each image into source digits drawn from BOTH splits, then check where they came from.
    images = torch.cat([sources["train"][0], sources["test"][0]])
    labels = torch.cat([sources["train"][1], sources["test"][1]])
    n_train_sources = len(sources["train"][0])
    used = {"train": set(), "test": set()}
    for split, d in zip(("train", "test"), data):
        for k in range(len(d)):
            found = decompose(d.x[k, 0], images)
            assert found, f"{split} image {k} is not an overlay of two source digits"
            for i, j in found:
                assert labels[i] == d.y["left"][k] and labels[j] == d.y["right"][k]
                used[split] |= {i, j}
    assert all(i < n_train_sources for i in used["train"])
    assert all(i >= n_train_sources for i in used["test"])
    assert len(used["train"]) > 60 and len(used["test"]) > 40  # many different digits were drawn


def test_overlay():
    a, b = torch.zeros(1, 4, 4), torch.zeros(1, 4, 4)
    a[0, 2, 2], a[0, 3, 3], b[0, 0, 0], b[0, 1, 1] = 0.5, 0.2, 0.3, 0.9
    out = overlay(a, b, shift=2)
    assert out.shape == (1, 6, 6)
    expected = torch.zeros(6, 6)
    expected[2, 2], expected[3, 3] = 0.5, 0.9  # (2, 2): max(0.5, 0.3); (3, 3): max(0.2, 0.9)
    assert torch.equal(out[0], expected)


def test_pairs():
    images = torch.stack([torch.full((DIGIT, DIGIT), v) for v in (0.1, 0.2, 0.3)])
    d = pairs(images, torch.tensor([7, 8, 9]), n=12, seed=0)
    assert d.x.shape == (12, 1, CANVAS, CANVAS)
    # each digit is a constant image, so its class can be read off its corners
    assert torch.equal(d.y["left"], (d.x[:, 0, 0, 0] * 10).round().long() + 6)
    assert torch.equal(d.y["right"], (d.x[:, 0, -1, -1] * 10).round().long() + 6)
    assert torch.equal(pairs(images, torch.tensor([7, 8, 9]), 12, seed=0).x, d.x)


def test_determinism(data):
    train, test = multidigits(60, 40, seed=0)
    assert torch.equal(train.x, data[0].x) and torch.equal(test.y["right"], data[1].y["right"])
    other, _ = multidigits(60, 40, seed=1)
    assert not torch.equal(other.x, train.x)
    assert not torch.equal(train.x[:40], test.x)  # training and test images are drawn separately


def test_device():
    train, test = multidigits(3, 2, device="meta")
    assert train.device == test.device == torch.device("meta")
