"""The closed-book baseline: a generator that answers from the question alone (no retrieval).

A pointer-generator (See et al., 2017) trained on question -> answer pairs, decoded greedily. It can
copy words of the question and generate words it saw in training answers; what it cannot do is
look a fact up. On questions about articles never seen in training, that is the point.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..utils import progress
from .decoding import DecodingConfig, rag_token_generate
from .pointer import PointerGenerator, PointerGeneratorConfig
from .tokenizer import WordTokenizer

__all__ = ["ClosedBookConfig", "train_closed_book", "closed_book_generate"]


@dataclass
class ClosedBookConfig:
    steps: int = 150  # optimiser steps (fixed, seeded: runs repeat exactly)
    batch_size: int = 32
    lr: float = 3e-3
    embed_dim: int = 64
    hidden_dim: int = 64
    max_answer_length: int = 6  # words generated at most (answers are truncated to this in training)
    seed: int = 0
    show_progress: bool = True

    def __post_init__(self) -> None:
        if self.steps < 0 or self.batch_size < 1 or self.max_answer_length < 1:
            raise ValueError(f"need steps >= 0, batch_size >= 1, max_answer_length >= 1; got "
                             f"{self.steps}, {self.batch_size}, {self.max_answer_length}")


def train_closed_book(questions: Sequence[str], answers: Sequence[str], tokenizer: WordTokenizer,
                      config: ClosedBookConfig) -> tuple[PointerGenerator, list[float]]:
    """Train a pointer-generator on (question, answer) pairs; return it (in eval mode) and its losses.

    Loss: the summed token negative log-likelihood of the answer (with ``</s>``), averaged over the
    batch. Raises ValueError when the lists differ in length or are empty.
    """
    if len(questions) != len(answers) or not questions:
        raise ValueError(f"need as many answers as questions (and at least one), got {len(questions)} "
                         f"questions and {len(answers)} answers")
    torch.manual_seed(config.seed)
    gen = PointerGenerator(PointerGeneratorConfig(len(tokenizer), tokenizer.pad_token_id, config.embed_dim,
                                                  config.hidden_dim))
    opt = torch.optim.Adam(gen.parameters(), lr=config.lr)
    g = torch.Generator().manual_seed(config.seed)
    losses = []
    for _ in progress(range(config.steps), total=config.steps, desc="closed-book", disable=not config.show_progress):
        idx = torch.randint(0, len(questions), (config.batch_size,), generator=g).tolist()
        src = tokenizer([questions[i] for i in idx])
        labels = tokenizer([answers[i] for i in idx], max_length=config.max_answer_length + 1)["input_ids"]
        dec = torch.cat([torch.full((len(idx), 1), tokenizer.bos_token_id), labels[:, :-1]], 1)
        logp = gen(input_ids=src["input_ids"], attention_mask=src["attention_mask"], decoder_input_ids=dec).logits
        mask = labels.ne(tokenizer.pad_token_id)
        loss = -(logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1) * mask).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return gen.eval(), losses


@torch.no_grad()
def closed_book_generate(generator: PointerGenerator, tokenizer: WordTokenizer, questions: Sequence[str],
                         max_length: int = 6, batch_size: int = 256) -> list[str]:
    """Greedy answers (words joined by spaces) to ``questions``."""
    config = DecodingConfig(tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id, max_length)
    out: list[str] = []
    for start in range(0, len(questions), batch_size):
        src = tokenizer(list(questions[start:start + batch_size]))
        one_document = torch.zeros(len(src["input_ids"]), 1)  # no retrieval: one "document" of probability 1
        seqs, _ = rag_token_generate(generator, src["input_ids"], src["attention_mask"], one_document, config)
        out += tokenizer.batch_decode(seqs)
    return out
