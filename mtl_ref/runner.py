"""Multi-seed experiments that survive interruption, and say what they reused.

:func:`run_grid` calls ``experiment(config, seed)`` for every configuration and seed and collects the returned
numbers into one table. With a results directory, each (config, seed) result is written to its own JSON file as
soon as it finishes, through a temporary file and an atomic rename, so a crash never leaves half a file; re-running
the same grid skips what is already there. This is what lets a Colab session that was cut off resume.

Each saved run records a **fingerprint** of what produced it: the configuration and a hash of the experiment
function's source code (:func:`fingerprint`). A saved run whose fingerprint differs from the current one is
recomputed, and ``run_grid`` says so. The fingerprint cannot see everything that shapes a result: the code of the
functions the experiment calls, module-level settings it reads (a global learning rate, ``EPOCHS = …``), data
files, package versions. Put such settings in the configuration, or clear the directory after changing them.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .files import write_json_atomic
from .profiles import current_profile
from .progress import progress_bar

__all__ = ["run_grid", "results_dir", "fingerprint", "config_key", "write_json_atomic"]

Experiment = Callable[[Mapping[str, Any], int], Mapping[str, Any]]
ENV_VAR = "MTL_RESULTS_DIR"


def results_dir(experiment: str) -> Path | None:
    """Where an experiment keeps its per-seed results: ``$MTL_RESULTS_DIR/<profile>/<experiment>``.

    Without ``MTL_RESULTS_DIR`` nothing is kept (results are recomputed each time), except on Colab, where results
    go to ``/content/mtl_results`` so that a restarted runtime resumes.
    """
    root = os.environ.get(ENV_VAR)
    if root is None and "COLAB_RELEASE_TAG" in os.environ:
        root = "/content/mtl_results"
    if root is None:
        return None
    return Path(root) / current_profile().name / experiment


def config_key(config: Mapping[str, Any]) -> str:
    """A file-name-safe key for a configuration: its ``name`` if it has one, else its sorted items."""
    if "name" in config:
        key = str(config["name"])
    else:
        key = "_".join(f"{k}={config[k]}" for k in sorted(config))
    return "".join(c if c.isalnum() or c in "-_.=" else "-" for c in key)


def experiment_source(experiment: Callable) -> str:
    """The source code of ``experiment`` as well as :mod:`inspect` can find it.

    A ``functools.partial`` gives its function's source plus its bound arguments; a callable object its class's
    source. Where no source exists (a function typed into a plain ``python`` prompt), the compiled code stands in.
    """
    func = getattr(experiment, "func", None)
    if func is not None:  # functools.partial
        return experiment_source(func) + repr((experiment.args, sorted(experiment.keywords.items())))
    target = experiment if inspect.isroutine(experiment) or inspect.isclass(experiment) else type(experiment)
    try:
        return inspect.getsource(target)
    except (OSError, TypeError):
        code = getattr(target, "__code__", None)
        if code is not None:
            return repr((code.co_code, code.co_consts, code.co_names))
        return getattr(target, "__qualname__", repr(target))


def fingerprint(experiment: Callable, config: Mapping[str, Any]) -> dict[str, Any]:
    """What a saved run must match to be reused: the configuration (as JSON) and the SHA-256 of the experiment's
    source (:func:`experiment_source`). See the module docstring for what it cannot see."""
    return _fingerprint(_source_sha256(experiment), config)


def _source_sha256(experiment: Callable) -> str:
    return hashlib.sha256(experiment_source(experiment).encode()).hexdigest()


def _fingerprint(source_sha256: str, config: Mapping[str, Any]) -> dict[str, Any]:
    return {"config": json.loads(json.dumps(dict(config))), "source_sha256": source_sha256}


class _Store:
    """The saved runs of one :func:`run_grid` call, and a count of what was loaded, computed and why."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.loaded = self.computed = 0
        self.changed: list[str] = []
        self.corrupt: list[str] = []

    def load(self, path: Path | None, expected: dict[str, Any]) -> dict[str, Any] | None:
        if path is None or not path.exists():
            return None
        try:
            saved = json.loads(path.read_text())
            found, result = {"config": saved["config"], "source_sha256": saved.get("source_sha256")}, saved["result"]
        except (ValueError, KeyError, TypeError) as error:  # JSONDecodeError is a ValueError
            print(f"run_grid: {path} is corrupt ({type(error).__name__}: {error}); recomputing it")
            self.corrupt.append(str(path))
            return None
        if found != expected:
            what = "configuration" if found["config"] != expected["config"] else "experiment's source code"
            self.changed.append(f"{path.parent.name}/{path.name} ({what})")
            return None
        self.loaded += 1
        return result

    def summary(self) -> str:
        where = f"in {self.directory}" if self.directory is not None else "(no results directory: nothing kept)"
        line = f"run_grid: {self.loaded} runs loaded, {self.computed} computed {where}"
        if self.changed:
            shown = ", ".join(self.changed[:3]) + (f" and {len(self.changed) - 3} more" if len(self.changed) > 3 else "")
            line += f"; recomputed {len(self.changed)} whose fingerprint changed: {shown}"
        if self.corrupt:
            line += f"; recomputed {len(self.corrupt)} corrupt file(s)"
        return line


def run_grid(experiment: Experiment, configs: Sequence[Mapping[str, Any]], seeds: Sequence[int],
             directory: Path | str | None = None, progress: bool = True) -> pd.DataFrame:
    """Run ``experiment`` on every (config, seed); return one row per run (config fields, ``seed``, results).

    Results must be JSON-serialisable (numbers, strings, lists, dicts). With ``directory``, finished runs are
    read back instead of recomputed, unless their :func:`fingerprint` (configuration and the experiment's source)
    differs from the current one: such runs, and result files that cannot be read (truncated, corrupt), are
    recomputed and overwritten. Every call prints one line saying how many runs it loaded and computed, and where.
    What the fingerprint cannot see (functions the experiment calls, module-level settings, data files) is listed
    in the module docstring: after changing those, clear the directory.
    """
    keys = [config_key(c) for c in configs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"configurations must have distinct keys, got {keys}")
    store = _Store(Path(directory) if directory is not None else None)
    rows = []
    jobs = [(c, k, s) for c, k in zip(configs, keys) for s in seeds]
    source = _source_sha256(experiment)
    for config, key, seed in progress_bar(jobs, enabled=progress, desc="runs"):
        path = store.directory / key / f"seed{seed}.json" if store.directory is not None else None
        expected = _fingerprint(source, config)
        result = store.load(path, expected)
        if result is None:
            result = dict(experiment(config, seed))
            store.computed += 1
            if path is not None:
                write_json_atomic(path, {"config": dict(config), "seed": seed,
                                         "source_sha256": expected["source_sha256"], "result": result})
        rows.append({**config, "seed": seed, **result})
    print(store.summary())
    return pd.DataFrame(rows)
