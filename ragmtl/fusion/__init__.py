"""Fusing retrieved knowledge into a model: the home package of the fusion chapter.

Operators, each a pure function with a thin ``nn.Module``: ``pooling`` (concatenation, mean,
weighted sum), ``bilinear`` (attention over documents, and the source article's size-1 softmax),
``cross_attention`` (token-level, masked), ``fid`` (fusion-in-decoder, Izacard & Grave 2021),
``marginal`` (RAG-style marginalisation over documents). The experiment: ``passages`` (gold among
distractors), ``task`` (unseen CLINC150 intents), ``readers`` (one classifier per operator) and
``experiment`` (seeded training and evaluation), ``selection`` (settings chosen on validation
queries; paired intervals and McNemar tests between readers on the test queries).
"""
from .bilinear import BilinearAttention, article_bilinear_attention, bilinear_attention, bilinear_scores
from .cross_attention import CrossAttention, attend, cross_attention, doc_weights_from_tokens
from .experiment import (MethodResult, TrainConfig, attention_by_kind, evaluate_reader, random_codes, run_method,
                         run_methods, score_reader, train_reader)
from .fid import FiDConfig, FusionInDecoder, fid_concat, fid_encode, fid_pairs
from .marginal import marginalize_docs
from .masks import check_mask, masked_softmax
from .passages import GOLD, HARD, RANDOM, PassageConfig, PassageSets, build_passage_sets
from .pooling import ConcatFusion, MeanFusion, concat_fusion, mean_fusion, weighted_sum
from .readers import READERS, Reader, ReaderConfig
from .selection import Selection, compare_accuracies, select_on_validation
from .task import FusionData, UnseenIntentTask, clinc_unseen_intents, make_fusion_data

__all__ = [
    "BilinearAttention", "article_bilinear_attention", "bilinear_attention", "bilinear_scores",
    "CrossAttention", "attend", "cross_attention", "doc_weights_from_tokens",
    "MethodResult", "TrainConfig", "attention_by_kind", "evaluate_reader", "random_codes", "run_method",
    "run_methods", "score_reader", "train_reader", "Selection", "compare_accuracies", "select_on_validation",
    "FiDConfig", "FusionInDecoder", "fid_concat", "fid_encode", "fid_pairs", "marginalize_docs",
    "check_mask", "masked_softmax", "GOLD", "HARD", "RANDOM", "PassageConfig", "PassageSets",
    "build_passage_sets", "ConcatFusion", "MeanFusion", "concat_fusion", "mean_fusion", "weighted_sum",
    "READERS", "Reader", "ReaderConfig", "FusionData", "UnseenIntentTask", "clinc_unseen_intents",
    "make_fusion_data",
]
