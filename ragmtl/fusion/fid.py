"""Fusion-in-decoder (Izacard & Grave, 2021): encode each (question, passage) pair separately with
one shared encoder, concatenate the encoder states of all k pairs, and let the decoder attend over
all of them jointly.

    s_i = Enc([q; p_i])  (i = 1..k, shared weights),   S = [s_1; ...; s_k],   y = Dec(S)

The encoder cost grows linearly in k (each pair is short), and evidence from several passages is
combined only in the decoder's cross-attention. Here the decoder is a readout: learned query
vectors cross-attend over S (one layer), enough for classification.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from .cross_attention import CrossAttention, doc_weights_from_tokens
from .masks import check_docs, check_mask

__all__ = ["fid_pairs", "fid_concat", "fid_encode", "FiDConfig", "EncoderLayer", "FusionInDecoder"]


def fid_pairs(question: torch.Tensor, passages: torch.Tensor, question_mask: torch.Tensor | None = None,
              passage_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The k (question, passage) inputs of one batch as one batch of B k short sequences.

    Shapes: ``question`` [B, Tq, d], ``passages`` [B, k, Tp, d], ``question_mask`` [B, Tq],
    ``passage_mask`` [B, k, Tp] -> (pairs [B k, Tq + Tp, d], pair_mask [B k, Tq + Tp]); pair b k + i
    is the question of row b followed by its passage i. Raises ``ValueError`` for mismatched shapes.
    """
    check_docs(passages, "passages", ndim=4)
    B, k, Tp, d = passages.shape
    if question.dim() != 3 or question.shape[0] != B or question.shape[-1] != d:
        raise ValueError(f"question must be [B, Tq, d] = [{B}, Tq, {d}] to match passages "
                         f"{tuple(passages.shape)}, got {tuple(question.shape)}")
    Tq = question.shape[1]
    qmask = check_mask(question_mask, (B, Tq), "question_mask")
    pmask = check_mask(passage_mask, (B, k, Tp), "passage_mask")
    qmask = torch.ones(B, Tq, dtype=torch.bool, device=question.device) if qmask is None else qmask
    pmask = torch.ones(B, k, Tp, dtype=torch.bool, device=question.device) if pmask is None else pmask
    pairs = torch.cat([question.unsqueeze(1).expand(B, k, Tq, d), passages], dim=2)
    pair_mask = torch.cat([qmask.unsqueeze(1).expand(B, k, Tq), pmask], dim=2)
    return pairs.reshape(B * k, Tq + Tp, d), pair_mask.reshape(B * k, Tq + Tp)


def fid_concat(states: torch.Tensor, pair_mask: torch.Tensor, n_docs: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenate the encoder states of each row's k pairs into one sequence for the decoder.

    Shapes: ``states`` [B k, L, d], ``pair_mask`` [B k, L] -> ([B, k L, d], [B, k L]). Raises
    ``ValueError`` if the number of pairs is not a multiple of ``n_docs``.
    """
    if states.dim() != 3 or states.shape[0] % n_docs or pair_mask.shape != states.shape[:2]:
        raise ValueError(f"expected states [B k, L, d] and pair_mask [B k, L] with k = {n_docs}, got "
                         f"{tuple(states.shape)} and {tuple(pair_mask.shape)}")
    B, L, d = states.shape[0] // n_docs, states.shape[1], states.shape[2]
    return states.reshape(B, n_docs * L, d), pair_mask.reshape(B, n_docs * L)


def fid_encode(encoder: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], question: torch.Tensor,
               passages: torch.Tensor, question_mask: torch.Tensor | None = None,
               passage_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Encode every (question, passage) pair with the shared ``encoder(pairs, pair_mask) -> states``
    and concatenate: ``question`` [B, Tq, d], ``passages`` [B, k, Tp, d] -> (S [B, k (Tq + Tp), d],
    mask [B, k (Tq + Tp)]). A passage whose tokens are all masked (padding) is masked entirely in S,
    its copy of the question included, so the decoder gives it zero weight."""
    B, k = passages.shape[:2]
    pairs, pair_mask = fid_pairs(question, passages, question_mask, passage_mask)
    states = encoder(pairs, pair_mask)
    Tq = question.shape[1]
    doc_real = pair_mask[:, Tq:].any(-1, keepdim=True)  # [B k, 1]
    return fid_concat(states, pair_mask & doc_real, k)


@dataclass
class FiDConfig:
    """Sizes of :class:`FusionInDecoder`."""

    d_model: int = 64  # width of tokens, encoder and readout
    n_heads: int = 4  # attention heads in the encoder and the readout
    n_layers: int = 1  # encoder layers (shared by all pairs)
    d_ff: int = 128  # encoder feed-forward width
    n_readout: int = 1  # learned readout queries (the decoder's "tokens")

    def __post_init__(self) -> None:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if min(self.n_layers, self.d_ff, self.n_readout) < 1:
            raise ValueError(f"n_layers, d_ff and n_readout must be >= 1, got {self.n_layers}, {self.d_ff}, "
                             f"{self.n_readout}")


class EncoderLayer(nn.Module):
    """A pre-norm Transformer encoder layer (Vaswani et al., 2017) for short sequences:
    ``forward(x [N, L, d_model], mask [N, L])`` -> [N, L, d_model]. Self-attention reuses
    :func:`ragmtl.fusion.cross_attention.attend` (plain matrix products are faster than a fused
    kernel on sequences of a few tokens)."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int) -> None:
        super().__init__()
        self.attention = CrossAttention(d_model, n_heads)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Linear(d_ff, d_model))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.attention(h, h, mask)[0]
        return x + self.ff(self.norm2(x))


class FusionInDecoder(nn.Module):
    """FiD with a Transformer encoder over each pair and a cross-attention readout over all pairs.

    ``forward(question [B, Tq, d_model], passages [B, k, Tp, d_model], question_mask, passage_mask)``
    -> (out [B, n_readout, d_model], doc_weights [B, k]: the readout's attention summed over each
    pair's tokens, averaged over heads and readout queries; rows sum to one).
    """

    def __init__(self, config: FiDConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or FiDConfig()
        self.encoder = nn.ModuleList(EncoderLayer(c.d_model, c.n_heads, c.d_ff) for _ in range(c.n_layers))
        self.readout = nn.Parameter(torch.randn(c.n_readout, c.d_model) / c.d_model ** 0.5)
        self.decoder = CrossAttention(c.d_model, c.n_heads)

    def encode_pairs(self, pairs: torch.Tensor, pair_mask: torch.Tensor) -> torch.Tensor:
        """The shared encoder: [B k, L, d_model] pairs -> states of the same shape."""
        for layer in self.encoder:
            pairs = layer(pairs, pair_mask)
        return pairs

    def forward(self, question, passages, question_mask=None, passage_mask=None):
        states, mask = fid_encode(self.encode_pairs, question, passages, question_mask, passage_mask)
        queries = self.readout.unsqueeze(0).expand(states.shape[0], -1, -1)
        out, weights = self.decoder(queries, states, mask)
        return out, doc_weights_from_tokens(weights, passages.shape[1])
