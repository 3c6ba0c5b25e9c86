"""METEOR (Banerjee & Lavie, 2005; Lavie & Agarwal, 2007) via nltk, with its matching modules named.

METEOR aligns unigrams of a prediction and a reference in stages (exact, then Porter-stem, then
WordNet synonym matches), and scores the alignment of m matched words with
``P = m / |pred|``, ``R = m / |ref|``, ``F_mean = P R / (alpha P + (1 - alpha) R)`` and
``score = F_mean (1 - gamma (chunks / m) ** beta)``, where ``chunks`` is the fewest runs of
adjacent matches (nltk's defaults: alpha = 0.9, beta = 3, gamma = 0.5). Each prediction keeps its
best reference; the corpus score is the mean over examples, in percent.

WordNet: nltk's synonym stage reads WordNet through ``nltk.download("wordnet")``, which needs the
internet. We found no PyPI package that ships the nltk WordNet corpus, and Debian's ``wordnet-base``
(WordNet 3.0) lacks the ``lexnames`` file that nltk's reader requires, so by default this module runs the **exact and
stem stages only** and says so: the result's ``modules`` is ``("exact", "stem")`` and its name
``"METEOR (exact+stem)"``. Passing a WordNet reader (e.g. ``nltk.corpus.wordnet`` where its data
is installed) turns the synonym stage on, and the result says ``"METEOR (exact+stem+synonym)"``.
Scores of the two variants are not comparable; there is no silent fallback from one to the other.
(nltk's synonym stage looks up the Porter stems that the stem stage leaves, e.g. "larg" for "large".)

Tokenisation: lower-case, then ``nltk.tokenize.wordpunct_tokenize`` (a regex, no data files;
nltk's ``word_tokenize`` would need the downloadable punkt model).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from .generation import GenerationScore, check_generation_inputs

__all__ = ["MeteorScore", "meteor"]


@dataclass(frozen=True)
class MeteorScore(GenerationScore):
    """A :class:`GenerationScore` that also lists the matching stages that ran.

    modules: ``("exact", "stem")`` or ``("exact", "stem", "synonym")``; ``name`` repeats it,
    e.g. ``"METEOR (exact+stem)"``, so a table label cannot lose it.
    """

    modules: tuple[str, ...] = ("exact", "stem")


class _NoSynonyms:
    """Stands in for nltk's WordNet reader: every word has no synsets, so the synonym stage matches
    nothing beyond the exact stage and METEOR reduces to its exact and stem modules."""

    def synsets(self, word: str) -> list:
        return []


def meteor(predictions: Sequence[str], references: Sequence[Sequence[str]], *, wordnet: Any = None,
           alpha: float = 0.9, beta: float = 3.0, gamma: float = 0.5) -> MeteorScore:
    """Mean sentence METEOR over examples, in percent, via ``nltk.translate.meteor_score.meteor_score``.

    ``wordnet=None`` runs the exact and stem modules only; a WordNet reader (an object with
    nltk's ``synsets(word)`` method) adds the synonym module. Read ``result.modules`` or
    ``result.name`` for the variant that ran. Raises ValueError on malformed inputs (see
    ``check_generation_inputs``), a ``wordnet`` without ``synsets``, or weights outside
    ``0 <= alpha <= 1``, ``beta > 0``, ``0 <= gamma <= 1``.
    """
    check_generation_inputs(predictions, references)
    if not (0.0 <= alpha <= 1.0 and beta > 0.0 and 0.0 <= gamma <= 1.0):
        raise ValueError(f"expected 0 <= alpha <= 1, beta > 0, 0 <= gamma <= 1; "
                         f"got alpha={alpha}, beta={beta}, gamma={gamma}")
    if wordnet is None:
        modules, wordnet = ("exact", "stem"), _NoSynonyms()
    elif callable(getattr(wordnet, "synsets", None)):
        modules = ("exact", "stem", "synonym")
    else:
        raise ValueError(f"wordnet must be None or a WordNet reader with a synsets(word) method, "
                         f"got {type(wordnet).__name__}")
    from nltk.stem.porter import PorterStemmer
    from nltk.tokenize import wordpunct_tokenize
    from nltk.translate.meteor_score import meteor_score

    stemmer = PorterStemmer()
    total = 0.0
    for pred, refs in zip(predictions, references):
        total += meteor_score([wordpunct_tokenize(r.lower()) for r in refs], wordpunct_tokenize(pred.lower()),
                              stemmer=stemmer, wordnet=wordnet, alpha=alpha, beta=beta, gamma=gamma)
    label = "+".join(modules)
    signature = (f"METEOR|modules:{label}|alpha:{alpha}|beta:{beta}|gamma:{gamma}|lc:yes|tok:wordpunct|"
                 f"best-of-refs|mean|nltk:{version('nltk')}")
    return MeteorScore(f"METEOR ({label})", 100.0 * total / len(predictions), signature, modules)
