"""Cost curves: a power law fitted on a log-log scale, and the extrapolation to Wikipedia scale.

A cost y (seconds, bytes, ms) measured at corpus sizes n is fitted as ``y = c * n^alpha`` by least
squares on ``log y = log c + alpha log n`` (:func:`fit_power_law`): alpha = 1 is linear growth
(a flat index's latency), alpha < 1 sub-linear (HNSW, IVF at fixed nprobe). The fit says nothing
beyond the sizes measured unless the mechanism stays the same; :class:`WikiAssumptions` writes
down everything the 21M-passage table (:func:`wiki_costs`) assumes, as fields.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

__all__ = ["PowerLaw", "fit_power_law", "WikiAssumptions", "wiki_costs"]


@dataclass(frozen=True)
class PowerLaw:
    """``y = coefficient * n^exponent``, fitted on sizes ``n_min .. n_max``; ``r2`` on the log scale."""

    exponent: float
    coefficient: float
    r2: float
    n_min: int
    n_max: int

    def __call__(self, n) -> np.ndarray | float:
        return self.coefficient * np.asarray(n, dtype=np.float64) ** self.exponent


def fit_power_law(sizes: Sequence[float], values: Sequence[float]) -> PowerLaw:
    """Least-squares fit of ``log values`` on ``log sizes``; raises ``ValueError`` for fewer than two
    distinct sizes or a non-positive value (no logarithm)."""
    n, y = np.asarray(sizes, dtype=np.float64), np.asarray(values, dtype=np.float64)
    if n.shape != y.shape or len(np.unique(n)) < 2:
        raise ValueError(f"need matching sizes and values over at least two distinct sizes, got {n.tolist()}")
    if (n <= 0).any() or (y <= 0).any():
        raise ValueError("sizes and values must be positive for a log-log fit")
    x, ly = np.log(n), np.log(y)
    slope, intercept = np.polyfit(x, ly, 1)
    residual = ly - (intercept + slope * x)
    total = ((ly - ly.mean()) ** 2).sum()
    r2 = 1.0 - (residual ** 2).sum() / total if total > 0 else 1.0
    return PowerLaw(float(slope), float(np.exp(intercept)), float(r2), int(n.min()), int(n.max()))


@dataclass(frozen=True)
class WikiAssumptions:
    """What the extrapolation to DPR's Wikipedia assumes (Karpukhin et al., 2020: 21,015,324 passages)."""

    n_passages: int = 21_015_324
    dim: int = 384  # all-MiniLM-L6-v2
    bytes_per_float: int = 4  # float32 vectors in a flat index
    code_bytes: int = 48  # IVF-PQ code per vector (e.g. PQ48)
    id_bytes: int = 8  # IVF lists store a 64-bit id per vector
    encode_s_per_1000: float = 23.0  # the book's measurement: MiniLM on SciFact abstracts, 2 cores
    encode_cores: int = 2  # cores that measurement used


def wiki_costs(assumptions: WikiAssumptions | None = None,
               fits: dict[str, PowerLaw] | None = None) -> dict[str, float]:
    """The 21M-passage cost table: flat and IVF-PQ memory (GB, 1e9 bytes), encoding core-hours, and
    every fitted curve in ``fits`` (name -> :class:`PowerLaw`) evaluated at ``n_passages``
    (as ``"<name>_at_wiki"``), next to the assumptions themselves."""
    a = assumptions or WikiAssumptions()
    n = a.n_passages
    table = {**asdict(a),
             "flat_gb": n * a.dim * a.bytes_per_float / 1e9,
             "ivfpq_gb": n * (a.code_bytes + a.id_bytes) / 1e9,
             "encode_core_hours": n / 1000 * a.encode_s_per_1000 * a.encode_cores / 3600}
    for name, fit in (fits or {}).items():
        table[f"{name}_at_wiki"] = float(fit(n))
    return table
