"""Keep the first cell of every chapter in line with the repository URL in ``_config.yml``.

The URL lives in one place, ``repository.url`` in ``_config.yml``. On Colab, a chapter's first cell installs
``mtl_ref`` from that repository; everywhere else it does nothing. ``--check`` (used by the tests) reports
chapters whose first cell differs from the canonical one; ``--write`` rewrites them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
MARKER = "# Colab: install mtl_ref"


def repository_url(root: Path = ROOT) -> str:
    config = yaml.safe_load((root / "_config.yml").read_text())
    return config["repository"]["url"].rstrip("/")


def canonical_source(root: Path = ROOT) -> str:
    url = repository_url(root)
    return (
        f"{MARKER} from the book's repository (elsewhere this cell does nothing).\n"
        "import sys\n"
        "\n"
        "if \"google.colab\" in sys.modules:\n"
        f"    %pip install --quiet \"mtl-ref @ git+{url}\""
    )


def chapters(root: Path = ROOT) -> list[Path]:
    return sorted(p for p in (root / "book").glob("*.ipynb"))


def first_code_cell(nb: dict) -> dict | None:
    return next((c for c in nb["cells"] if c["cell_type"] == "code"), None)


def mismatches(root: Path = ROOT) -> list[Path]:
    want = canonical_source(root)
    bad = []
    for path in chapters(root):
        cell = first_code_cell(json.loads(path.read_text()))
        if cell is None or "".join(cell["source"]) != want:
            bad.append(path)
    return bad


def write(root: Path = ROOT) -> None:
    want = canonical_source(root)
    for path in mismatches(root):
        nb = json.loads(path.read_text())
        cell = first_code_cell(nb)
        if cell is not None and "".join(cell["source"]).startswith(MARKER):
            cell["source"] = want.splitlines(keepends=True)
        else:
            new = {"cell_type": "code", "execution_count": None, "id": "colab-install",
                   "metadata": {"tags": ["remove-cell"]}, "outputs": [], "source": want.splitlines(keepends=True)}
            nb["cells"].insert(0, new)
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        print(f"updated {path.relative_to(root)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite chapters whose first cell differs")
    args = parser.parse_args()
    if args.write:
        write()
        return 0
    bad = mismatches()
    for path in bad:
        print(f"{path.relative_to(ROOT)}: first code cell is not the Colab install cell (run `make colab-cells`)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
