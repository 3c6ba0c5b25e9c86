"""ragmtl.scale.bm25_scale: the Zipf corpus is what its docstring says, and ragmtl's BM25 scores it
exactly as bm25s (Lucene variant) does."""
from collections import Counter

import numpy as np
import pytest

from ragmtl.retrieval import BM25, BM25Config
from ragmtl.scale.bm25_scale import ZipfCorpusConfig, as_bm25s_scores, build_bm25s, time_bm25, zipf_corpus, zipf_queries

pytest.importorskip("bm25s")
CONFIG = ZipfCorpusConfig(vocab_size=500, min_len=5, max_len=30, seed=3)


def test_zipf_corpus_follows_its_definition():
    docs = zipf_corpus(2000, CONFIG)
    assert docs == zipf_corpus(2000, CONFIG)  # seeded
    lengths = [len(d) for d in docs]
    assert min(lengths) == 5 and max(lengths) == 30
    counts = Counter(t for d in docs for t in d)
    total = sum(counts.values())
    law = 1 / np.arange(1, 501)
    law /= law.sum()
    for rank in (0, 1, 9):  # word w_r has probability (r + 1)^-1 / H
        assert counts[f"w{rank}"] / total == pytest.approx(law[rank], rel=0.05)
    queries = zipf_queries(50, CONFIG)
    assert all(len(q) == 5 and min(int(t[1:]) for t in q) >= 100 for q in queries)
    with pytest.raises(ValueError, match="min_len"):
        ZipfCorpusConfig(min_len=10, max_len=5)


def test_scores_identical_to_bm25s():
    docs, queries = zipf_corpus(300, CONFIG), zipf_queries(20, CONFIG)
    config = BM25Config(k1=1.2, b=0.75)
    ours = BM25(config).index_tokens(docs).score_tokens(queries)
    theirs = build_bm25s(docs, config)
    theirs_scores = np.stack([theirs.get_scores(q) for q in queries])
    # nearest wrong answers: another b, or the scale factor forgotten, differ by far more than the tolerance
    other_b = BM25(BM25Config(k1=1.2, b=0.4)).index_tokens(docs).score_tokens(queries)
    assert np.abs(as_bm25s_scores(other_b, config) - theirs_scores).max() > 0.1
    assert np.abs(ours - theirs_scores).max() > 0.1
    np.testing.assert_allclose(as_bm25s_scores(ours, config), theirs_scores, rtol=1e-5, atol=1e-6)  # bm25s: float32
    _, ids = BM25(config).index_tokens(docs).search_tokens(queries, 5)
    top = np.argsort(-theirs_scores, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(np.sort(theirs_scores[np.arange(20)[:, None], ids], 1),
                                  np.sort(theirs_scores[np.arange(20)[:, None], top], 1))


def test_timing_record():
    timing = time_bm25(zipf_corpus(500, CONFIG), zipf_queries(10, CONFIG))
    assert timing.n_docs == 500 and timing.ragmtl_query_ms > 0 and timing.bm25s_query_ms > 0
    assert timing.as_dict()["query_ratio"] == pytest.approx(timing.ragmtl_query_ms / timing.bm25s_query_ms)
    with pytest.raises(ValueError, match="Lucene"):
        build_bm25s([["a"]], BM25Config(idf="okapi"))
