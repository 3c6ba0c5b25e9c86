"""The speed/recall trade-off of approximate FAISS indexes, measured against exact search.

An approximate index answers faster by looking at fewer vectors; how many it looks at is a
search-time knob (HNSW's ``ef_search``, IVF's ``nprobe``). :func:`sweep_indexes` builds each index
once, turns its knob through a list of values, and reports per-query latency and recall@k against
the exact top k of ``IndexFlatIP`` -- the curve the retrieval chapter plots.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from .dense import DenseConfig, DenseRetriever

__all__ = ["SweepPoint", "recall_vs_exact", "sweep_indexes"]


@dataclass(frozen=True)
class SweepPoint:
    """One measured setting: index type, knob name and value, build seconds, ms per query, recall@k."""

    index_type: str
    knob: str
    value: int
    build_s: float
    ms_per_query: float
    recall: float


def recall_vs_exact(ids: np.ndarray, exact_ids: np.ndarray) -> float:
    """Mean fraction of each query's exact top k (``exact_ids`` [Q, k]) found in ``ids`` [Q, k]."""
    if ids.shape != exact_ids.shape:
        raise ValueError(f"ids {ids.shape} and exact ids {exact_ids.shape} must have the same shape")
    k = exact_ids.shape[1]
    return float(np.mean([len(set(a) & set(e)) / k for a, e in zip(ids.tolist(), exact_ids.tolist())]))


def _time_search(retriever: DenseRetriever, queries: np.ndarray, k: int, repeats: int):
    best, ids = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        _, ids = retriever.search(queries, k)
        best = min(best, time.perf_counter() - t)
    return best, ids


def sweep_indexes(doc_vectors: np.ndarray, query_vectors: np.ndarray, k: int = 10,
                  ef_search: tuple[int, ...] = (10, 20, 40, 80, 160),
                  nprobe: tuple[int, ...] = (1, 2, 4, 8, 16, 32),
                  base: DenseConfig | None = None, repeats: int = 3) -> list[SweepPoint]:
    """Latency (best of ``repeats``, ms per query) and recall@k of flat, HNSW and IVF indexes.

    ``doc_vectors`` [N, d] and ``query_vectors`` [Q, d] are float32 unit vectors. Recall is
    deterministic for a given build; latencies depend on the machine and its load.
    """
    base = base or DenseConfig()
    points = []
    t = time.perf_counter()
    flat = DenseRetriever(config=replace(base, index_type="flat")).index_vectors(doc_vectors)
    build = time.perf_counter() - t
    secs, exact = _time_search(flat, query_vectors, k, repeats)
    points.append(SweepPoint("flat", "-", 0, build, 1e3 * secs / len(query_vectors), 1.0))
    for index_type, knob, values in (("hnsw", "ef_search", ef_search), ("ivf", "ivf_nprobe", nprobe)):
        t = time.perf_counter()
        retriever = DenseRetriever(config=replace(base, index_type=index_type)).index_vectors(doc_vectors)
        build = time.perf_counter() - t
        for value in values:
            retriever.config = replace(retriever.config, **{knob: value})  # read at search time
            secs, ids = _time_search(retriever, query_vectors, k, repeats)
            points.append(SweepPoint(index_type, knob, value, build, 1e3 * secs / len(query_vectors),
                                     recall_vs_exact(ids, exact)))
    return points
