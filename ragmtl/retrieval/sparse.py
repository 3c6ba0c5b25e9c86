"""Bag-of-words matrices: a vocabulary and the sparse document-term count matrix sparse retrievers index.

A corpus of ``n_docs`` term lists becomes a SciPy CSR matrix ``counts`` [n_docs, n_terms] whose entry
(d, t) is how often term t occurs in document d. Query term lists map onto the same columns; terms
the corpus never saw are dropped (no document could match them).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ["Vocabulary", "count_matrix"]


@dataclass
class Vocabulary:
    """Term -> column number, in order of first appearance in the corpus."""

    index: dict[str, int]

    @classmethod
    def build(cls, docs: Sequence[Sequence[str]]) -> "Vocabulary":
        index: dict[str, int] = {}
        for doc in docs:
            for term in doc:
                if term not in index:
                    index[term] = len(index)
        return cls(index)

    def __len__(self) -> int:
        return len(self.index)


def count_matrix(docs: Sequence[Sequence[str]], vocab: Vocabulary, dtype=np.float64):
    """Term counts of ``docs`` (a list of term lists) as CSR [len(docs), len(vocab)].

    Out-of-vocabulary terms are skipped. Duplicates within a document are summed, so a query that
    repeats a term counts it twice, as ``rank_bm25`` does.
    """
    from scipy import sparse

    index = vocab.index
    cols, indptr = [], [0]
    for doc in docs:
        cols.extend(index[t] for t in doc if t in index)
        indptr.append(len(cols))
    cols_arr = np.asarray(cols, dtype=np.int64)
    data = np.ones(len(cols_arr), dtype=dtype)
    matrix = sparse.csr_matrix((data, cols_arr, np.asarray(indptr, dtype=np.int64)),
                               shape=(len(docs), len(vocab)))
    matrix.sum_duplicates()  # also sorts the column indices of each row
    return matrix
