"""Hybrid retrieval by reciprocal rank fusion (Cormack, Clarke & Buttcher, 2009).

Each retriever ranks the corpus; a document's fused score is

    RRF(d) = sum over retrievers r of  w_r / (c + rank_r(d))

with ``rank_r(d)`` its 1-based rank in retriever r's top ``depth`` (documents outside it add
nothing) and ``c = 60`` as in the paper. Only ranks are used, so scores on different scales
(BM25's unbounded sums, cosines in [-1, 1]) need no calibration.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .base import check_k, top_k

__all__ = ["reciprocal_rank_fusion", "HybridConfig", "HybridRetriever"]


def reciprocal_rank_fusion(rankings: Sequence[np.ndarray], n_docs: int, c: float = 60.0,
                           weights: Sequence[float] | None = None) -> np.ndarray:
    """Fused RRF scores [Q, n_docs] from ``rankings``: a list of id arrays [Q, k_r], best first
    (id -1 marks an empty slot and is skipped). Raises ``ValueError`` on mismatched query counts."""
    if not rankings:
        raise ValueError("reciprocal_rank_fusion needs at least one ranking")
    weights = [1.0] * len(rankings) if weights is None else list(weights)
    if len(weights) != len(rankings):
        raise ValueError(f"got {len(weights)} weights for {len(rankings)} rankings")
    n_q = np.asarray(rankings[0]).shape[0]
    fused = np.zeros((n_q, n_docs), dtype=np.float64)
    rows = np.arange(n_q)[:, None]
    for ids, w in zip(rankings, weights):
        ids = np.asarray(ids)
        if ids.ndim != 2 or ids.shape[0] != n_q:
            raise ValueError(f"every ranking must be [{n_q}, k], got {ids.shape}")
        contrib = w / (c + np.arange(1, ids.shape[1] + 1, dtype=np.float64))
        valid = ids >= 0
        np.add.at(fused, (np.broadcast_to(rows, ids.shape)[valid], ids[valid]),
                  np.broadcast_to(contrib, ids.shape)[valid])
    return fused


@dataclass(frozen=True)
class HybridConfig:
    """Settings of :class:`HybridRetriever`."""

    depth: int = 100  # each retriever's ranking is cut at this many documents
    c: float = 60.0  # RRF constant (Cormack et al., 2009)


class HybridRetriever:
    """Reciprocal-rank fusion of already-indexed retrievers over the same corpus:
    ``HybridRetriever([bm25, dense]).search(queries, k) -> (rrf scores [Q, k], ids [Q, k])``.

    Raises ``ValueError`` if the retrievers index corpora of different sizes, or for ``k <= 0``.
    """

    def __init__(self, retrievers: Sequence, config: HybridConfig | None = None,
                 weights: Sequence[float] | None = None) -> None:
        if not retrievers:
            raise ValueError("HybridRetriever needs at least one retriever")
        sizes = {r.n_docs for r in retrievers}
        if len(sizes) != 1 or 0 in sizes:
            raise ValueError(f"all retrievers must index the same non-empty corpus; sizes {sorted(sizes)}")
        self.retrievers = list(retrievers)
        self.config = config or HybridConfig()
        self.weights = weights
        self.n_docs = sizes.pop()

    def search(self, queries: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` fused documents per query; k is clamped to n_docs."""
        k = check_k(k, self.n_docs)
        depth = max(self.config.depth, k)
        rankings = [r.search(queries, depth)[1] for r in self.retrievers]
        return top_k(reciprocal_rank_fusion(rankings, self.n_docs, self.config.c, self.weights), k)
