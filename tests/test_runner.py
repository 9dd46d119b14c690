"""run_grid: one row per run, per-run JSON files, skipping and resuming, atomic writes; results_dir."""

import json
from pathlib import Path

import pandas as pd
import pytest

from mtl_ref import results_dir, run_grid
from mtl_ref.runner import config_key, fingerprint, write_json_atomic

CONFIGS = [{"name": "equal", "lr": 0.1}, {"name": "static", "lr": 0.01}]
SEEDS = [0, 1, 2]


class Experiment:
    """Counts its calls; optionally raises on the ``fail_on``-th call (1-based)."""

    def __init__(self, fail_on: int | None = None):
        self.calls: list[tuple[str, int]] = []
        self.fail_on = fail_on

    def __call__(self, config, seed):
        self.calls.append((config["name"], seed))
        if len(self.calls) == self.fail_on:
            raise KeyboardInterrupt("session cut off")
        return {"score": config["lr"] * 100 + seed, "curve": [seed, seed + 1]}


def leftovers(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file() and p.suffix != ".json"]


def test_one_row_per_config_and_seed():
    exp = Experiment()
    df = run_grid(exp, CONFIGS, SEEDS, progress=False)
    assert isinstance(df, pd.DataFrame) and len(df) == 6
    assert list(df.columns) == ["name", "lr", "seed", "score", "curve"]
    assert exp.calls == [("equal", 0), ("equal", 1), ("equal", 2), ("static", 0), ("static", 1), ("static", 2)]
    assert df["score"].tolist() == pytest.approx([10, 11, 12, 1, 2, 3])
    assert df.loc[4, "curve"] == [1, 2]


def test_writes_one_json_per_run_and_skips_finished_runs(tmp_path):
    exp = Experiment()
    first = run_grid(exp, CONFIGS, SEEDS, directory=tmp_path, progress=False)
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.json"))
    assert files == [f"{name}/seed{s}.json" for name in ("equal", "static") for s in SEEDS]
    saved = json.loads((tmp_path / "static" / "seed1.json").read_text())
    assert saved == {"config": {"name": "static", "lr": 0.01}, "seed": 1, "source_sha256": fingerprint(exp, {})["source_sha256"],
                     "result": {"score": 2.0, "curve": [1, 2]}}
    assert leftovers(tmp_path) == []

    again = Experiment()
    second = run_grid(again, CONFIGS, SEEDS, directory=str(tmp_path), progress=False)
    assert again.calls == []
    pd.testing.assert_frame_equal(first, second)

    more = Experiment()
    run_grid(more, CONFIGS, [*SEEDS, 3], directory=tmp_path, progress=False)
    assert more.calls == [("equal", 3), ("static", 3)]


def test_a_saved_run_with_other_settings_under_the_same_name_is_recomputed(tmp_path):
    run_grid(Experiment(), CONFIGS, [0], directory=tmp_path, progress=False)
    changed = [{"name": "equal", "lr": 0.5}, CONFIGS[1]]
    exp = Experiment()
    df = run_grid(exp, changed, [0], directory=tmp_path, progress=False)
    assert exp.calls == [("equal", 0)]
    assert df["score"].tolist() == pytest.approx([50, 1])
    assert json.loads((tmp_path / "equal" / "seed0.json").read_text())["config"] == changed[0]


def test_resumes_after_an_interruption(tmp_path):
    broken = Experiment(fail_on=3)
    with pytest.raises(KeyboardInterrupt):
        run_grid(broken, CONFIGS, SEEDS, directory=tmp_path, progress=False)
    assert sorted(p.name for p in tmp_path.rglob("*.json")) == ["seed0.json", "seed1.json"]
    assert leftovers(tmp_path) == []

    resumed = Experiment()
    df = run_grid(resumed, CONFIGS, SEEDS, directory=tmp_path, progress=False)
    assert resumed.calls == [("equal", 2), ("static", 0), ("static", 1), ("static", 2)]
    pd.testing.assert_frame_equal(df, run_grid(Experiment(), CONFIGS, SEEDS, progress=False))


def test_a_result_json_cannot_hold_leaves_no_file(tmp_path):
    with pytest.raises(TypeError):
        run_grid(lambda c, s: {"model": object()}, [{"name": "a"}], [0], directory=tmp_path, progress=False)
    assert list(tmp_path.rglob("*.json")) == [] and leftovers(tmp_path) == []


def test_interrupted_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "run" / "seed0.json"
    write_json_atomic(target, {"result": {"score": 1}})
    with pytest.raises(TypeError):
        write_json_atomic(target, {"result": {"score": 2, "extra": object()}})
    assert json.loads(target.read_text()) == {"result": {"score": 1}}
    assert [p.name for p in target.parent.iterdir()] == ["seed0.json"]


def test_interrupted_write_leaves_no_new_file(tmp_path):
    target = tmp_path / "new" / "seed0.json"
    with pytest.raises(TypeError):
        write_json_atomic(target, {"bad": {1, 2}})
    assert not target.exists() and list(target.parent.iterdir()) == []


def test_write_json_atomic_replaces(tmp_path):
    target = tmp_path / "a" / "b" / "x.json"
    write_json_atomic(target, {"v": 1})
    write_json_atomic(target, {"v": [2, 3]})
    assert json.loads(target.read_text()) == {"v": [2, 3]}
    assert list(target.parent.iterdir()) == [target]


def test_duplicate_keys_raise():
    with pytest.raises(ValueError, match=r"configurations must have distinct keys, got \['a', 'a'\]"):
        run_grid(Experiment(), [{"name": "a", "lr": 1}, {"name": "a", "lr": 2}], [0], progress=False)
    with pytest.raises(ValueError, match="distinct keys"):
        run_grid(Experiment(), [{"m": "x/y"}, {"m": "x-y"}], [0], progress=False)  # same file name


