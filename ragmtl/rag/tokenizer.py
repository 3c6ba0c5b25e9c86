"""A word-level tokenizer with the calling convention of a transformers tokenizer.

For generators trained from scratch on a small corpus (:mod:`ragmtl.rag.toy`) a subword tokenizer is
not needed and words make copying easy to read. ``tokenizer(texts, padding=True, truncation=True,
max_length=..., return_tensors="pt")`` returns ``{"input_ids", "attention_mask"}`` like a
transformers tokenizer, with ``</s>`` appended when ``add_special_tokens`` (the default).
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Iterable, Sequence

import torch

__all__ = ["WordTokenizer", "word_split"]

_WORD = re.compile(r"//|[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")


def word_split(text: str) -> list[str]:
    """Lower-cased words, ``//`` and single punctuation marks: ``"What's up?"`` -> ``["what's", "up", "?"]``."""
    return _WORD.findall(text.lower())


class WordTokenizer:
    """Word vocabulary with ``<pad>`` = 0, ``<unk>`` = 1, ``<s>`` = 2 (decoder start), ``</s>`` = 3.

    Build it with :meth:`from_texts`. Raises ``ValueError`` when the vocabulary repeats a word.
    """

    pad_token, unk_token, bos_token, eos_token = "<pad>", "<unk>", "<s>", "</s>"

    def __init__(self, words: Sequence[str]) -> None:
        specials = [self.pad_token, self.unk_token, self.bos_token, self.eos_token]
        vocab = specials + [w for w in words if w not in specials]
        if len(set(vocab)) != len(vocab):
            raise ValueError("the vocabulary repeats a word; pass each word once")
        self.vocab = vocab
        self.index = {w: i for i, w in enumerate(vocab)}
        self.pad_token_id, self.unk_token_id, self.bos_token_id, self.eos_token_id = range(4)

    @classmethod
    def from_texts(cls, texts: Iterable[str], min_count: int = 1) -> "WordTokenizer":
        """Vocabulary of the words seen at least ``min_count`` times, most frequent first (ties A-Z)."""
        counts = Counter(w for text in texts for w in word_split(text))
        return cls([w for w, c in sorted(counts.items(), key=lambda x: (-x[1], x[0])) if c >= min_count])

    def __len__(self) -> int:
        return len(self.vocab)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        ids = [self.index.get(w, self.unk_token_id) for w in word_split(text)]
        return ids + [self.eos_token_id] if add_special_tokens else ids

    def __call__(self, texts: Sequence[str], padding: bool = True, truncation: bool = True,
                 max_length: int | None = None, return_tensors: str = "pt",
                 add_special_tokens: bool = True) -> dict[str, torch.Tensor]:
        """Token ids and mask [N, T] (right-padded with ``<pad>``); truncation keeps the first tokens."""
        if isinstance(texts, str):
            raise TypeError("pass a list of texts (wrap a single text in a list)")
        if return_tensors != "pt" or not padding:
            raise ValueError("WordTokenizer returns padded torch tensors only (padding=True, return_tensors='pt')")
        rows = [self.encode(t, add_special_tokens) for t in texts]
        if truncation and max_length is not None:
            rows = [r[:max_length] for r in rows]
        width = max((len(r) for r in rows), default=0)
        ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        return {"input_ids": ids, "attention_mask": ids.ne(self.pad_token_id).long()}

    def decode(self, ids: Iterable[int], skip_special_tokens: bool = True) -> str:
        """Words joined by spaces; stops at ``</s>`` and drops special tokens when asked."""
        words = []
        for i in (int(x) for x in ids):
            if skip_special_tokens and i == self.eos_token_id:
                break
            if skip_special_tokens and i < 4:
                continue
            words.append(self.vocab[i])
        return " ".join(words)

    def batch_decode(self, rows, skip_special_tokens: bool = True) -> list[str]:
        return [self.decode(r, skip_special_tokens) for r in rows]
