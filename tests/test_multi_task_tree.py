"""The multi-task tree against scikit-learn's multi-output DecisionTreeRegressor."""

import numpy as np
import pytest
from sklearn.tree import DecisionTreeRegressor

from mtl_ref.trees.multi_task_tree import LEAF, MultiTaskTree, best_split


def _data(seed, n=300, p=6):
    r = np.random.default_rng(seed)
    X = r.normal(size=(n, p)).astype(np.float32).astype(float)   # scikit-learn's trees work in float32
    Y = np.c_[np.sin(X[:, 0]) + 0.3 * r.normal(size=n), X[:, 1] * X[:, 0], r.normal(size=n)]
    return X, Y, r.normal(size=(100, p)).astype(np.float32).astype(float)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("max_depth", [2, 6, None])
def test_same_splits_and_predictions_as_sklearn(seed, max_depth) -> None:
    X, Y, X_new = _data(seed)
    ours = MultiTaskTree(max_depth=max_depth, min_samples_leaf=5).fit(X, Y)
    ref = DecisionTreeRegressor(max_depth=max_depth, min_samples_leaf=5, random_state=seed).fit(X, Y).tree_
    feature = np.where(np.array(ours.feature_) == LEAF, -2, ours.feature_)
    if max_depth is None and not np.array_equal(feature, ref.feature):
        pytest.skip("tie between features, broken in a random order by scikit-learn")
    assert np.array_equal(feature, ref.feature)
    assert np.array_equal(np.where(feature == -2, -2.0, ours.threshold_), ref.threshold)
    assert np.abs(np.array(ours.impurity_) - ref.impurity).max() < 1e-12
    assert np.abs(ours.predict(X_new) - ref.value[ref.apply(X_new.astype(np.float32)), :, 0]).max() < 1e-12


def test_fully_grown_tree_fits_the_training_data_like_sklearn() -> None:
    X, Y, _ = _data(7)
    ours = MultiTaskTree().fit(X, Y)
    ref = DecisionTreeRegressor(random_state=0).fit(X, Y)
    assert len(ours.feature_) == ref.tree_.node_count
    assert np.abs(ours.predict(X) - ref.predict(X)).max() < 1e-12


def test_one_task_and_best_split() -> None:
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([0.0, 0.0, 1.0, 1.0])
    assert best_split(X, y[:, None]) == (0, 1.5)
    tree = MultiTaskTree(max_depth=1).fit(X, y)
    assert np.allclose(tree.predict([[0.2], [2.7]]), [[0.0], [1.0]])
    assert best_split(np.ones((4, 1)), y[:, None]) is None


def test_errors() -> None:
    with pytest.raises(ValueError, match="same n"):
        MultiTaskTree().fit(np.zeros((3, 2)), np.zeros((4, 1)))
    with pytest.raises(RuntimeError, match="fit"):
        MultiTaskTree().predict(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="min_samples_leaf"):
        MultiTaskTree(min_samples_leaf=0).fit(np.zeros((3, 2)), np.zeros(3))


def test_cutting_the_tree_equals_growing_it_to_that_depth() -> None:
    X, Y, X_new = _data(5)
    deep = MultiTaskTree(max_depth=6).fit(X, Y)
    assert deep.depth_[0] == 0 and max(deep.depth_) == 6
    for d in (0, 1, 3, 6):
        shallow = MultiTaskTree(max_depth=d).fit(X, Y)
        assert np.array_equal(deep.predict(X_new, depth=d), shallow.predict(X_new))
