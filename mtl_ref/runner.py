"""Multi-seed experiments that survive interruption.

:func:`run_grid` calls ``experiment(config, seed)`` for every configuration and seed and collects the returned
numbers into one table. With a results directory, each (config, seed) result is written to its own JSON file as
soon as it finishes, through a temporary file and an atomic rename, so a crash never leaves half a file; re-running
the same grid skips what is already there. This is what lets a Colab session that was cut off resume.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .profiles import current_profile
from .progress import progress_bar

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


def write_json_atomic(path: Path, payload: Mapping[str, Any]) -> None:
    """Write ``payload`` to ``path`` so that readers see either the old file or the complete new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def config_key(config: Mapping[str, Any]) -> str:
    """A file-name-safe key for a configuration: its ``name`` if it has one, else its sorted items."""
    if "name" in config:
        key = str(config["name"])
    else:
        key = "_".join(f"{k}={config[k]}" for k in sorted(config))
    return "".join(c if c.isalnum() or c in "-_.=" else "-" for c in key)


def _saved_result(path: Path | None, config: Mapping[str, Any]) -> dict[str, Any] | None:
    """The result kept at ``path`` if it was computed for this very ``config`` (compared as JSON), else None."""
    if path is None or not path.exists():
        return None
    saved = json.loads(path.read_text())
    if saved.get("config") != json.loads(json.dumps(dict(config))):
        return None
    return saved["result"]


def run_grid(experiment: Experiment, configs: Sequence[Mapping[str, Any]], seeds: Sequence[int],
             directory: Path | str | None = None, progress: bool = True) -> pd.DataFrame:
    """Run ``experiment`` on every (config, seed); return one row per run (config fields, ``seed``, results).

    Results must be JSON-serialisable (numbers, strings, lists, dicts). With ``directory``, finished runs are
    read back instead of recomputed, unless their saved configuration differs from the one asked for (a run saved
    under the same ``name`` with other settings is recomputed and overwritten). Changes to the experiment's code
    are not detected: clear the directory after editing it.
    """
    keys = [config_key(c) for c in configs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"configurations must have distinct keys, got {keys}")
    rows = []
    jobs = [(c, k, s) for c, k in zip(configs, keys) for s in seeds]
    for config, key, seed in progress_bar(jobs, enabled=progress, desc="runs"):
        path = Path(directory) / key / f"seed{seed}.json" if directory is not None else None
        result = _saved_result(path, config)
        if result is None:
            result = dict(experiment(config, seed))
            if path is not None:
                write_json_atomic(path, {"config": dict(config), "seed": seed, "result": result})
        rows.append({**config, "seed": seed, **result})
    return pd.DataFrame(rows)
