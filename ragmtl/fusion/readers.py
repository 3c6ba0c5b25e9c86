"""Classifiers ("readers") that answer from retrieved passages, one per fusion operator.

A reader gets a query vector q, k passage vectors d_i and each passage's label *code* c_i, and
scores candidate labels by their codes: ``logits = readout(fused) @ codes.T``. The codes are
arbitrary vectors (the experiment redraws them at every step), so a reader cannot learn what a
label means, only where among the passages to find it. All readers share the input projections
(q, d_i, c_i -> d_model tokens) and the readout (a linear map plus a one-hidden-layer MLP); only
the fusion differs. Attention scores (bilinear, marginal) are computed on the raw sentence
vectors, so W_a can express their cosine; FiD's pair encoder reads q, d_i, c_i and q * d_i.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import nn

from .bilinear import BilinearAttention, bilinear_scores
from .cross_attention import CrossAttention, doc_weights_from_tokens
from .fid import FiDConfig, FusionInDecoder
from .marginal import marginalize_docs
from .masks import masked_softmax
from .pooling import ConcatFusion, MeanFusion

__all__ = ["READERS", "ReaderConfig", "Reader"]

READERS = {  # name -> what it does with the passages
    "query": "ignores them (no retrieval)",
    "concat": "concatenates [q; p_1; ...; p_k]",
    "mean": "averages them",
    "article": "the article's bilinear attention (softmax over an axis of size 1)",
    "bilinear": "bilinear attention over documents",
    "marginal": "one prediction per passage, mixed with p(d_i | x) (RAG)",
    "xattn": "query cross-attends over all passage tokens (no encoder)",
    "fid": "fusion-in-decoder: (query, passage) pairs encoded, readout over all",
}


@dataclass
class ReaderConfig:
    """Sizes shared by every reader."""

    query_dim: int = 384  # sentence vectors (MiniLM)
    doc_dim: int = 384
    code_dim: int = 64  # label codes
    n_docs: int = 8  # k (concat's input width depends on it)
    d_model: int = 64  # token width after the input projections
    hidden: int = 256  # readout MLP width
    init_scale: float = 10.0  # bilinear W_a starts at init_scale * I: softmax over cosines at temperature 0.1
    fid: FiDConfig = field(default_factory=FiDConfig)  # its d_model is overridden by d_model


class Reader(nn.Module):
    """``Reader(method, config)(query [B, query_dim], docs [B, k, doc_dim], doc_codes [B, k, code_dim],
    codes [C, code_dim], doc_mask [B, k] or None)`` -> (logits [B, C], doc_weights [B, k] or None).

    Pooled methods see each passage as p_i = [D d_i; P c_i] (2 d_model); token methods see it as
    the tokens D d_i, P c_i and M (q * d_i). Raises ``ValueError`` for an unknown method (known:
    :data:`READERS`).
    """

    def __init__(self, method: str, config: ReaderConfig | None = None) -> None:
        super().__init__()
        if method not in READERS:
            raise ValueError(f"unknown reader {method!r}; known: {list(READERS)}")
        self.method, self.config = method, (c := config or ReaderConfig())
        dm = c.d_model
        self.proj_q, self.proj_d = nn.Linear(c.query_dim, dm), nn.Linear(c.doc_dim, dm)
        self.proj_c = nn.Linear(c.code_dim, dm, bias=False)
        if method == "concat":
            self.fusion = ConcatFusion(dm, 2 * dm, c.n_docs)
        elif method == "mean":
            self.fusion = MeanFusion()
        elif method in ("article", "bilinear", "marginal"):
            self.fusion = BilinearAttention(c.query_dim, c.doc_dim, c.init_scale, article=method == "article")
        elif method in ("xattn", "fid"):
            if c.query_dim != c.doc_dim:
                raise ValueError(f"{method} reads q * d_i: query_dim and doc_dim must agree, got {c.query_dim}, "
                                 f"{c.doc_dim}")
            self.proj_m = nn.Linear(c.doc_dim, dm)
            self.token_type = nn.Parameter(torch.zeros(4, dm))  # question, text, label, interaction
            fid = replace(c.fid, d_model=dm)
            self.fusion = CrossAttention(dm, fid.n_heads) if method == "xattn" else FusionInDecoder(fid)
        in_dim = {"query": dm, "concat": dm + 2 * dm * c.n_docs, "xattn": 2 * dm, "fid": 2 * dm}.get(method, 3 * dm)
        self.linear = nn.Linear(in_dim, c.code_dim)
        self.mlp = nn.Sequential(nn.Linear(in_dim, c.hidden), nn.ReLU(), nn.Linear(c.hidden, c.code_dim))

    def readout(self, fused: torch.Tensor) -> torch.Tensor:
        """[..., in_dim] -> [..., code_dim]: a vector to compare with the label codes."""
        return self.linear(fused) + self.mlp(fused)

    def forward(self, query, docs, doc_codes, codes, doc_mask=None):
        q = self.proj_q(query)
        if self.method == "query":
            return self.readout(q) @ codes.T, None
        text, label = self.proj_d(docs), self.proj_c(doc_codes)  # [B, k, dm] each
        passages = torch.cat([text, label], dim=-1)  # [B, k, 2 dm]
        if self.method == "concat":
            fused, weights = self.fusion(q, passages, doc_mask)
        elif self.method == "mean":
            summary, weights = self.fusion(passages, doc_mask)
            fused = torch.cat([q, summary], dim=-1)
        elif self.method in ("article", "bilinear"):
            summary, weights = self.fusion(query, docs, doc_mask, values=passages)
            fused = torch.cat([q, summary], dim=-1)
        elif self.method == "marginal":
            scores = bilinear_scores(query, docs, self.fusion.W_a)  # [B, k], log p(d_i | x) up to a constant
            per_doc = torch.cat([q.unsqueeze(1).expand(-1, passages.shape[1], -1), passages], dim=-1)
            log_probs = marginalize_docs(scores, self.readout(per_doc) @ codes.T, doc_mask)
            return log_probs, masked_softmax(scores, doc_mask, dim=-1)
        else:
            return self._tokens(q, query, docs, text, label, codes, doc_mask)
        return self.readout(fused) @ codes.T, weights

    def _tokens(self, q, query, docs, text, label, codes, doc_mask):
        t = self.token_type
        match = self.proj_m(query.unsqueeze(1) * docs)  # [B, k, dm]: what a cross-encoder would see
        tokens = torch.stack([text + t[1], label + t[2], match + t[3]], dim=2)  # [B, k, 3, dm]
        token_mask = None if doc_mask is None else doc_mask.unsqueeze(-1).expand(-1, -1, 3)
        question = (q + t[0]).unsqueeze(1)  # [B, 1, dm]
        if self.method == "xattn":
            out, token_weights = self.fusion(question, tokens, token_mask)
            weights = doc_weights_from_tokens(token_weights, tokens.shape[1])
        else:
            out, weights = self.fusion(question, tokens, None, token_mask)
        return self.readout(torch.cat([q, out[:, 0]], dim=-1)) @ codes.T, weights
