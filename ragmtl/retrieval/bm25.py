"""Okapi BM25 (Robertson & Zaragoza, 2009) on a sparse document-term matrix.

For a query q and a document d of length |d| (in terms), with avgdl the mean document length,

    score(q, d) = sum over query terms t of  idf(t) * f(t, d) * (k1 + 1) / (f(t, d) + k1 * (1 - b + b * |d| / avgdl))

where f(t, d) counts t in d: ``k1`` sets how fast repeated terms saturate, ``b`` how strongly long
documents are penalised. The per-(document, term) factor does not depend on the query, so it is
computed once at indexing time into a sparse matrix W [n_docs, n_terms]; a batch of queries (as a
sparse count matrix Q [n_queries, n_terms]) is then scored with one sparse product ``Q @ W.T``, and
the best k documents per query are found with ``argpartition``.

Two idf variants (``n`` = number of documents containing t, ``N`` = number of documents):

* ``"okapi"`` — ``rank_bm25.BM25Okapi``: ``log((N - n + 0.5) / (n + 0.5))``; negative values
  (terms in more than half the documents) are replaced by ``epsilon`` times the mean idf
  (``epsilon = 0.25``). Scores equal ``BM25Okapi.get_scores`` for the same tokens.
* ``"lucene"`` — Lucene/Elasticsearch/Anserini: ``log(1 + (N - n + 0.5) / (n + 0.5))``, always
  positive. (Lucene >= 8 also drops the constant ``k1 + 1`` factor, which changes no ranking.)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .analyzer import Analyzer, AnalyzerConfig
from .base import check_corpus, check_k, check_queries, empty_rows, top_k_sparse
from .sparse import Vocabulary, count_matrix

__all__ = ["BM25Config", "IDF_VARIANTS", "bm25_idf", "bm25_term_weight", "bm25_weights", "BM25"]

IDF_VARIANTS = ("okapi", "lucene")


@dataclass(frozen=True)
class BM25Config:
    """Settings of :class:`BM25`."""

    k1: float = 0.9  # term-frequency saturation (Anserini's default; rank_bm25 uses 1.5)
    b: float = 0.4  # length normalisation, 0 = none, 1 = full (Anserini's default; rank_bm25 0.75)
    idf: str = "lucene"  # "lucene" or "okapi" (rank_bm25.BM25Okapi)
    epsilon: float = 0.25  # "okapi" only: negative idfs become epsilon * mean idf

    def __post_init__(self) -> None:
        if self.idf not in IDF_VARIANTS:
            raise ValueError(f"unknown idf variant {self.idf!r}; expected one of {list(IDF_VARIANTS)}")
        if self.k1 < 0 or not 0 <= self.b <= 1:
            raise ValueError(f"need k1 >= 0 and 0 <= b <= 1, got k1={self.k1}, b={self.b}")


def bm25_idf(doc_freq: np.ndarray, n_docs: int, variant: str = "lucene", epsilon: float = 0.25) -> np.ndarray:
    """Inverse document frequency per term, from ``doc_freq`` [n_terms] (documents containing each term).

    Raises ``ValueError`` for an unknown ``variant`` (see the module docstring for both formulas).
    """
    df = np.asarray(doc_freq, dtype=np.float64)
    if variant == "okapi":
        idf = np.log(n_docs - df + 0.5) - np.log(df + 0.5)  # the same float ops as rank_bm25
        if idf.size:
            idf = np.where(idf < 0, epsilon * idf.mean(), idf)
        return idf
    if variant == "lucene":
        return np.log1p((n_docs - df + 0.5) / (df + 0.5))
    raise ValueError(f"unknown idf variant {variant!r}; expected one of {list(IDF_VARIANTS)}")


def bm25_term_weight(tf, length_ratio, k1: float, b: float):
    """The BM25 term-frequency factor ``tf * (k1 + 1) / (tf + k1 * (1 - b + b * length_ratio))``.

    ``tf`` is the term's count in the document and ``length_ratio`` = |d| / avgdl (arrays broadcast).
    It is 0 at tf = 0, tends to k1 + 1 as tf grows (saturation), and shrinks as the document grows.
    """
    tf = np.asarray(tf, dtype=np.float64)
    return tf * (k1 + 1) / (tf + k1 * (1 - b + b * np.asarray(length_ratio, dtype=np.float64)))


def bm25_weights(counts, idf: np.ndarray, k1: float, b: float):
    """Query-independent BM25 factor per (document, term): CSR [n_docs, n_terms] from term ``counts``
    (CSR [n_docs, n_terms]) and ``idf`` [n_terms]; a query's scores are its term counts times this."""
    counts = counts.tocsr()
    doc_len = np.asarray(counts.sum(1)).ravel()
    avgdl = doc_len.mean() if doc_len.size else 0.0
    avgdl = avgdl if avgdl > 0 else 1.0
    rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    weights = counts.copy()
    weights.data = idf[weights.indices] * bm25_term_weight(weights.data, doc_len[rows] / avgdl, k1, b)
    return weights


