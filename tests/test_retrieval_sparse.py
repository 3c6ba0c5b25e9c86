"""BM25 against rank_bm25, TF-IDF by hand, the analyzer, and top-k."""
import math

import numpy as np
import pytest

from ragmtl.retrieval import (BM25, Analyzer, AnalyzerConfig, BM25Config, TfidfConfig, TfidfRetriever,
                              bm25_idf, top_k)

CORPUS = [
    "The cat sat on the mat.",
    "Dogs and cats living together; cats everywhere.",
    "A quick brown fox jumps over the lazy dog.",
    "Stem cells differentiate into many cell types.",
    "The mat was red, the cat was not.",
    "Cells, cells, cells: the cell is the unit of life.",
    "",
    "Foxes are quick; dogs are lazy.",
]
QUERIES = ["cat on a mat", "stem cell", "lazy dogs and quick foxes", "unicorn", "cells cells"]


def test_analyzer_steps():
    assert Analyzer()("The Cats are RUNNING, isn't it?") == ["cat", "run", "isn", "t"]
    plain = Analyzer(AnalyzerConfig(stem=False, stop_words=frozenset()))
    assert plain("The Cats_are") == ["the", "cats", "are"]
    assert Analyzer(AnalyzerConfig(stem=False, min_length=3))("a bc def ghij") == ["def", "ghij"]
    with pytest.raises(TypeError, match="takes a str"):
        Analyzer()(["a list"])
    with pytest.raises(ValueError, match="min_length"):
        AnalyzerConfig(min_length=0)


# Four more documents with "cat" make it occur in 7 of 12 documents: its raw Okapi idf is negative,
# so rank_bm25's epsilon floor (negative idf -> epsilon * mean idf) is exercised by the query "cat on a mat".
COMMON_CORPUS = CORPUS + ["A cat and a cell.", "Cat cells.", "The cat's mat.", "One cat, one dog."]


def _far(a, b, tol=1e-3):
    """The two score matrices differ by far more than the equality tolerance (1e-6) below."""
    return np.abs(np.asarray(a) - np.asarray(b)).max() > tol


