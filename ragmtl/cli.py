"""Command-line interface, ``python -m ragmtl``: retrieve, train, evaluate and document a RAG-MTL model.

Four subcommands over the library (no logic of their own beyond wiring): ``retrieve`` (BM25,
TF-IDF or dense search over a named corpus or a text file), ``train`` (build, train, evaluate and
save a :mod:`ragmtl.models` model), ``evaluate`` (reload a saved model, rebuild its test splits and
score them) and ``card`` (rewrite a saved model's ``README.md``). Results go to stdout as JSON;
progress bars and errors go to stderr. Exit codes: 0 success, 2 usage error (argparse's own, and
bad task names or values), 1 runtime error from the library (missing or changed file, checksum,
config mismatch, missing data), printed as one line ``ragmtl: error: ...`` (``--debug`` re-raises).
Heavy imports (torch, transformers, faiss) happen inside the commands, so ``--help`` is instant.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Sequence

__all__ = ["main", "build_parser", "BOOK_TASK_NAMES", "WEIGHTING_NAMES", "ADAPTER_NAMES"]

PROG = "python -m ragmtl"
# Listed here (not imported) so the parser builds without torch; tests check them against the library.
BOOK_TASK_NAMES = ("trec", "clinc150", "squad2")  # names of ragmtl.models.book_tasks()
WEIGHTING_NAMES = ("equal", "uncertainty", "dwa", "pcgrad", "gradnorm")  # keys of ragmtl.mtl.weighting.WEIGHTINGS
ADAPTER_NAMES = ("none", "lora", "bottleneck", "task")  # RAGMTLConfig.adapter ("none" -> None)
METHODS = ("bm25", "tfidf", "dense")
SNIPPET_CHARS = 200  # characters of each retrieved document printed by ``retrieve``


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


_positive_int = _int_at_least(1, "positive")
_non_negative_int = _int_at_least(0, "non-negative")


def _task_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated task names, got {text!r}")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"task names must be distinct, got {names}")
    return names


# ----------------------------------------------------------------------------------------- retrieve
def _read_texts(path: str) -> list[str]:
    """One document per line of a UTF-8 file, blank lines skipped (ids count the kept lines from 0)."""
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\r\n") for line in f if line.strip()]


def cmd_retrieve(args) -> list[str]:
    from .retrieval import BM25, TfidfRetriever
    from .sharing import CORPUS_BUILDERS

    if args.corpus is not None:
        if args.corpus not in CORPUS_BUILDERS:
            raise UsageError(f"unknown corpus {args.corpus!r}; known corpora: {sorted(CORPUS_BUILDERS)}")
        texts = CORPUS_BUILDERS[args.corpus].build()
    else:
        texts = _read_texts(args.texts)
    if args.method == "dense":
        from .encoders import Encoder
        from .retrieval import DenseRetriever

        retriever = DenseRetriever(Encoder()).index(texts)
    else:
        retriever = (BM25() if args.method == "bm25" else TfidfRetriever()).index(texts)
    scores, ids = retriever.search(args.queries, args.k)
    return [json.dumps({"query": q, "results": [
        {"rank": r + 1, "id": int(i), "score": float(s), "text": texts[i][:SNIPPET_CHARS]}
        for r, (s, i) in enumerate(zip(row_scores, row_ids)) if i >= 0]})
        for q, row_scores, row_ids in zip(args.queries, scores, ids)]


# -------------------------------------------------------------------------------------------- card
def _saved_folder(directory: str) -> Path:
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder (expected one saved by `{PROG} train`)")
    return root


def cmd_card(args) -> list[str]:
    from .models import METRICS_NAME, RAGMTLConfig, card_info, read_metrics
    from .sharing import MissingFileError, read_config, read_manifest, write_model_card

    root = _saved_folder(args.dir)
    if METRICS_NAME not in read_manifest(root):
        raise MissingFileError(f"{root} holds no {METRICS_NAME}: a card reports the scores saved with the model")
    path = write_model_card(root, card_info(read_config(root, RAGMTLConfig), read_metrics(root), args.name))
    return [path.read_text(encoding="utf-8").rstrip("\n") if args.print else str(path)]


# ------------------------------------------------------------------------------- train / evaluate
def _select(known: Sequence[str], asked: Sequence[str] | None, what: str) -> list[str]:
    unknown = [t for t in asked or () if t not in known]
    if unknown:
        raise UsageError(f"unknown task(s) {unknown}; {what}: {list(known)}")
    return list(asked) if asked else list(known)


def _task_data(config, tasks, max_test):
    """``{task: TaskData}`` (training and test splits, retriever, corpus) built by the task loaders with a
    pristine MiniLM; ``max_test`` subsamples the test splits."""
    from .encoders import Encoder, load_minilm
    from .models import TASK_LOADERS

    missing = [t for t in tasks if t not in TASK_LOADERS]
    if missing:
        raise ValueError(f"no data loader for task(s) {missing}; ragmtl.models.TASK_LOADERS has {sorted(TASK_LOADERS)}")
    tokenizer, backbone = load_minilm()
    encoder = Encoder()
    return {t: TASK_LOADERS[t](config.task(t), backbone, tokenizer, encoder, config.n_lower, max_test=max_test)
            for t in tasks}


def cmd_train(args) -> list[str]:
    from .models import RAGMTLConfig, TrainConfig, book_tasks, card_info, fit, save_ragmtl

    specs = {s.name: s for s in book_tasks()}
    names = _select(list(specs), args.tasks, "known tasks")
    try:
        tasks = tuple(specs[n] if args.max_train is None else replace(specs[n], max_train=args.max_train)
                      for n in names)
        config = RAGMTLConfig(tasks=tasks, train_shared=not args.freeze_shared,
                              adapter=None if args.adapter == "none" else args.adapter)
        train_config = TrainConfig(steps=args.steps, seed=args.seed)
    except ValueError as err:
        raise UsageError(str(err)) from err
    if args.weighting == "gradnorm" and args.freeze_shared:
        raise UsageError("--weighting gradnorm balances gradient norms on the shared layers, which --freeze-shared "
                         "freezes; choose another weighting or train the shared layers")
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not args.overwrite:
        raise FileExistsError(f"--out {out} exists and is not an empty folder: choose a new one or pass --overwrite")
    data = _task_data(config, names, args.max_test)
    run = fit(config, {t: d.train for t, d in data.items()}, {t: d.evals["test"] for t, d in data.items()},
              train_config=train_config, weighting=args.weighting, generation=not args.no_generation)
    scores = run.scores
    save_ragmtl(out, run.model, indexes={t: (d.retriever, d.corpus) for t, d in data.items()}, metrics=scores,
                card=card_info(config, scores))
    return [json.dumps(scores, indent=2, sort_keys=True)]


def _check_knowledge_source(root: Path, task: str, corpus: list[str]) -> None:
    """The rebuilt corpus must be the one whose sha256 the saved index recorded."""
    from .sharing import INDEX_RECIPE_NAME, MissingFileError, read_manifest, texts_sha256

    name = f"indexes/{task}/{INDEX_RECIPE_NAME}"
    if name not in read_manifest(root):
        raise MissingFileError(f"{root} holds no index for task {task!r} (its manifest does not list {name})")
    recorded = (json.loads((root / name).read_text(encoding="utf-8")).get("corpus") or {})
    found = texts_sha256(corpus)
    if recorded.get("texts_sha256") != found:
        raise ValueError(f"task {task!r}: the rebuilt knowledge source ({len(corpus)} texts, sha256 {found}) is not "
                         f"the saved one ({recorded.get('n_docs')} texts, sha256 {recorded.get('texts_sha256')} in "
                         f"{root / name}): the data or the loader changed since the model was saved")


def cmd_evaluate(args) -> list[str]:
    from .models import evaluate, load_ragmtl

    root = _saved_folder(args.dir)
    model, config = load_ragmtl(root)
    tasks = _select(config.task_names, args.tasks, "this model's tasks")
    data = _task_data(config, tasks, args.max_test)
    for t, d in data.items():
        _check_knowledge_source(root, t, d.corpus)
    scores = evaluate(model, {t: d.evals["test"] for t, d in data.items()}, generation=not args.no_generation)
    return [json.dumps(scores, indent=2, sort_keys=True)]


# ------------------------------------------------------------------------------------------ parser
class _Formatter(argparse.HelpFormatter):
    """Wraps description paragraphs to the terminal; keeps indented lines (the examples) as they are."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        import textwrap

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


