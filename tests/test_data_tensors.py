"""MultiTaskData: validation, subset, select, batches, num_batches, and train_test_split."""

import pytest
import torch

from mtl_ref.data import MultiTaskData, train_test_split


def numbered(n: int = 10) -> MultiTaskData:
    """Inputs 0..n-1; targets that let every batch be checked against its inputs."""
    x = torch.arange(n, dtype=torch.float32)[:, None]
    return MultiTaskData(x, {"double": 2 * x, "label": torch.arange(n) % 3})


def ids(x: torch.Tensor) -> list[int]:
    return x[:, 0].long().tolist()


def test_basic_properties():
    d = numbered(7)
    assert len(d) == 7 and d.tasks == ["double", "label"] and d.device == torch.device("cpu")
    assert len(MultiTaskData(torch.zeros(3, 2), {})) == 3


def test_length_mismatch_names_the_task():
    with pytest.raises(ValueError, match="task 'b': 4 targets for 5 inputs"):
        MultiTaskData(torch.zeros(5, 2), {"a": torch.zeros(5), "b": torch.zeros(4)})


def test_device_mismatch_names_the_task():
    with pytest.raises(ValueError, match="task 'a': targets on meta, inputs on cpu"):
        MultiTaskData(torch.zeros(3, 2), {"a": torch.zeros(3, device="meta")})


def test_to_moves_everything():
    d = numbered(4).to("meta")
    assert d.device == torch.device("meta") and all(v.device.type == "meta" for v in d.y.values())


def test_subset_with_slice_indices_and_mask():
    d = numbered(10)
    assert ids(d.subset(slice(2, 5)).x) == [2, 3, 4]
    s = d.subset(torch.tensor([7, 1, 1]))
    assert ids(s.x) == [7, 1, 1] and s.y["label"].tolist() == [1, 1, 1]
    torch.testing.assert_close(s.y["double"], 2 * s.x)
    assert ids(d.subset(torch.arange(10) >= 8).x) == [8, 9]


def test_select():
    d = numbered(5)
    s = d.select(["label"])
    assert s.tasks == ["label"] and s.x is d.x and s.y["label"] is d.y["label"]
    assert d.select(["label", "double"]).tasks == ["label", "double"]
    with pytest.raises(KeyError, match=r"tasks \['depth'\] are not in this data set \(it has \['double', 'label'\]\)"):
        d.select(["double", "depth"])


def test_batches_in_order():
    batches = list(numbered(10).batches(4))
    assert [ids(x) for x, _ in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    for x, y in batches:
        assert set(y) == {"double", "label"}
        torch.testing.assert_close(y["double"], 2 * x)


def test_batches_drop_last():
    assert [ids(x) for x, _ in numbered(10).batches(4, drop_last=True)] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(list(numbered(8).batches(4, drop_last=True))) == 2
    assert list(numbered(3).batches(4, drop_last=True)) == []


def test_shuffled_batches_cover_every_example_once_per_epoch():
    d = numbered(23)
    g = torch.Generator().manual_seed(0)
    orders = []
    for _ in range(3):
        batches = list(d.batches(5, shuffle=True, generator=g))
        assert [len(x) for x, _ in batches] == [5, 5, 5, 5, 3]
        seen = [i for x, _ in batches for i in ids(x)]
        assert sorted(seen) == list(range(23))
        for x, y in batches:  # targets stay with their inputs
            torch.testing.assert_close(y["double"], 2 * x)
            assert y["label"].tolist() == [i % 3 for i in ids(x)]
        orders.append(seen)
    assert orders[0] != list(range(23))
    assert orders[0] != orders[1] != orders[2]  # a new order each epoch


def test_shuffled_drop_last_keeps_full_batches_of_distinct_examples():
    batches = list(numbered(23).batches(5, shuffle=True, generator=torch.Generator().manual_seed(1), drop_last=True))
    seen = [i for x, _ in batches for i in ids(x)]
    assert [len(x) for x, _ in batches] == [5] * 4 and len(set(seen)) == 20


def test_seeded_order_is_reproducible():
    d = numbered(30)

    def epochs(seed):
        g = torch.Generator().manual_seed(seed)
        return [[ids(x) for x, _ in d.batches(7, shuffle=True, generator=g)] for _ in range(2)]

    assert epochs(3) == epochs(3)
    assert epochs(3) != epochs(4)


@pytest.mark.parametrize("n, size, drop_last, expected", [
    (10, 4, False, 3), (10, 4, True, 2), (8, 4, False, 2), (8, 4, True, 2), (3, 4, False, 1), (3, 4, True, 0),
    (1, 1, False, 1),
])
def test_num_batches_matches_batches(n, size, drop_last, expected):
    d = numbered(n)
    assert d.num_batches(size, drop_last=drop_last) == expected
    assert len(list(d.batches(size, drop_last=drop_last))) == expected


def test_train_test_split():
    d = numbered(20)
    train, test = train_test_split(d, 6, torch.Generator().manual_seed(0))
    assert len(train) == 14 and len(test) == 6
    assert sorted(ids(train.x) + ids(test.x)) == list(range(20))
    torch.testing.assert_close(test.y["double"], 2 * test.x)
    again, _ = train_test_split(d, 6, torch.Generator().manual_seed(0))
    assert ids(again.x) == ids(train.x)
    other, _ = train_test_split(d, 6, torch.Generator().manual_seed(1))
    assert ids(other.x) != ids(train.x)


@pytest.mark.parametrize("n_test", [0, 20, -1, 25])
def test_train_test_split_rejects_bad_sizes(n_test):
    with pytest.raises(ValueError, match=f"n_test must be between 1 and 19, got {n_test}"):
        train_test_split(numbered(20), n_test, torch.Generator())
