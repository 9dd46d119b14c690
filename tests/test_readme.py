"""The README's quick-start and own-loop examples run as written (at the smoke profile), so they cannot rot."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def block_after(heading: str) -> str:
    """The first fenced Python block after ``heading`` in README.md."""
    text = (ROOT / "README.md").read_text()
    start = text.index(heading)
    match = re.search(r"```python\n(.*?)```", text[start:], re.S)
    assert match, f"no python block after {heading!r}"
    return match.group(1)


def run(code: str, tmp_path: Path) -> str:
    script = tmp_path / "example.py"
    script.write_text(code)
    env = {**os.environ, "MTL_PROFILE": "smoke", "MPLBACKEND": "Agg", "TQDM_DISABLE": "1", "MTL_DEVICE": "cpu",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("MTL_RESULTS_DIR", None)
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_quick_start_runs_and_fits_in_forty_lines(tmp_path):
    code = block_after("## Quick start")
    assert len(code.splitlines()) <= 40
    for shown in ("Task.regression", "Task.classification", "Task.binary", "MultiTaskData.from_arrays",
                  "HardSharing", "fit(", "method=", "run_grid", "delta_m_table", "bar_errors"):
        assert shown in code, shown
    out = run(code, tmp_path)
    assert "run_grid: 0 runs loaded, 15 computed (no results directory: nothing kept)" in out
    table = out[out.index("method  delta_m"):]
    for method in ("equal", "uncertainty", "upgrad", "mgda"):
        assert re.search(rf"\b{method}\s+-?\d", table), method


@pytest.mark.parametrize("heading", ["### Your own training loop"])
def test_own_loop_example_runs(tmp_path, heading):
    out = run(block_after(heading), tmp_path)
    assert re.fullmatch(r"\[[-0-9., e]+\]\n", out)
