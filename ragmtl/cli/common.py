"""What the subcommands share: the program name, the names the parser lists, argument types, help layout."""
from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path
from typing import Sequence

__all__ = ["PROG", "BOOK_TASK_NAMES", "WEIGHTING_NAMES", "ADAPTER_NAMES", "UsageError", "positive_int",
           "non_negative_int", "task_list", "saved_folder", "select", "add_subparser", "scores_json",
           "SCORE_DECIMALS"]

SCORE_DECIMALS = 4  # scores are percentages: 4 decimals keep every digit a comparison can use

PROG = "python -m ragmtl"
# Listed here (not imported) so the parser builds without torch; tests check them against the library.
BOOK_TASK_NAMES = ("trec", "clinc150", "squad2")  # names of ragmtl.models.book_tasks()
WEIGHTING_NAMES = ("equal", "uncertainty", "dwa", "pcgrad", "gradnorm")  # keys of ragmtl.mtl.weighting.WEIGHTINGS
ADAPTER_NAMES = ("none", "lora", "bottleneck", "task")  # RAGMTLConfig.adapter ("none" -> None)


class UsageError(Exception):
    """A bad argument found after parsing (unknown task or corpus, a config the library rejects): exit 2."""


def _int_at_least(minimum: int, what: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {what} integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a {what} integer, got {value}")
        return value
    return parse


positive_int = _int_at_least(1, "positive")
non_negative_int = _int_at_least(0, "non-negative")


def task_list(text: str) -> list[str]:
    """Comma-separated, distinct task names."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated task names, got {text!r}")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"task names must be distinct, got {names}")
    return names


def saved_folder(directory: str) -> Path:
    """``directory`` as a Path; ``FileNotFoundError`` when it is not a folder."""
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder (expected one saved by `{PROG} train`)")
    return root


def select(known: Sequence[str], asked: Sequence[str] | None, what: str) -> list[str]:
    """The tasks ``asked`` (all ``known`` when None); :class:`UsageError` for an unknown one."""
    unknown = [t for t in asked or () if t not in known]
    if unknown:
        raise UsageError(f"unknown task(s) {unknown}; {what}: {list(known)}")
    return list(asked) if asked else list(known)


class Formatter(argparse.HelpFormatter):
    """Wraps description paragraphs to the terminal; keeps indented lines (the examples) as they are."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        out, paragraph = [], []
        for line in text.splitlines() + [""]:
            if line and not line[0].isspace():
                paragraph.append(line)
                continue
            if paragraph:
                out.append(textwrap.fill(" ".join(paragraph), width, initial_indent=indent, subsequent_indent=indent))
                paragraph = []
            out.append(indent + line if line else "")
        return "\n".join(out[:-1])


def add_subparser(subs, name: str, help: str, description: str, examples: str):
    return subs.add_parser(name, help=help, description=description, epilog="examples:\n" + examples,
                           formatter_class=Formatter)


def scores_json(scores: dict[str, dict[str, float]]) -> str:
    """``{task: {metric: score}}`` as indented JSON, each score rounded to :data:`SCORE_DECIMALS`
    (``90.6``, not the ``90.60000000000001`` of ``100 * 0.906``)."""
    return json.dumps({t: {m: round(float(v), SCORE_DECIMALS) for m, v in ms.items()} for t, ms in scores.items()},
                      indent=2, sort_keys=True)
