"""Retrieved passage sets with a known gold passage among distractors, for the fusion experiment.

For every query, k passages are drawn from a labelled pool: ``n_gold`` gold passages (the nearest
pool items with the query's label), ``n_hard`` hard distractors (the nearest pool items of other
labels, one per label) and random distractors (random pool items of yet other labels) fill the
rest; every distractor has a different label, so exactly the gold passages carry the answer.
The order within each set is shuffled with a seeded generator. Nearest means highest inner product
in a :class:`ragmtl.retrieval.DenseRetriever` (exact FAISS index) over unit vectors: a cosine.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["GOLD", "HARD", "RANDOM", "PassageConfig", "PassageSets", "build_passage_sets"]

GOLD, HARD, RANDOM = 0, 1, 2  # passage kinds


@dataclass(frozen=True)
class PassageConfig:
    """How each query's k passages are chosen."""

    n_docs: int = 8  # k, passages per query
    n_gold: int = 1  # passages with the query's label
    n_hard: int = 4  # nearest passages of other labels (one per label); the rest are random distractors
    search_depth: int = 100  # neighbours retrieved per query to find gold and hard passages
    seed: int = 0  # random distractors and the order within each set

    def __post_init__(self) -> None:
        if self.n_gold < 1 or self.n_hard < 0 or self.n_gold + self.n_hard > self.n_docs:
            raise ValueError(f"need n_gold >= 1, n_hard >= 0 and n_gold + n_hard <= n_docs, got n_gold="
                             f"{self.n_gold}, n_hard={self.n_hard}, n_docs={self.n_docs}")
        if self.search_depth < self.n_gold + self.n_hard:
            raise ValueError(f"search_depth ({self.search_depth}) must be >= n_gold + n_hard")


@dataclass
class PassageSets:
    """``doc_ids`` [Q, k]: pool indices of each query's passages; ``kind`` [Q, k]: GOLD, HARD or RANDOM."""

    doc_ids: np.ndarray
    kind: np.ndarray


def build_passage_sets(query_vectors: np.ndarray, query_labels: np.ndarray, pool_vectors: np.ndarray,
                       pool_labels: np.ndarray, config: PassageConfig = PassageConfig(),
                       exclude_self: bool = False) -> PassageSets:
    """Gold and distractor passages for each query (see the module docstring).

    Shapes: ``query_vectors`` [Q, d], ``query_labels`` [Q], ``pool_vectors`` [N, d], ``pool_labels``
    [N]. With ``exclude_self`` the queries *are* the pool (same order) and a query never retrieves
    itself. A query whose gold passages are not among its ``search_depth`` neighbours gets the
    missing ones at random from its label's pool items. Raises ``ValueError`` when the pool has too
    few items of a query's label or too few other labels to fill k distinct-label distractors.
    """
    from ragmtl.retrieval import DenseRetriever

    query_labels, pool_labels = np.asarray(query_labels), np.asarray(pool_labels)
    if len(query_vectors) != len(query_labels) or len(pool_vectors) != len(pool_labels):
        raise ValueError("vectors and labels must have the same length")
    if exclude_self and len(query_vectors) != len(pool_vectors):
        raise ValueError("exclude_self needs the queries to be the pool itself (same length and order)")
    c = config
    labels = np.unique(pool_labels)
    if len(labels) < c.n_docs - c.n_gold + 1:
        raise ValueError(f"the pool has {len(labels)} labels; {c.n_docs - c.n_gold} distinct-label distractors "
                         "plus the gold label need more")
    by_label = {int(y): np.flatnonzero(pool_labels == y) for y in labels}
    depth = min(c.search_depth + int(exclude_self), len(pool_vectors))
    _, ids = DenseRetriever().index_vectors(pool_vectors).search(np.asarray(query_vectors, np.float32), depth)
    rng = np.random.default_rng(c.seed)
    doc_ids = np.zeros((len(query_labels), c.n_docs), dtype=np.int64)
    kinds = np.zeros((len(query_labels), c.n_docs), dtype=np.int64)
    for q, y in enumerate(query_labels.tolist()):
        own = by_label.get(y, np.zeros(0, dtype=np.int64))
        own = own[own != q] if exclude_self else own
        if len(own) < c.n_gold:
            raise ValueError(f"query {q}: the pool has {len(own)} passages of its label {y}, need {c.n_gold}")
        gold, hard, used = [], [], {y}
        for i in ids[q].tolist():
            if i < 0 or (exclude_self and i == q):
                continue
            if pool_labels[i] == y and len(gold) < c.n_gold:
                gold.append(i)
            elif pool_labels[i] != y and len(hard) < c.n_hard and int(pool_labels[i]) not in used:
                hard.append(i)
                used.add(int(pool_labels[i]))
        if len(gold) < c.n_gold:
            gold += rng.choice(np.setdiff1d(own, gold), c.n_gold - len(gold), replace=False).tolist()
        others = np.array(sorted(set(by_label) - used))
        n_random = c.n_docs - c.n_gold - len(hard)
        random = [int(rng.choice(by_label[int(z)])) for z in rng.choice(others, n_random, replace=False)]
        order = rng.permutation(c.n_docs)
        doc_ids[q] = np.array(gold + hard + random)[order]
        kinds[q] = np.array([GOLD] * len(gold) + [HARD] * len(hard) + [RANDOM] * n_random)[order]
    return PassageSets(doc_ids, kinds)
