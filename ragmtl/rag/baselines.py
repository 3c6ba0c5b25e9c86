"""Baselines for open-book QA that say what retrieval buys: the same reader, other passages.

The closed-book generator (:mod:`.closed_book`) cannot know facts of unseen articles, so its score
of about zero says nothing about retrieval. Two baselines keep the reader and change only what it
reads:

- a *random chunk of the same article* (never the question's gold chunk): the right topic and
  vocabulary, but not the passage a retriever would pick (:func:`random_article_chunks`);
- the *question alone*: an extractive reader can only answer with a span of its input, so the
  question is given as its own passage, ``[CLS] question [SEP] question [SEP]``. An empty passage
  would leave no span to answer with, an exact match of 0 by construction.

:func:`read_one_passage` reads one passage per question and returns the best span.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .chunks import Chunk
from .qa import QAItem, best_answers

__all__ = ["random_article_chunks", "read_one_passage"]


def random_article_chunks(items: Sequence[QAItem], chunks: Sequence[Chunk], seed: int = 0) -> np.ndarray:
    """For each question, a chunk id drawn uniformly from its article's chunks other than its gold chunk.

    Seeded (``numpy.random.default_rng(seed)``), so a rerun draws the same chunks. Raises ValueError
    when a question's article has no chunk besides the gold one.
    """
    by_article: dict[str, list[int]] = {}
    for c in chunks:
        by_article.setdefault(c.article, []).append(c.chunk_id)
    rng = np.random.default_rng(seed)
    out = []
    for q in items:
        candidates = [c for c in by_article.get(q.article, []) if c != q.gold_chunk]
        if not candidates:
            raise ValueError(f"article {q.article!r} of question {q.qid!r} has no chunk besides its gold chunk")
        out.append(candidates[int(rng.integers(len(candidates)))])
    return np.array(out, dtype=np.int64)


def read_one_passage(reader, tokenizer, questions: Sequence[str], passages: Sequence[str],
                     max_length: int = 192) -> list[str]:
    """The reader's highest-scoring answer span for each (question, passage) pair ("" if no span fits).

    Raises ValueError when the two lists differ in length.
    """
    from .reader import encode_pairs, reader_logits

    if len(questions) != len(passages):
        raise ValueError(f"{len(questions)} questions but {len(passages)} passages")
    feats = encode_pairs(tokenizer, questions, passages, max_length)
    logits = reader_logits(reader, feats)
    return best_answers([[lg] for lg in logits], [[o] for o in feats["offsets"]], [[p] for p in passages],
                        np.zeros((len(passages), 1)))
