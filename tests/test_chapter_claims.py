"""Every chapter's claims are on record and say the same thing at every profile (see the preface, *Checked claims*)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
CLAIM_CALLS = {"check", "better", "no_better", "within"}


def _code(path: Path) -> list[ast.Module]:
    cells = []
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        # IPython magics become `pass`, keeping their indentation, so that the cell parses as Python.
        source = "\n".join(line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!"))
                           else line for line in "".join(cell["source"]).splitlines())
        cells.append(ast.parse(source))
    return cells


def _claim_calls(node: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
            and n.func.attr in CLAIM_CALLS and ast.unparse(n.func.value) == "claims"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_records_its_claims_under_its_own_name(path: Path) -> None:
    cells = _code(path)
    constructors = [n for c in cells for n in ast.walk(c) if isinstance(n, ast.Call)
                    and ast.unparse(n.func).endswith("Claims")]
    assert len(constructors) == 1, f"{path.name}: one Claims(...) per chapter"
    chapter = {k.arg: k.value for k in constructors[0].keywords}.get("chapter")
    assert isinstance(chapter, ast.Constant) and chapter.value == path.stem, \
        f"{path.name}: Claims(..., chapter={path.stem!r}) names the record after the chapter"
    assert "claims.verify()" in ast.unparse(cells[-1]), f"{path.name}: the last cell calls claims.verify()"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_claim_depends_on_the_profile(path: Path) -> None:
    for cell in _code(path):
        for node in ast.walk(cell):
            if isinstance(node, (ast.If, ast.IfExp)) and "profile" in ast.unparse(node.test):
                assert not _claim_calls(node), \
                    f"{path.name}: a claim inside `if {ast.unparse(node.test)}` — a claim must read the same at every profile"
            if isinstance(node, ast.Call) and node in _claim_calls(cell):
                for arg in [*node.args, *(k.value for k in node.keywords)]:
                    if "profile" in ast.unparse(arg) and "profile.pick" not in ast.unparse(arg):
                        pytest.fail(f"{path.name}: claim argument depends on the profile: {ast.unparse(arg)}")
