"""The common search(queries, k) -> (scores, ids) interface, dense FAISS indexes, RRF and bad inputs."""
import numpy as np
import pytest

from ragmtl.retrieval import (BM25, INDEX_TYPES, DenseConfig, DenseRetriever, HybridConfig, HybridRetriever,
                              Retriever, TfidfRetriever, reciprocal_rank_fusion)

CORPUS = ["stem cells and cell types", "a red cat on a mat", "quick brown fox", "lazy dogs sleep",
          "cats and dogs", "protein folding in cells"]


class ToyEncoder:
    """A hand-made 'encoder': one axis per keyword, so the best document is known on paper."""

    words = ["cell", "cat", "fox", "dog"]
    dim = 4

    def encode(self, texts):
        v = np.array([[float(w in t) for w in self.words] for t in texts], dtype=np.float32) + 1e-3
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def make_retrievers():
    enc = ToyEncoder()
    return {
        "bm25": BM25().index(CORPUS),
        "tfidf": TfidfRetriever().index(CORPUS),
        **{f"dense-{t}": DenseRetriever(enc, DenseConfig(index_type=t, ivf_nlist=2, ivf_nprobe=2)).index(CORPUS)
           for t in INDEX_TYPES},
    }


@pytest.mark.parametrize("name", ["bm25", "tfidf", "dense-flat", "dense-hnsw", "dense-ivf", "hybrid"])
def test_common_interface(name):
    retrievers = make_retrievers()
    r = (HybridRetriever([retrievers["bm25"], retrievers["dense-flat"]]) if name == "hybrid"
         else retrievers[name])
    assert isinstance(r, Retriever) and r.n_docs == len(CORPUS)
    scores, ids = r.search(["stem cell", "fox"], 3)
    assert scores.shape == ids.shape == (2, 3) and ids.dtype == np.int64
    assert (np.diff(scores, axis=1) <= 1e-6).all()  # best first
    assert ids[1, 0] == 2  # "fox" -> the fox document
    assert ids[0, 0] in (0, 5)
    s_all, ids_all = r.search(["cat"], 100)  # k larger than the corpus is clamped
    assert ids_all.shape == (1, len(CORPUS)) and sorted(ids_all[0]) == list(range(len(CORPUS)))
    with pytest.raises(ValueError, match="k must be >= 1"):
        r.search(["cat"], 0)
    with pytest.raises(TypeError, match="wrap a single query"):
        r.search("cat", 2)


def test_dense_flat_equals_numpy_brute_force():
    rng = np.random.default_rng(0)
    docs = rng.normal(size=(200, 16)).astype(np.float32)
    queries = rng.normal(size=(5, 16)).astype(np.float32)
    scores, ids = DenseRetriever().index_vectors(docs).search(queries, 7)
    expected = np.argsort(-(queries @ docs.T), axis=1)[:, :7]
    assert (ids == expected).all()
    np.testing.assert_allclose(scores, np.take_along_axis(queries @ docs.T, expected, 1), rtol=1e-5)


def test_approximate_indexes_find_most_neighbours():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(20, 32))  # clustered data, as text embeddings are
    docs = (centres[rng.integers(0, 20, 2000)] + 0.4 * rng.normal(size=(2000, 32))).astype(np.float32)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    queries = docs[:50] + 0.1 * rng.normal(size=(50, 32)).astype(np.float32)
    exact = DenseRetriever().index_vectors(docs).search(queries, 10)[1]
    for cfg in (DenseConfig("hnsw"), DenseConfig("ivf", ivf_nlist=16, ivf_nprobe=4)):
        approx = DenseRetriever(config=cfg).index_vectors(docs).search(queries, 10)[1]
        recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)])
        assert recall > 0.8, (cfg.index_type, recall)


