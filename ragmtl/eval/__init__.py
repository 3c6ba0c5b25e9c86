"""Evaluation metrics shared by the chapters.

- ``squad``: SQuAD exact match and F1 (percent).
- ``classification``: accuracy and macro-F1 (fractions in [0, 1], as scikit-learn).
- ``generation``: corpus BLEU, chrF (sacrebleu) and ROUGE-L (rouge-score), in percent.
- ``meteor``: METEOR via nltk, in percent, with the matching modules that ran in its result.
- ``mtl``: Delta_MTL and the task-transfer matrix (signed relative changes, percent).
"""
from .classification import accuracy, macro_f1, per_class_f1
from .generation import GenerationScore, check_generation_inputs, corpus_bleu, corpus_chrf, rouge_l
from .meteor import MeteorScore, meteor
from .mtl import delta_mtl, relative_change, transfer_matrix
from .squad import exact_match, f1_score, max_over_answers, normalize_answer, squad_scores

__all__ = [
    "exact_match", "f1_score", "max_over_answers", "normalize_answer", "squad_scores",
    "accuracy", "macro_f1", "per_class_f1",
    "GenerationScore", "check_generation_inputs", "corpus_bleu", "corpus_chrf", "rouge_l",
    "MeteorScore", "meteor",
    "delta_mtl", "relative_change", "transfer_matrix",
]
