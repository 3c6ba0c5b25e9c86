"""Open-book QA on SQuAD 2.0 split by article: the data split and answer scoring over retrieved passages.

The answer to a question x is scored by marginalising over the k retrieved passages z, the
RAG-Sequence formula of Lewis et al. (2020) with a span model as generator (REALM, Guu et al. 2020):

    p(a | x) = sum_z p(z | x) p(a | x, z),   p(z | x) = softmax_z(score(x, z) / temperature)

``normalization="per_passage"`` takes p(a | x, z) as a softmax within each passage (the exact
marginal); ``"shared"`` normalises start and end scores jointly over the tokens of all k passages
(Clark and Gardner, 2018), so the reader's confidence is comparable across passages. Identical
answer strings found in several places have their probabilities summed.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..eval.squad import normalize_answer
from .chunks import Chunk, chunk_paragraphs, locate_answer

__all__ = ["TEST_ARTICLES", "VALIDATION_ARTICLES", "QAItem", "OpenBookQA", "build_open_book_qa",
           "passage_log_prior", "answer_scores", "best_answers", "ReadPassages", "read_passages", "predict",
           "predict_oracle", "gold_log_likelihood"]

TEST_ARTICLES = ("Steam_engine", "Harvard_University", "Islamism", "Force")
VALIDATION_ARTICLES = ("Normans",)  # held out for choosing k, the temperature and the normalisation


@dataclass(frozen=True)
class QAItem:
    qid: str
    question: str
    answers: tuple[str, ...]  # every gold answer text (scoring takes the best match)
    article: str
    gold_chunk: int  # chunk holding the first gold answer
    answer_start: int  # character offset of the first gold answer in that chunk


@dataclass
class OpenBookQA:
    chunks: list[Chunk]
    train: list[QAItem]
    validation: list[QAItem]
    test: list[QAItem]


def build_open_book_qa(squad, count_tokens, max_tokens: int = 160,
                       test_articles: Sequence[str] = TEST_ARTICLES,
                       validation_articles: Sequence[str] = VALIDATION_ARTICLES) -> OpenBookQA:
    """Chunk every paragraph (the corpus: all articles) and split answerable questions by article.

    Training articles are all those neither in ``test_articles`` nor in ``validation_articles``, so
    no test fact is seen in training. Raises ValueError for unknown or overlapping article lists.
    """
    test, val = set(test_articles), set(validation_articles)
    unknown = (test | val) - set(squad.articles)
    if unknown:
        raise ValueError(f"unknown articles {sorted(unknown)}; known: {squad.articles}")
    if test & val:
        raise ValueError(f"articles {sorted(test & val)} are both test and validation articles")
    spans: dict[int, list[tuple[int, int]]] = {}
    for q in squad.questions:
        for a in q.answers:
            spans.setdefault(q.paragraph_id, []).append((a.start, a.start + len(a.text)))
    chunks = chunk_paragraphs(squad.paragraphs, count_tokens, max_tokens, spans)
    by_paragraph: dict[int, list[Chunk]] = {}
    for c in chunks:
        by_paragraph.setdefault(c.paragraph_id, []).append(c)
    splits: dict[str, list[QAItem]] = {"train": [], "validation": [], "test": []}
    for q in squad.questions:
        if q.is_impossible:
            continue
        first = q.answers[0]
        chunk, offset = locate_answer(by_paragraph[q.paragraph_id], first.start, first.text)
        item = QAItem(q.qid, q.text, tuple(a.text for a in q.answers), q.article, chunk.chunk_id, offset)
        split = "test" if q.article in test else "validation" if q.article in val else "train"
        splits[split].append(item)
    return OpenBookQA(chunks, splits["train"], splits["validation"], splits["test"])


def passage_log_prior(scores: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """log p(z | x): log-softmax of retrieval scores [Q, k] / temperature over the k passages."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    s = np.asarray(scores, dtype=np.float64) / temperature
    s = s - s.max(axis=1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=1, keepdims=True))


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    m = x.max()
    return x - m - np.log(np.exp(x - m).sum())


