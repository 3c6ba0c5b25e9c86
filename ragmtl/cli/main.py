"""The ``python -m ragmtl`` parser and entry point: one line on stderr and an exit code for every failure.

Exit codes: 0 success; 2 usage error (argparse's own, and bad task names or values); 1 any other
error, printed as one line ``ragmtl: error: ...`` naming the file and what was expected (the
library's errors: missing, changed, corrupt or symlinked files, configs of the wrong type or
shape, missing data, an unwritable folder); 130 interrupted (Ctrl-C), after which a saved folder
is the old complete one or the new complete one. ``--debug`` re-raises with the traceback.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Sequence

from .card import add_card
from .common import PROG, UsageError, Formatter
from .evaluate import add_evaluate
from .retrieve import add_retrieve
from .train import add_train

__all__ = ["build_parser", "main", "error_line"]

# Errors whose message is already a sentence for the user; any other type is named in the line.
_PLAIN = (OSError, ValueError, RuntimeError)


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m ragmtl`` parser; each subparser's ``func`` runs it and returns stdout lines."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog=PROG, formatter_class=Formatter,
        description="Retrieval-augmented multi-task learning (the ragmtl book) from the command line.\n"
                    "Results are JSON on stdout; progress bars and errors go to stderr.",
        epilog=f"examples:\n  {PROG} retrieve --method bm25 --corpus scifact/title+text 'vitamin D and bone density'\n"
               f"  {PROG} train --tasks trec,squad2 --steps 100 --out runs/trec-squad\n"
               f"  {PROG} evaluate runs/trec-squad\n  {PROG} card runs/trec-squad --print\n\n"
               "exit codes: 0 success, 1 runtime error (missing or changed files, data), 2 usage error")
    parser.add_argument("--version", action="version", version=f"ragmtl {__version__}")
    parser.add_argument("--debug", action="store_true", help="re-raise runtime errors with their traceback")
    subs = parser.add_subparsers(dest="command", metavar="{retrieve,train,evaluate,card}", required=True)
    for add in (add_retrieve, add_train, add_evaluate, add_card):
        add(subs)
    for sub in subs.choices.values():
        sub.set_defaults(parser=sub)
    return parser


def error_line(err: BaseException) -> str:
    """One line for ``err``: its message with whitespace collapsed; the type's name leads where the
    type is not one whose message stands alone (a ``TypeError`` or ``KeyError`` from deep inside)."""
    text = " ".join(str(err).split())
    if isinstance(err, ModuleNotFoundError) and err.name:  # run by a Python without the project installed
        return (f"missing dependency {err.name!r} for {sys.executable}: install the project with `make install`, "
                "then run .venv/bin/ragmtl (or activate the environment: source .venv/bin/activate)")
    if isinstance(err, _PLAIN):
        return text or type(err).__name__
    return f"{type(err).__name__}: {text} (rerun with --debug for the traceback)"


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``python -m ragmtl`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version and usage errors: argparse has printed its message
        return exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 2
    try:
        with contextlib.redirect_stdout(sys.stderr):  # anything the library prints must not corrupt the JSON
            lines = args.func(args)
    except UsageError as err:
        args.parser.print_usage(sys.stderr)
        print(f"{args.parser.prog}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ragmtl: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # every other failure: one line, exit 1
        if args.debug:
            raise
        print(f"ragmtl: error: {error_line(err)}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    return 0
