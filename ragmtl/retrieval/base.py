"""What every retriever shares: the ``search(queries, k) -> (scores, ids)`` contract and top-k.

All retrievers in :mod:`ragmtl.retrieval` index a corpus once and answer a batch of queries with
two arrays of shape [n_queries, k]: ``scores`` (float, best first) and ``ids`` (int64 row numbers
into the indexed corpus). ``k`` larger than the corpus is clamped to the corpus size, so the arrays
may be narrower than asked; ``k <= 0`` is an error.
"""
from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np

__all__ = ["Retriever", "check_k", "check_corpus", "top_k"]


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