def answer_scores(logits: Sequence[tuple[np.ndarray, np.ndarray]], offsets: Sequence[Sequence],
                  passages: Sequence[str], log_prior: np.ndarray, normalization: str = "per_passage",
                  max_answer_tokens: int = 30, n_best: int = 20) -> dict[str, tuple[float, str]]:
    """Log-probability of each candidate answer of one question, summed over places and passages.

    ``logits[z]`` are the reader's (start, end) logits for passage z, ``offsets[z]`` its tokens'
    character spans (None outside the passage), ``log_prior`` [k] the passages' log p(z | x).
    Returns {normalised answer: (log p(a | x), answer text as first found)}.
    """
    if normalization not in ("shared", "per_passage"):
        raise ValueError(f"normalization must be 'shared' or 'per_passage', got {normalization!r}")
    k = len(logits)
    if not (len(offsets) == len(passages) == len(log_prior) == k):
        raise ValueError(f"logits, offsets, passages and log_prior must all have k={k} entries")
    ctx = [np.array([o is not None for o in offs]) for offs in offsets]
    if normalization == "shared":
        starts = _log_softmax(np.concatenate([s[m] for (s, _), m in zip(logits, ctx)]))
        ends = _log_softmax(np.concatenate([e[m] for (_, e), m in zip(logits, ctx)]))
        bounds = np.cumsum([0] + [int(m.sum()) for m in ctx])
        per = [(starts[bounds[z]:bounds[z + 1]], ends[bounds[z]:bounds[z + 1]]) for z in range(k)]
    else:
        per = [(_log_softmax(s[m]), _log_softmax(e[m])) for (s, e), m in zip(logits, ctx)]
    found: dict[str, list] = {}
    for z in range(k):
        ls, le = per[z]
        positions = np.flatnonzero(ctx[z])
        top_s = np.argsort(-ls, kind="stable")[:n_best]
        top_e = np.argsort(-le, kind="stable")[:n_best]
        for i in top_s:
            for j in top_e:
                if j < i or j - i + 1 > max_answer_tokens:
                    continue
                a, b = offsets[z][positions[i]][0], offsets[z][positions[j]][1]
                text = passages[z][a:b]
                key = normalize_answer(text)
                score = log_prior[z] + ls[i] + le[j]
                if key in found:
                    found[key][0] = np.logaddexp(found[key][0], score)
                else:
                    found[key] = [score, text]
    return {key: (float(s), t) for key, (s, t) in found.items()}


def best_answers(all_logits, all_offsets, all_passages, log_priors: np.ndarray, **kwargs) -> list[str]:
    """The highest-scoring answer text of every question (lists over questions, each over k passages)."""
    answers = []
    for logits, offsets, passages, prior in zip(all_logits, all_offsets, all_passages, log_priors):
        scores = answer_scores(logits, offsets, passages, prior, **kwargs)
        answers.append(max(scores.values())[1] if scores else "")
    return answers


@dataclass
class ReadPassages:
    """The reader's output on each question's retrieved passages (and on its gold passage)."""

    ids: np.ndarray  # [Q, k] chunk ids, best first
    scores: np.ndarray  # [Q, k] retrieval scores
    logits: list[list[tuple[np.ndarray, np.ndarray]]]  # [Q][k] (start, end)
    offsets: list[list]
    passages: list[list[str]]
    gold: list[tuple[tuple[np.ndarray, np.ndarray], list, str]]  # the gold chunk's (logits, offsets, text)


