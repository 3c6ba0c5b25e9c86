"""BM25 from 10^4 to 10^6 documents: ragmtl's BM25 vs bm25s on the same tokens, at equal scores.

The corpus is ragmtl.scale.zipf_corpus (50,000-word Zipf vocabulary, s = 1, 20-120 tokens per
document, seed 0) and 1,000 five-word queries (zipf_queries: words of rank >= 100). At each size:
build seconds, ms per query (one batch, bm25s on one thread), the inverted index's memory (ragmtl's
CSR weight matrix W^T: float64 data + int32 indices + indptr), and a check that the top-10 scores
agree (bm25s = ragmtl / (k1 + 1)). Then a log-log fit of each cost against size.

Usage: nice -n 19 .venv/bin/python benchmarks/scale_bm25.py --sizes 10000 30000 100000
Writes benchmarks/results/scale_bm25.json.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from ragmtl.retrieval import BM25, BM25Config
from ragmtl.scale import ZipfCorpusConfig, as_bm25s_scores, build_bm25s, fit_power_law, zipf_corpus, zipf_queries

RESULTS = Path(__file__).resolve().parent / "results" / "scale_bm25.json"


def one_size(n: int, n_queries: int, k: int = 10) -> dict:
    cfg, bm = ZipfCorpusConfig(), BM25Config()
    t = time.perf_counter()
    docs, queries = zipf_corpus(n, cfg), zipf_queries(n_queries, cfg)
    gen_s = time.perf_counter() - t
    t = time.perf_counter()
    ours = BM25(bm).index_tokens(docs)
    ours_build = time.perf_counter() - t
    t = time.perf_counter()
    theirs = build_bm25s(docs, bm)
    theirs_build = time.perf_counter() - t
    del docs
    t = time.perf_counter()
    our_scores, _ = ours.search_tokens(queries, k)
    ours_q = time.perf_counter() - t
    t = time.perf_counter()
    _, their_scores = theirs.retrieve(queries, k=k, show_progress=False, n_threads=1)
    theirs_q = time.perf_counter() - t
    diff = float(np.abs(as_bm25s_scores(our_scores, bm) - their_scores).max())
    w = ours.weights_t
    return {"n_docs": n, "n_queries": n_queries, "generate_s": gen_s, "ragmtl_build_s": ours_build,
            "bm25s_build_s": theirs_build, "ragmtl_query_ms": 1e3 * ours_q / n_queries,
            "bm25s_query_ms": 1e3 * theirs_q / n_queries, "query_ratio": ours_q / theirs_q,
            "top10_score_max_abs_diff": diff, "nnz": int(w.nnz),
            "index_mb": {"data": w.data.nbytes / 1e6, "indices": w.indices.nbytes / 1e6,
                         "indptr": w.indptr.nbytes / 1e6}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()
    rows = []
    for n in args.sizes:
        rows.append(one_size(n, args.queries))
        print(json.dumps(rows[-1]), flush=True)
    fits = {}
    if len(rows) >= 2:
        sizes = [r["n_docs"] for r in rows]
        for key in ("ragmtl_build_s", "bm25s_build_s", "ragmtl_query_ms", "bm25s_query_ms"):
            f = fit_power_law(sizes, [r[key] for r in rows])
            fits[key] = {"exponent": f.exponent, "coefficient": f.coefficient, "r2": f.r2}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"rows": rows, "fits": fits, "nice": os.nice(0)}, indent=2) + "\n")
    print(json.dumps(fits, indent=1))


if __name__ == "__main__":
    main()
