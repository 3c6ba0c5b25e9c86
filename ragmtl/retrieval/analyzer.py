"""The text analyzer every sparse retriever shares: split, lower-case, drop stop words, stem.

BM25 and TF-IDF see a text only through its terms, so the analyzer decides much of what they can
match. The default mirrors Lucene's ``EnglishAnalyzer`` (the one behind the BEIR BM25 baseline,
Thakur et al., 2021) closely enough for the chapter's comparison: word tokens of letters and digits,
lower-cased, Lucene's 33 English stop words removed, and an optional Porter2 ("Snowball English")
stemmer from the ``snowballstemmer`` package (Porter, 1980; Porter, 2001). Lucene itself uses the
original Porter stemmer and also strips possessive ``'s``; the chapter says what that changes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Sequence

__all__ = ["LUCENE_STOP_WORDS", "AnalyzerConfig", "Analyzer"]

#: Lucene's ``EnglishAnalyzer.ENGLISH_STOP_WORDS_SET`` (33 words), also Elasticsearch's ``_english_``.
LUCENE_STOP_WORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then "
    "there these they this to was will with".split()
)

_TOKEN = re.compile(r"[^\W_]+")  # runs of letters/digits (Unicode aware); punctuation splits


@dataclass(frozen=True)
class AnalyzerConfig:
    """Settings of :class:`Analyzer`."""

    lowercase: bool = True  # fold case before anything else
    stop_words: frozenset[str] = field(default=LUCENE_STOP_WORDS)  # removed after lower-casing
    stem: bool = True  # Porter2 (Snowball English) stemming; needs the 'snowballstemmer' package
    min_length: int = 1  # drop tokens shorter than this (after stemming)

    def __post_init__(self) -> None:
        if self.min_length < 1:
            raise ValueError(f"min_length must be >= 1, got {self.min_length}")
        if not isinstance(self.stop_words, frozenset):
            object.__setattr__(self, "stop_words", frozenset(self.stop_words))


def _snowball_stem() -> Callable[[str], str]:
    try:
        import snowballstemmer
    except ImportError as err:
        raise RuntimeError("stemming needs the 'snowballstemmer' package (pip install snowballstemmer), "
                           "or build the analyzer with AnalyzerConfig(stem=False)") from err
    stemmer = snowballstemmer.stemmer("english")
    return lru_cache(maxsize=1 << 18)(stemmer.stemWord)  # a corpus repeats words: stem each once


class Analyzer:
    """Turn a text into its list of index terms: ``Analyzer()("The cells") -> ['cell']``.

    Order: tokenise on non-alphanumerics, lower-case, remove stop words, stem, drop short terms.
    Raises ``TypeError`` when given something other than a str.
    """

    def __init__(self, config: AnalyzerConfig | None = None) -> None:
        self.config = config or AnalyzerConfig()
        self._stem = _snowball_stem() if self.config.stem else None

    def __call__(self, text: str) -> list[str]:
        if not isinstance(text, str):
            raise TypeError(f"the analyzer takes a str, got {type(text).__name__}")
        cfg = self.config
        tokens = _TOKEN.findall(text.lower() if cfg.lowercase else text)
        tokens = [t for t in tokens if t not in cfg.stop_words]
        if self._stem is not None:
            tokens = [self._stem(t) for t in tokens]
        if cfg.min_length > 1:
            tokens = [t for t in tokens if len(t) >= cfg.min_length]
        return tokens

    def analyze_all(self, texts: Sequence[str]) -> list[list[str]]:
        """Analyze a batch of texts (a list of str) -> list of term lists."""
        if isinstance(texts, str):
            raise TypeError("analyze_all() takes a sequence of str (wrap a single text in a list)")
        return [self(t) for t in texts]
