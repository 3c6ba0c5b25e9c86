"""Token-level cross-attention of an input over the tokens of all retrieved documents
(scaled dot-product attention, Vaswani et al., 2017; Bahdanau et al., 2015 for attention itself).

    Attn(Q, K, V) = softmax(Q K^T / sqrt(d)) V,   the softmax over all tokens of all k documents

Document tokens arrive as ``tokens`` [B, k, T, d] with ``token_mask`` [B, k, T] (True = real token);
they are flattened to one sequence of k T keys, so a query token can weigh tokens of every document
against each other. Summing a query's weights over the tokens of each document gives an attention
distribution over documents (:func:`doc_weights_from_tokens`).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .masks import check_docs, check_mask, masked_softmax

__all__ = ["attend", "cross_attention", "doc_weights_from_tokens", "CrossAttention"]


def attend(queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
           key_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention with a key padding mask.

    Shapes: ``queries`` [..., Tq, d], ``keys`` [..., S, d], ``values`` [..., S, d_v], ``key_mask``
    [B, S] (True = real; broadcast over any middle axes such as heads) ->
    (out [..., Tq, d_v], weights [..., Tq, S]); each row of weights sums to one over the S keys.
    Raises ``ValueError`` when the shapes disagree.
    """
    if queries.shape[-1] != keys.shape[-1] or keys.shape[:-1] != values.shape[:-1]:
        raise ValueError(f"attend needs queries [..., Tq, d], keys [..., S, d], values [..., S, d_v]; got "
                         f"{tuple(queries.shape)}, {tuple(keys.shape)}, {tuple(values.shape)}")
    scores = queries @ keys.transpose(-1, -2) / math.sqrt(queries.shape[-1])
    mask = None
    if key_mask is not None:
        key_mask = check_mask(key_mask, (keys.shape[0], keys.shape[-2]), "key_mask")
        mask = key_mask.reshape(key_mask.shape[0], *([1] * (scores.dim() - 2)), key_mask.shape[-1])
    weights = masked_softmax(scores, mask, dim=-1)
    return weights @ values, weights


def cross_attention(queries: torch.Tensor, tokens: torch.Tensor,
                    token_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Single-head, projection-free cross-attention of input tokens over all document tokens.

    Shapes: ``queries`` [B, Tq, d], ``tokens`` [B, k, T, d], ``token_mask`` [B, k, T] ->
    (out [B, Tq, d], weights [B, Tq, k, T]); for each query token the weights sum to one over all
    k T document tokens, and masked tokens (and so padded documents) get zero weight. Raises
    ``ValueError`` for mismatched dimensions or masks.
    """
    check_docs(tokens, "tokens", ndim=4)
    if queries.dim() != 3 or queries.shape[0] != tokens.shape[0] or queries.shape[-1] != tokens.shape[-1]:
        raise ValueError(f"queries must be [B, Tq, d] = [{tokens.shape[0]}, Tq, {tokens.shape[-1]}] to match "
                         f"tokens {tuple(tokens.shape)}, got {tuple(queries.shape)}")
    B, k, T, d = tokens.shape
    mask = check_mask(token_mask, (B, k, T), "token_mask")
    flat = tokens.reshape(B, k * T, d)
    out, weights = attend(queries, flat, flat, None if mask is None else mask.reshape(B, k * T))
    return out, weights.reshape(B, queries.shape[1], k, T)


def doc_weights_from_tokens(weights: torch.Tensor, n_docs: int) -> torch.Tensor:
    """Attention per document: token weights [B, ..., k T] (any middle axes: heads, query tokens)
    summed over each document's T tokens and averaged over the middle axes -> [B, k], rows sum to one.
    Raises ``ValueError`` if the last axis is not a multiple of ``n_docs``."""
    if weights.shape[-1] % n_docs:
        raise ValueError(f"the last axis ({weights.shape[-1]}) is not k * T for k = {n_docs} documents")
    per_doc = weights.reshape(*weights.shape[:-1], n_docs, -1).sum(-1)
    return per_doc.reshape(weights.shape[0], -1, n_docs).mean(1)


class CrossAttention(nn.Module):
    """Multi-head cross-attention with learned projections (Vaswani et al., 2017).

    ``forward(queries [B, Tq, d_model], states [B, S, d_model] or [B, k, T, d_model], mask [B, S] or
    [B, k, T])`` -> (out [B, Tq, d_model], weights [B, n_heads, Tq, S]). Raises ``ValueError`` if
    ``d_model`` is not divisible by ``n_heads``.
    """

    def __init__(self, d_model: int, n_heads: int = 1) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.d_model, self.n_heads = d_model, n_heads
        self.q, self.k, self.v, self.o = (nn.Linear(d_model, d_model) for _ in range(4))

    def _heads(self, x: torch.Tensor) -> torch.Tensor:  # [B, L, d_model] -> [B, H, L, d_model / H]
        return x.reshape(x.shape[0], x.shape[1], self.n_heads, -1).transpose(1, 2)

    def forward(self, queries, states, mask=None):
        if states.dim() == 4:
            check_docs(states, "states", ndim=4)
            B, k, T, d = states.shape
            mask = check_mask(mask, (B, k, T), "mask")
            states, mask = states.reshape(B, k * T, d), None if mask is None else mask.reshape(B, k * T)
        if states.dim() != 3 or queries.dim() != 3 or states.shape[-1] != self.d_model \
                or queries.shape[-1] != self.d_model or queries.shape[0] != states.shape[0]:
            raise ValueError(f"expected queries [B, Tq, {self.d_model}] and states [B, S, {self.d_model}], got "
                             f"{tuple(queries.shape)} and {tuple(states.shape)}")
        out, weights = attend(self._heads(self.q(queries)), self._heads(self.k(states)),
                              self._heads(self.v(states)), mask)
        out = out.transpose(1, 2).reshape(queries.shape[0], queries.shape[1], self.d_model)
        return self.o(out), weights
