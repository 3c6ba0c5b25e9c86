"""Small fixes to the built pages that the browser test (tests/browser) found or checks.

- Inline scripts registered at build start come back a second time from the saved environment
  (with ``''`` for ``None`` as their file name), so every page declared sphinx-thebe's
  ``const THEBE_JS_URL`` twice: a JavaScript error on every page. Identical scripts are kept once.
- The theme logs "Got invalid theme mode" on a first visit unless a default mode is set: "auto".
- Wide equations and tables scroll inside their own box instead of being cut at the column edge.
"""
from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent / "static"


def _configure(app, config) -> None:
    config.html_context = {**(config.html_context or {})}
    config.html_context.setdefault("default_mode", "auto")
    config.html_static_path = [*config.html_static_path, str(STATIC)]


def _script_key(script) -> tuple:
    attributes = getattr(script, "attributes", {}) or {}
    return str(getattr(script, "filename", script) or ""), tuple(sorted((k, str(v)) for k, v in attributes.items()))


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts, seen = [], set()
    for script in context.get("script_files", []):
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            scripts.append(script)
    context["script_files"] = scripts


def setup(app):
    app.connect("config-inited", _configure)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.add_css_file("ragmtl-pages.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
