"""Dense bi-encoder retrieval (Karpukhin et al., 2020, DPR) over MiniLM vectors in a FAISS index.

Documents and queries are encoded separately by the same sentence encoder into unit vectors;
a document's score is the inner product with the query (a cosine). The vectors live in a FAISS
index (Johnson et al., 2019):

* ``"flat"`` — ``IndexFlatIP``: exact, brute-force inner products, O(N d) per query;
* ``"hnsw"`` — ``IndexHNSWFlat``: a navigable small-world graph (Malkov & Yashunin, 2018),
  approximate, sub-linear; ``hnsw_m`` links per node, ``ef_search`` candidates per query;
* ``"ivf"``  — ``IndexIVFFlat``: k-means cells (``ivf_nlist``), only ``ivf_nprobe`` nearest cells
  are scanned per query; approximate.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .base import check_corpus, check_finite, check_k, check_queries

__all__ = ["DenseConfig", "INDEX_TYPES", "build_faiss_index", "DenseRetriever"]

INDEX_TYPES = ("flat", "hnsw", "ivf")


@dataclass(frozen=True)
class DenseConfig:
    """Settings of :class:`DenseRetriever`'s FAISS index."""

    index_type: str = "flat"  # "flat" (exact), "hnsw" or "ivf" (approximate)
    hnsw_m: int = 32  # HNSW: graph neighbours per node
    ef_construction: int = 64  # HNSW: candidate list size while building
    ef_search: int = 64  # HNSW: candidate list size while searching (raised to k when smaller)
    ivf_nlist: int = 64  # IVF: number of k-means cells
    ivf_nprobe: int = 8  # IVF: cells scanned per query
    seed: int = 0  # IVF: k-means seed
    single_thread_build: bool = True  # build HNSW/IVF on one thread: the same vectors give the same index

    def __post_init__(self) -> None:
        if self.index_type not in INDEX_TYPES:
            raise ValueError(f"unknown index_type {self.index_type!r}; expected one of {list(INDEX_TYPES)}")
        for name in ("hnsw_m", "ef_construction", "ef_search", "ivf_nlist", "ivf_nprobe"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


def build_faiss_index(vectors: np.ndarray, config: DenseConfig):
    """A FAISS inner-product index over ``vectors`` [N, d] (float32, ideally unit-norm).

    IVF needs at least ``ivf_nlist`` vectors to train; with fewer, nlist is lowered to N. FAISS inserts
    into an HNSW graph from several threads, so the graph (and its recall) can differ from run to run;
    ``single_thread_build`` makes the build reproducible.
    """
    import faiss

    threads = faiss.omp_get_max_threads()
    if config.single_thread_build and config.index_type != "flat":
        faiss.omp_set_num_threads(1)
    try:
        return _build(faiss, vectors, config)
    finally:
        faiss.omp_set_num_threads(threads)


def _build(faiss, vectors: np.ndarray, config: DenseConfig):
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    if config.index_type == "flat":
        index = faiss.IndexFlatIP(dim)
    elif config.index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dim, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = config.ef_construction
        index.hnsw.efSearch = config.ef_search
    else:
        nlist = min(config.ivf_nlist, n)
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = config.seed
        index.cp.min_points_per_centroid = 1  # a small corpus is fine: no warning
        index.train(vectors)
        index.nprobe = min(config.ivf_nprobe, nlist)
    index.add(vectors)
    return index


class DenseRetriever:
    """Dense retriever: ``DenseRetriever(encoder).index(texts)`` or ``.index_vectors(doc_vectors)``,
    then ``search(queries, k) -> (scores [Q, k], ids [Q, k])``.

    ``queries`` are strings (encoded with ``encoder``) or a float array [Q, dim]. Raises
    ``ValueError`` for an empty corpus, ``k <= 0``, query vectors whose dimension differs from
    the index's, or document or query vectors holding NaN or infinity (naming their rows). Approximate indexes may find fewer than k documents: missing slots have id -1 and
    score -inf.
    """

    def __init__(self, encoder=None, config: DenseConfig | None = None) -> None:
        self.encoder = encoder  # anything with encode(list[str]) -> float32 [N, dim], e.g. ragmtl Encoder
        self.config = config or DenseConfig()
        self.n_docs = 0

    def index(self, texts: Sequence[str]) -> "DenseRetriever":
        """Encode and index a corpus of texts (the encoder's disk cache makes a second call cheap)."""
        texts = check_corpus(texts)
        return self.index_vectors(self._encoder().encode(texts))

    def index_vectors(self, vectors: np.ndarray) -> "DenseRetriever":
        """Index precomputed document vectors [N, dim]."""
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[0] == 0 or vectors.shape[1] == 0:
            raise ValueError(f"expected document vectors of shape [n_docs >= 1, dim >= 1], got {vectors.shape}")
        check_finite(vectors, "document vectors")
        self.dim = int(vectors.shape[1])
        self.n_docs = int(vectors.shape[0])
        self.faiss_index = build_faiss_index(vectors, self.config)
        return self

    def _encoder(self):
        if self.encoder is None:
            raise ValueError("this DenseRetriever has no encoder: pass vectors, or build it with an encoder")
        return self.encoder

    def encode_queries(self, queries) -> np.ndarray:
        """Query vectors [Q, dim] from strings or an array; checks the dimension."""
        if isinstance(queries, np.ndarray):
            vectors = queries
        else:
            vectors = self._encoder().encode(check_queries(queries))
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"query vectors must have shape [n_queries, {self.dim}] to match the index, "
                             f"got {vectors.shape}")
        check_finite(vectors, "query vectors")
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def search(self, queries, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` documents per query: (scores [Q, k] float32, ids [Q, k] int64); k clamped to n_docs."""
        if self.n_docs == 0:
            raise RuntimeError("DenseRetriever has no index yet: call index(texts) or index_vectors() first")
        k = check_k(k, self.n_docs)
        vectors = self.encode_queries(queries)
        if self.config.index_type == "hnsw":  # search-time knobs are read from the config on every call
            self.faiss_index.hnsw.efSearch = max(self.config.ef_search, k)
        elif self.config.index_type == "ivf":
            self.faiss_index.nprobe = min(self.config.ivf_nprobe, self.faiss_index.nlist)
        scores, ids = self.faiss_index.search(vectors, k)
        scores[ids < 0] = -np.inf  # FAISS pads unfilled slots with id -1 and -FLT_MAX
        return scores, ids.astype(np.int64)
