"""The status page's tables: what each chapter's claims were in this build, and the recorded ``full`` runs.

Every executed chapter writes a JSON record (:meth:`mtl_ref.Claims.verify`) to ``$MTL_RECORDS_DIR``; the runs at
``full`` worth keeping are copied to ``book/records/full/``. Two directives place the tables:

* ``{build-records}`` — one row per chapter of this build (profile, device, torch, wall time, claims held) and one
  row per claim with its evidence;
* ``{full-runs}`` — one row per recorded ``full`` run, and the chapters that have none yet.

The directives leave a placeholder that is filled in when the page is written, after every chapter has run, and
the status page is rewritten on every build.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

STATUS_DOC = "book/status"
FULL_DIR = Path("book") / "records" / "full"


class records_placeholder(nodes.General, nodes.Element):
    """Replaced by a table once every chapter has been executed."""


class BuildRecords(SphinxDirective):
    def run(self) -> list[nodes.Node]:
        return [records_placeholder(kind="build")]


class FullRuns(SphinxDirective):
    def run(self) -> list[nodes.Node]:
        return [records_placeholder(kind="full")]


def _table(headers: list[str], rows: list[list[str]], widths: list[int]) -> nodes.table:
    table = nodes.table(classes=["records-table"])
    group = nodes.tgroup(cols=len(headers))
    table += group
    group += [nodes.colspec(colwidth=w) for w in widths]
    head, body = nodes.thead(), nodes.tbody()
    for parent, cells_of_rows in ((head, [headers]), (body, rows)):
        for cells in cells_of_rows:
            row = nodes.row()
            row += [nodes.entry("", nodes.paragraph(text=str(c))) for c in cells]
            parent += row
    group += [head, body]
    return table


def _chapters(app: Sphinx) -> list[str]:
    """The executed chapters (notebooks), as ``book/<name>``, in the order of the table of contents."""
    order: list[str] = []

    def walk(doc: str) -> None:
        for child in app.env.toctree_includes.get(doc, []):
            if child not in order:
                order.append(child)
                walk(child)

    walk(app.config.root_doc)
    return [d for d in order if Path(app.env.doc2path(d)).suffix == ".ipynb"]


def _load(directory: Path) -> dict[str, dict]:
    records = {}
    if directory.is_dir():
        for path in sorted(directory.glob("*.json")):
            record = json.loads(path.read_text())
            records[record.get("chapter") or path.stem] = record
    return records


def _held(record: dict) -> str:
    claims = record.get("claims", [])
    held = sum(c["holds"] for c in claims)
    enforced = "enforced" if record.get("enforced") else "shown, not enforced"
    return f"{held} of {len(claims)} ({enforced})"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def _build_tables(app: Sphinx) -> list[nodes.Node]:
    directory = os.environ.get("MTL_RECORDS_DIR")
    records = _load(Path(directory)) if directory else {}
    chapters = [c.removeprefix("book/") for c in _chapters(app)]
    executed = [c for c in chapters if c in records]
    if not executed:
        return [nodes.paragraph(text="No chapter left a record in this build (records are written when "
                                     "MTL_RECORDS_DIR is set, as `make book` and `make test` do).")]
    summary = [[c, r["profile"], r.get("device_name") or r["device"], r["torch"], _minutes(r["wall_seconds"]),
                _held(r)] for c in executed for r in [records[c]]]
    missing = [c for c in chapters if c not in records]
    claims = [[c, cl["statement"], "yes" if cl["holds"] else "NO", cl["evidence"]]
              for c in executed for cl in records[c]["claims"]]
    out: list[nodes.Node] = [_table(["chapter", "profile", "device", "torch", "wall time", "claims held"], summary,
                                    [18, 8, 22, 12, 10, 20])]
    if missing:
        out.append(nodes.paragraph(text="No record in this build: " + ", ".join(missing) + "."))
    out.append(_table(["chapter", "claim", "holds", "evidence"], claims, [14, 46, 6, 34]))
    return out


def _full_tables(app: Sphinx) -> list[nodes.Node]:
    records = {c: r for c, r in _load(Path(app.confdir) / FULL_DIR).items() if r.get("profile") == "full"}
    chapters = [c.removeprefix("book/") for c in _chapters(app)]
    rows = [[c, r["finished"][:10], r.get("device_name") or r["device"], r["torch"], _minutes(r["wall_seconds"]),
             _held(r)] for c in chapters if c in records for r in [records[c]]]
    unverified = [c for c in chapters if c not in records]
    out: list[nodes.Node] = []
    if rows:
        out.append(_table(["chapter", "date", "device", "torch", "wall time", "claims held"], rows,
                          [18, 10, 22, 12, 10, 20]))
    out.append(nodes.paragraph(text=("Not yet verified at full: " + ", ".join(unverified) + ".") if unverified
                               else "Every chapter has a recorded full run."))
    return out


def _fill(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    for node in list(doctree.findall(records_placeholder)):
        node.replace_self(_build_tables(app) if node["kind"] == "build" else _full_tables(app))


def _always_rewrite(app: Sphinx, env, added, changed, removed) -> list[str]:
    return [STATUS_DOC] if STATUS_DOC in env.found_docs else []


def setup(app: Sphinx) -> dict:
    app.add_node(records_placeholder)
    app.add_directive("build-records", BuildRecords)
    app.add_directive("full-runs", FullRuns)
    app.connect("doctree-resolved", _fill)
    app.connect("env-get-outdated", _always_rewrite)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