@pytest.mark.parametrize("k1,b", [(1.5, 0.75), (1.2, 0.3), (0.9, 0.95)])
def test_bm25_equals_rank_bm25(k1, b):
    """The trusted peer: rank_bm25.BM25Okapi on the very same tokens and parameters. The inputs tell
    the peer from its nearest siblings (k1 or b perturbed, another epsilon, no floor, Lucene idf)
    by far more than the tolerance, so a wrong parameter or idf variant cannot pass."""
    from rank_bm25 import BM25Okapi

    analyzer = Analyzer()
    docs = [analyzer(t) for t in COMMON_CORPUS]
    queries = [analyzer(q) for q in QUERIES] + [["cat", "cat", "mat"]]  # a repeated term counts twice
    n, df_cat = len(docs), sum("cat" in d for d in docs)
    assert math.log((n - df_cat + 0.5) / (df_cat + 0.5)) < 0  # the epsilon floor is in play

    def peer(k1=k1, b=b, epsilon=0.25):
        model = BM25Okapi(docs, k1=k1, b=b, epsilon=epsilon)
        return np.array([model.get_scores(q) for q in queries])

    expected = peer()
    siblings = {"k1 + 0.1": peer(k1=k1 + 0.1), "b - 0.1": peer(b=b - 0.1), "epsilon 0.5": peer(epsilon=0.5),
                "no epsilon floor": peer(epsilon=0.0),
                "lucene idf": BM25(BM25Config(k1=k1, b=b, idf="lucene")).index_tokens(docs).score_tokens(queries)}
    for name, scores in siblings.items():
        assert _far(scores, expected), f"the test cannot tell BM25Okapi from its sibling '{name}'"
    ours = BM25(BM25Config(k1=k1, b=b, idf="okapi")).index_tokens(docs)
    np.testing.assert_allclose(ours.score_tokens(queries), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("k1,b", [(0.9, 0.4), (1.2, 0.75)])
def test_bm25_lucene_equals_bm25s(k1, b):
    """The Lucene idf variant against bm25s (method="lucene"), which drops Lucene's constant (k1 + 1)
    numerator (it does not change a ranking): ours = (k1 + 1) * bm25s. Perturbed k1 or b, and the
    Okapi idf, differ from the peer by far more than the tolerance."""
    import bm25s

    analyzer = Analyzer()
    docs = [analyzer(t) for t in COMMON_CORPUS]
    queries = [analyzer(q) for q in QUERIES] + [["cat", "cat", "mat"]]

    def peer(k1=k1, b=b):
        model = bm25s.BM25(method="lucene", k1=k1, b=b)
        model.index(docs, show_progress=False)
        return (k1 + 1) * np.array([model.get_scores(q) for q in queries], dtype=np.float64)

    expected = peer()
    assert (expected > 0).any()
    okapi = BM25(BM25Config(k1=k1, b=b, idf="okapi")).index_tokens(docs).score_tokens(queries)
    for name, scores in {"k1 + 0.1": peer(k1=k1 + 0.1), "b + 0.1": peer(b=b + 0.1), "okapi idf": okapi}.items():
        assert _far(scores, expected), f"the test cannot tell Lucene BM25 from its sibling '{name}'"
    ours = BM25(BM25Config(k1=k1, b=b, idf="lucene")).index_tokens(docs)
    np.testing.assert_allclose(ours.score_tokens(queries), expected, rtol=1e-5, atol=1e-6)  # bm25s is float32


@pytest.mark.slow
def test_bm25_equals_rank_bm25_on_scifact(shared_data):
    from rank_bm25 import BM25Okapi

    from ragmtl.data import load_scifact

    sf = load_scifact()
    analyzer = Analyzer()
    docs = [analyzer(d.title + " " + d.text) for d in sf.corpus[:1500]]
    queries = [analyzer(q.text) for q in sf.queries[:20]]
    ours = BM25(BM25Config(k1=1.5, b=0.75, idf="okapi")).index_tokens(docs)
    peer = BM25Okapi(docs)
    expected = np.array([peer.get_scores(q) for q in queries])
    np.testing.assert_allclose(ours.score_tokens(queries), expected, rtol=0, atol=1e-6)
    _, ids = ours.search_tokens(queries, 10)
    assert (ids == np.argsort(-expected, axis=1, kind="stable")[:, :10]).mean() > 0.99


def test_idf_variants_by_hand():
    df, n = np.array([1, 2, 3]), 4
    okapi_raw = [math.log((4 - d + 0.5) / (d + 0.5)) for d in df]  # 1.0986, 0, -1.0986
    mean = sum(okapi_raw) / 3
    np.testing.assert_allclose(bm25_idf(df, n, "okapi"), [okapi_raw[0], 0.0, 0.25 * mean])
    np.testing.assert_allclose(bm25_idf(df, n, "lucene"), [math.log(1 + (4 - d + 0.5) / (d + 0.5)) for d in df])
    assert (bm25_idf(df, n, "lucene") > 0).all()
    with pytest.raises(ValueError, match="unknown idf variant 'bm11'"):
        bm25_idf(df, n, "bm11")
    with pytest.raises(ValueError, match="unknown idf variant"):
        BM25Config(idf="robertson")


def test_bm25_lucene_single_document_by_hand():
    # one term in a 2-doc corpus: N=2, n=1 -> idf = log(1 + 1.5/1.5) = log 2; d0 has f=2, |d0|=3, avgdl=2
    bm = BM25(BM25Config(k1=1.2, b=0.75, idf="lucene")).index_tokens([["x", "x", "y"], ["y"]])
    norm = 1.2 * (1 - 0.75 + 0.75 * 3 / 2)
    expected = math.log(2) * 2 * 2.2 / (2 + norm)
    np.testing.assert_allclose(bm.score_tokens([["x"]]), [[expected, 0.0]], atol=1e-12)


def test_tfidf_by_hand():
    # docs: d0 = [a, a, b], d1 = [b]; smoothed idf: a -> log(3/2)+1, b -> log(3/3)+1 = 1
    r = TfidfRetriever(TfidfConfig(sublinear_tf=False), Analyzer(AnalyzerConfig(stem=False, stop_words=frozenset())))
    r.index(["a a b", "b"])
    ia = math.log(1.5) + 1
    d0 = np.array([2 * ia, 1.0]) / math.hypot(2 * ia, 1.0)
    q = np.array([ia, 0.0]) / ia  # query "a"
    scores = r.score(["a", "b", "zzz"])
    np.testing.assert_allclose(scores[0], [q @ d0, 0.0], atol=1e-12)
    np.testing.assert_allclose(scores[1], [d0[1], 1.0], atol=1e-12)
    np.testing.assert_allclose(scores[2], [0.0, 0.0])


def test_tfidf_ranks_the_matching_document_first():
    r = TfidfRetriever().index(CORPUS)
    _, ids = r.search(["stem cell types", "quick fox"], 2)
    assert ids[0, 0] == 3 and ids[1, 0] in (2, 7)


def test_top_k_ties_and_clamp():
    scores = np.array([[0.1, 0.5, 0.5, 0.2, 0.5], [3.0, 2.0, 1.0, 0.0, -1.0]])
    s, ids = top_k(scores, 2)
    assert ids.tolist() == [[1, 2], [0, 1]] and s.tolist() == [[0.5, 0.5], [3.0, 2.0]]
    s, ids = top_k(scores, 50)  # clamped to the corpus size
    assert ids.shape == (2, 5) and ids[1].tolist() == [0, 1, 2, 3, 4]
    rng = np.random.default_rng(0)
    big = rng.integers(0, 5, size=(7, 300)).astype(float)  # many ties
    _, ids = top_k(big, 10)
    assert (ids == np.argsort(-big, axis=1, kind="stable")[:, :10]).all()


def test_top_k_sparse_equals_dense_top_k():
    from scipy import sparse

    from ragmtl.retrieval import top_k_sparse

    rng = np.random.default_rng(3)
    dense = rng.integers(0, 4, size=(40, 60)).astype(float) * (rng.random((40, 60)) < 0.3)
    dense[0] = 0.0  # nothing matches
    dense[1, :3] = [-1.0, 2.0, 0.5]  # a negative score and fewer than k positives
    dense[1, 3:] = 0.0
    dense[2, 5] = 0.0  # explicit zero stored in the matrix below
    r, c = np.nonzero(dense)
    r, c = np.append(r, 2), np.append(c, 5)  # plus an explicitly stored zero
    m = sparse.csr_matrix((dense[r, c], (r, c)), shape=dense.shape)
    assert m.nnz == len(r)
    for k in (1, 5, 10, 60, 100):
        s_ref, i_ref = top_k(dense, k)
        s, i = top_k_sparse(m, k)
        assert (i == i_ref).all() and (s == s_ref).all(), k
