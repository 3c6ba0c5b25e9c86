"""TF-IDF cosine retrieval (Salton & Buckley, 1988) on the shared analyzer and count matrix.

A document d becomes the vector with entries ``tf(t, d) * idf(t)``, L2-normalised, where

    tf(t, d)  = 1 + log f(t, d)  (sublinear, ``sublinear_tf=True``)  or  f(t, d)
    idf(t)    = log((1 + N) / (1 + n_t)) + 1   (smoothed, as scikit-learn's TfidfVectorizer)

with N documents and n_t of them containing t. A query is weighted the same way, and its score
against a document is the cosine of the two vectors (a dot product of unit vectors). Unlike BM25,
term frequency grows without bound (or logarithmically) and document length enters only through
the normalisation.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .analyzer import Analyzer
from .base import check_corpus, check_k, check_queries, empty_rows, top_k_sparse
from .sparse import Vocabulary, count_matrix

__all__ = ["TfidfConfig", "tfidf_idf", "tfidf_vectors", "TfidfRetriever"]


@dataclass(frozen=True)
class TfidfConfig:
    """Settings of :class:`TfidfRetriever`."""

    sublinear_tf: bool = True  # 1 + log(count) instead of the raw count


def tfidf_idf(doc_freq: np.ndarray, n_docs: int) -> np.ndarray:
    """Smoothed idf [n_terms]: ``log((1 + N) / (1 + n_t)) + 1``."""
    return np.log((1.0 + n_docs) / (1.0 + np.asarray(doc_freq, dtype=np.float64))) + 1.0


def tfidf_vectors(counts, idf: np.ndarray, sublinear_tf: bool = True):
    """L2-normalised TF-IDF rows, CSR [n_rows, n_terms], from term ``counts`` CSR and ``idf`` [n_terms].
    All-zero rows (no known term) stay zero."""
    vectors = counts.tocsr().astype(np.float64, copy=True)
    if sublinear_tf:
        vectors.data = 1.0 + np.log(vectors.data)
    vectors.data *= idf[vectors.indices]
    norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(1)).ravel())
    rows = np.repeat(np.arange(vectors.shape[0]), np.diff(vectors.indptr))
    vectors.data /= norms[rows]
    return vectors


class TfidfRetriever:
    """TF-IDF cosine retriever: ``index(texts)``, then ``search(queries, k) -> (scores, ids)``.

    ``scores`` are cosines in [0, 1], shape [n_queries, min(k, n_docs)]. Raises ``ValueError`` for
    an empty corpus or ``k <= 0``.
    """

    def __init__(self, config: TfidfConfig | None = None, analyzer: Analyzer | None = None) -> None:
        self.config = config or TfidfConfig()
        self.analyzer = analyzer or Analyzer()
        self.n_docs = 0

    def index(self, texts: Sequence[str]) -> "TfidfRetriever":
        """Analyze and index a corpus of texts."""
        docs = [self.analyzer(t) for t in check_corpus(texts)]
        self.vocab = Vocabulary.build(docs)
        counts = count_matrix(docs, self.vocab)
        self.n_docs = counts.shape[0]
        self.idf = tfidf_idf(np.bincount(counts.indices, minlength=len(self.vocab)), self.n_docs)
        self.doc_vectors_t = tfidf_vectors(counts, self.idf, self.config.sublinear_tf).T.tocsr()
        return self

    def score_sparse(self, queries: Sequence[str]):
        """Cosine scores as CSR [n_queries, n_docs] (documents sharing no term: 0)."""
        if self.n_docs == 0:
            raise RuntimeError("TfidfRetriever has no index yet: call index(texts) first")
        q = count_matrix([self.analyzer(t) for t in check_queries(queries)], self.vocab)
        return tfidf_vectors(q, self.idf, self.config.sublinear_tf) @ self.doc_vectors_t

    def score(self, queries: Sequence[str]) -> np.ndarray:
        """Cosine scores [n_queries, n_docs]."""
        return self.score_sparse(queries).toarray()

    def search(self, queries: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` documents per query: (scores [Q, k], ids [Q, k]); k is clamped to n_docs. A query
        with no indexed term gets an empty row (ids -1, scores -inf) and a ``UserWarning``."""
        check_k(k, max(self.n_docs, 1))
        if self.n_docs == 0:
            raise RuntimeError("TfidfRetriever has no index yet: call index(texts) first")
        queries = check_queries(queries)
        counts = count_matrix([self.analyzer(t) for t in queries], self.vocab)
        scores, ids = top_k_sparse(tfidf_vectors(counts, self.idf, self.config.sublinear_tf) @ self.doc_vectors_t, k)
        return empty_rows(scores, ids, np.diff(counts.indptr) > 0, queries)
