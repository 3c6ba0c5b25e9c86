"""Render notebook stream outputs as a terminal shows them, in every build.

`make refresh` stores each cell's streams merged, with carriage returns applied, so a progress bar
is kept as its final line (``ragmtl.utils.coalesce_streams``). When `make book` executes the
notebooks, myst-nb merges the streams itself (``nb_merge_streams``), but its merge ends every
chunk with a newline before applying the carriage returns, so each refresh of a bar becomes a line
of its own (hundreds on a training cell). This extension makes myst-nb use the same merge as
`make refresh`, so the two builds show the same text.
"""
from __future__ import annotations

from ragmtl.utils import coalesce_streams


def setup(app):
    import myst_nb.core.render as render

    if not hasattr(render, "coalesce_streams"):
        raise RuntimeError("myst_nb.core.render.coalesce_streams is gone: update book/_ext/terminal_streams.py "
                           "for this myst-nb version")
    render.coalesce_streams = coalesce_streams
    return {"parallel_read_safe": True, "parallel_write_safe": True}
