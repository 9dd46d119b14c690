"""``import mtl_ref`` stays light: scikit-learn, pandas and SciPy are imported only when a part that needs them is."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_after(code: str) -> set[str]:
    """The top-level modules among scikit-learn, pandas, SciPy and matplotlib that ``code`` leaves imported."""
    script = (f"import sys\n{code}\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}} & "
              f"{{'sklearn', 'pandas', 'scipy', 'matplotlib'}})))")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_import_mtl_ref_does_not_import_scikit_learn_pandas_or_scipy():
    assert imported_after("import mtl_ref; import mtl_ref.data; import mtl_ref.weighting") == set()


def test_lazy_names_resolve_on_first_use():
    assert "pandas" in imported_after("import mtl_ref; mtl_ref.run_grid")
    assert "sklearn" in imported_after("from mtl_ref.data.multidigits import source_digits; source_digits()")
