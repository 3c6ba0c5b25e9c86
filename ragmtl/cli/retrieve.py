"""``python -m ragmtl retrieve``: BM25, TF-IDF or dense search over a named corpus or a text file."""
from __future__ import annotations

import json
import sys
import warnings

from ..data.corpora import CORPORA
from .common import PROG, add_subparser, positive_int

__all__ = ["METHODS", "SNIPPET_CHARS", "read_texts", "cmd_retrieve", "add_retrieve"]

METHODS = ("bm25", "tfidf", "dense")
SNIPPET_CHARS = 200  # characters of each retrieved document printed by ``retrieve``


def read_texts(path: str) -> list[str]:
    """One document per line of a UTF-8 file, blank lines skipped (ids count the kept lines from 0).
    Raises ``ValueError`` naming the file when it is not UTF-8 or holds no document."""
    try:
        with open(path, encoding="utf-8") as f:
            texts = [line.rstrip("\r\n") for line in f if line.strip()]
    except UnicodeDecodeError as err:
        raise ValueError(f"--texts {path} is not UTF-8 text ({err.reason} at byte {err.start}): expected one "
                         "UTF-8 document per line") from None
    if not texts:
        raise ValueError(f"--texts {path} is an empty corpus: expected one document per non-blank line")
    return texts


def cmd_retrieve(args) -> list[str]:
    from ..retrieval import BM25, TfidfRetriever

    if args.corpus is not None:
        texts, doc_ids = CORPORA[args.corpus].build(), CORPORA[args.corpus].ids()
    else:
        texts = read_texts(args.texts)
        doc_ids = list(range(len(texts)))
    if args.method == "dense":
        from ..encoders import Encoder
        from ..retrieval import DenseRetriever

        retriever = DenseRetriever(Encoder()).index(texts)
    else:
        retriever = (BM25() if args.method == "bm25" else TfidfRetriever()).index(texts)
    with warnings.catch_warnings():  # said once per query below, in the CLI's own words
        warnings.simplefilter("ignore", UserWarning)
        scores, ids = retriever.search(args.queries, args.k)
    lines = []
    for q, row_scores, row_ids in zip(args.queries, scores, ids):
        results = [{"rank": r + 1, "id": doc_ids[i], "row": int(i), "score": float(s),
                    "text": texts[i][:SNIPPET_CHARS]}
                   for r, (s, i) in enumerate(zip(row_scores, row_ids)) if i >= 0]
        if not results:
            print(f"ragmtl: warning: query {q!r} has no term in the {args.method} index: no result",
                  file=sys.stderr)
        lines.append(json.dumps({"query": q, "results": results}))
    return lines


def add_retrieve(subs) -> None:
    p = add_subparser(subs, "retrieve", "search a corpus with BM25, TF-IDF or dense MiniLM vectors",
                      "Index a corpus and print, for each QUERY, one JSON line: {\"query\", \"results\": [{\"rank\", "
                      f"\"id\", \"row\", \"score\", \"text\"}}]}} (text: the first {SNIPPET_CHARS} characters; id: the "
                      "dataset's document id for --corpus, for --texts the line among the non-blank lines, from 0; "
                      "row: the document's position in the index). "
                      "A query with no indexed term gets no result, and a warning on stderr.",
                      f"  {PROG} retrieve --method bm25 --corpus scifact/title+text -k 3 'vitamin D and bone density'\n"
                      f"  {PROG} retrieve --method dense --texts docs.txt 'what is BM25?' 'dense retrieval'")
    p.add_argument("--method", required=True, choices=METHODS, help="retriever: %(choices)s")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--corpus", choices=sorted(CORPORA), metavar="NAME",
                        help="a named corpus: " + "; ".join(f"{n} ({b.description})" for n, b in sorted(CORPORA.items())))
    source.add_argument("--texts", metavar="FILE", help="a UTF-8 file, one document per line (blank lines skipped)")
    p.add_argument("-k", type=positive_int, default=5, help="documents per query (default: %(default)s)")
    p.add_argument("queries", nargs="+", metavar="QUERY", help="query text(s)")
    p.set_defaults(func=cmd_retrieve)
