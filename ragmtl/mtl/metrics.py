"""The MTL chapter's metrics: re-exports of :mod:`ragmtl.eval` (one implementation per metric) and ``average``.

``accuracy`` and ``macro_f1`` are :mod:`ragmtl.eval.classification`'s (labels = the classes seen
in the gold labels or the predictions, scikit-learn's convention; pass ``labels=range(C)`` to fix
the class set) and ``delta_mtl`` is :mod:`ragmtl.eval.mtl`'s (Maninis, Radosavovic & Kokkinos,
2019; ``lower_is_better`` names the tasks whose metric improves downwards).
"""
from __future__ import annotations

from collections.abc import Mapping

from ..eval.classification import accuracy, macro_f1
from ..eval.mtl import delta_mtl

__all__ = ["accuracy", "macro_f1", "delta_mtl", "average"]


def average(scores: Mapping[str, float]) -> float:
    """Unweighted mean of per-task scores {task: score}; raises ``ValueError`` for no task."""
    if not scores:
        raise ValueError("average of an empty score dict: expected at least one task score")
    return sum(float(v) for v in scores.values()) / len(scores)