def read_passages(reader, tokenizer, items: Sequence[QAItem], chunks: Sequence[Chunk], ids: np.ndarray,
                  scores: np.ndarray, max_length: int = 192, show_progress: bool = False) -> ReadPassages:
    """Run the reader once over every (question, retrieved chunk) pair and every gold chunk.

    A gold chunk that was retrieved is read once. ``ids``/``scores`` [Q, k] come from a retriever's
    ``search``; raises ValueError when their shapes do not match the questions, or when a question
    retrieved fewer than k chunks (id -1, a query with no indexed term) rather than reading chunk -1.
    """
    from .reader import encode_pairs, reader_logits

    ids, scores = np.asarray(ids), np.asarray(scores)
    if ids.shape != scores.shape or ids.ndim != 2 or len(ids) != len(items):
        raise ValueError(f"ids {ids.shape} and scores {scores.shape} must both be [{len(items)}, k]")
    if (ids < 0).any():
        short = np.flatnonzero((ids < 0).any(1))
        raise ValueError(f"{len(short)} questions retrieved fewer than {ids.shape[1]} chunks (id -1: no query term "
                         f"is in the index), e.g. {items[short[0]].question!r}; expected k chunk ids per question")
    pairs = {(qi, int(c)) for qi, row in enumerate(ids) for c in row}
    pairs |= {(qi, q.gold_chunk) for qi, q in enumerate(items)}
    pairs = sorted(pairs)
    feats = encode_pairs(tokenizer, [items[qi].question for qi, _ in pairs], [chunks[c].text for _, c in pairs],
                         max_length)
    logits = reader_logits(reader, feats, show_progress=show_progress)
    where = {pair: n for n, pair in enumerate(pairs)}
    out = ReadPassages(ids, scores, [], [], [], [])
    for qi, q in enumerate(items):
        rows = [where[(qi, int(c))] for c in ids[qi]]
        out.logits.append([logits[r] for r in rows])
        out.offsets.append([feats["offsets"][r] for r in rows])
        out.passages.append([chunks[int(c)].text for c in ids[qi]])
        g = where[(qi, q.gold_chunk)]
        out.gold.append((logits[g], feats["offsets"][g], chunks[q.gold_chunk].text))
    return out


def predict(read: ReadPassages, k: int, temperature: float = 1.0, normalization: str = "per_passage") -> list[str]:
    """Answers from the top ``k`` retrieved passages, marginalised with the retrieval prior."""
    if not 1 <= k <= read.ids.shape[1]:
        raise ValueError(f"k must be in [1, {read.ids.shape[1]}] (passages read per question), got {k}")
    prior = passage_log_prior(read.scores[:, :k], temperature)
    return best_answers([lg[:k] for lg in read.logits], [o[:k] for o in read.offsets],
                        [p[:k] for p in read.passages], prior, normalization=normalization)


def predict_oracle(read: ReadPassages) -> list[str]:
    """Answers read from each question's gold passage alone (the upper bound for a perfect retriever)."""
    return best_answers([[lg] for lg, _, _ in read.gold], [[o] for _, o, _ in read.gold],
                        [[t] for _, _, t in read.gold], np.zeros((len(read.gold), 1)))


def gold_log_likelihood(read: ReadPassages, golds: Sequence[Sequence[str]], k: int, temperature: float = 1.0,
                        normalization: str = "per_passage", floor: float = -20.0) -> float:
    """Mean over questions of log p(gold answer | x) (the best-scoring gold string), with the top ``k``.

    A smooth criterion for choosing ``k``, the temperature and the normalisation on validation
    questions: unlike exact match it moves with every question's probabilities. A gold answer
    outside the candidate spans scores ``floor``.
    """
    if len(golds) != len(read.logits):
        raise ValueError(f"{len(golds)} gold answer lists for {len(read.logits)} questions")
    if not 1 <= k <= read.ids.shape[1]:
        raise ValueError(f"k must be in [1, {read.ids.shape[1]}] (passages read per question), got {k}")
    prior = passage_log_prior(read.scores[:, :k], temperature)
    total = 0.0
    for i, answers in enumerate(golds):
        scores = answer_scores(read.logits[i][:k], read.offsets[i][:k], read.passages[i][:k], prior[i],
                               normalization=normalization)
        best = max((scores[key][0] for key in {normalize_answer(a) for a in answers} if key in scores), default=floor)
        total += max(best, floor)
    return total / len(golds)
