"""Accuracy and macro-F1 for single-label classification tasks.

Labels may be any hashable values (ints, strings). Scores are fractions in [0, 1], as in
scikit-learn and ``ragmtl.mtl.metrics``.

Macro-F1 convention: the F1 of each class is ``2 TP / (2 TP + FP + FN)`` and macro-F1 is their
unweighted mean over the classes that occur in the gold labels *or* in the predictions. This is
scikit-learn's ``f1_score(average="macro")`` with its default ``labels=None``: a class that is only
predicted (never gold) counts with F1 = 0, and a class that occurs in neither list is not counted
(pass ``labels`` to fix the class set, e.g. to include classes absent from a small test set).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence

__all__ = ["accuracy", "per_class_f1", "macro_f1"]


def _check(predictions: Sequence[Hashable], golds: Sequence[Hashable]) -> None:
    if isinstance(predictions, str) or isinstance(golds, str):
        raise ValueError("predictions and golds must be sequences of labels, not a single str")
    if len(predictions) != len(golds):
        raise ValueError(f"{len(predictions)} predictions for {len(golds)} gold labels; expected equal lengths")
    if len(predictions) == 0:
        raise ValueError("no predictions to score; expected at least one (prediction, gold) pair")


def accuracy(predictions: Sequence[Hashable], golds: Sequence[Hashable]) -> float:
    """Fraction of predictions equal to their gold label.

    Raises ValueError when the lists differ in length or are empty.
    """
    _check(predictions, golds)
    return sum(p == g for p, g in zip(predictions, golds)) / len(golds)


def per_class_f1(predictions: Sequence[Hashable], golds: Sequence[Hashable],
                 labels: Sequence[Hashable] | None = None) -> dict[Hashable, float]:
    """F1 = 2 TP / (2 TP + FP + FN) of each class, as a dict ``{label: F1}``.

    ``labels=None`` takes the classes seen in ``golds`` or ``predictions`` (in first-seen order,
    gold first). With explicit ``labels``, a class seen in neither list scores 0 (scikit-learn's
    ``zero_division=0``). Raises ValueError on a length mismatch, empty input, or explicit
    ``labels`` that miss a label present in the data or repeat one.
    """
    _check(predictions, golds)
    seen = list(dict.fromkeys([*golds, *predictions]))
    if labels is None:
        labels = seen
    else:
        if len(set(labels)) != len(labels):
            raise ValueError(f"labels must be distinct, got {list(labels)}")
        known = set(labels)
        missing = [c for c in seen if c not in known]
        if missing:
            raise ValueError(f"labels {missing} occur in the data but not in labels={list(labels)}")
    tp = Counter(g for p, g in zip(predictions, golds) if p == g)
    n_pred, n_gold = Counter(predictions), Counter(golds)
    scores = {}
    for c in labels:
        denominator = n_pred[c] + n_gold[c]  # = 2 TP + FP + FN
        scores[c] = 2 * tp[c] / denominator if denominator else 0.0
    return scores


def macro_f1(predictions: Sequence[Hashable], golds: Sequence[Hashable],
             labels: Sequence[Hashable] | None = None) -> float:
    """Unweighted mean of :func:`per_class_f1` over the classes (see the module docstring).

    Raises ValueError as :func:`per_class_f1` does.
    """
    scores = per_class_f1(predictions, golds, labels)
    if not scores:
        raise ValueError("labels is empty; expected at least one class")
    return sum(scores.values()) / len(scores)
