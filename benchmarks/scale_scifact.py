"""Does task quality survive compression? SciFact nDCG@10 of compressed FAISS indexes vs the flat one.

The book's MiniLM vectors of the 5,183 SciFact abstracts (title + abstract, as the retrieval
chapter encodes them) and the 300 test claims; each index of ``SPECS`` at each nprobe is scored
with BEIR's qrels, and the drop is flat minus compressed (mean over claims; a paired 95%
bootstrap interval over claims from ragmtl.eval.stats when available). The vectors are saved to
``$RAGMTL_CACHE/scale_scifact_vectors.npz`` for benchmarks/scale_ann.py.

Usage (repository root, RAGMTL_DATA / RAGMTL_CACHE exported):

    nice -n 19 .venv/bin/python benchmarks/scale_scifact.py

Writes benchmarks/results/scale_scifact.json.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from ragmtl.data import load_scifact
from ragmtl.retrieval import evaluate_run, ids_to_run
from ragmtl.scale import AnnSpec, build_ann, bytes_per_vector, exact_top_k, recall_at_k_vs_exact, set_search_knob

RESULTS = Path(__file__).resolve().parent / "results" / "scale_scifact.json"
SPECS = [AnnSpec("IVF64,PQ48"), AnnSpec("OPQ48,IVF64,PQ48"), AnnSpec("IVF64,PQ96"),
         AnnSpec("IVF64,PQ48", refine="flat", k_factor=10)]
NPROBE = (8, 16, 64)


def vectors(sf):
    from ragmtl.encoders import Encoder, cache_dir

    path = cache_dir() / "scale_scifact_vectors.npz"
    if path.is_file():
        data = np.load(path)
        return data["docs"], data["queries"]
    encoder = Encoder()
    docs = encoder.encode([d.title + " " + d.text for d in sf.corpus], show_progress=False)
    queries = encoder.encode([q.text for q in sf.queries], show_progress=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, docs=docs, queries=queries)
    return docs, queries


def main() -> None:
    import faiss

    faiss.omp_set_num_threads(1)
    sf = load_scifact()
    t = time.perf_counter()
    docs, queries = vectors(sf)
    encode_s = time.perf_counter() - t
    doc_ids, query_ids = [d.doc_id for d in sf.corpus], [q.query_id for q in sf.queries]
    qrels = {q: sf.qrels[q] for q in query_ids if q in sf.qrels}

    def ndcg(ids):
        return evaluate_run(ids_to_run(query_ids, ids, doc_ids), qrels, ("ndcg@10",))["ndcg@10"]

    _, exact = exact_top_k(docs, queries, 100)
    flat = ndcg(exact)
    rows = [{"index": "Flat", "nprobe": 0, "ndcg10": float(flat.mean()), "bytes_per_vector": 4.0 * docs.shape[1]}]
    for spec in SPECS:
        index = build_ann(docs, spec)
        for nprobe in NPROBE:
            set_search_knob(index, nprobe)
            _, ids = index.search(queries, 100)
            per_query = ndcg(ids)
            diff = flat - per_query
            rng = np.random.default_rng(0)
            boot = [diff[rng.integers(len(diff), size=len(diff))].mean() for _ in range(2000)]
            rows.append({"index": spec.name, "nprobe": nprobe, "ndcg10": float(per_query.mean()),
                         "ndcg10_drop": float(diff.mean()), "drop_ci95": [float(np.quantile(boot, 0.025)),
                                                                          float(np.quantile(boot, 0.975))],
                         "recall10_vs_exact": recall_at_k_vs_exact(ids[:, :10], exact[:, :10]),
                         "bytes_per_vector": bytes_per_vector(index)})
            print(json.dumps(rows[-1]))
    out = {"n_docs": len(docs), "n_queries": len(qrels), "encode_or_load_s": encode_s, "rows": rows,
           "threads": 1, "nice": os.nice(0)}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"flat nDCG@10 {rows[0]['ndcg10']:.4f}; wrote {RESULTS}")


if __name__ == "__main__":
    main()
