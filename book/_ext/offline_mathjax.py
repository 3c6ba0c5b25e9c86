"""Serve MathJax 3 from the built book instead of a CDN.

The ``django-static-mathjax`` package (a PyPI copy of MathJax 3) is installed with the book's
requirements; this extension points Sphinx at ``_static/mathjax/tex-chtml.js`` and copies the
MathJax ``es5`` bundle (scripts and fonts) there after an HTML build.
"""
from __future__ import annotations

import shutil
from pathlib import Path


def _mathjax_root() -> Path:
    try:
        import mathjax  # provided by django-static-mathjax
    except ImportError as err:
        raise RuntimeError("offline MathJax needs the package 'django-static-mathjax' "
                           "(pip install -r requirements.txt)") from err
    root = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    if not (root / "tex-chtml.js").is_file():
        raise RuntimeError(f"no MathJax bundle at {root}")
    return root


def _configure(app, config) -> None:
    _mathjax_root()  # fail early, before a long build, if the bundle is missing
    config.mathjax_path = "mathjax/tex-chtml.js"


def _copy_bundle(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    shutil.copytree(_mathjax_root(), Path(app.outdir) / "_static" / "mathjax", dirs_exist_ok=True)


def setup(app):
    app.connect("config-inited", _configure, priority=900)
    app.connect("build-finished", _copy_bundle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
