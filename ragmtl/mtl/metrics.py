"""Per-task metrics and the relative multi-task gain Delta_MTL (Maninis, Radosavovic & Kokkinos, 2019)."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["accuracy", "macro_f1", "delta_mtl", "average"]


def _check(pred, gold) -> tuple[np.ndarray, np.ndarray]:
    pred, gold = np.asarray(pred), np.asarray(gold)
    if pred.shape != gold.shape or pred.ndim != 1 or pred.size == 0:
        raise ValueError(f"pred and gold must be equal-length non-empty 1-d arrays, got {pred.shape} and {gold.shape}")
    return pred, gold


def accuracy(pred, gold) -> float:
    """Fraction of ``pred`` [N] equal to ``gold`` [N]."""
    pred, gold = _check(pred, gold)
    return float((pred == gold).mean())


def macro_f1(pred, gold, num_classes: int | None = None) -> float:
    """Unweighted mean over classes of F1 (a class absent from both pred and gold is skipped)."""
    pred, gold = _check(pred, gold)
    classes = range(num_classes) if num_classes is not None else np.union1d(pred, gold)
    scores = []
    for c in classes:
        tp = np.sum((pred == c) & (gold == c))
        fp, fn = np.sum((pred == c) & (gold != c)), np.sum((pred != c) & (gold == c))
        if tp + fp + fn == 0:
            continue
        scores.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))


def average(scores: Mapping[str, float]) -> float:
    """Mean of per-task scores."""
    if not scores:
        raise ValueError("average of an empty score dict")
    return float(np.mean(list(scores.values())))


def delta_mtl(multi: Mapping[str, float], single: Mapping[str, float],
              higher_is_better: Mapping[str, bool] | None = None) -> float:
    """Delta_MTL in %: ``100/T * sum_t (-1)^{l_t} (M_multi,t - M_single,t) / M_single,t``, with
    ``l_t = 1`` where lower is better (Maninis et al., 2019). Keys of ``multi`` and ``single`` must match."""
    if set(multi) != set(single) or not multi:
        raise ValueError(f"multi and single must score the same tasks, got {sorted(multi)} and {sorted(single)}")
    higher_is_better = higher_is_better or {}
    terms = []
    for task in multi:
        sign = 1.0 if higher_is_better.get(task, True) else -1.0
        if single[task] == 0:
            raise ValueError(f"single-task score of {task!r} is 0: the relative gain is undefined")
        terms.append(sign * (multi[task] - single[task]) / single[task])
    return float(100 * np.mean(terms))
