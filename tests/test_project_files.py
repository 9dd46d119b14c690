"""The environment descriptions and the chapters' Colab cells stay consistent with their single sources."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    return re.split(r"[<>=!\[ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_lists_the_same_requirements_as_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in ("book", "test"):
        declared += project["optional-dependencies"][extra]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {_name(r): r.replace(" ", "") for r in pip_section if not r.startswith("-e")}
    for requirement in declared:
        name = _name(requirement)
        assert name in listed, f"{name} is in pyproject.toml but not in environment.yml"
        if name != "torch":
            assert listed[name] == requirement.replace(" ", ""), f"{name}: {listed[name]} vs {requirement}"
    assert set(listed) == {_name(r) for r in declared}, "environment.yml lists packages pyproject.toml does not"


def test_torch_pin_is_the_same_in_makefile_and_environment_yml() -> None:
    makefile = (ROOT / "Makefile").read_text()
    pin = re.search(r"^TORCH_PIN \?= (\S+)$", makefile, flags=re.M).group(1)
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pin in pip_section


def test_every_chapter_starts_with_the_colab_install_cell() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "colab_cell.py")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_chapter_is_in_the_table_of_contents_and_committed_without_outputs() -> None:
    toc = (ROOT / "_toc.yml").read_text()
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        assert f"book/{path.stem}" in toc, f"{path.name} is not in _toc.yml"
        nb = json.loads(path.read_text())
        with_outputs = [c for c in nb["cells"] if c["cell_type"] == "code" and (c["outputs"] or c["execution_count"])]
        assert not with_outputs, f"{path.name}: {len(with_outputs)} code cells carry outputs"


def test_every_module_is_in_the_api_reference() -> None:
    documented = set()
    for page in (ROOT / "book" / "api").glob("*.md"):
        documented |= set(re.findall(r"^\.\. automodule:: (\S+)$", page.read_text(), flags=re.M))
    modules = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
               for p in (ROOT / "mtl_ref").rglob("*.py") if not p.name.startswith("_") or p.name == "__init__.py"}
    assert modules - documented == set(), f"modules missing from book/api/: {sorted(modules - documented)}"
    assert documented - modules == set(), f"book/api/ documents modules that do not exist: {sorted(documented - modules)}"


def test_each_chapter_says_what_it_costs_and_only_gpu_chapters_ask_for_one() -> None:
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        headers = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"
                   and "".join(c["source"]).startswith("```{admonition} Running this chapter")]
        assert len(headers) == 1, f"{path.name}: one 'Running this chapter' note at the top"
        needs_gpu = "only makes sense on a GPU" in headers[0]
        assert (nb["metadata"].get("accelerator") == "GPU") == needs_gpu, \
            f"{path.name}: Colab's GPU metadata must match what the chapter says about needing a GPU"


def test_each_chapter_lists_the_numbers_its_text_quotes_for_colab_readers() -> None:
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
        listing = [c for c in cells if "glued_numbers()" in "".join(c["source"])]
        assert len(listing) == 1 and listing[0] is cells[-2], \
            f"{path.name}: the cell before the claims lists the glued numbers (glued_numbers())"
        assert "remove-cell" in listing[0]["metadata"].get("tags", []), f"{path.name}: that cell is hidden in the book"
