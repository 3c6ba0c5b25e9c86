"""An extractive reader: MiniLM + a start/end head over ``[CLS] question [SEP] passage [SEP]``.

The span model of BERT-style readers (Devlin et al., 2019) and of REALM (Guu et al., 2020): for each
token, a start score and an end score; p(span) is softmax(start)[i] * softmax(end)[j] with i <= j.
Training uses the gold passage (the chunk holding the answer). Scoring answers over several
retrieved passages, with the retriever's prior, lives in :mod:`ragmtl.rag.qa`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..utils import bf16_autocast, progress, warmup_linear_decay

__all__ = ["ReaderConfig", "SpanReader", "ReaderExample", "encode_pairs", "answer_token_span", "train_reader",
           "reader_logits"]

NEG = -1e4  # logit given to positions that cannot start or end an answer (question, special tokens)


@dataclass
class ReaderConfig:
    max_length: int = 192  # WordPiece tokens of question + passage + 3 special tokens
    steps: int = 190  # optimiser steps (a fixed count, never a time budget: runs repeat exactly)
    batch_size: int = 16
    lr: float = 3e-4  # encoder learning rate
    head_lr: float = 3e-3  # start/end head learning rate
    weight_decay: float = 0.01
    warmup_steps: int = 20  # linear warm-up, then linear decay to 0
    freeze_word_embeddings: bool = True
    dropout: float | None = 0.0  # dropout in the backbone during training; None keeps the model's (0.1)
    bf16: bool | None = None  # None: bf16 autocast where the CPU does it natively
    seed: int = 0
    show_progress: bool = True

    def __post_init__(self) -> None:
        for name in ("max_length", "steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class ReaderExample:
    question: str
    passage: str
    answer_start: int  # character offset of the answer in ``passage``
    answer_text: str


class SpanReader(nn.Module):
    """``backbone`` (a BertModel) + Linear(hidden, 2): start and end logits [B, T] per token."""

    def __init__(self, backbone) -> None:
        super().__init__()
        self.backbone = backbone
        self.qa_head = nn.Linear(backbone.config.hidden_size, 2)

    def forward(self, input_ids, attention_mask, token_type_ids, context_mask) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits [B, T] for start and end; positions outside the passage (``context_mask`` 0) get ``NEG``."""
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).last_hidden_state
        logits = self.qa_head(hidden).float()
        logits = logits.masked_fill(~context_mask.bool().unsqueeze(-1), NEG)
        return logits[..., 0], logits[..., 1]


def encode_pairs(tokenizer, questions: Sequence[str], passages: Sequence[str], max_length: int = 192) -> dict:
    """Tokenise (question, passage) pairs, truncating only the passage.

    Returns the tokenizer's output (unpadded lists) plus ``context_mask`` (1 on passage tokens) and
    ``offsets`` (character spans of each token in its passage; ``None`` outside the passage).
    """
    if len(questions) != len(passages):
        raise ValueError(f"{len(questions)} questions but {len(passages)} passages")
    enc = tokenizer(list(questions), list(passages), truncation="only_second", max_length=max_length,
                    return_offsets_mapping=True)
    context_mask, offsets = [], []
    for i in range(len(questions)):
        seq = enc.sequence_ids(i)
        context_mask.append([int(s == 1) for s in seq])
        offsets.append([tuple(o) if s == 1 else None for o, s in zip(enc["offset_mapping"][i], seq)])
    return {"input_ids": enc["input_ids"], "token_type_ids": enc["token_type_ids"],
            "attention_mask": enc["attention_mask"], "context_mask": context_mask, "offsets": offsets}


def answer_token_span(offsets: Sequence, char_start: int, char_end: int) -> tuple[int, int] | None:
    """First and last token covering characters [char_start, char_end); None if truncated away."""
    start = end = None
    for t, span in enumerate(offsets):
        if span is None:
            continue
        s, e = span
        if start is None and s <= char_start < e:
            start = t
        if s < char_end <= e:
            end = t
    if start is None or end is None or end < start:
        return None
    return start, end