def test_rrf_by_hand():
    # query 0: ranking A = [2, 0], ranking B = [0, 1]; c = 60
    fused = reciprocal_rank_fusion([np.array([[2, 0]]), np.array([[0, 1]])], n_docs=3, c=60)
    np.testing.assert_allclose(fused, [[1 / 62 + 1 / 61, 1 / 62, 1 / 61]])
    weighted = reciprocal_rank_fusion([np.array([[2, -1]])], n_docs=3, c=0, weights=[2.0])
    np.testing.assert_allclose(weighted, [[0, 0, 2.0]])
    with pytest.raises(ValueError, match="weights"):
        reciprocal_rank_fusion([np.array([[0]])], 1, weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="every ranking"):
        reciprocal_rank_fusion([np.array([[0]]), np.array([[0], [1]])], 2)


def test_hybrid_fuses_by_rank():
    r = make_retrievers()
    hybrid = HybridRetriever([r["bm25"], r["dense-flat"]], HybridConfig(depth=6))
    scores, ids = hybrid.search(["cats"], 6)
    ranks_bm25 = {d: i + 1 for i, d in enumerate(r["bm25"].search(["cats"], 6)[1][0])}
    ranks_dense = {d: i + 1 for i, d in enumerate(r["dense-flat"].search(["cats"], 6)[1][0])}
    expected = {d: 1 / (60 + ranks_bm25[d]) + 1 / (60 + ranks_dense[d]) for d in range(6)}
    for s, d in zip(scores[0], ids[0]):
        assert s == pytest.approx(expected[d])


def test_bad_inputs():
    for r in (BM25(), TfidfRetriever(), DenseRetriever(ToyEncoder())):
        with pytest.raises(ValueError, match="empty corpus"):
            r.index([])
    with pytest.raises(ValueError, match="empty corpus"):
        BM25().index_tokens([])
    with pytest.raises(ValueError, match="n_docs >= 1"):
        DenseRetriever().index_vectors(np.zeros((0, 4), dtype=np.float32))
    dense = DenseRetriever(ToyEncoder()).index(CORPUS)
    with pytest.raises(ValueError, match=r"shape \[n_queries, 4\]"):
        dense.search(np.zeros((2, 5), dtype=np.float32), 3)
    with pytest.raises(ValueError, match="unknown index_type 'lsh'"):
        DenseConfig(index_type="lsh")
    with pytest.raises(ValueError, match="has no encoder"):
        DenseRetriever().index(CORPUS)
    with pytest.raises(ValueError, match="same non-empty corpus"):
        HybridRetriever([BM25().index(CORPUS), BM25().index(CORPUS[:2])])
    with pytest.raises(ValueError, match="k must be"):
        BM25().index(CORPUS).search(["cat"], -3)
    with pytest.raises(ValueError, match="positive int"):
        BM25().index(CORPUS).search(["cat"], 2.5)
    with pytest.raises(RuntimeError, match="no index yet"):
        BM25().search(["cat"], 1)


def test_sweep_recall_grows_with_the_knob():
    from ragmtl.retrieval import recall_vs_exact, sweep_indexes

    rng = np.random.default_rng(2)
    centres = rng.normal(size=(10, 16))
    docs = (centres[rng.integers(0, 10, 1000)] + 0.5 * rng.normal(size=(1000, 16))).astype(np.float32)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    points = sweep_indexes(docs, docs[:40], k=10, ef_search=(10, 200), nprobe=(1, 64),
                           base=DenseConfig(ivf_nlist=32), repeats=1)
    by = {(p.index_type, p.value): p.recall for p in points}
    assert by[("flat", 0)] == 1.0
    assert by[("ivf", 64)] == 1.0 and by[("ivf", 1)] < by[("ivf", 64)]
    assert by[("hnsw", 200)] >= by[("hnsw", 10)] and by[("hnsw", 200)] > 0.95
    assert recall_vs_exact(np.array([[1, 2]]), np.array([[2, 3]])) == 0.5
    with pytest.raises(ValueError, match="same shape"):
        recall_vs_exact(np.array([[1, 2]]), np.array([[2]]))