def _subparser(subs, name: str, help: str, description: str, examples: str):
    return subs.add_parser(name, help=help, description=description, epilog="examples:\n" + examples,
                           formatter_class=_Formatter)


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m ragmtl`` parser; each subparser's ``func`` runs it and returns stdout lines."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog=PROG, formatter_class=_Formatter,
        description="Retrieval-augmented multi-task learning (the ragmtl book) from the command line.\n"
                    "Results are JSON on stdout; progress bars and errors go to stderr.",
        epilog=f"examples:\n  {PROG} retrieve --method bm25 --corpus scifact/title+text 'vitamin D and bone density'\n"
               f"  {PROG} train --tasks trec,squad2 --steps 100 --out runs/trec-squad\n"
               f"  {PROG} evaluate runs/trec-squad\n  {PROG} card runs/trec-squad --print\n\n"
               "exit codes: 0 success, 1 runtime error (missing or changed files, data), 2 usage error")
    parser.add_argument("--version", action="version", version=f"ragmtl {__version__}")
    parser.add_argument("--debug", action="store_true", help="re-raise runtime errors with their traceback")
    subs = parser.add_subparsers(dest="command", metavar="{retrieve,train,evaluate,card}", required=True)

    p = _subparser(subs, "retrieve", "search a corpus with BM25, TF-IDF or dense MiniLM vectors",
                   "Index a corpus and print, for each QUERY, one JSON line: {\"query\", \"results\": [{\"rank\", "
                   f"\"id\", \"score\", \"text\"}}]}} (text: the first {SNIPPET_CHARS} characters; id: the "
                   "document's row in the corpus, for --texts its line among the non-blank lines, from 0).",
                   f"  {PROG} retrieve --method bm25 --corpus scifact/title+text -k 3 'vitamin D and bone density'\n"
                   f"  {PROG} retrieve --method dense --texts docs.txt 'what is BM25?' 'dense retrieval'")
    p.add_argument("--method", required=True, choices=METHODS, help="retriever: %(choices)s")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--corpus", metavar="NAME",
                        help="a named corpus of ragmtl.sharing.CORPUS_BUILDERS, e.g. scifact/title+text")
    source.add_argument("--texts", metavar="FILE", help="a UTF-8 file, one document per line (blank lines skipped)")
    p.add_argument("-k", type=_positive_int, default=5, help="documents per query (default: %(default)s)")
    p.add_argument("queries", nargs="+", metavar="QUERY", help="query text(s)")
    p.set_defaults(func=cmd_retrieve)

    p = _subparser(subs, "train", "train a RAG-MTL model, score its test splits and save it",
                   "Train the RAG-MTL model (ragmtl.models) on the book's tasks, evaluate it on their test "
                   "splits, save it to --out (weights, config, retrieval indexes, metrics.json, README.md model "
                   "card) and print the scores as JSON ({task: {metric: value}}).",
                   f"  {PROG} train --out runs/all --steps 300 --weighting uncertainty --adapter lora\n"
                   f"  {PROG} train --out runs/trec --tasks trec --steps 2 --max-train 64 --max-test 32")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to save the model in (new or empty)")
    p.add_argument("--overwrite", action="store_true", help="allow --out to be a folder that is not empty")
    p.add_argument("--tasks", type=_task_list, metavar="T1,T2",
                   help=f"comma-separated tasks among {','.join(BOOK_TASK_NAMES)} (default: all)")
    p.add_argument("--steps", type=_positive_int, default=100, help="optimiser steps (default: %(default)s)")
    p.add_argument("--weighting", choices=WEIGHTING_NAMES, default="equal",
                   help="task weighting, from the MTL chapter: %(choices)s (default: %(default)s)")
    p.add_argument("--adapter", choices=ADAPTER_NAMES, default="none",
                   help="per-task adapters on the trainable top layers: %(choices)s (default: %(default)s)")
    p.add_argument("--freeze-shared", action="store_true",
                   help="freeze the shared top layers (train heads and adapters only; needs --adapter)")
    p.add_argument("--max-train", type=_positive_int, metavar="N",
                   help="training examples per task, overriding each task's own limit (default: the task's)")
    p.add_argument("--max-test", type=_positive_int, metavar="N", help="test examples per task (default: all)")
    p.add_argument("--seed", type=_non_negative_int, default=0,
                   help="training seed (head initialisation, batch order, PCGrad's projection order; "
                        "default: %(default)s)")
    p.add_argument("--no-generation", action="store_true",
                   help="QA: skip the generation metrics (BLEU, chrF, ROUGE-L, METEOR); keep EM and F1")
    p.set_defaults(func=cmd_train)

    p = _subparser(subs, "evaluate", "score a saved model on its tasks' test splits",
                   "Load a model saved by `train` (every file checked against its sha256), rebuild its tasks' "
                   "test splits, check each rebuilt knowledge source is the saved one, and print the scores as "
                   "JSON. With the same --max-test the scores are those `train` printed.",
                   f"  {PROG} evaluate runs/all\n"
                   f"  {PROG} evaluate runs/all --tasks squad2 --max-test 100 --no-generation")
    p.add_argument("dir", metavar="DIR", help="a folder saved by `train`")
    p.add_argument("--tasks", type=_task_list, metavar="T1,T2",
                   help="comma-separated tasks of the model (default: all)")
    p.add_argument("--max-test", type=_positive_int, metavar="N", help="test examples per task (default: all)")
    p.add_argument("--no-generation", action="store_true", help="QA: EM and F1 only")
    p.set_defaults(func=cmd_evaluate)

    p = _subparser(subs, "card", "(re)write a saved model's README.md model card",
                   "Write DIR/README.md, the model card (Mitchell et al., 2019), from the saved config and "
                   "metrics.json: description, training data with licences from ragmtl's data manifest, "
                   "results, limitations, files with sha256. Prints the card's path (or the card).",
                   f"  {PROG} card runs/all\n  {PROG} card runs/all --name 'RAG-MTL, 300 steps' --print")
    p.add_argument("dir", metavar="DIR", help="a folder saved by `train`")
    p.add_argument("--name", help="the card's title (default: from the tasks and the base model)")
    p.add_argument("--print", action="store_true", help="print the card instead of its path")
    p.set_defaults(func=cmd_card)
    for sub in subs.choices.values():
        sub.set_defaults(parser=sub)
    return parser


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
    except (OSError, ValueError, RuntimeError) as err:
        if args.debug:
            raise
        print(f"ragmtl: error: {' '.join(str(err).split()) or type(err).__name__}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ragmtl: interrupted", file=sys.stderr)
        return 130
    for line in lines:
        print(line)
    return 0
