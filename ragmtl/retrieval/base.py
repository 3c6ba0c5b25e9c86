"""What every retriever shares: the ``search(queries, k) -> (scores, ids)`` contract and top-k.

All retrievers in :mod:`ragmtl.retrieval` index a corpus once and answer a batch of queries with
two arrays of shape [n_queries, k]: ``scores`` (float, best first) and ``ids`` (int64 row numbers
into the indexed corpus). ``k`` larger than the corpus is clamped to the corpus size, so the arrays
may be narrower than asked; ``k <= 0`` is an error. A query that shares no term with the index (a
sparse retriever's query of stopwords or unseen words) gets an empty result: its row holds id -1
and score -inf, as an approximate index's unfilled slots do, with a ``UserWarning`` naming it.
"""
from __future__ import annotations

import warnings
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

__all__ = ["Retriever", "check_k", "check_corpus", "check_queries", "check_finite", "empty_rows", "top_k",
           "top_k_sparse"]


@runtime_checkable
class Retriever(Protocol):
    """The common interface: ``n_docs`` and ``search(queries, k) -> (scores [Q, k], ids [Q, k])``."""

    n_docs: int

    def search(self, queries: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]: ...


def check_k(k: int, n_docs: int) -> int:
    """Validate ``k`` and clamp it to ``n_docs``; raise ``ValueError`` for ``k <= 0`` or a non-int."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"k must be a positive int, got {k!r}")
    if k <= 0:
        raise ValueError(f"k must be >= 1, got {k}")
    return int(min(k, n_docs))


def check_corpus(texts: Sequence[str]) -> list[str]:
    """Return ``texts`` as a list, raising ``ValueError`` for an empty corpus, ``TypeError`` for non-str."""
    if isinstance(texts, str):
        raise TypeError("a corpus is a sequence of str, not one str (wrap a single text in a list)")
    texts = list(texts)
    if not texts:
        raise ValueError("cannot index an empty corpus: expected at least one document")
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise TypeError(f"document {bad} is a {type(texts[bad]).__name__}, expected str")
    return texts


def check_queries(queries: Sequence[str]) -> list[str]:
    """Return ``queries`` as a list of str; a bare str is a ``TypeError`` (it would be read as characters)."""
    if isinstance(queries, str):
        raise TypeError("search() takes a sequence of query strings (wrap a single query in a list)")
    queries = list(queries)
    bad = next((i for i, q in enumerate(queries) if not isinstance(q, str)), None)
    if bad is not None:
        raise TypeError(f"query {bad} is a {type(queries[bad]).__name__}, expected str")
    return queries


def check_finite(vectors: np.ndarray, what: str) -> np.ndarray:
    """``vectors`` [N, d] unchanged; ``ValueError`` listing the rows holding NaN or infinity (an inner
    product with such a row is NaN, and FAISS silently drops NaN scores)."""
    bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
    if bad.size:
        shown = ", ".join(str(i) for i in bad[:10]) + (f", ... {bad.size - 10} more" if bad.size > 10 else "")
        raise ValueError(f"{what} {shown} hold NaN or infinite values: expected finite vectors")
    return vectors


def empty_rows(scores: np.ndarray, ids: np.ndarray, has_term: np.ndarray, queries) -> tuple[np.ndarray, np.ndarray]:
    """Rows of queries without an indexed term (``has_term`` False) become empty: id -1, score -inf;
    a ``UserWarning`` names those queries (instead of returning the first k documents with score 0)."""
    empty = np.flatnonzero(~np.asarray(has_term, dtype=bool))
    if empty.size:
        scores, ids = scores.astype(np.float64, copy=True), ids.copy()
        scores[empty], ids[empty] = -np.inf, -1
        shown = [queries[i] for i in empty[:5]]
        warnings.warn(f"{empty.size} of {len(has_term)} queries share no term with the index and get no result "
                      f"(id -1, score -inf): {shown}{' ...' if empty.size > 5 else ''}", UserWarning, stacklevel=4)
    return scores, ids


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` entries of each row of ``scores`` [Q, N] -> (scores [Q, k], ids [Q, k]), best first.

    ``np.argpartition`` finds the top k in O(N) per row; only those k are then sorted. Ties are
    broken by the lower document id, so results do not depend on the partition's internal order.
    """
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"expected scores of shape [n_queries, n_docs], got {scores.shape}")
    k = check_k(k, scores.shape[1])
    n_q, n_docs = scores.shape
    if k < n_docs:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        part = np.broadcast_to(np.arange(n_docs), (n_q, n_docs))
    part_scores = np.take_along_axis(scores, part, 1)
    order = np.lexsort((part, -part_scores), axis=1)  # score descending, then id ascending
    ids = np.take_along_axis(part, order, 1).astype(np.int64)
    out_scores = np.take_along_axis(part_scores, order, 1)
    if k < n_docs:
        # documents tied with the k-th score may lie outside the partition: redo those rows exactly
        kth = out_scores[:, -1:]
        straddle = np.flatnonzero((scores >= kth).sum(1) > k)
        if straddle.size:
            out_scores[straddle], ids[straddle] = _top_k_stable(scores[straddle], k)
    return out_scores, ids


def _top_k_stable(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k with ties broken by the lower id (a full stable sort; used only when ties straddle k)."""
    ids = np.argsort(-scores, axis=1, kind="stable")[:, :k].astype(np.int64)
    return np.take_along_axis(scores, ids, 1), ids


def top_k_sparse(scores, k: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`top_k` for a SciPy CSR ``scores`` [Q, N] whose missing entries are zeros.

    Sparse retrievers give most documents a score of exactly zero, so each row's top k is found
    among its stored entries only (``argpartition`` on a few thousand values instead of N). Rows
    where that is not enough -- fewer than k positive scores, so zeros or negative scores reach
    the top k -- are finished on the dense row. Same result and tie order as :func:`top_k`.
    """
    n_q, n_docs = scores.shape
    k = check_k(k, n_docs)
    scores = scores.tocsr()
    out_scores = np.empty((n_q, k), dtype=scores.dtype)
    out_ids = np.empty((n_q, k), dtype=np.int64)
    indptr, indices, data = scores.indptr, scores.indices, scores.data
    for i in range(n_q):
        row, cols = data[indptr[i]:indptr[i + 1]], indices[indptr[i]:indptr[i + 1]]
        if len(row) >= k:
            part = np.argpartition(-row, k - 1)[:k] if len(row) > k else np.arange(len(row))
            kth = row[part].min()
            if kth > 0 and (row >= kth).sum() == k:  # k positive scores, no tie across the cut
                order = np.lexsort((cols[part], -row[part]))
                out_scores[i], out_ids[i] = row[part][order], cols[part][order]
                continue
        dense_row = np.zeros((1, n_docs), dtype=scores.dtype)
        dense_row[0, cols] = row
        out_scores[i], out_ids[i] = (a[0] for a in top_k(dense_row, k))
    return out_scores, out_ids
