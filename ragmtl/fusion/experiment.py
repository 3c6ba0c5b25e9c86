"""Train and evaluate the fusion readers side by side: a fixed number of seeded steps each, on the
same passages, so two runs give identical numbers (on one thread).

Label codes: at every training step each class gets a fresh random unit code (``random_codes``),
and the passages carry their labels' codes; evaluation draws one set of codes for the unseen
classes from ``eval_seed``. A reader can therefore only answer by finding the right passage.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from ragmtl.utils import progress

from .passages import GOLD, HARD, RANDOM
from .readers import Reader, ReaderConfig
from .task import FusionData

__all__ = ["TrainConfig", "MethodResult", "random_codes", "train_reader", "evaluate_reader", "attention_by_kind",
           "score_reader", "run_method", "run_methods"]


@dataclass
class TrainConfig:
    """Training of one reader."""

    steps: int = 1000  # optimiser steps (fixed: no early stopping)
    batch_size: int = 32
    lr: float = 2e-3  # Adam
    seed: int = 0  # initialisation, batches and training codes
    eval_seed: int = 1  # the codes of the evaluation classes
    eval_batch_size: int = 500

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError(f"need steps >= 1, batch_size >= 1, lr > 0; got {self.steps}, {self.batch_size}, "
                             f"{self.lr}")


@dataclass
class MethodResult:
    """Test accuracy and where the attention went (``None`` for readers without document weights).

    ``gold_weight``: mean total weight on the gold passage(s); ``distractor_weight``: mean weight of
    one distractor; ``hard_weight`` / ``random_weight``: the same for each kind of distractor.
    ``predictions`` [Q] are the predicted classes, ``weights`` [Q, k] every test query's document
    weights.
    """

    accuracy: float
    n_params: int
    loss_curve: np.ndarray
    predictions: np.ndarray
    weights: np.ndarray | None = None
    gold_weight: float | None = None
    distractor_weight: float | None = None
    hard_weight: float | None = None
    random_weight: float | None = None


def random_codes(n_classes: int, dim: int, generator: torch.Generator) -> torch.Tensor:
    """``n_classes`` random unit vectors [n_classes, dim] (near-orthogonal when dim is large)."""
    return F.normalize(torch.randn(n_classes, dim, generator=generator), dim=-1)


def train_reader(method: str, data: FusionData, reader_config: ReaderConfig | None = None,
                 config: TrainConfig | None = None, show_progress: bool = True,
                 desc: str | None = None) -> tuple[Reader, np.ndarray]:
    """Train a :class:`Reader` with cross-entropy for ``config.steps`` Adam steps on random batches of
    ``data``; returns the reader (in eval mode) and its loss per step. ``desc`` labels the progress bar.
    Raises ``ValueError`` when ``reader_config`` does not fit the data's dimensions or k."""
    config = config or TrainConfig()
    reader_config = reader_config or ReaderConfig(query_dim=data.query.shape[1], doc_dim=data.docs.shape[2],
                                                  n_docs=data.n_docs)
    expected = (reader_config.query_dim, reader_config.doc_dim, reader_config.n_docs)
    if expected != (data.query.shape[1], data.docs.shape[2], data.n_docs):
        raise ValueError(f"the reader expects (query_dim, doc_dim, n_docs) = {expected}, the data have "
                         f"{(data.query.shape[1], data.docs.shape[2], data.n_docs)}")
    torch.manual_seed(config.seed)
    reader = Reader(method, reader_config)
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.Adam(reader.parameters(), lr=config.lr)
    losses = np.zeros(config.steps, dtype=np.float32)
    reader.train()
    for step in progress(range(config.steps), desc=desc or method, disable=not show_progress):
        idx = torch.randint(len(data), (config.batch_size,), generator=generator)
        codes = random_codes(data.n_classes, reader_config.code_dim, generator)
        logits, _ = reader(data.query[idx], data.docs[idx], codes[data.doc_labels[idx]], codes)
        loss = F.cross_entropy(logits, data.labels[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses[step] = loss.item()
    return reader.eval(), losses


@torch.no_grad()
def evaluate_reader(reader: Reader, data: FusionData,
                    config: TrainConfig | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """(predicted classes [Q], document weights [Q, k] or None) on ``data``, with the classes' codes
    drawn from ``config.eval_seed``."""
    config = config or TrainConfig()
    codes = random_codes(data.n_classes, reader.config.code_dim, torch.Generator().manual_seed(config.eval_seed))
    predictions, weights = [], []
    for start in range(0, len(data), config.eval_batch_size):
        s = slice(start, start + config.eval_batch_size)
        logits, w = reader(data.query[s], data.docs[s], codes[data.doc_labels[s]], codes)
        predictions.append(logits.argmax(-1))
        weights.append(w)
    return torch.cat(predictions).numpy(), None if weights[0] is None else torch.cat(weights).numpy()


def attention_by_kind(weights: np.ndarray, kind: np.ndarray) -> dict[str, float]:
    """Mean total weight on the gold passage(s) and mean weight of one distractor (all, hard,
    random), from document weights [Q, k] and passage kinds [Q, k]."""
    weights, kind = np.asarray(weights), np.asarray(kind)
    gold = (weights * (kind == GOLD)).sum(1).mean()
    return {"gold_weight": float(gold), "distractor_weight": float(weights[kind != GOLD].mean()),
            "hard_weight": float(weights[kind == HARD].mean()) if (kind == HARD).any() else float("nan"),
            "random_weight": float(weights[kind == RANDOM].mean()) if (kind == RANDOM).any() else float("nan")}


def score_reader(reader: Reader, losses: np.ndarray, data: FusionData, config: TrainConfig | None = None) -> MethodResult:
    """A trained reader's accuracy, predictions and attention on ``data`` (with its loss curve)."""
    predictions, weights = evaluate_reader(reader, data, config)
    accuracy = float((predictions == data.labels.numpy()).mean())
    stats = {} if weights is None else attention_by_kind(weights, data.kind.numpy())
    n_params = sum(p.numel() for p in reader.parameters() if p.requires_grad)
    return MethodResult(accuracy, n_params, losses, predictions, weights, **stats)


def run_method(method: str, train: FusionData, test: FusionData, reader_config: ReaderConfig | None = None,
               config: TrainConfig | None = None, show_progress: bool = True, desc: str | None = None) -> MethodResult:
    """Train one reader on ``train`` and evaluate it on ``test``."""
    reader, losses = train_reader(method, train, reader_config, config, show_progress, desc)
    return score_reader(reader, losses, test, config)


def run_methods(methods, train: FusionData, test: FusionData, reader_config: ReaderConfig | None = None,
                config: TrainConfig | None = None, show_progress: bool = True) -> dict[str, MethodResult]:
    """:func:`run_method` for each name in ``methods``, with the same seeds, batches and codes for all."""
    return {m: run_method(m, train, test, reader_config, config, show_progress) for m in methods}
