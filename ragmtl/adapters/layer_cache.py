"""Run a BERT-style encoder in two parts, so that frozen lower layers are computed once and cached.

When only the top layers of a backbone change during training (adapters or fine-tuning placed
there), the lower layers map each text to the same states at every epoch. :func:`lower_states`
computes them once (embeddings + the first ``n_lower`` layers); :func:`upper_forward` runs the
remaining layers on them. ``upper_forward(model, lower_states(model, batch, k), mask, k)`` equals
``model(**batch).last_hidden_state`` (a unit test checks it).
"""
from __future__ import annotations

import torch

__all__ = ["lower_states", "upper_forward"]


def _mask(model, hidden: torch.Tensor, attention_mask: torch.Tensor):
    from transformers.masking_utils import create_bidirectional_mask

    return create_bidirectional_mask(config=model.config, inputs_embeds=hidden, attention_mask=attention_mask)


def _check(model, n_lower: int) -> None:
    n = len(model.encoder.layer)
    if not 0 <= n_lower <= n:
        raise ValueError(f"n_lower must be in [0, {n}] for this {n}-layer model, got {n_lower}")


def lower_states(model, batch: dict, n_lower: int) -> torch.Tensor:
    """States after the embeddings and the first ``n_lower`` layers: [B, T, H] (``batch`` is tokenised)."""
    _check(model, n_lower)
    hidden = model.embeddings(input_ids=batch["input_ids"], token_type_ids=batch.get("token_type_ids"))
    mask = _mask(model, hidden, batch["attention_mask"])
    for layer in model.encoder.layer[:n_lower]:
        hidden = layer(hidden, mask)
    return hidden


def upper_forward(model, hidden: torch.Tensor, attention_mask: torch.Tensor, n_lower: int) -> torch.Tensor:
    """Layers ``n_lower`` .. end on cached states ``hidden`` [B, T, H] with mask [B, T] -> [B, T, H]."""
    _check(model, n_lower)
    if hidden.shape[:2] != attention_mask.shape:
        raise ValueError(f"hidden {tuple(hidden.shape)} and mask {tuple(attention_mask.shape)} disagree on [B, T]")
    mask = _mask(model, hidden, attention_mask)
    for layer in model.encoder.layer[n_lower:]:
        hidden = layer(hidden, mask)
    return hidden
