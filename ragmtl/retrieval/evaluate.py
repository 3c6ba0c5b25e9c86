"""Run a retriever over a query set and score it against relevance judgements (BEIR style)."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .metrics import evaluate_run

__all__ = ["ids_to_run", "evaluate_retriever"]


def ids_to_run(query_ids: Sequence[str], ids: np.ndarray, doc_ids: Sequence[str]) -> dict[str, list[str]]:
    """Turn row numbers ``ids`` [Q, k] from ``search`` into a run {query id: [doc id, ...]} (-1 slots dropped)."""
    ids = np.asarray(ids)
    if ids.ndim != 2 or ids.shape[0] != len(query_ids):
        raise ValueError(f"expected ids of shape [{len(query_ids)}, k], got {ids.shape}")
    return {q: [doc_ids[i] for i in row if i >= 0] for q, row in zip(query_ids, ids.tolist())}


def evaluate_retriever(retriever, query_ids: Sequence[str], query_texts: Sequence[str],
                       doc_ids: Sequence[str], qrels: Mapping[str, Mapping[str, int]], k: int = 100,
                       metrics: Sequence[str] = ("ndcg@10", "recall@100", "mrr@10", "map@100"),
                       ) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    """Search the top ``k`` for every query, return (per-query metrics {name: [n_judged]}, run).

    Only queries present in ``qrels`` are scored (see :func:`evaluate_run`).
    """
    _, ids = retriever.search(list(query_texts), k)
    run = ids_to_run(list(query_ids), ids, list(doc_ids))
    return evaluate_run(run, {q: qrels[q] for q in query_ids if q in qrels}, metrics), run
