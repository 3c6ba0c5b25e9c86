"""SciFact (Wadden et al., 2020) as BEIR uses it: 5,183 abstracts, 300 test claims, 339 qrels."""
from __future__ import annotations

import ast
import csv
import io
import tokenize
import zipfile
from dataclasses import dataclass

from .store import fetch

__all__ = ["Document", "Query", "SciFact", "parse_abstract", "load_scifact"]


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


def load_scifact() -> SciFact:
    """Load the SciFact corpus (title and abstract kept apart), the 300 BEIR test claims and qrels.

    A document's ``text`` is its abstract sentences joined by single spaces, as in BEIR.
    """
    root = fetch("scifact")
    csv.field_size_limit(1 << 30)
    with zipfile.ZipFile(root / "scifact.zip") as zf:
        corpus_rows = list(csv.DictReader(io.TextIOWrapper(zf.open("corpus_train.csv"), encoding="utf-8")))
        claim_rows = list(csv.DictReader(io.TextIOWrapper(zf.open("claims_validation.csv"), encoding="utf-8")))
    corpus = [Document(r["doc_id"], r["title"], " ".join(parse_abstract(r["abstract"]))) for r in corpus_rows]
    # claims_validation.csv has one row per (claim, evidence) pair: keep each claim once.
    queries = list({r["id"]: Query(r["id"], r["claim"]) for r in claim_rows}.values())
    qrels: dict[str, dict[str, int]] = {}
    with open(root / "qrels-test.tsv", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter="\t")
        header = next(reader)
        if header != ["query-id", "corpus-id", "score"]:
            raise ValueError(f"unexpected qrels header {header}")
        for qid, did, score in reader:
            qrels.setdefault(qid, {})[did] = int(score)
    return SciFact(corpus, queries, qrels)
