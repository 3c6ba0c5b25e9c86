"""The browser checks fail on a site that breaks each of them (so a green run means something).

A small site is written with one fault per page: a script that throws, an image that is missing,
TeX left untypeset, a solution shown unfolded, a link to a missing anchor. The page checks of
test_book_pages.py are run on it in a subprocess and each fault must be reported.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>{name}</title></head>
<body><main>{body}</main></body></html>"""

FAULTS = {
    "throws.html": "<p>text</p><script>undefinedFunction();</script>",
    "image.html": '<p>a figure</p><img src="_images/missing.png">',
    "tex.html": '<p>The loss is \\(x^2\\) here.</p><span class="math">\\(x\\)</span>',
    "solution.html": '<div class="solution dropdown admonition" id="s1"><p class="admonition-title">Solution</p>'
                     "<p>the answer, visible</p></div>",
    "links.html": '<p><a href="index.html#nowhere">a link</a> and <a href="gone.html">another</a></p>',
}


@pytest.fixture
def broken_site(tmp_path):
    (tmp_path / "index.html").write_text(PAGE.format(name="index", body='<p id="here">home</p>'))
    (tmp_path / "search.html").write_text(PAGE.format(name="search", body="<div id='search-results'></div>"))
    (tmp_path / "genindex.html").write_text(PAGE.format(name="genindex", body="<p>index</p>"))
    for name, body in FAULTS.items():
        (tmp_path / name).write_text(PAGE.format(name=name, body=body))
    return tmp_path


def test_every_fault_is_reported(broken_site):
    env = {**os.environ, "RAGMTL_HTML": str(broken_site)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(HERE / "test_book_pages.py"),
                           "-k", "not search"], env=env, capture_output=True, text=True, timeout=300)
    out = done.stdout
    assert done.returncode == 1, out[-3000:]
    assert "5 failed, 2 passed" in out, out[-1500:]  # index.html and links.html render cleanly
    expected = {
        "throws.html": "JavaScript console errors",
        "image.html": "images that did not load",
        "tex.html": "TeX left untypeset",
        "solution.html": "solutions shown before the reader opens them",
    }
    for page, message in expected.items():
        assert f"test_page_renders[{page}]" in out and message in out, f"{page}: {message!r} not reported\n{out[-4000:]}"
    assert "index.html#nowhere (no anchor)" in out and "gone.html (no file)" in out
