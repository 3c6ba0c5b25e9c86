"""Compressed and graph FAISS indexes built from factory strings, measured against exact search.

An index is named by a FAISS factory string (Johnson, Douze & Jegou, 2019), over inner products of
unit vectors:

* ``"IVF1024,Flat"``     -- inverted file: k-means cells, ``nprobe`` cells scanned per query; full
  vectors (4 d bytes each);
* ``"IVF1024,PQ48"``     -- product quantization (Jegou et al., 2011): each vector cut into 48
  sub-vectors, each stored as one byte (the id of its nearest of 256 sub-centroids): 48 bytes;
* ``"OPQ48,IVF1024,PQ48"`` -- the same after a learned rotation (Ge et al., 2013) that spreads the
  variance evenly over the sub-vectors;
* ``"HNSW32,Flat"``      -- a navigable small-world graph (Malkov & Yashunin, 2018), ``efSearch``
  candidates per query.

``refine`` re-ranks the PQ index's ``k_factor * k`` candidates with exact scores: ``"flat"`` keeps the
float32 vectors in RAM (``faiss.IndexRefineFlat``: 4 d more bytes per vector), ``"fp16"`` keeps them
as float16 (``faiss.IndexRefine`` over ``IndexScalarQuantizer`` fp16: 2 d bytes). Shapes: vectors
[N, d] float32, queries [Q, d] float32; searches return (scores [Q, k], ids [Q, k]).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

__all__ = ["AnnSpec", "REFINE_KINDS", "build_ann", "set_search_knob", "exact_top_k", "recall_at_k_vs_exact",
           "bytes_per_vector", "time_search"]

REFINE_KINDS = (None, "flat", "fp16")


@dataclass(frozen=True)
class AnnSpec:
    """One index to build: a FAISS factory string, a training sample size, an optional re-ranking."""

    factory: str  # e.g. "IVF1024,PQ48", "OPQ48,IVF1024,PQ48", "HNSW32,Flat", "IVF1024,Flat"
    train_size: int = 65_536  # vectors the quantizers are trained on (a seeded sample, all if fewer)
    refine: str | None = None  # None, "flat" (float32 in RAM) or "fp16" (float16 in RAM)
    k_factor: int = 10  # re-ranking: candidates per result (k_factor * k scored exactly)
    seed: int = 0  # training sample and k-means seed
    single_thread_build: bool = True  # train/add on one thread: reproducible, and no OpenMP spinning on a busy machine

    def __post_init__(self) -> None:
        if self.refine not in REFINE_KINDS:
            raise ValueError(f"unknown refine {self.refine!r}; expected one of {list(REFINE_KINDS)}")
        if self.train_size < 1 or self.k_factor < 1:
            raise ValueError(f"train_size and k_factor must be >= 1, got {self.train_size}, {self.k_factor}")

    @property
    def name(self) -> str:
        return self.factory + ("" if self.refine is None else f"+refine_{self.refine}x{self.k_factor}")


def _check_vectors(vectors: np.ndarray, what: str) -> np.ndarray:
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or vectors.shape[0] == 0:
        raise ValueError(f"{what} must be a non-empty [N, d] array, got shape {vectors.shape}")
    if not np.isfinite(vectors).all():
        raise ValueError(f"{what} hold NaN or infinite values: expected finite float32 vectors")
    return np.ascontiguousarray(vectors, dtype=np.float32)


def build_ann(vectors: np.ndarray, spec: AnnSpec):
    """Train ``spec``'s index on a seeded sample of ``vectors`` [N, d], add them all; return the index.

    Raises ``ValueError`` for a factory string FAISS rejects or an IVF with more cells than training
    vectors (k-means needs at least one vector per cell).
    """
    import faiss

    vectors = _check_vectors(vectors, "vectors")
    n, d = vectors.shape
    try:
        index = faiss.index_factory(d, spec.factory, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as err:
        raise ValueError(f"FAISS cannot build {spec.factory!r} for d={d}: "
                         f"{str(err).strip().splitlines()[-1][:200]}") from None
    ivf = faiss.try_extract_index_ivf(index)  # through an OPQ pre-transform; None for HNSW
    sample = vectors
    if spec.train_size < n:
        sample = vectors[np.sort(np.random.default_rng(spec.seed).choice(n, spec.train_size, replace=False))]
    if ivf is not None:
        if ivf.nlist > len(sample):
            raise ValueError(f"{spec.factory!r} has {ivf.nlist} cells but only {len(sample)} training vectors")
        ivf.cp.seed = spec.seed
        ivf.cp.min_points_per_centroid = 1
        ivf = faiss.downcast_index(ivf)
        if hasattr(ivf, "pq"):  # PQ's 256 sub-centroids on a small sample: no warning per sub-vector
            ivf.pq.cp.min_points_per_centroid = 1
            ivf.do_polysemous_training = False  # Hamming filtering is not used; its annealing costs 10 s
    if spec.refine == "flat":
        index = faiss.IndexRefineFlat(index)
    elif spec.refine == "fp16":
        index = faiss.IndexRefine(index, faiss.IndexScalarQuantizer(d, faiss.ScalarQuantizer.QT_fp16,
                                                                    faiss.METRIC_INNER_PRODUCT))
    if spec.refine is not None:
        index.k_factor = float(spec.k_factor)
    threads = faiss.omp_get_max_threads()
    if spec.single_thread_build:
        faiss.omp_set_num_threads(1)
    try:
        if not index.is_trained:
            _train(faiss, index, sample)
        index.add(vectors)
    finally:
        faiss.omp_set_num_threads(threads)
    return index


def _train(faiss, index, sample: np.ndarray) -> None:
    """``index.train(sample)``; an OPQ rotation's own PQ gets ``min_points_per_centroid = 1`` (no
    warning per sub-vector on a small sample), held only while training."""
    base = index.base_index if hasattr(index, "base_index") else index
    base = faiss.downcast_index(base)
    opq, pq = None, None
    if isinstance(base, faiss.IndexPreTransform):
        opq = faiss.downcast_VectorTransform(base.chain.at(0))
        if isinstance(opq, faiss.OPQMatrix):
            pq = faiss.ProductQuantizer(opq.d_out, opq.M, 8)
            pq.cp.min_points_per_centroid = 1
            opq.pq = pq
    try:
        index.train(sample)
    finally:
        if pq is not None:
            opq.pq = None


def set_search_knob(index, value: int) -> str:
    """Set the search-time knob of ``index`` (IVF ``nprobe`` or HNSW ``efSearch``) to ``value``; return
    its name. Raises ``ValueError`` for an index with neither knob (flat: exact, nothing to set)."""
    import faiss

    if value < 1:
        raise ValueError(f"a search knob must be >= 1, got {value}")
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        ivf.nprobe = int(value)
        return "nprobe"
    inner = index
    while not isinstance(inner, faiss.IndexHNSW):
        inner = getattr(inner, "base_index", None) or getattr(inner, "index", None)
        if inner is None:
            raise ValueError(f"{type(index).__name__} has no nprobe or efSearch to set")
        inner = faiss.downcast_index(inner)
    inner.hnsw.efSearch = int(value)
    return "efSearch"


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product top ``k``: (scores [Q, k], ids [Q, k]) from ``faiss.IndexFlatIP``."""
    import faiss

    vectors, queries = _check_vectors(vectors, "vectors"), _check_vectors(queries, "queries")
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    return flat.search(queries, k)


