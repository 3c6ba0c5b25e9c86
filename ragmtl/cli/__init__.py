"""Command-line interface, ``python -m ragmtl``: retrieve, train, evaluate and document a RAG-MTL model.

Four subcommands over the library (no logic of their own beyond wiring), one module each:
``retrieve`` (BM25, TF-IDF or dense search over a named corpus or a text file), ``train`` (build,
train, evaluate and save a :mod:`ragmtl.models` model), ``evaluate`` (reload a saved model, rebuild
its test splits and score them) and ``card`` (rewrite a saved model's ``README.md``). Results go to
stdout as JSON; progress bars, warnings and errors go to stderr. Exit codes (see :mod:`.main`): 0
success, 1 error (one line ``ragmtl: error: ...``; ``--debug`` re-raises), 2 usage error, 130
interrupted. Heavy imports (torch, transformers, faiss) happen inside the commands, so ``--help`` is
instant.
"""
from .common import ADAPTER_NAMES, BOOK_TASK_NAMES, PROG, WEIGHTING_NAMES, UsageError
from .evaluate import check_knowledge_source
from .main import build_parser, error_line, main

_check_knowledge_source = check_knowledge_source  # the name the tests and older code use

__all__ = ["main", "build_parser", "error_line", "check_knowledge_source", "BOOK_TASK_NAMES", "WEIGHTING_NAMES",
           "ADAPTER_NAMES", "PROG", "UsageError"]
