"""`make book`, the README's main command, on a small book of its own: notebooks executed by
jupyter-book itself (not the stored outputs `make test` builds from).

- a notebook that runs builds, and its progress bar is shown as one final line, as in the stored
  notebooks (`make refresh`);
- a notebook whose cell raises, or runs past the cell time limit, makes `make book` exit non-zero
  and name the notebook, instead of building a page with a traceback.
"""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "book"

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("make") is None, reason="needs make")]


def make_book(tmp_path: Path, chapters: list[str], timeout_s: int = 60) -> subprocess.CompletedProcess:
    book = tmp_path / "book"
    book.mkdir()
    shutil.copytree(ROOT / "book" / "_ext", book / "_ext", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "book" / "references.bib", book)
    (book / "index.md").write_text("# A small book\n\nIt tests `make book`.\n")
    for name in chapters:
        shutil.copy(FIXTURES / f"{name}.ipynb", book)
    config = (ROOT / "_config.yml").read_text()
    config, n = re.subn(r"(?m)^(\s*timeout:)\s*\d+", rf"\1 {timeout_s}", config)
    assert n == 1, "the book's _config.yml must set one execution timeout"
    (tmp_path / "_config.yml").write_text(config)
    toc = "format: jb-book\nroot: book/index\nchapters:\n" + "".join(f"  - file: book/{c}\n" for c in chapters)
    (tmp_path / "_toc.yml").write_text(toc)
    env = {k: v for k, v in os.environ.items() if k != "MAKEFLAGS"}
    return subprocess.run(["make", "-s", "book", f"BOOK_ROOT={tmp_path}"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)


def test_a_running_notebook_builds_with_one_progress_line(tmp_path):
    done = make_book(tmp_path, ["runs"])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    html = (tmp_path / "_build" / "html" / "book" / "runs.html").read_text()
    assert "trained" in html
    bars = re.findall(r"steps\s*:\s*\d+%\|", html)
    assert len(bars) == 1, f"expected the bar's final line only, found {len(bars)}: {bars}"
    assert "100%|" in html


@pytest.mark.parametrize("chapter,why", [("raises", "RuntimeError"), ("hangs", "Timeout")])
def test_a_failing_notebook_fails_the_build_and_is_named(tmp_path, chapter, why):
    done = make_book(tmp_path, ["runs", chapter], timeout_s=15)
    out = done.stdout + done.stderr
    assert done.returncode != 0, out[-3000:]
    assert f"book/{chapter}" in out and "the book did not build" in out
    assert why in out
