"""Corpus BLEU, chrF (sacrebleu) and ROUGE-L (rouge-score) for generated text, in percent.

Every function takes ``predictions`` (one string per example) and ``references`` (a non-empty list
of reference strings per example, as ``squad_scores`` takes its golds) and returns a
:class:`GenerationScore`: a label for a table, the score in percent (0-100) and a signature that
says how it was computed. The libraries are imported lazily, on the first call.

- BLEU (Papineni et al., 2002) and chrF (Popovic, 2015) are corpus-level: n-gram statistics are
  summed over the corpus before the score is formed (sacrebleu's ``corpus_score``; Post, 2018).
  Examples may have different numbers of references (sacrebleu's ``nrefs:var``).
- ROUGE-L (Lin, 2004) is the LCS-based F-measure ``F = 2 P R / (P + R)`` with ``P = LCS / |pred|``
  and ``R = LCS / |ref|``; each prediction keeps its best reference and the corpus score is the mean
  over examples. rouge-score's tokenizer lower-cases and keeps only ``[a-z0-9]`` runs, so text in
  other scripts scores 0; ``use_stemmer=True`` applies the Porter stemmer to tokens longer than 3.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version

__all__ = ["GenerationScore", "check_generation_inputs", "corpus_bleu", "corpus_chrf", "rouge_l"]


@dataclass(frozen=True)
class GenerationScore:
    """One corpus-level score of generated text.

    name: label for a table, naming the variant (e.g. ``"chrF++"``, ``"ROUGE-L (stemmed)"``).
    score: the score in percent (0-100).
    signature: how it was computed (sacrebleu's signature, or the library, version and options).
    """

    name: str
    score: float
    signature: str


def check_generation_inputs(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> None:
    """Raise ValueError unless ``predictions`` is a non-empty list of str and ``references`` holds,
    for each prediction, a non-empty list of reference strings (not a bare str)."""
    if isinstance(predictions, str) or isinstance(references, str):
        raise ValueError("predictions and references must be lists, not a single str")
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} reference lists; "
                         "expected one list of references per prediction")
    if len(predictions) == 0:
        raise ValueError("no predictions to score; expected at least one")
    for i, (pred, refs) in enumerate(zip(predictions, references)):
        if not isinstance(pred, str):
            raise ValueError(f"prediction {i} is {type(pred).__name__}; expected str")
        if isinstance(refs, str) or len(refs) == 0 or not all(isinstance(r, str) for r in refs):
            raise ValueError(f"references[{i}] = {refs!r}; expected a non-empty list of str "
                             "(wrap a single reference as [ref])")


def _reference_streams(references: Sequence[Sequence[str]]) -> list[list[str | None]]:
    """Transpose per-example reference lists into sacrebleu's streams, padding with None."""
    n_streams = max(len(refs) for refs in references)
    return [[refs[k] if k < len(refs) else None for refs in references] for k in range(n_streams)]


def corpus_bleu(predictions: Sequence[str], references: Sequence[Sequence[str]], *,
                tokenize: str = "13a", lowercase: bool = False, smooth_method: str = "exp") -> GenerationScore:
    """Corpus BLEU (Papineni et al., 2002) via ``sacrebleu.metrics.BLEU`` with its defaults.

    A prediction equal to its reference scores 100 when it has at least four tokens.
    Raises ValueError on malformed inputs (see :func:`check_generation_inputs`).
    """
    check_generation_inputs(predictions, references)
    from sacrebleu.metrics import BLEU

    metric = BLEU(tokenize=tokenize, lowercase=lowercase, smooth_method=smooth_method)
    result = metric.corpus_score(list(predictions), _reference_streams(references))
    return GenerationScore("BLEU", float(result.score), f"BLEU|{metric.get_signature()}")


def corpus_chrf(predictions: Sequence[str], references: Sequence[Sequence[str]], *,
                word_order: int = 0) -> GenerationScore:
    """Corpus chrF (Popovic, 2015): character n-gram (1-6) F-score with beta = 2, via
    ``sacrebleu.metrics.CHRF``; ``word_order=2`` adds word uni- and bigrams (chrF++, Popovic 2017).

    Raises ValueError on malformed inputs or a ``word_order`` other than 0, 1 or 2.
    """
    check_generation_inputs(predictions, references)
    if word_order not in (0, 1, 2):
        raise ValueError(f"word_order must be 0 (chrF), 1 or 2 (chrF++), got {word_order}")
    from sacrebleu.metrics import CHRF

    metric = CHRF(word_order=word_order)
    result = metric.corpus_score(list(predictions), _reference_streams(references))
    name = "chrF++" if word_order == 2 else "chrF" if word_order == 0 else f"chrF (word order {word_order})"
    return GenerationScore(name, float(result.score), f"chrF|{metric.get_signature()}")


def rouge_l(predictions: Sequence[str], references: Sequence[Sequence[str]], *,
            use_stemmer: bool = False) -> GenerationScore:
    """Mean over examples of the best-reference ROUGE-L F-measure (Lin, 2004), in percent,
    via ``rouge_score.rouge_scorer.RougeScorer(["rougeL"])`` (``score_multi`` keeps the best).

    The name says whether the Porter stemmer was on: ``"ROUGE-L"`` or ``"ROUGE-L (stemmed)"``.
    Raises ValueError on malformed inputs (see :func:`check_generation_inputs`).
    """
    check_generation_inputs(predictions, references)
    from rouge_score.rouge_scorer import RougeScorer

    scorer = RougeScorer(["rougeL"], use_stemmer=use_stemmer)
    total = sum(scorer.score_multi(list(refs), pred)["rougeL"].fmeasure
                for pred, refs in zip(predictions, references))
    stem = "yes" if use_stemmer else "no"
    signature = f"ROUGE-L|F-measure|stem:{stem}|best-of-refs|mean|rouge-score:{version('rouge-score')}"
    return GenerationScore("ROUGE-L (stemmed)" if use_stemmer else "ROUGE-L",
                           100.0 * total / len(predictions), signature)
