"""One sweep over compressed indexes: build each once, turn its search knob, measure everything.

:func:`sweep_ann` returns plain records (:class:`AnnPoint`), one per (index, knob value): build
seconds, bytes per vector, ms per query and recall@k against exact search, plus the flat index's
ms per query at the same size so that a speed-up is one division. The benchmark scripts and the
chapter turn these records into the trade-off curves.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from .ann import AnnSpec, build_ann, bytes_per_vector, recall_at_k_vs_exact, set_search_knob, time_search

__all__ = ["AnnPoint", "sweep_ann"]


@dataclass(frozen=True)
class AnnPoint:
    """One measured setting at one corpus size ``n_docs``; ``flat_ms_per_query`` is exact search's."""

    index: str  # AnnSpec.name, e.g. "IVF1024,PQ48+refine_flatx10"
    n_docs: int
    knob: str  # "nprobe", "efSearch" or "-" (flat)
    value: int
    build_s: float
    bytes_per_vector: float
    ms_per_query: float
    recall: float  # recall@k against exact inner-product search
    flat_ms_per_query: float

    @property
    def speedup_vs_flat(self) -> float:
        return self.flat_ms_per_query / self.ms_per_query

    def as_dict(self) -> dict:
        return {**asdict(self), "speedup_vs_flat": self.speedup_vs_flat}


def sweep_ann(vectors: np.ndarray, queries: np.ndarray, specs: Sequence[AnnSpec],
              knobs: dict[str, Sequence[int]], k: int = 10, repeats: int = 3) -> list[AnnPoint]:
    """Measure flat search and every spec in ``specs`` at each value of its knob.

    ``vectors`` [N, d] and ``queries`` [Q, d] float32; ``knobs`` maps "nprobe" / "efSearch" to the
    values to try (each spec uses the knob its index has). Raises ``ValueError`` for a spec whose
    knob has no values in ``knobs``.
    """
    import faiss

    n, d = vectors.shape
    t = time.perf_counter()
    flat = faiss.IndexFlatIP(d)
    flat.add(np.ascontiguousarray(vectors, dtype=np.float32))
    flat_build = time.perf_counter() - t
    flat_ms, _, exact = time_search(flat, queries, k, repeats)
    points = [AnnPoint("Flat", n, "-", 0, flat_build, bytes_per_vector(flat), flat_ms, 1.0, flat_ms)]
    for spec in specs:
        t = time.perf_counter()
        index = build_ann(vectors, spec)
        build = time.perf_counter() - t
        size = bytes_per_vector(index)
        knob = set_search_knob(index, 1)
        if not knobs.get(knob):
            raise ValueError(f"{spec.factory!r} is searched with {knob}, but knobs has no values for it: {knobs}")
        for value in knobs[knob]:
            set_search_knob(index, value)
            ms, _, ids = time_search(index, queries, k, repeats)
            points.append(AnnPoint(spec.name, n, knob, int(value), build, size, ms,
                                   recall_at_k_vs_exact(ids, exact), flat_ms))
        del index
    return points
