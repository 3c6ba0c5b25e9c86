"""SQuAD exact match and token F1 with the official answer normalisation (Rajpurkar et al., 2016; 2018).

The scores follow the official SQuAD v2.0 evaluation script question by question: the answer
normalisation (lower-case, drop punctuation, drop the articles "a", "an", "the", squeeze white
space), and the gold answers a prediction is scored against. The script drops every gold answer that
normalises to the empty string (a gold "." or "the") before taking the best score over the rest, and
scores against ``[""]`` only when none remain; :func:`official_golds` applies that rule. Unanswerable
questions (an empty list of gold answers) are refused with a ValueError rather than scored as the
script's ``[""]``: the book evaluates answerable questions only.
"""
from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["normalize_answer", "exact_match", "f1_score", "official_golds", "max_over_answers", "squad_per_question",
           "squad_scores"]

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower-case, remove punctuation, articles and extra white space (the official SQuAD rule)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when the normalised strings are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction: str, gold: str) -> float:
    """Harmonic mean of token precision and recall between the normalised strings.

    Two empty strings score 1; an empty string against a non-empty one scores 0.
    """
    pred, ref = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def official_golds(golds: Sequence[str]) -> list[str]:
    """The gold answers the official script scores against: those that do not normalise to "", or ``[""]``.

    Raises ValueError for an empty list (an unanswerable question) or a single string.
    """
    if isinstance(golds, str) or len(golds) == 0:
        raise ValueError("golds must be a non-empty sequence of answer strings (not a single str)")
    kept = [g for g in golds if normalize_answer(g)]
    return kept or [""]


def max_over_answers(metric: Callable[[str, str], float], prediction: str, golds: Sequence[str]) -> float:
    """Best score of ``prediction`` over the gold answers kept by :func:`official_golds`.

    Raises ValueError when there are none.
    """
    return max(metric(prediction, g) for g in official_golds(golds))


def squad_per_question(predictions: Sequence[str], golds: Sequence[Sequence[str]]) -> dict[str, np.ndarray]:
    """Per-question exact match (0 or 1) and F1 (in [0, 1]): ``{"em": [Q], "f1": [Q]}``, for intervals.

    Raises ValueError when the two lists differ in length or are empty.
    """
    if len(predictions) != len(golds):
        raise ValueError(f"{len(predictions)} predictions for {len(golds)} questions")
    if not predictions:
        raise ValueError("no predictions to score")
    em = [max_over_answers(exact_match, p, g) for p, g in zip(predictions, golds)]
    f1 = [max_over_answers(f1_score, p, g) for p, g in zip(predictions, golds)]
    return {"em": np.array(em), "f1": np.array(f1)}


def squad_scores(predictions: Sequence[str], golds: Sequence[Sequence[str]]) -> dict[str, float]:
    """Mean exact match and F1 in percent over questions: ``{"em": ..., "f1": ...}``.

    Raises ValueError when the two lists differ in length or are empty.
    """
    per = squad_per_question(predictions, golds)
    return {"em": 100.0 * float(per["em"].mean()), "f1": 100.0 * float(per["f1"].mean())}
