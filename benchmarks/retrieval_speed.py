"""Retrieval speed on SciFact (5,183 abstracts, 300 test claims), measured in one run.

  * BM25 index build and query throughput: ragmtl.retrieval.BM25 vs rank-bm25 (BM25Okapi) vs bm25s,
    all on the same analyzer tokens (analysis is timed once, separately); top-10 agreement checked;
  * dense search: FAISS IndexFlatIP / IndexHNSWFlat / IndexIVFFlat vs a NumPy brute force
    (build time, query time, recall@10 against the exact top 10);
  * corpus encoding: ragmtl Encoder (bf16 with parallel batches, bf16 one batch at a time, fp32) vs
    sentence-transformers' encode on the same texts.

Usage (from the repository root, with the usual RAGMTL_* exports):

    .venv/bin/python benchmarks/retrieval_speed.py [--repeats 5] [--encode-texts N] [--st-texts 1000]

Prints a table of medians and ratios, and writes benchmarks/results/retrieval_speed.json.
Wall times depend on the machine and on whatever else runs on it: compare ratios within one run.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from ragmtl.data import load_scifact
from ragmtl.retrieval import BM25, Analyzer, BM25Config, DenseConfig, DenseRetriever, top_k

RESULTS = Path(__file__).resolve().parent / "results" / "retrieval_speed.json"


def timed(fn, repeats: int):
    """(median seconds, last result) of ``repeats`` calls of ``fn()``."""
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def bm25_section(doc_tokens, query_tokens, repeats):
    from rank_bm25 import BM25Okapi

    import bm25s

    okapi = BM25Config(k1=1.5, b=0.75, idf="okapi")  # rank-bm25's defaults
    lucene = BM25Config(k1=1.5, b=0.75, idf="lucene")  # bm25s's default method
    rows = {}
    t_idx, ours = timed(lambda: BM25(okapi).index_tokens(doc_tokens), repeats)
    t_q, (_, ours_top) = timed(lambda: ours.search_tokens(query_tokens, 10), repeats)
    rows["ragmtl BM25 (okapi idf)"] = (t_idx, t_q)
    t_idx, ours_l = timed(lambda: BM25(lucene).index_tokens(doc_tokens), repeats)
    t_q, (_, ours_l_top) = timed(lambda: ours_l.search_tokens(query_tokens, 10), repeats)
    rows["ragmtl BM25 (lucene idf)"] = (t_idx, t_q)

    t_idx, peer = timed(lambda: BM25Okapi(doc_tokens, k1=1.5, b=0.75), max(1, repeats // 2))

    def rank_bm25_search():
        scores = np.array([peer.get_scores(q) for q in query_tokens])
        return scores, np.argsort(-scores, axis=1, kind="stable")[:, :10]

    t_q, (peer_scores, peer_top) = timed(rank_bm25_search, max(1, repeats // 2))
    rows["rank-bm25 BM25Okapi"] = (t_idx, t_q)
    # identical top-10s: same ids where scores are not tied; tie order is compared by score
    ours_scores = ours.score_tokens(query_tokens)
    same_top10 = bool((top_k(peer_scores, 10)[1] == ours_top).all())
    max_abs_diff = float(np.abs(ours_scores - peer_scores).max())

    def bm25s_index():
        r = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
        r.index(doc_tokens, show_progress=False)
        return r

    t_idx, theirs = timed(bm25s_index, repeats)
    t_q, (theirs_top, _) = timed(lambda: theirs.retrieve(query_tokens, k=10, show_progress=False,
                                                         n_threads=1), repeats)
    rows["bm25s (lucene)"] = (t_idx, t_q)
    agree_bm25s = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(theirs_top, ours_l_top)]))
    return rows, {"identical_top10_vs_rank_bm25": same_top10, "max_abs_score_diff_vs_rank_bm25": max_abs_diff,
                  "top10_overlap_vs_bm25s": agree_bm25s}


def dense_section(doc_vectors, query_vectors, repeats, k=10):
    rows = {}
    t_q, exact = timed(lambda: top_k(query_vectors @ doc_vectors.T, k)[1], repeats)
    rows["numpy brute force"] = (0.0, t_q, 1.0)
    for kind in ("flat", "hnsw", "ivf"):
        t_idx, r = timed(lambda: DenseRetriever(config=DenseConfig(index_type=kind)).index_vectors(doc_vectors),
                         repeats)
        t_q, (_, ids) = timed(lambda: r.search(query_vectors, k), repeats)
        recall = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(ids, exact)]))
        rows[f"faiss {kind}"] = (t_idx, t_q, recall)
    return rows


def encoding_section(docs, n_texts, n_st):
    """Fresh (uncached) encoding times: ours bf16 on ``n_texts`` texts; ours bf16 (parallel batches
    and one batch at a time), ours fp32 and sentence-transformers (fp32 and bf16 weights) on the
    first ``n_st``."""
    import torch
    from sentence_transformers import SentenceTransformer

    from ragmtl.encoders import Encoder, EncoderConfig, minilm_path

    rows = {}
    bf16 = Encoder(EncoderConfig(precision="bf16", use_cache=False))  # workers: torch's thread count
    t = time.perf_counter()
    bf16.encode(docs[:n_texts], show_progress=False)
    rows[f"ragmtl Encoder bf16, first {n_texts}"] = (time.perf_counter() - t, n_texts)
    sub = docs[:n_st]
    t = time.perf_counter()
    fast = bf16.encode(sub, show_progress=False)
    rows[f"ragmtl Encoder bf16, first {n_st}"] = (time.perf_counter() - t, n_st)
    serial = Encoder(EncoderConfig(precision="bf16", use_cache=False, workers=1))
    t = time.perf_counter()
    serial.encode(sub, show_progress=False)
    rows[f"ragmtl Encoder bf16 workers=1, first {n_st}"] = (time.perf_counter() - t, n_st)
    fp32 = Encoder(EncoderConfig(precision="fp32", use_cache=False))
    t = time.perf_counter()
    ref = fp32.encode(sub, show_progress=False)
    rows[f"ragmtl Encoder fp32, first {n_st}"] = (time.perf_counter() - t, n_st)
    cos = float((fast * ref).sum(1).min())
    st = SentenceTransformer(str(minilm_path()), device="cpu")
    t = time.perf_counter()
    st.encode(sub, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    rows[f"sentence-transformers fp32, first {n_st}"] = (time.perf_counter() - t, n_st)
    st_bf16 = SentenceTransformer(str(minilm_path()), device="cpu", model_kwargs={"torch_dtype": torch.bfloat16})
    t = time.perf_counter()
    st_bf16.encode(sub, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    rows[f"sentence-transformers bf16 weights, first {n_st}"] = (time.perf_counter() - t, n_st)
    return rows, cos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--encode-texts", type=int, default=None, help="texts for our bf16 timing (default: all)")
    parser.add_argument("--st-texts", type=int, default=1000, help="texts for the encoder comparison")
    args = parser.parse_args()

    sf = load_scifact()
    docs = [d.title + " " + d.text for d in sf.corpus]
    queries = [q.text for q in sf.queries]
    analyzer = Analyzer()
    t = time.perf_counter()
    doc_tokens = [analyzer(text) for text in docs]
    query_tokens = [analyzer(q) for q in queries]
    t_analyze = time.perf_counter() - t

    bm25_rows, bm25_checks = bm25_section(doc_tokens, query_tokens, args.repeats)
    enc_rows, cos = encoding_section(docs, args.encode_texts or len(docs), args.st_texts)
    from ragmtl.encoders import Encoder

    encoder = Encoder()  # the book's encoder, with its disk cache: the vectors the chapter searches
    doc_vectors = encoder.encode(docs, show_progress=False)
    query_vectors = encoder.encode(queries, show_progress=False)
    dense_rows = dense_section(doc_vectors, query_vectors, args.repeats)

    n_q = len(queries)
    print(f"SciFact: {len(docs)} documents, {n_q} queries; analyzer (all texts, once): {t_analyze:.2f} s")
    print(f"\n{'BM25':32s} {'index (s)':>10s} {'300 queries (s)':>16s} {'queries/s':>10s}")
    for name, (t_i, t_q) in bm25_rows.items():
        print(f"{name:32s} {t_i:10.3f} {t_q:16.4f} {n_q / t_q:10.0f}")
    ours_q = bm25_rows["ragmtl BM25 (okapi idf)"][1]
    ours_lucene_q = bm25_rows["ragmtl BM25 (lucene idf)"][1]
    speedup = bm25_rows["rank-bm25 BM25Okapi"][1] / ours_q
    ratio_bm25s = ours_lucene_q / bm25_rows["bm25s (lucene)"][1]
    print(f"query speed-up vs rank-bm25: {speedup:.0f}x; time ratio ours/bm25s: {ratio_bm25s:.2f}; checks {bm25_checks}")
    print(f"\n{'dense search (k=10)':32s} {'build (s)':>10s} {'300 queries (s)':>16s} {'recall@10':>10s}")
    for name, (t_i, t_q, rec) in dense_rows.items():
        print(f"{name:32s} {t_i:10.3f} {t_q:16.4f} {rec:10.3f}")
    print(f"\n{'encoding':48s} {'seconds':>9s} {'texts/s':>9s}")
    for name, (secs, n) in enc_rows.items():
        print(f"{name:48s} {secs:9.1f} {n / secs:9.1f}")
    print(f"min cosine bf16 vs fp32 (first {args.st_texts}): {cos:.6f}")

    import bm25s
    import faiss
    import torch

    result = {
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                    "faiss": faiss.__version__, "bm25s": bm25s.__version__},
        "n_docs": len(docs), "n_queries": n_q, "repeats": args.repeats, "analyze_s": t_analyze,
        "bm25_median_s": {name: {"index": t_i, "query_all": t_q} for name, (t_i, t_q) in bm25_rows.items()},
        "bm25_speedup_vs_rank_bm25": speedup,
        "bm25_time_ratio_vs_bm25s": ratio_bm25s,
        **bm25_checks,
        "dense_median_s": {name: {"build": t_i, "query_all": t_q, "recall_at_10": rec}
                           for name, (t_i, t_q, rec) in dense_rows.items()},
        "encoding_s": {name: {"seconds": s, "texts": n} for name, (s, n) in enc_rows.items()},
        "encoding_min_cosine_bf16_vs_fp32": cos,
    }
    result["load_average_1min_at_end"] = os.getloadavg()[0]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten {args.out}")


if __name__ == "__main__":
    main()