def _pad(features: dict, rows: Sequence[int]) -> dict[str, torch.Tensor]:
    width = max(len(features["input_ids"][i]) for i in rows)
    out = {}
    for key in ("input_ids", "token_type_ids", "attention_mask", "context_mask"):
        out[key] = torch.tensor([features[key][i] + [0] * (width - len(features[key][i])) for i in rows])
    return out


def train_reader(reader: SpanReader, tokenizer, examples: Sequence[ReaderExample], config: ReaderConfig) -> list[float]:
    """Train on (question, gold passage, answer) examples; return the loss of every step.

    Loss: mean of the start and end cross-entropies. Batches hold examples of similar length (less
    padding), in a seeded random order; an example whose answer was truncated away is skipped.
    """
    feats = encode_pairs(tokenizer, [e.question for e in examples], [e.passage for e in examples], config.max_length)
    targets, keep = [], []
    for i, ex in enumerate(examples):
        span = answer_token_span(feats["offsets"][i], ex.answer_start, ex.answer_start + len(ex.answer_text))
        if span is not None:
            keep.append(i)
            targets.append(span)
    if not keep:
        raise ValueError("no training example keeps its answer within max_length tokens")
    targets = dict(zip(keep, targets))
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    if config.freeze_word_embeddings:
        reader.backbone.embeddings.word_embeddings.weight.requires_grad_(False)
    if config.dropout is not None:  # on a CPU, drawing dropout masks costs about a quarter of a step
        for module in reader.backbone.modules():
            if isinstance(module, nn.Dropout):
                module.p = config.dropout  # BERT's attention reads its dropout rate from these modules too
    body = [p for p in reader.backbone.parameters() if p.requires_grad]
    optim = torch.optim.AdamW([{"params": body, "lr": config.lr},
                               {"params": list(reader.qa_head.parameters()), "lr": config.head_lr}],
                              weight_decay=config.weight_decay)
    total = config.steps
    sched = warmup_linear_decay(optim, config.warmup_steps, total)
    batches: list[list[int]] = []
    losses = []
    reader.train()
    for _ in progress(range(total), total=total, desc="training reader", disable=not config.show_progress):
        if not batches:
            batches = _length_batches(feats, keep, config.batch_size, rng)
        rows = batches.pop()
        batch = _pad(feats, rows)
        start_t = torch.tensor([targets[i][0] for i in rows])
        end_t = torch.tensor([targets[i][1] for i in rows])
        with bf16_autocast(config.bf16):
            start, end = reader(**batch)
        loss = (F.cross_entropy(start, start_t) + F.cross_entropy(end, end_t)) / 2
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        sched.step()
        losses.append(float(loss.detach()))
    return losses


def _length_batches(feats: dict, rows: Sequence[int], batch_size: int, rng: np.random.Generator) -> list[list[int]]:
    """Shuffle, cut into groups of 50 batches, sort each group by length, batch it; batch order shuffled."""
    order = [rows[i] for i in rng.permutation(len(rows))]
    group = 50 * batch_size
    batches = []
    for g in range(0, len(order), group):
        part = sorted(order[g:g + group], key=lambda i: len(feats["input_ids"][i]))
        batches += [part[k:k + batch_size] for k in range(0, len(part), batch_size)]
    return [batches[k] for k in rng.permutation(len(batches))]


@torch.no_grad()
def reader_logits(reader: SpanReader, features: dict, batch_size: int = 64, bf16: bool | None = None,
                  show_progress: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
    """Start and end logits (unpadded, float32 arrays) for every pair in ``features`` (from :func:`encode_pairs`)."""
    reader.eval()
    n = len(features["input_ids"])
    order = sorted(range(n), key=lambda i: len(features["input_ids"][i]))
    out: list = [None] * n
    steps = range(0, n, batch_size)
    for k in progress(steps, total=math.ceil(n / batch_size), desc="reading", disable=not show_progress):
        rows = order[k:k + batch_size]
        with bf16_autocast(bf16):
            start, end = reader(**_pad(features, rows))
        for r, i in enumerate(rows):
            length = len(features["input_ids"][i])
            out[i] = (start[r, :length].numpy().copy(), end[r, :length].numpy().copy())
    return out
