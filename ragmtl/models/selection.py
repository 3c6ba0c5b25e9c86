"""Choosing the RAG-MTL model's settings on validation data, and the cached states that makes cheap.

How many of MiniLM's top layers to train is a choice of ``n_lower`` (the layers below are frozen and
cached). Moving the cut up does not need a second pass over the texts: :func:`advance_split` runs the
frozen layers ``n_from .. n_to - 1`` on states already cached after layer ``n_from``.
:func:`main_score` reduces a run's scores to one number per task (the chapter's main metric) and
:func:`choose` picks the candidate whose mean main score on validation is highest; the test split
plays no part in either.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Mapping, Sequence

import numpy as np
import torch

from ..utils import bf16_autocast
from .data import ClassificationSplit, QASplit, collate_states

__all__ = ["MAIN_METRIC", "advance_states", "advance_split", "main_score", "choose"]

#: The metric each kind of task is compared on (averages, Delta_MTL, the transfer matrix).
MAIN_METRIC = {"classification": "accuracy", "extractive_qa": "f1"}


@torch.no_grad()
def advance_states(backbone, states: Sequence[torch.Tensor], n_from: int, n_to: int, batch_size: int = 64,
                   bf16: bool | None = None) -> list[torch.Tensor]:
    """States cached after layer ``n_from`` ([T_i, H] each) -> after layer ``n_to``, by running the
    (frozen) layers ``n_from .. n_to - 1`` of ``backbone`` (a BertModel); bf16 out, as
    :func:`ragmtl.adapters.cache_encoded` stores them. Equals caching with ``n_lower = n_to`` up to
    the bf16 rounding of the intermediate states. Raises ValueError unless 0 <= n_from <= n_to <= layers.
    """
    from transformers.masking_utils import create_bidirectional_mask

    n_layers = len(backbone.encoder.layer)
    if not 0 <= n_from <= n_to <= n_layers:
        raise ValueError(f"need 0 <= n_from <= n_to <= {n_layers}, got n_from={n_from}, n_to={n_to}")
    out: list[torch.Tensor | None] = [None] * len(states)
    order = np.argsort([-len(s) for s in states], kind="stable")
    with bf16_autocast(bf16):
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size].tolist()
            hidden, mask = collate_states(states, rows)
            attn = create_bidirectional_mask(config=backbone.config, inputs_embeds=hidden, attention_mask=mask)
            for layer in backbone.encoder.layer[n_from:n_to]:
                hidden = layer(hidden, attn)
            for r, i in enumerate(rows):
                out[i] = hidden[r, : len(states[i])].to(torch.bfloat16).clone()
    return out


def advance_split(split: ClassificationSplit | QASplit, backbone, n_from: int, n_to: int,
                  bf16: bool | None = None) -> ClassificationSplit | QASplit:
    """A copy of ``split`` whose states are moved from after layer ``n_from`` to after ``n_to``."""
    if n_from == n_to:
        return split
    return replace(split, states=advance_states(backbone, split.states, n_from, n_to, bf16=bf16))


def main_score(config, scores: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """``{task: score on its main metric}`` (:data:`MAIN_METRIC` by the task's kind) of a run's scores."""
    return {t: float(scores[t][MAIN_METRIC[config.task(t).kind]]) for t in scores}


def choose(validation_scores: Mapping[str, Mapping[str, float]]) -> str:
    """The candidate (key) whose mean main validation score over its tasks is highest; ties go to the
    first. ``validation_scores[candidate] = {task: main score}``. Raises ValueError when empty or when
    the candidates were scored on different tasks."""
    if not validation_scores:
        raise ValueError("no candidates to choose from")
    tasks = {name: sorted(s) for name, s in validation_scores.items()}
    if len({tuple(t) for t in tasks.values()}) != 1:
        raise ValueError(f"candidates must be scored on the same tasks, got {tasks}")
    means = {name: float(np.mean(list(s.values()))) for name, s in validation_scores.items()}
    return max(means, key=lambda name: (means[name], -list(means).index(name)))
