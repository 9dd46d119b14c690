"""Check the rendered book the way a reader sees it: every page loaded in headless Chromium.

For each HTML page of a built book the rendered DOM (after the page's scripts ran) is read back and checked:

* no raw MyST role or directive text leaks into the page (a literal ``{glue:text}``, ``{cite:p}``, ``{numref}`` …),
  which is what a missing glue value or a broken role looks like to a reader;
* no executed cell shows a traceback;
* every chapter (a page built from a notebook) shows at least one figure;
* the status page shows its tables of claims, with at least one row per executed chapter.

Usage: ``python tools/check_pages.py _build/html [--screenshots DIR]``. Exits non-zero listing every failure.
Needs a ``chromium`` (or ``chromium-browser``/``google-chrome``) executable; ``make pages`` installs Debian's.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

ROLE = re.compile(r"\{(glue(:text|:figure|:math)?|cite(:[pt])?|numref|ref|doc|eq|exercise|solution|literalinclude)\}")
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


class Page(HTMLParser):
    """The visible text of the main article, its images and tables, and whether it came from a notebook."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.images = 0
        self.tables: list[int] = []  # rows per table
        self.notebook = False
        self._skip = 0
        self._in_main = 0
        self._code = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = dict(attrs).get("class") or ""
        if tag in ("script", "style", "noscript"):
            self._skip += 1
        if tag in ("code", "pre"):  # code may show role syntax on purpose (a docstring, a MyST example)
            self._code += 1
        if tag == "main" or (tag == "article" and "bd-article" in classes):
            self._in_main += 1
        if "cell_output" in classes or "cell docutils container" in classes:
            self.notebook = True
        if not self._in_main:
            return
        src = dict(attrs).get("src") or ""
        if tag == "img" and ("_images/" in src or src.startswith("data:image")):  # a figure a cell produced
            self.images += 1
        if tag == "table":
            self.tables.append(0)
        if tag == "tr" and self.tables:
            self.tables[-1] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "noscript"):
            self._skip = max(0, self._skip - 1)
        if tag in ("code", "pre"):
            self._code = max(0, self._code - 1)
        if tag == "main":
            self._in_main = max(0, self._in_main - 1)

    def handle_data(self, data: str) -> None:
        if self._in_main and not self._skip and not self._code:
            self.text.append(data)


def browser() -> str:
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    sys.exit("no Chromium found: install Debian's `chromium` (make pages does)")


def render(exe: str, page: Path, screenshot: Path | None = None) -> str:
    args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000"]
    if screenshot is not None:
        subprocess.run([*args, f"--screenshot={screenshot}", "--window-size=1280,2000", page.as_uri()],
                       capture_output=True, timeout=120)
    result = subprocess.run([*args, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"{page}: chromium failed: {result.stderr[-500:]}")
    return result.stdout


def check(html_root: Path, screenshots: Path | None = None) -> list[str]:
    exe = browser()
    html_root = html_root.resolve()
    failures = []
    pages = sorted(p for p in html_root.rglob("*.html") if "_static" not in p.parts and p.name not in
                   ("genindex.html", "search.html", "py-modindex.html"))
    for path in pages:
        name = path.relative_to(html_root).as_posix()
        shot = screenshots / (name.replace("/", "_").removesuffix(".html") + ".png") if screenshots else None
        page = Page()
        page.feed(render(exe, path, shot))
        text = " ".join(page.text)
        if m := ROLE.search(text):
            failures.append(f"{name}: raw MyST text {m.group(0)!r} near “{text[max(0, m.start() - 60):m.end() + 60]}”")
        if "Traceback (most recent call last)" in text:
            failures.append(f"{name}: a cell output shows a traceback")
        if page.notebook and page.images == 0:
            failures.append(f"{name}: a chapter without any figure")
        if name.endswith("status.html"):
            claim_rows = sorted(page.tables, reverse=True)[:1]
            if not claim_rows or claim_rows[0] < 2:
                failures.append(f"{name}: no table of claims")
        print(f"{name}: {page.images} figures, {len(page.tables)} tables")
    return failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path, help="the built book's html folder, e.g. _build/html")
    parser.add_argument("--screenshots", type=Path, help="also save a PNG of every page here")
    args = parser.parse_args()
    if args.screenshots:
        args.screenshots.mkdir(parents=True, exist_ok=True)
    failures = check(args.html, args.screenshots)
    if failures:
        print("\n".join(["", f"{len(failures)} problem(s):", *failures]))
        sys.exit(1)
    print("every page passed")


if __name__ == "__main__":
    main()