def recall_at_k_vs_exact(ids: np.ndarray, exact_ids: np.ndarray) -> float:
    """Mean fraction of each query's exact top k (``exact_ids`` [Q, k]) found in ``ids`` [Q, k'] (any k')."""
    if ids.ndim != 2 or exact_ids.ndim != 2 or len(ids) != len(exact_ids):
        raise ValueError(f"ids {ids.shape} and exact ids {exact_ids.shape} must be [Q, k] with the same Q")
    k = exact_ids.shape[1]
    return float(np.mean([len(set(a) & set(e)) / k for a, e in zip(ids.tolist(), exact_ids.tolist())]))


def bytes_per_vector(index) -> float:
    """Bytes the index holds per stored vector, from its serialized size (codes, ids, lists, refinement
    vectors, quantizers: everything ``faiss.write_index`` writes)."""
    import faiss

    if index.ntotal == 0:
        raise ValueError("the index is empty: nothing to measure")
    return float(faiss.serialize_index(index).nbytes) / index.ntotal


def time_search(index, queries: np.ndarray, k: int, repeats: int = 3) -> tuple[float, np.ndarray, np.ndarray]:
    """(best-of-``repeats`` ms per query, scores [Q, k], ids [Q, k]) for one batch search of ``queries``."""
    queries = _check_vectors(queries, "queries")
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        scores, ids = index.search(queries, k)
        best = min(best, time.perf_counter() - t)
    return 1e3 * best / len(queries), scores, ids
