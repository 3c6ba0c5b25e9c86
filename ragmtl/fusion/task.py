"""The fusion chapter's task: intent classification of *unseen* intents from retrieved labelled
utterances (CLINC150, Larson et al., 2019), on frozen, cached MiniLM sentence vectors.

The 150 intents are split at random into seen intents (training) and unseen ones (test). Each
utterance retrieves k labelled utterances from a pool (:mod:`ragmtl.fusion.passages`): its own
split's training utterances, never itself. A test utterance's intent was never a training class,
so its answer can only come from the passages.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .passages import PassageConfig, build_passage_sets

__all__ = ["FusionData", "make_fusion_data", "UnseenIntentTask", "clinc_unseen_intents"]


@dataclass
class FusionData:
    """Queries with their passages; classes are numbered 0..n_classes-1 within this split.

    ``query`` [Q, d], ``docs`` [Q, k, d], ``doc_labels`` [Q, k], ``labels`` [Q], ``kind`` [Q, k]
    (GOLD, HARD or RANDOM from :mod:`ragmtl.fusion.passages`), ``doc_ids`` [Q, k] (pool indices).
    """

    query: torch.Tensor
    docs: torch.Tensor
    doc_labels: torch.Tensor
    labels: torch.Tensor
    kind: torch.Tensor
    n_classes: int
    doc_ids: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def n_docs(self) -> int:
        return int(self.docs.shape[1])

    def retrieval_scores(self) -> torch.Tensor:
        """Inner products q . d_i [Q, k]: the retriever's own scores (cosines for unit vectors)."""
        return torch.einsum("qd,qkd->qk", self.query, self.docs)

    def nearest_passage_correct(self) -> np.ndarray:
        """Per query [Q] (bool): is the label of the highest-scoring passage the answer? No learning."""
        best = self.retrieval_scores().argmax(-1, keepdim=True)
        return (self.doc_labels.gather(1, best)[:, 0] == self.labels).numpy()

    def nearest_passage_accuracy(self) -> float:
        """Accuracy of copying the label of the highest-scoring passage: no learning at all."""
        return float(self.nearest_passage_correct().mean())


def make_fusion_data(query_vectors: np.ndarray, query_labels, pool_vectors: np.ndarray, pool_labels,
                     config: PassageConfig = PassageConfig(), exclude_self: bool = False) -> FusionData:
    """Retrieve each query's passages and pack everything as tensors (labels renumbered 0..C-1 over
    the pool's labels). Raises ``ValueError`` if a query's label is not in the pool."""
    query_labels, pool_labels = np.asarray(query_labels), np.asarray(pool_labels)
    classes = np.unique(pool_labels)
    if not np.isin(query_labels, classes).all():
        raise ValueError("every query label must occur in the pool (the answer must be retrievable)")
    sets = build_passage_sets(query_vectors, query_labels, pool_vectors, pool_labels, config, exclude_self)
    local = {int(y): i for i, y in enumerate(classes)}
    relabel = np.vectorize(lambda y: local[int(y)], otypes=[np.int64])
    return FusionData(torch.as_tensor(np.asarray(query_vectors, np.float32)),
                      torch.as_tensor(np.asarray(pool_vectors, np.float32)[sets.doc_ids]),
                      torch.as_tensor(relabel(pool_labels[sets.doc_ids])), torch.as_tensor(relabel(query_labels)),
                      torch.as_tensor(sets.kind), len(classes), torch.as_tensor(sets.doc_ids))


@dataclass
class UnseenIntentTask:
    """Training data over the seen intents, evaluation data over the unseen ones (class i of ``test``
    is ``unseen[i]``), and the texts of the evaluation queries and of their pool."""

    train: FusionData
    test: FusionData
    seen: list[str]
    unseen: list[str]
    test_texts: list[str]
    pool_texts: list[str]


def clinc_unseen_intents(encoder, n_unseen: int = 50, passages: PassageConfig = PassageConfig(),
                         seed: int = 0, eval_split: str = "test") -> UnseenIntentTask:
    """Build the task from CLINC150 with ``encoder`` (anything with ``encode(texts, show_progress)``).

    ``n_unseen`` intents (a seeded random choice) are held out; training queries and their pool are
    the seen intents' training utterances; evaluation queries are the unseen intents' utterances of
    ``eval_split`` ("test" or "dev"), their pool the unseen intents' training utterances. Raises
    ``ValueError`` for a bad ``n_unseen`` or split.
    """
    from ragmtl.data import load_clinc150

    clinc = load_clinc150().intents
    n = len(clinc.label_names)
    if not passages.n_docs <= n_unseen <= n - passages.n_docs:
        raise ValueError(f"n_unseen must leave at least n_docs = {passages.n_docs} intents on each side, "
                         f"got {n_unseen}")
    if eval_split not in ("test", "dev"):
        raise ValueError(f"eval_split must be 'test' or 'dev', got {eval_split!r}")
    unseen = np.sort(np.random.default_rng(seed).permutation(n)[:n_unseen])
    train_labels = clinc.labels("train")
    train_vectors = encoder.encode(clinc.texts("train"), show_progress=False)
    held = np.isin(train_labels, unseen)
    evaluation = [x for x in getattr(clinc, eval_split) if x.label in set(unseen.tolist())]
    eval_vectors = encoder.encode([x.text for x in evaluation], show_progress=False)
    train = make_fusion_data(train_vectors[~held], train_labels[~held], train_vectors[~held],
                             train_labels[~held], passages, exclude_self=True)
    test = make_fusion_data(eval_vectors, [x.label for x in evaluation], train_vectors[held],
                            train_labels[held], passages)
    names, texts = clinc.label_names, clinc.texts("train")
    return UnseenIntentTask(train, test, [names[i] for i in range(n) if i not in set(unseen.tolist())],
                            [names[i] for i in unseen], [x.text for x in evaluation],
                            [texts[i] for i in np.flatnonzero(held)])
