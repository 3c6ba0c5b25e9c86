"""Retrievers compared with their uncertainty, and settings chosen on validation claims only.

- :func:`score_intervals`: each system's mean per-query metric with its bootstrap 95% interval
  over queries (``ragmtl.eval.bootstrap_mean``).
- :func:`paired_differences`: ``a - b`` for pairs of systems scored on the same queries, with the
  paired bootstrap interval and its verdict (``ragmtl.eval.paired_bootstrap``).
- :func:`bm25_grid` and :func:`rrf_grid`: a metric over a grid of BM25 ``(k1, b)`` or RRF
  ``(c, weight)`` settings on a *validation* query set; :func:`best_setting` picks the arg-max
  (ties: the first in grid order). The test queries are never passed to either.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ragmtl.eval.stats import Interval, bootstrap_mean, paired_bootstrap

from .base import top_k
from .bm25 import BM25, BM25Config
from .evaluate import ids_to_run
from .hybrid import reciprocal_rank_fusion
from .metrics import evaluate_run

__all__ = ["score_intervals", "paired_differences", "bm25_grid", "rrf_grid", "best_setting"]

PerQuery = Mapping[str, Mapping[str, np.ndarray]]  # system -> metric -> per-query values


def score_intervals(per_query: PerQuery, metrics: Sequence[str], seed: int = 0) -> dict[str, dict[str, Interval]]:
    """``{system: {metric: Interval}}``: mean over queries with its percentile bootstrap 95% interval.

    Raises ``KeyError`` naming the system and metric when one is missing."""
    out = {}
    for system, values in per_query.items():
        missing = [m for m in metrics if m not in values]
        if missing:
            raise KeyError(f"system {system!r} has no per-query values for {missing}; it has {sorted(values)}")
        out[system] = {m: bootstrap_mean(values[m], seed=seed) for m in metrics}
    return out


def paired_differences(per_query: PerQuery, pairs: Sequence[tuple[str, str]], metrics: Sequence[str],
                       seed: int = 0) -> dict[tuple[str, str], dict[str, Interval]]:
    """``{(a, b): {metric: Interval of mean(a) - mean(b)}}``, queries resampled in pairs.

    Raises ``KeyError`` for an unknown system and ``ValueError`` (from ``paired_bootstrap``) when
    two systems were scored on different numbers of queries."""
    out = {}
    for a, b in pairs:
        for name in (a, b):
            if name not in per_query:
                raise KeyError(f"unknown system {name!r}; known: {sorted(per_query)}")
        out[(a, b)] = {m: paired_bootstrap(per_query[a][m], per_query[b][m], seed=seed) for m in metrics}
    return out


def bm25_grid(doc_tokens: Sequence[Sequence[str]], query_tokens: Sequence[Sequence[str]],
              query_ids: Sequence[str], doc_ids: Sequence[str], qrels: Mapping[str, Mapping[str, int]],
              k1s: Sequence[float], bs: Sequence[float], idf: str = "lucene", metric: str = "ndcg@10",
              depth: int = 100) -> dict[tuple[float, float], float]:
    """Mean ``metric`` of BM25 for every ``(k1, b)`` in ``k1s x bs`` on pre-analyzed queries (one
    analysis of the corpus serves the whole grid). Pass validation queries, never test ones."""
    scores = {}
    for k1 in k1s:
        for b in bs:
            _, ids = BM25(BM25Config(k1, b, idf)).index_tokens(doc_tokens).search_tokens(query_tokens, depth)
            run = ids_to_run(query_ids, ids, doc_ids)
            scores[(k1, b)] = float(evaluate_run(run, _judged(qrels, query_ids), (metric,))[metric].mean())
    return scores


def rrf_grid(rankings: Sequence[np.ndarray], n_docs: int, query_ids: Sequence[str], doc_ids: Sequence[str],
             qrels: Mapping[str, Mapping[str, int]], cs: Sequence[float], first_weights: Sequence[float],
             metric: str = "ndcg@10", depth: int = 100) -> dict[tuple[float, float], float]:
    """Mean ``metric`` of reciprocal rank fusion of two rankings [Q, depth] for every constant ``c``
    and weight ``w`` of the first ranking (the second gets ``1 - w``). Raises ``ValueError`` unless
    exactly two rankings are given or a weight is outside [0, 1]."""
    if len(rankings) != 2:
        raise ValueError(f"rrf_grid fuses two rankings, got {len(rankings)}")
    if any(not 0 <= w <= 1 for w in first_weights):
        raise ValueError(f"weights must lie in [0, 1], got {list(first_weights)}")
    scores = {}
    for c in cs:
        for w in first_weights:
            _, ids = top_k(reciprocal_rank_fusion(rankings, n_docs, c, [w, 1 - w]), depth)
            run = ids_to_run(query_ids, ids, doc_ids)
            scores[(c, w)] = float(evaluate_run(run, _judged(qrels, query_ids), (metric,))[metric].mean())
    return scores


def best_setting(scores: Mapping[tuple, float]) -> tuple:
    """The setting with the highest score (the first in insertion order among equals)."""
    if not scores:
        raise ValueError("best_setting needs at least one scored setting")
    return max(scores, key=lambda s: (scores[s], -list(scores).index(s)))


def _judged(qrels: Mapping[str, Mapping[str, int]], query_ids: Sequence[str]) -> dict:
    return {q: qrels[q] for q in query_ids if q in qrels}
