"""One regression tree for several tasks (Caruana, "Multitask learning", Machine Learning 28, 1997, §3.3;
Blockeel, De Raedt & Ramon, "Top-down induction of clustering trees", ICML 1998).

Every task's targets are known at every training point (``Y`` is ``n × T``). A node is split where the impurity
reduction *summed over the tasks* is largest,

.. math:: \\Delta(j, s) = \\sum_t \\Big[ n\\,\\mathrm{MSE}_t(\\text{node})
          - n_L\\,\\mathrm{MSE}_t(\\text{left}) - n_R\\,\\mathrm{MSE}_t(\\text{right}) \\Big],

so a split that helps several tasks a little can beat one that helps a single task a lot; each leaf predicts every
task's mean there. Scikit-learn's ``DecisionTreeRegressor`` with a 2-D ``y`` uses the same criterion averaged over
outputs (a constant factor ``1/T``), and this implementation follows its conventions so that the two grow the same
tree: thresholds halfway between consecutive distinct values (values closer than ``1e-7`` count as equal), the first
best split in feature order and then threshold order, nodes numbered depth-first with the left child first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FEATURE_THRESHOLD = 1e-7   # scikit-learn's: values closer than this are not split between
LEAF = -1


@dataclass
class MultiTaskTree:
    """A regression tree whose splits count every task's gain.

    Args:
        max_depth: the depth limit (``None``: grow until the leaves are pure or too small).
        min_samples_leaf: the fewest training points a leaf may hold.

    After :meth:`fit`, node ``i`` splits on ``feature_[i]`` at ``threshold_[i]`` (``x ≤ threshold`` goes to
    ``left_[i]``), or is a leaf (``feature_[i] == -1``); ``value_[i]`` holds the node's mean of every task and
    ``impurity_[i]`` its MSE averaged over the tasks, ``depth_[i]`` its depth (the root's is 0).

    Growth is greedy and top-down, so the tree of depth ``d`` is this tree cut at depth ``d``: :meth:`predict` with
    ``depth=d`` gives its predictions without refitting (a whole depth grid from one fit).
    """

    max_depth: int | None = None
    min_samples_leaf: int = 1
    feature_: list[int] = field(default_factory=list, init=False)
    threshold_: list[float] = field(default_factory=list, init=False)
    left_: list[int] = field(default_factory=list, init=False)
    right_: list[int] = field(default_factory=list, init=False)
    value_: list[np.ndarray] = field(default_factory=list, init=False)
    impurity_: list[float] = field(default_factory=list, init=False)
    depth_: list[int] = field(default_factory=list, init=False)

    def fit(self, X: np.ndarray, Y: np.ndarray) -> "MultiTaskTree":
        """Grow the tree on inputs ``X`` (``n × p``) and targets ``Y`` (``n × T``, or ``n`` for one task)."""
        X = np.asarray(X, dtype=float)
        Y = np.asarray(Y, dtype=float)
        Y = Y[:, None] if Y.ndim == 1 else Y
        if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0]:
            raise ValueError(f"X must be (n, p) and Y (n, T) with the same n, got {X.shape} and {Y.shape}")
        if self.min_samples_leaf < 1:
            raise ValueError(f"min_samples_leaf must be at least 1, got {self.min_samples_leaf}")
        for name in ("feature_", "threshold_", "left_", "right_", "value_", "impurity_", "depth_"):
            setattr(self, name, [])
        self._grow(X, Y, np.arange(len(X)), 0)
        return self

    def _grow(self, X: np.ndarray, Y: np.ndarray, rows: np.ndarray, depth: int) -> int:
        node = len(self.feature_)
        y = Y[rows]
        impurity = float(y.var(axis=0).mean())
        self.feature_.append(LEAF)
        self.threshold_.append(np.nan)
        self.left_.append(LEAF)
        self.right_.append(LEAF)
        self.value_.append(y.mean(axis=0))
        self.impurity_.append(impurity)
        self.depth_.append(depth)
        deep_enough = self.max_depth is not None and depth >= self.max_depth
        if deep_enough or len(rows) < max(2, 2 * self.min_samples_leaf) or impurity <= np.finfo(float).eps:
            return node
        split = best_split(X[rows], y, self.min_samples_leaf)
        if split is None:
            return node
        feature, threshold = split
        goes_left = X[rows, feature] <= threshold
        self.feature_[node], self.threshold_[node] = feature, threshold
        self.left_[node] = self._grow(X, Y, rows[goes_left], depth + 1)
        self.right_[node] = self._grow(X, Y, rows[~goes_left], depth + 1)
        return node

    def apply(self, X: np.ndarray, depth: int | None = None) -> np.ndarray:
        """The leaf each row of ``X`` falls into (all rows descend together, one level per step); with ``depth``,
        the node where it stops at that depth."""
        if not self.feature_:
            raise RuntimeError("fit the tree first")
        X = np.asarray(X, dtype=float)
        feature, threshold = np.array(self.feature_), np.array(self.threshold_)
        left, right = np.array(self.left_), np.array(self.right_)
        stop = np.inf if depth is None else depth
        node = np.zeros(len(X), dtype=int)
        for level in range(len(feature)):
            inner = feature[node] != LEAF
            if level >= stop or not inner.any():
                break
            f = feature[node[inner]]
            go_left = X[np.flatnonzero(inner), f] <= threshold[node[inner]]
            node[inner] = np.where(go_left, left[node[inner]], right[node[inner]])
        return node

    def predict(self, X: np.ndarray, depth: int | None = None) -> np.ndarray:
        """Every task's prediction, ``n × T``: the training mean of the leaf each row falls into (of the tree cut
        at ``depth``, if given)."""
        leaves = self.apply(X, depth)
        return np.stack(self.value_)[leaves]


def best_split(X: np.ndarray, Y: np.ndarray, min_samples_leaf: int = 1) -> tuple[int, float] | None:
    """The split ``(feature, threshold)`` with the largest impurity reduction summed over tasks, or ``None``.

    All features and all split positions are scored at once: after sorting each feature, the reduction at position
    ``i`` is, up to a constant, ``Σ_t [S_t(left)²/n_L + S_t(right)²/n_R]`` with ``S_t`` the sums of task ``t``'s
    targets on each side (scikit-learn's "proxy improvement").
    """
    n, _ = X.shape
    order = np.argsort(X, axis=0, kind="stable")                     # (n, p)
    xs = np.take_along_axis(X, order, axis=0)
    left_sums = np.cumsum(Y[order], axis=0)[:-1]                       # (n-1, p, T): sums of the first i+1 rows
    right_sums = Y.sum(axis=0) - left_sums
    n_left = np.arange(1, n)[:, None]
    proxy = (left_sums ** 2).sum(-1) / n_left + (right_sums ** 2).sum(-1) / (n - n_left)
    valid = (xs[1:] > xs[:-1] + FEATURE_THRESHOLD)
    valid &= (n_left >= min_samples_leaf) & (n - n_left >= min_samples_leaf)
    if not valid.any():
        return None
    proxy = np.where(valid, proxy, -np.inf)
    best_per_feature = proxy.max(axis=0)
    feature = int(np.argmax(best_per_feature))                        # first feature with the best proxy
    i = int(np.argmax(proxy[:, feature]))                             # its first best position
    threshold = (xs[i, feature] + xs[i + 1, feature]) / 2.0
    if threshold == xs[i + 1, feature] or not np.isfinite(threshold):
        threshold = xs[i, feature]
    return feature, float(threshold)