class BM25:
    """Okapi BM25 retriever: ``BM25().index(texts)``, then ``search(queries, k) -> (scores, ids)``.

    ``scores``/``ids`` are [n_queries, min(k, n_docs)], best first (ties: lower id first).
    Raises ``ValueError`` for an empty corpus, ``k <= 0`` or an unknown idf variant.
    """

    def __init__(self, config: BM25Config | None = None, analyzer: Analyzer | None = None) -> None:
        self.config = config or BM25Config()
        self.analyzer = analyzer or Analyzer(AnalyzerConfig())
        self.n_docs = 0

    def index(self, texts: Sequence[str]) -> "BM25":
        """Analyze and index a corpus of texts."""
        texts = check_corpus(texts)
        return self.index_tokens([self.analyzer(t) for t in texts])

    def index_tokens(self, docs: Sequence[Sequence[str]]) -> "BM25":
        """Index pre-analyzed documents (a list of term lists), e.g. the same tokens given to rank_bm25."""
        if len(docs) == 0:
            raise ValueError("cannot index an empty corpus: expected at least one document")
        cfg = self.config
        self.vocab = Vocabulary.build(docs)
        counts = count_matrix(docs, self.vocab)
        self.n_docs = counts.shape[0]
        self.doc_freq = np.bincount(counts.indices, minlength=len(self.vocab))
        self.idf = bm25_idf(self.doc_freq, self.n_docs, cfg.idf, cfg.epsilon)
        # stored transposed (CSC of W == CSR of W.T) so that Q @ W.T is a CSR x CSC-friendly product
        self.weights_t = bm25_weights(counts, self.idf, cfg.k1, cfg.b).T.tocsr()
        return self

    def score_tokens_sparse(self, queries: Sequence[Sequence[str]]):
        """BM25 scores of pre-analyzed queries as CSR [n_queries, n_docs] (unmatched documents: 0)."""
        if self.n_docs == 0:
            raise RuntimeError("BM25 has no index yet: call index(texts) first")
        return count_matrix(queries, self.vocab) @ self.weights_t

    def score_tokens(self, queries: Sequence[Sequence[str]]) -> np.ndarray:
        """Dense BM25 scores [n_queries, n_docs] of pre-analyzed queries (lists of terms)."""
        return self.score_tokens_sparse(queries).toarray()

    def score(self, queries: Sequence[str]) -> np.ndarray:
        """Dense BM25 scores [n_queries, n_docs] of query strings."""
        return self.score_tokens([self.analyzer(q) for q in check_queries(queries)])

    def search(self, queries: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` documents per query: (scores [Q, k], ids [Q, k]); k is clamped to n_docs."""
        queries = check_queries(queries)
        return self._search([self.analyzer(q) for q in queries], k, queries)

    def search_tokens(self, queries: Sequence[Sequence[str]], k: int) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`search`, for pre-analyzed queries; a query with no indexed term gets an empty
        row (ids -1, scores -inf) and a ``UserWarning``."""
        return self._search(queries, k, [" ".join(q) for q in queries])

    def _search(self, queries: Sequence[Sequence[str]], k: int, labels: Sequence[str]):
        check_k(k, max(self.n_docs, 1))
        if self.n_docs == 0:
            raise RuntimeError("BM25 has no index yet: call index(texts) first")
        counts = count_matrix(queries, self.vocab)
        scores, ids = top_k_sparse(counts @ self.weights_t, k)
        return empty_rows(scores, ids, np.diff(counts.indptr) > 0, labels)
