"""SciFact (Wadden et al., 2020) as BEIR uses it: 5,183 abstracts, 300 test claims, 339 qrels.

BEIR has no validation split for SciFact; its training split is the 809 SciFact training claims
with 919 judgements. A claim's judged documents are the ``cited_doc_ids`` of its row in the
SciFact release: for the test claims (SciFact's ``claims_validation.csv``) they equal BEIR's
``qrels-test.tsv`` exactly (a unit test), and ``load_scifact("train")`` builds the training
claims' judgements the same way.
"""
from __future__ import annotations

import ast
import csv
import io
import tokenize
import zipfile
from dataclasses import dataclass

from .store import fetch

__all__ = ["Document", "Query", "SciFact", "parse_abstract", "cited_qrels", "load_scifact"]


@dataclass(frozen=True)
class Document:
    doc_id: str
    title: str
    text: str


@dataclass(frozen=True)
class Query:
    query_id: str
    text: str


@dataclass
class SciFact:
    """Corpus, test queries and graded relevance judgements ``qrels[query_id][doc_id] = score``."""

    corpus: list[Document]
    queries: list[Query]
    qrels: dict[str, dict[str, int]]


def parse_abstract(raw: str) -> list[str]:
    """Split the ``abstract`` column (a NumPy-style list repr) into its sentences.

    The column looks like ``['First sentence.'\\n 'Second one.']``: quoted Python string literals
    separated by newlines and no commas. ``ast.literal_eval`` would glue adjacent literals into one
    string with no space between sentences, so each literal is read on its own.
    """
    text = raw.strip()
    if not (text.startswith("[") and text.endswith("]")):
        raise ValueError(f"abstract is not a list repr: {raw[:60]!r}...")
    tokens = tokenize.generate_tokens(io.StringIO(text[1:-1]).readline)
    return [ast.literal_eval(t.string) for t in tokens if t.type == tokenize.STRING]


def cited_qrels(rows) -> dict[str, dict[str, int]]:
    """Judgements ``{claim id: {doc id: 1}}`` from SciFact claim rows: every ``cited_doc_ids`` entry
    (a list repr such as ``[13734012]`` or ``[1, 2]``) is relevant. Raises ``ValueError`` on a row
    without the column."""
    qrels: dict[str, dict[str, int]] = {}
    for r in rows:
        if "cited_doc_ids" not in r:
            raise ValueError(f"claim row {r.get('id')!r} has no cited_doc_ids column")
        for did in r["cited_doc_ids"].strip("[]").replace(",", " ").split():
            qrels.setdefault(r["id"], {})[did] = 1
    return qrels


def load_scifact(split: str = "test") -> SciFact:
    """Load the SciFact corpus (title and abstract kept apart), the claims of ``split`` and qrels.

    ``split="test"``: the 300 BEIR test claims, judged by BEIR's ``qrels-test.tsv``;
    ``split="train"``: the 809 training claims, judged by their cited documents (:func:`cited_qrels`).
    A document's ``text`` is its abstract sentences joined by single spaces, as in BEIR. Raises
    ``ValueError`` for another split.
    """
    if split not in ("test", "train"):
        raise ValueError(f"SciFact split must be 'test' or 'train', got {split!r}")
    root = fetch("scifact")
    csv.field_size_limit(1 << 30)
    claims_file = "claims_validation.csv" if split == "test" else "claims_train.csv"
    with zipfile.ZipFile(root / "scifact.zip") as zf:
        corpus_rows = list(csv.DictReader(io.TextIOWrapper(zf.open("corpus_train.csv"), encoding="utf-8")))
        claim_rows = list(csv.DictReader(io.TextIOWrapper(zf.open(claims_file), encoding="utf-8")))
    corpus = [Document(r["doc_id"], r["title"], " ".join(parse_abstract(r["abstract"]))) for r in corpus_rows]
    # the claims files have one row per (claim, evidence) pair: keep each claim once.
    queries = list({r["id"]: Query(r["id"], r["claim"]) for r in claim_rows}.values())
    if split == "train":
        return SciFact(corpus, queries, cited_qrels(claim_rows))
    qrels: dict[str, dict[str, int]] = {}
    with open(root / "qrels-test.tsv", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter="\t")
        header = next(reader)
        if header != ["query-id", "corpus-id", "score"]:
            raise ValueError(f"unexpected qrels header {header}")
        for qid, did, score in reader:
            qrels.setdefault(qid, {})[did] = int(score)
    return SciFact(corpus, queries, qrels)
