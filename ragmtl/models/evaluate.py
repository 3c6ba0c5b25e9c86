"""Predictions and scores of the RAG-MTL model on its evaluation splits.

Classification: accuracy and macro-F1 (:mod:`ragmtl.eval.classification`). Extractive QA: SQuAD
EM/F1 with the official normalisation, and, because the answers are generated strings, BLEU, chrF,
ROUGE-L and METEOR over them (:mod:`ragmtl.eval`). A QA answer's probability is summed over the
retrieved passages, ``p(a | x) = sum_z p(z | x) p(a | x, z)`` (:func:`ragmtl.rag.qa.best_answers`).
"""
from __future__ import annotations

import numpy as np
import torch

from ..eval import accuracy, corpus_bleu, corpus_chrf, macro_f1, meteor, rouge_l, squad_scores
from ..eval.squad import exact_match, f1_score, max_over_answers
from ..rag.qa import best_answers
from ..utils import bf16_autocast
from .data import ClassificationSplit, QASplit
from .model import RAGMTLModel

__all__ = ["predict", "score", "item_scores", "evaluate"]


def _order(split, n: int) -> list[int]:
    return sorted(range(n), key=lambda i: len(split.states[i]))


@torch.no_grad()
def predict(model: RAGMTLModel, split: ClassificationSplit | QASplit, batch_size: int = 64,
            bf16: bool | None = None) -> list:
    """Predicted label ids (classification) or answer strings (QA), one per example of ``split``."""
    model.eval()
    task = split.task
    if isinstance(split, ClassificationSplit):
        preds = np.zeros(len(split), dtype=np.int64)
        order = _order(split, len(split))
        for k in range(0, len(order), batch_size):
            rows = order[k:k + batch_size]
            with bf16_autocast(bf16):
                logits = model(task, split.batch(rows))["logits"]
            preds[rows] = logits.float().argmax(-1).numpy()
        return preds.tolist()
    n_pairs = len(split.states)
    logits: list = [None] * n_pairs
    order = _order(split, n_pairs)
    for k in range(0, n_pairs, batch_size):
        rows = order[k:k + batch_size]
        with bf16_autocast(bf16):
            out = model(task, split.batch(rows))
        for r, p in enumerate(rows):
            length = len(split.states[p])
            logits[p] = (out["start"][r, :length].numpy().copy(), out["end"][r, :length].numpy().copy())
    return best_answers([[logits[p] for p in ps] for ps in split.pairs],
                        [[split.offsets[p] for p in ps] for ps in split.pairs],
                        [[split.passages[p] for p in ps] for ps in split.pairs], split.log_prior)


def score(split: ClassificationSplit | QASplit, predictions: list, generation: bool = True) -> dict[str, float]:
    """Scores in percent: ``accuracy``, ``macro_f1``; or ``em``, ``f1`` and (``generation``) ``bleu``,
    ``chrf``, ``rouge_l``, ``meteor`` (exact+stem modules: WordNet cannot be had offline)."""
    if len(predictions) != len(split):
        raise ValueError(f"{len(predictions)} predictions for {len(split)} examples of {split.task!r}")
    if isinstance(split, ClassificationSplit):
        gold = split.labels.tolist()
        return {"accuracy": 100 * accuracy(predictions, gold), "macro_f1": 100 * macro_f1(predictions, gold)}
    out = squad_scores(predictions, split.answers)
    if generation:
        refs = [list(a) for a in split.answers]
        out |= {"bleu": corpus_bleu(predictions, refs).score, "chrf": corpus_chrf(predictions, refs).score,
                "rouge_l": rouge_l(predictions, refs).score, "meteor": meteor(predictions, refs).score}
    return out


def item_scores(split: ClassificationSplit | QASplit, predictions: list) -> dict[str, np.ndarray]:
    """Per-example scores in percent, whose means are :func:`score`'s: ``{"accuracy": 100 * correct}``
    for classification, ``{"em": ..., "f1": ...}`` per question (best over its gold answers) for QA.
    These are what ``ragmtl.eval.stats`` resamples for intervals. Raises ValueError on a length mismatch."""
    if len(predictions) != len(split):
        raise ValueError(f"{len(predictions)} predictions for {len(split)} examples of {split.task!r}")
    if isinstance(split, ClassificationSplit):
        return {"accuracy": 100.0 * (np.asarray(predictions) == split.labels.numpy())}
    return {name: 100.0 * np.array([max_over_answers(metric, p, g) for p, g in zip(predictions, split.answers)])
            for name, metric in (("em", exact_match), ("f1", f1_score))}


def evaluate(model: RAGMTLModel, splits: dict, generation: bool = True, bf16: bool | None = None) -> dict:
    """``{task: scores}`` for every task of ``splits`` (task -> evaluation split) the model has."""
    unknown = [t for t in splits if t not in model.tasks]
    if unknown:
        raise ValueError(f"tasks {unknown} are not in this model; its tasks: {model.tasks}")
    return {t: score(s, predict(model, s, bf16=bf16), generation) for t, s in splits.items()}
