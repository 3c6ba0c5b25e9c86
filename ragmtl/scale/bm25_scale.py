"""BM25 at scale: a Zipf-distributed synthetic corpus, and ragmtl's BM25 timed against bm25s.

The corpus (:func:`zipf_corpus`) is exactly this, for a :class:`ZipfCorpusConfig` and ``n_docs``:
a vocabulary of ``vocab_size`` words ``"w0" .. "w{V-1}"``, word ``w_r`` (rank r, 0-based) drawn
with probability ``(r + 1)^(-exponent) / sum_s (s + 1)^(-exponent)`` (Zipf's law, as word counts of
natural text roughly follow); document lengths uniform on ``[min_len, max_len]`` tokens; every
token drawn independently; all from ``numpy.random.default_rng(seed)``. Queries
(:func:`zipf_queries`) are ``query_len`` words from the same law restricted to ranks
``>= query_skip_top`` (the most frequent words act as the stop words an analyzer drops), from
``default_rng(seed + 1)``. Tokens are given to both libraries already analyzed (the same
identity analyzer), so their scores must agree: bm25s ``method="lucene"`` is ragmtl's
``BM25Config(idf="lucene")`` without the constant factor ``k1 + 1`` (dropped as Lucene >= 8 drops
it; no ranking changes), i.e. bm25s's score = ragmtl's / (k1 + 1) (:func:`as_bm25s_scores`).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from ..retrieval.bm25 import BM25, BM25Config

__all__ = ["ZipfCorpusConfig", "zipf_corpus", "zipf_queries", "build_bm25s", "as_bm25s_scores", "Bm25Timing", "time_bm25"]


@dataclass(frozen=True)
class ZipfCorpusConfig:
    """The synthetic corpus: vocabulary, word law, document and query lengths, seed."""

    vocab_size: int = 50_000
    exponent: float = 1.0  # Zipf's s
    min_len: int = 20  # document length, uniform on [min_len, max_len] tokens
    max_len: int = 120
    query_len: int = 5
    query_skip_top: int = 100  # query words come from ranks >= this
    seed: int = 0

    def __post_init__(self) -> None:
        if self.vocab_size < 2 or self.exponent <= 0 or not 1 <= self.min_len <= self.max_len:
            raise ValueError(f"need vocab_size >= 2, exponent > 0 and 1 <= min_len <= max_len, got {self}")
        if not 0 <= self.query_skip_top < self.vocab_size or self.query_len < 1:
            raise ValueError(f"need 0 <= query_skip_top < vocab_size and query_len >= 1, got {self}")


def _law(config: ZipfCorpusConfig, skip: int = 0) -> np.ndarray:
    p = (np.arange(skip, config.vocab_size) + 1.0) ** -config.exponent
    return p / p.sum()


def zipf_corpus(n_docs: int, config: ZipfCorpusConfig | None = None) -> list[list[str]]:
    """``n_docs`` documents as token lists (see the module docstring); raises ``ValueError`` for n_docs < 1."""
    config = config or ZipfCorpusConfig()
    if n_docs < 1:
        raise ValueError(f"n_docs must be >= 1, got {n_docs}")
    rng = np.random.default_rng(config.seed)
    lengths = rng.integers(config.min_len, config.max_len + 1, size=n_docs)
    ids = rng.choice(config.vocab_size, size=int(lengths.sum()), p=_law(config))
    words = np.array([f"w{r}" for r in range(config.vocab_size)], dtype=object)
    return [list(words[chunk]) for chunk in np.split(ids, np.cumsum(lengths)[:-1])]


def zipf_queries(n_queries: int, config: ZipfCorpusConfig | None = None) -> list[list[str]]:
    """``n_queries`` queries of ``query_len`` words of rank >= ``query_skip_top``."""
    config = config or ZipfCorpusConfig()
    rng = np.random.default_rng(config.seed + 1)
    ids = config.query_skip_top + rng.choice(config.vocab_size - config.query_skip_top,
                                             size=(n_queries, config.query_len), p=_law(config, config.query_skip_top))
    return [[f"w{r}" for r in row] for row in ids]


def as_bm25s_scores(scores: np.ndarray, config: BM25Config) -> np.ndarray:
    """ragmtl's BM25 ``scores`` on bm25s's (Lucene >= 8) scale: divided by ``k1 + 1``."""
    return np.asarray(scores) / (config.k1 + 1)


def build_bm25s(docs: list[list[str]], config: BM25Config):
    """A ``bm25s.BM25`` (Lucene variant, same k1 and b) over the token lists ``docs``."""
    import bm25s

    if config.idf != "lucene":
        raise ValueError(f"bm25s is compared on the Lucene idf; got idf={config.idf!r}")
    retriever = bm25s.BM25(k1=config.k1, b=config.b, method="lucene")
    retriever.index(docs, show_progress=False)
    return retriever


@dataclass(frozen=True)
class Bm25Timing:
    """One corpus size: build seconds and ms per query (one batch of queries) for both libraries."""

    n_docs: int
    ragmtl_build_s: float
    bm25s_build_s: float
    ragmtl_query_ms: float
    bm25s_query_ms: float
    ragmtl_index_mb: float  # the weight matrix W^T (data + indices + indptr)

    def as_dict(self) -> dict:
        return {**asdict(self), "query_ratio": self.ragmtl_query_ms / self.bm25s_query_ms}


def time_bm25(docs: list[list[str]], queries: list[list[str]], k: int = 10,
              config: BM25Config | None = None) -> Bm25Timing:
    """Build both indexes over ``docs`` and time ``k``-best search of ``queries`` (single-threaded bm25s)."""
    config = config or BM25Config()
    t = time.perf_counter()
    ours = BM25(config).index_tokens(docs)
    ours_build = time.perf_counter() - t
    t = time.perf_counter()
    theirs = build_bm25s(docs, config)
    theirs_build = time.perf_counter() - t
    t = time.perf_counter()
    ours.search_tokens(queries, k)
    ours_q = time.perf_counter() - t
    t = time.perf_counter()
    theirs.retrieve(queries, k=k, show_progress=False, n_threads=1)
    theirs_q = time.perf_counter() - t
    w = ours.weights_t
    mb = (w.data.nbytes + w.indices.nbytes + w.indptr.nbytes) / 1e6
    return Bm25Timing(len(docs), ours_build, theirs_build, 1e3 * ours_q / len(queries),
                      1e3 * theirs_q / len(queries), mb)
