"""The built book as a reader sees it: every page of _build/html opened in headless Chromium.

Run after a build (`make browser`, part of `make test`, runs it after `make html-strict`). Needs
Debian's `chromium` and `chromium-driver` (`.ci/run` installs them); the pages are served from
127.0.0.1 and the browser is started with its background networking off, so nothing is fetched.

Per page: no JavaScript error in the console; every image loaded; MathJax typeset every formula
(no raw TeX delimiters left in the text, typeset output present where the page has maths);
exercise solutions folded until opened. Across the book: every internal link resolves to an
existing page and anchor; the search page finds a word that is in the book.
"""
from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML = Path(os.environ.get("RAGMTL_HTML", ROOT / "_build" / "html"))
CHROMIUM, CHROMEDRIVER = shutil.which("chromium") or "/usr/bin/chromium", shutil.which("chromedriver") or "/usr/bin/chromedriver"
# Console messages that are not page errors: the favicon a browser asks every site for.
IGNORED_CONSOLE = [r"favicon\.ico"]
SETTLE_S = 0.3  # seconds a loaded page is given for its console messages to arrive

if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    if os.environ.get("CI"):
        raise RuntimeError("the browser test needs Debian's chromium and chromium-driver "
                           "(apt-get install chromium chromium-driver); .ci/run installs them")
    pytest.skip("no chromium/chromedriver here (apt-get install chromium chromium-driver)", allow_module_level=True)
if not (HTML / "index.html").exists():
    raise RuntimeError(f"no built book at {HTML}: run `make html-strict` (or `make book`) first")

PAGES = sorted(p.relative_to(HTML).as_posix() for p in HTML.rglob("*.html")
               if not p.relative_to(HTML).parts[0].startswith("_") and p.name not in ("search.html", "genindex.html"))


@pytest.fixture(scope="module")
def site():
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(HTML))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,900",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


WAIT_FOR_MATHJAX = """
const done = arguments[arguments.length - 1];
const ready = (window.MathJax && MathJax.startup && MathJax.startup.promise) || Promise.resolve();
ready.then(() => done(true), (err) => done(String(err)));
"""

PAGE_REPORT = """
const text = (() => {
  const main = (document.querySelector('main') || document.body).cloneNode(true);
  main.querySelectorAll('pre, code, script, style, mjx-container, .highlight, textarea').forEach(e => e.remove());
  return main.innerText;
})();
return {
  images: [...document.images].map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0]),
  hasMath: document.querySelectorAll('.math, div.math, span.math').length,
  typeset: document.querySelectorAll('mjx-container').length,
  rawTex: (text.match(/\\\\\\(|\\\\\\)|\\\\\\[|\\\\\\]|\\$\\$|\\$\\\\[a-zA-Z]/g) || []).slice(0, 5),
  solutions: [...document.querySelectorAll('.solution')].map(s =>
    [s.id, [...s.children].filter(c => !c.classList.contains('admonition-title'))
                          .every(c => c.offsetHeight === 0 || getComputedStyle(c).display === 'none')]),
};
"""


def console_errors(driver) -> list[str]:
    out = []
    for entry in driver.get_log("browser"):
        if entry["level"] == "SEVERE" and not any(re.search(p, entry["message"]) for p in IGNORED_CONSOLE):
            out.append(entry["message"])
    return out


@pytest.mark.parametrize("page", PAGES)
def test_page_renders(browser, site, page):
    console_errors(browser)  # drop what earlier pages logged
    browser.get(f"{site}/{page}")
    assert browser.execute_async_script(WAIT_FOR_MATHJAX) is True, "MathJax failed to start"
    report = browser.execute_script(PAGE_REPORT)
    time.sleep(SETTLE_S)  # let this page's last console messages (a failed image) reach the log
    errors = console_errors(browser)
    assert not errors, f"{page}: JavaScript console errors: {errors}"
    broken = [src for src, ok in report["images"] if not ok]
    assert not broken, f"{page}: images that did not load: {broken}"
    assert not report["rawTex"], f"{page}: TeX left untypeset in the text: {report['rawTex']}"
    if report["hasMath"]:
        assert report["typeset"] > 0, f"{page}: has maths but MathJax typeset nothing"
    unfolded = [sid for sid, folded in report["solutions"] if not folded]
    assert not unfolded, f"{page}: solutions shown before the reader opens them: {unfolded}"


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])


@functools.lru_cache(maxsize=None)
def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_internal_links_resolve():
    broken = []
    for page in PAGES + ["genindex.html"]:
        source = HTML / page
        for href in _parse(source).hrefs:
            if urlsplit(href).scheme or href.startswith(("mailto:", "javascript:", "//")):
                continue
            target, anchor = urldefrag(href)
            path = (source.parent / unquote(target)).resolve() if target else source
            if path.is_dir():
                path = path / "index.html"
            if not path.exists():
                broken.append(f"{page}: {href} (no file)")
            elif anchor and path.suffix == ".html" and unquote(anchor) not in _parse(path).ids:
                broken.append(f"{page}: {href} (no anchor)")
    assert not broken, "broken internal links:\n" + "\n".join(sorted(set(broken))[:40])


def test_search_finds_a_word_of_the_book(browser, site):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{site}/search.html?q=reciprocal")
    WebDriverWait(browser, 60).until(
        lambda d: d.execute_script("const r = document.querySelector('#search-results');"
                                   "return r && /Search finished/.test(r.innerText);"))
    hits = browser.execute_script("return [...document.querySelectorAll('#search-results li a')].map(a => a.href)")
    assert any(h.endswith("retrieval.html") or "retrieval.html#" in h for h in hits), hits
    assert not console_errors(browser)
