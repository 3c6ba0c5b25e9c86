"""Evaluation metrics shared by the chapters.

- ``squad``: SQuAD exact match and F1 (percent).
- ``classification``: accuracy and macro-F1 (fractions in [0, 1], as scikit-learn).
- ``generation``: corpus BLEU, chrF (sacrebleu) and ROUGE-L (rouge-score), in percent.
- ``meteor``: METEOR via nltk, in percent, with the matching modules that ran in its result.
- ``mtl``: Delta_MTL and the task-transfer matrix (signed relative changes, percent).
- ``stats``: bootstrap intervals over items and seeds, paired tests (every compared figure).
"""
from .classification import accuracy, macro_f1, per_class_f1
from .generation import GenerationScore, check_generation_inputs, corpus_bleu, corpus_chrf, rouge_l
from .meteor import MeteorScore, meteor
from .mtl import delta_mtl, relative_change, transfer_matrix
from .stats import (Interval, McNemarResult, bootstrap_delta_mtl, bootstrap_mean, bootstrap_task_mean, mcnemar,
                    paired_bootstrap, paired_permutation_test, seed_interval)
from .squad import exact_match, f1_score, max_over_answers, normalize_answer, squad_scores

__all__ = [
    "exact_match", "f1_score", "max_over_answers", "normalize_answer", "squad_scores",
    "accuracy", "macro_f1", "per_class_f1",
    "GenerationScore", "check_generation_inputs", "corpus_bleu", "corpus_chrf", "rouge_l",
    "MeteorScore", "meteor",
    "delta_mtl", "relative_change", "transfer_matrix",
    "Interval", "McNemarResult", "bootstrap_mean", "paired_bootstrap", "bootstrap_task_mean", "bootstrap_delta_mtl",
    "paired_permutation_test", "mcnemar", "seed_interval",
]
