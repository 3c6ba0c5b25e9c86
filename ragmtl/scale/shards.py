"""A sharded index: one FAISS index per shard of the corpus, searched shard by shard, merged by score.

This is how an index too large for one machine is served: shard ``s`` holds documents
``offsets[s] .. offsets[s] + n_s - 1`` (its own index answers with local ids), every shard answers
the query's top k, and the global top k is the best k of the S * k candidates
(:func:`merge_top_k`). For exact shards the merge returns exactly one flat index's top k: a document
in the global top k is in its own shard's top k. (``faiss.IndexShards`` does the same merge inside
one process, with threads.) Shapes: queries [Q, d]; results (scores [Q, k], ids [Q, k]), best first,
ties broken by the lower global id; a shard with fewer than k documents pads with id -1, score -inf.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

__all__ = ["merge_top_k", "ShardedIndex"]


def merge_top_k(scores: Sequence[np.ndarray], ids: Sequence[np.ndarray], k: int) -> tuple[np.ndarray, np.ndarray]:
    """The best ``k`` of each query's candidates over shards: ``scores[s]``/``ids[s]`` [Q, k_s] (global ids,
    -1 for padding) -> (scores [Q, k], ids [Q, k]), by score descending, then id ascending."""
    if not scores or len(scores) != len(ids):
        raise ValueError(f"need one scores and one ids array per shard, got {len(scores)} and {len(ids)}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    all_scores = np.concatenate([np.asarray(s, dtype=np.float64) for s in scores], axis=1)
    all_ids = np.concatenate([np.asarray(i, dtype=np.int64) for i in ids], axis=1)
    if all_scores.shape != all_ids.shape:
        raise ValueError(f"scores {all_scores.shape} and ids {all_ids.shape} differ in shape")
    all_scores = np.where(all_ids < 0, -np.inf, all_scores)
    key_ids = np.where(all_ids < 0, np.iinfo(np.int64).max, all_ids)
    order = np.lexsort((key_ids, -all_scores), axis=1)[:, :k]  # last key is the primary one
    out_ids = np.take_along_axis(all_ids, order, axis=1)
    out_scores = np.take_along_axis(all_scores, order, axis=1)
    if out_ids.shape[1] < k:  # fewer candidates than k in all shards together
        pad = k - out_ids.shape[1]
        out_ids = np.pad(out_ids, ((0, 0), (0, pad)), constant_values=-1)
        out_scores = np.pad(out_scores, ((0, 0), (0, pad)), constant_values=-np.inf)
    return out_scores.astype(np.float32), out_ids


class ShardedIndex:
    """``ShardedIndex.build(vectors, n_shards, make_index)``, then ``search(queries, k)``.

    ``make_index(shard_vectors [n_s, d]) -> faiss index`` builds one shard (e.g. a flat index, or
    :func:`~ragmtl.scale.ann.build_ann` with a spec). Contiguous shards of near-equal size.
    """

    def __init__(self, shards: Sequence, offsets: Sequence[int]) -> None:
        if len(shards) == 0 or len(shards) != len(offsets):
            raise ValueError(f"need at least one shard and one offset per shard, got {len(shards)}, {len(offsets)}")
        self.shards, self.offsets = list(shards), [int(o) for o in offsets]

    @classmethod
    def build(cls, vectors: np.ndarray, n_shards: int, make_index: Callable[[np.ndarray], object]) -> "ShardedIndex":
        if not 1 <= n_shards <= len(vectors):
            raise ValueError(f"n_shards must be in [1, {len(vectors)}] (the number of vectors), got {n_shards}")
        bounds = np.linspace(0, len(vectors), n_shards + 1).round().astype(int)
        shards = [make_index(np.ascontiguousarray(vectors[a:b], dtype=np.float32))
                  for a, b in zip(bounds[:-1], bounds[1:])]
        return cls(shards, bounds[:-1].tolist())

    @property
    def ntotal(self) -> int:
        return sum(int(s.ntotal) for s in self.shards)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        scores, ids = [], []
        for shard, offset in zip(self.shards, self.offsets):
            s, i = shard.search(queries, min(k, int(shard.ntotal)))
            scores.append(s)
            ids.append(np.where(i < 0, -1, i + offset))
        return merge_top_k(scores, ids, k)
