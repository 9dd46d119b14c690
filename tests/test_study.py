"""The helpers of the study every student runs: data from arrays, single-task baselines, the Δm table, nested scores
of a grid row, and a History saved and reloaded with its weight trace."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import mtl_ref
from mtl_ref import History, Task, fit, flat_scores, nested_scores
from mtl_ref.data import MultiTaskData
from mtl_ref.models import HardSharing, mlp

RNG = np.random.default_rng(0)
X = RNG.normal(5.0, 3.0, size=(50, 4))
TARGETS = {"size": X @ [1.0, 2.0, 0.0, 0.0] + 100.0, "kind": (X[:, 0] > 5).astype(int) + (X[:, 1] > 5),
           "flag": X[:, 2] > 5}
TASKS = [Task.regression("size"), Task.classification("kind"), Task.binary("flag")]


def splits(**kwargs):
    return MultiTaskData.from_arrays(X, TARGETS, TASKS, **kwargs)


def test_from_arrays_splits_and_gives_each_task_its_dtype_and_shape():
    train, val, test = splits(standardize=False)
    assert (len(train), len(val), len(test)) == (30, 10, 10)
    assert train.y["size"].shape == (30, 1) and train.y["size"].dtype == torch.float32
    assert train.y["kind"].shape == (30,) and train.y["kind"].dtype == torch.long
    assert train.y["flag"].shape == (30, 1) and set(train.y["flag"].unique().tolist()) <= {0.0, 1.0}
    together = torch.cat([train.x, val.x, test.x])
    assert sorted(together[:, 0].tolist()) == pytest.approx(sorted(X[:, 0].tolist()))  # a permutation, no loss
    again = splits(standardize=False)
    assert torch.equal(again.test.x, test.x) and not torch.equal(splits(standardize=False, seed=1).test.x, test.x)


def test_standardize_uses_the_training_split_only():
    raw, scaled = splits(standardize=False), splits(standardize=True)
    mean, std = raw.train.x.mean(0), raw.train.x.std(0)
    torch.testing.assert_close(scaled.train.x.mean(0), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(scaled.train.x.std(0), torch.ones(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(scaled.test.x, (raw.test.x - mean) / std)  # test rows: training statistics
    assert abs(float(scaled.test.x.mean())) > 1e-3  # …so the test split is not exactly centred
    torch.testing.assert_close(scaled.train.y["size"].mean(), torch.tensor(0.0), atol=1e-4, rtol=0)
    assert torch.equal(scaled.train.y["kind"], raw.train.y["kind"])  # only regression targets are scaled
    assert torch.equal(scaled.train.y["flag"], raw.train.y["flag"])


def test_from_arrays_errors_name_the_task_or_split():
    with pytest.raises(ValueError, match=r"task 'size': 49 targets for 50 inputs"):
        MultiTaskData.from_arrays(X, {**TARGETS, "size": TARGETS["size"][:49]}, TASKS)
    with pytest.raises(ValueError, match=r"the validation split\(s\) would be empty: 50 examples with "
                                         r"val_fraction=0"):
        MultiTaskData.from_arrays(X, TARGETS, TASKS, val_fraction=0)
    with pytest.raises(KeyError, match=r"tasks \['kind'\] have no targets"):
        MultiTaskData.from_arrays(X, {"size": TARGETS["size"], "flag": TARGETS["flag"]}, TASKS)


OUTPUTS = {"size": 1, "kind": 3, "flag": 1}


def model(names) -> HardSharing:
    return HardSharing(mlp([4, 8], last_activation=True), {t: nn.Linear(8, OUTPUTS[t]) for t in names})


OPTIONS = {"epochs": 3, "batch_size": 10, "progress": False}


def test_single_task_baselines_train_each_task_alone_with_the_same_protocol():
    train, val, test = splits()
    base = mtl_ref.single_task_baselines(lambda t: model([t.name]), TASKS, train, val=val, test=test, seed=1,
                                         **OPTIONS)
    assert list(base.scores) == ["size", "kind", "flag"] and list(base.histories) == list(base.scores)
    for task in TASKS:
        history = base.histories[task.name]
        assert history.tasks == [task.name] and history.best_epoch is not None  # early-stopped on its own task
        assert base.scores[task.name] == history.final[task.name]
    torch.manual_seed(1)
    alone = fit(model(["kind"]), [TASKS[1]], train.select(["kind"]), val=val.select(["kind"]),
                test=test.select(["kind"]), restore_best=True, seed=1, **OPTIONS)
    assert alone.final["kind"] == base.scores["kind"]  # the same protocol as fit, seeded


def grid() -> pd.DataFrame:
    rows = []
    for seed in range(3):
        single = {"a/acc": 0.60 + 0.01 * seed, "b/mse": 1.0}
        rows.append({"method": "single-task", "seed": seed, **single})
        rows.append({"method": "equal", "seed": seed, "a/acc": single["a/acc"] * 1.1, "b/mse": 0.9})
        rows.append({"method": "mgda", "seed": seed, "a/acc": single["a/acc"], "b/mse": 1.0 + 0.1 * seed})
    return pd.DataFrame(rows)


AB = [Task("a", nn.functional.cross_entropy, {"acc": mtl_ref.metrics.Accuracy()}),
      Task("b", nn.functional.mse_loss, {"mse": mtl_ref.metrics.MSE()})]


def test_delta_m_table_pairs_by_seed_with_an_interval():
    table = mtl_ref.delta_m_table(grid(), AB, by="method", baseline="single-task")
    assert table["method"].tolist() == ["equal", "mgda"]
    equal, mgda = table.iloc[0], table.iloc[1]
    assert equal["delta_m"] == pytest.approx(10.0) and equal["std"] == pytest.approx(0.0, abs=1e-12)
    assert equal["low"] == pytest.approx(10.0) and equal["high"] == pytest.approx(10.0)  # same Δm for every seed
    assert mgda["delta_m"] == pytest.approx(-5.0)  # per seed: 0, −5, −10
    assert mgda["low"] < -5.0 < mgda["high"] and mgda["n"] == 3


def test_delta_m_table_with_baselines_per_seed_and_a_missing_seed():
    runs = grid()[lambda d: d.method != "single-task"]
    baseline = {s: {"a": {"acc": 0.60 + 0.01 * s}, "b": {"mse": 1.0}} for s in range(3)}
    table = mtl_ref.delta_m_table(runs, AB, by=["method"], baseline=baseline)
    assert table["delta_m"].tolist() == pytest.approx([10.0, -5.0])
    with pytest.raises(KeyError, match=r"seed 2 has no baseline run \(baseline seeds: \[0, 1\]\)"):
        mtl_ref.delta_m_table(runs, AB, by="method", baseline={s: baseline[s] for s in (0, 1)})


def test_nested_scores_from_a_grid_row_inverts_flat_scores():
    scores = {"a": {"acc": 0.5}, "b": {"mse": 2.0}}
    assert flat_scores(scores) == {"a/acc": 0.5, "b/mse": 2.0}
    row = pd.Series({"method": "equal", "seed": 0, **flat_scores(scores)})
    assert nested_scores(row, AB) == scores
    with pytest.raises(KeyError, match=r"task 'b': no column 'b/mse' in the row"):
        nested_scores({"a/acc": 0.5}, AB)


def test_history_saves_and_reloads_with_its_weight_trace(tmp_path):
    train, val, test = splits()
    torch.manual_seed(0)
    history = fit(model(list(OUTPUTS)), TASKS, train, val=val, test=test, method="upgrad", restore_best=True,
                  **OPTIONS)
    path = history.save(tmp_path / "runs" / "upgrad.json")
    again = History.load(path)
    assert again.to_dict() == json.loads(json.dumps(history.to_dict()))
    np.testing.assert_array_equal(again.weight_trace(), history.weight_trace())
    assert again.weight_trace().shape == (9, 3) and again.best_epoch == history.best_epoch
    assert (path.stat().st_mode & 0o777) == 0o644
    assert History.from_dict(history.to_dict()).metric("kind", "acc").tolist() == history.metric("kind", "acc").tolist()


def test_an_empty_history_round_trips():
    assert History.from_dict(History(["a"]).to_dict()).weight_trace().shape == (0, 1)