def test_config_key():
    assert config_key({"name": "cagrad c=0.5"}) == "cagrad-c=0.5"
    assert config_key({"method": "a/b", "lr": 0.1}) == "lr=0.1_method=a-b"
    assert config_key({}) == ""


def test_results_dir_without_the_variable(monkeypatch):
    monkeypatch.delenv("MTL_RESULTS_DIR", raising=False)
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    assert results_dir("ch03") is None


def test_results_dir_with_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("MTL_RESULTS_DIR", str(tmp_path))
    monkeypatch.setenv("MTL_PROFILE", "smoke")
    assert results_dir("ch03") == tmp_path / "smoke" / "ch03"
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab")
    monkeypatch.setenv("MTL_PROFILE", "full")
    assert results_dir("ch03") == tmp_path / "full" / "ch03"  # the variable wins on Colab too


def test_results_dir_on_colab(monkeypatch):
    monkeypatch.delenv("MTL_RESULTS_DIR", raising=False)
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab")
    monkeypatch.setenv("MTL_PROFILE", "quick")
    assert results_dir("ch05") == Path("/content/mtl_results/quick/ch05")


def first_lr_experiment(config, seed):
    return {"score": config["lr"] * 100 + seed}


def second_lr_experiment(config, seed):
    lr = 0.5  # a module-level setting moved into the code: the source changed
    return {"score": lr * 100 + seed}


def test_every_call_says_what_it_loaded_and_computed_and_where(tmp_path, capsys):
    run_grid(Experiment(), CONFIGS, SEEDS, directory=tmp_path, progress=False)
    assert capsys.readouterr().out == f"run_grid: 0 runs loaded, 6 computed in {tmp_path}\n"
    run_grid(Experiment(), CONFIGS, [*SEEDS, 3], directory=tmp_path, progress=False)
    assert capsys.readouterr().out == f"run_grid: 6 runs loaded, 2 computed in {tmp_path}\n"
    run_grid(Experiment(), CONFIGS, [0], progress=False)
    assert capsys.readouterr().out == "run_grid: 0 runs loaded, 2 computed (no results directory: nothing kept)\n"


def test_a_changed_experiment_source_is_recomputed_and_said(tmp_path, capsys):
    """The fingerprint holds the experiment's source: other code under the same directory is recomputed."""
    configs = [{"name": "a", "lr": 0.1}]
    first = run_grid(first_lr_experiment, configs, [0, 1], directory=tmp_path, progress=False)
    capsys.readouterr()
    second = run_grid(second_lr_experiment, configs, [0, 1], directory=tmp_path, progress=False)
    assert second["score"].tolist() == [50, 51] != first["score"].tolist()
    out = capsys.readouterr().out
    assert out == (f"run_grid: 0 runs loaded, 2 computed in {tmp_path}; recomputed 2 whose fingerprint changed: "
                   f"a/seed0.json (experiment's source code), a/seed1.json (experiment's source code)\n")
    run_grid(second_lr_experiment, configs, [0, 1], directory=tmp_path, progress=False)
    assert capsys.readouterr().out == f"run_grid: 2 runs loaded, 0 computed in {tmp_path}\n"


def test_a_changed_configuration_is_named(tmp_path, capsys):
    run_grid(first_lr_experiment, [{"name": "a", "lr": 0.1}], [0], directory=tmp_path, progress=False)
    run_grid(first_lr_experiment, [{"name": "a", "lr": 0.2}], [0], directory=tmp_path, progress=False)
    assert capsys.readouterr().out.splitlines()[-1].endswith("recomputed 1 whose fingerprint changed: "
                                                             "a/seed0.json (configuration)")


def test_what_the_fingerprint_cannot_see_is_documented():
    doc = run_grid.__doc__ + __import__("mtl_ref.runner").runner.__doc__
    for blind_spot in ("functions the experiment calls", "module-level settings", "data files"):
        assert blind_spot in " ".join(doc.split())


def test_a_partial_and_a_callable_object_have_fingerprints():
    import functools

    a = fingerprint(functools.partial(first_lr_experiment), {"lr": 1})["source_sha256"]
    b = fingerprint(functools.partial(second_lr_experiment), {"lr": 1})["source_sha256"]
    assert a != b and fingerprint(Experiment(), {})["source_sha256"] == fingerprint(Experiment(2), {})["source_sha256"]
    assert fingerprint(eval("lambda c, s: {}"), {})["source_sha256"]  # no source file: the bytecode stands in


@pytest.mark.parametrize("content", ["", '{"config": {"name": "equal", "lr"', "[1, 2]", '{"config": {}}'])
def test_a_truncated_or_corrupt_file_is_named_and_recomputed(tmp_path, capsys, content):
    run_grid(Experiment(), CONFIGS, [0], directory=tmp_path, progress=False)
    broken = tmp_path / "equal" / "seed0.json"
    broken.write_text(content)
    capsys.readouterr()
    exp = Experiment()
    df = run_grid(exp, CONFIGS, [0], directory=tmp_path, progress=False)
    assert exp.calls == [("equal", 0)] and df["score"].tolist() == pytest.approx([10, 1])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"run_grid: {broken} is corrupt (") and lines[0].endswith("); recomputing it")
    assert lines[1] == f"run_grid: 1 runs loaded, 1 computed in {tmp_path}; recomputed 1 corrupt file(s)"
    assert json.loads(broken.read_text())["result"]["score"] == 10


def test_result_files_are_readable_by_everyone(tmp_path):
    run_grid(Experiment(), CONFIGS[:1], [0], directory=tmp_path, progress=False)
    assert ((tmp_path / "equal" / "seed0.json").stat().st_mode & 0o777) == 0o644
