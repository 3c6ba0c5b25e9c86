"""Passages for open-book QA: SQuAD paragraphs split into chunks of whole sentences.

A reader sees ``[CLS] question [SEP] passage [SEP]`` in at most 192 WordPiece tokens, and about a
quarter of SQuAD paragraphs are longer than that. :func:`chunk_paragraphs` cuts each paragraph at
sentence ends into chunks of at most ``max_tokens`` tokens, never inside a gold answer, so every
answer lies inside exactly one chunk and retrieval can be scored against the gold chunk.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Chunk", "sentence_spans", "chunk_paragraphs", "locate_answer"]

# A sentence ends at . ! or ? (optionally followed by a closing quote or bracket) before white space.
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s+")


@dataclass(frozen=True)
class Chunk:
    chunk_id: int  # position in the list returned by chunk_paragraphs
    paragraph_id: int
    article: str
    start: int  # character offset of the chunk in its paragraph
    text: str


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of the sentences of ``text`` (a simple punctuation rule)."""
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        spans.append((start, m.end()))
        start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def chunk_paragraphs(paragraphs: Sequence, count_tokens: Callable[[str], int], max_tokens: int = 160,
                     answer_spans: dict[int, list[tuple[int, int]]] | None = None) -> list[Chunk]:
    """Split each paragraph (objects with ``paragraph_id``, ``article``, ``context``) into chunks.

    Sentences are added to a chunk while it stays within ``max_tokens`` (as counted by
    ``count_tokens``); a cut is never made inside a span of ``answer_spans[paragraph_id]``
    (character ``(start, end)`` pairs), so a long answer may make a chunk exceed the limit, as may a
    single sentence longer than it. Raises ValueError for ``max_tokens < 1``.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    answer_spans = answer_spans or {}
    chunks: list[Chunk] = []
    for para in paragraphs:
        text = para.context
        spans = answer_spans.get(para.paragraph_id, [])
        cuts_allowed = lambda pos: not any(s < pos < e for s, e in spans)  # noqa: E731
        pieces: list[tuple[int, int]] = []  # units that may not be split: sentences glued over answers
        for s, e in sentence_spans(text):
            if pieces and not cuts_allowed(s):
                pieces[-1] = (pieces[-1][0], e)
            else:
                pieces.append((s, e))
        start, end = pieces[0]
        for s, e in pieces[1:]:
            if count_tokens(text[start:e]) <= max_tokens:
                end = e
                continue
            chunks.append(_make_chunk(len(chunks), para, text, start, end))
            start, end = s, e
        chunks.append(_make_chunk(len(chunks), para, text, start, end))
    return chunks


def _make_chunk(chunk_id: int, para, text: str, start: int, end: int) -> Chunk:
    piece = text[start:end]
    stripped = piece.rstrip()
    return Chunk(chunk_id, para.paragraph_id, para.article, start, stripped)


def locate_answer(chunks_of_paragraph: Sequence[Chunk], answer_start: int, answer_text: str) -> tuple[Chunk, int]:
    """The chunk holding an answer given by its character offset in the paragraph, and its offset there.

    Raises ValueError when no chunk holds the whole answer (it would have to be cut).
    """
    end = answer_start + len(answer_text)
    for chunk in chunks_of_paragraph:
        if chunk.start <= answer_start and end <= chunk.start + len(chunk.text):
            return chunk, answer_start - chunk.start
    raise ValueError(f"no chunk holds the answer {answer_text!r} at characters {answer_start}-{end}")
