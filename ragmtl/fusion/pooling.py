"""Order-based and order-free pooling of retrieved documents: concatenation, mean, weighted sum.

The simplest ways to put k retrieved passage vectors next to a query vector. Concatenation keeps
every document in its own slot (so a downstream layer sees *which rank* a document had: the result
depends on document order); the mean and any weighted sum are invariant to it.
"""
from __future__ import annotations

import torch
from torch import nn

from .masks import check_docs, check_mask, check_query

__all__ = ["concat_fusion", "weighted_sum", "mean_fusion", "ConcatFusion", "MeanFusion"]


def concat_fusion(query: torch.Tensor, docs: torch.Tensor, doc_mask: torch.Tensor | None = None) -> torch.Tensor:
    """``[q; d_1; ...; d_k]``: the query and the k document vectors side by side.

    Shapes: ``query`` [B, d_q], ``docs`` [B, k, d], ``doc_mask`` [B, k] (True = real) -> [B, d_q + k d].
    Padded documents are zeroed, so a layer reading the slots sees "nothing" there. The output
    changes when the documents are permuted. Raises ``ValueError`` for mismatched batch sizes or a
    mask of the wrong shape.
    """
    check_docs(docs)
    check_query(query, docs.shape[0])
    mask = check_mask(doc_mask, docs.shape[:2])
    if mask is not None:
        docs = docs * mask.unsqueeze(-1).to(docs.dtype)
    return torch.cat([query, docs.flatten(1)], dim=-1)


def weighted_sum(docs: torch.Tensor, weights: torch.Tensor, doc_mask: torch.Tensor | None = None) -> torch.Tensor:
    """``sum_i w_i d_i`` with padded documents left out.

    Shapes: ``docs`` [B, k, d], ``weights`` [B, k], ``doc_mask`` [B, k] -> [B, d]. The weights are
    used as given (normalise them first for an average). Raises ``ValueError`` if ``weights`` is not
    [B, k] (a [B, k, 1] tensor is rejected on purpose: see the article's error in
    :mod:`ragmtl.fusion.bilinear`).
    """
    check_docs(docs)
    if not isinstance(weights, torch.Tensor) or tuple(weights.shape) != tuple(docs.shape[:2]):
        got = tuple(weights.shape) if isinstance(weights, torch.Tensor) else type(weights).__name__
        raise ValueError(f"weights must have shape [B, k] = {tuple(docs.shape[:2])}, got {got}")
    mask = check_mask(doc_mask, docs.shape[:2])
    if mask is not None:
        weights = weights.masked_fill(~mask, 0.0)
    return torch.einsum("bk,bkd->bd", weights.to(docs.dtype), docs)


def mean_fusion(docs: torch.Tensor, doc_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of the real documents: ``docs`` [B, k, d], ``doc_mask`` [B, k] -> [B, d].

    The weighted sum with ``w_i = 1 / (number of real documents)``; invariant to document order.
    Raises ``ValueError`` for a mask of the wrong shape or a query whose documents are all padding.
    """
    check_docs(docs)
    mask = check_mask(doc_mask, docs.shape[:2])
    if mask is None:
        return docs.mean(dim=1)
    weights = mask.to(docs.dtype)
    return weighted_sum(docs, weights / weights.sum(-1, keepdim=True), mask)


class ConcatFusion(nn.Module):
    """Concatenation fusion (no parameters) for a fixed number of documents ``n_docs``:
    ``forward(query, docs, doc_mask)`` -> (``[q; d_1..d_k]`` [B, out_dim = query_dim + n_docs doc_dim],
    ``None``: it has no document weights).
    Raises ``ValueError`` when k differs from ``n_docs`` (the output width depends on it)."""

    def __init__(self, query_dim: int, doc_dim: int, n_docs: int) -> None:
        super().__init__()
        if min(query_dim, doc_dim, n_docs) < 1:
            raise ValueError(f"query_dim, doc_dim and n_docs must be >= 1, got {query_dim}, {doc_dim}, {n_docs}")
        self.query_dim, self.doc_dim, self.n_docs = query_dim, doc_dim, n_docs
        self.out_dim = query_dim + n_docs * doc_dim

    def forward(self, query, docs, doc_mask=None):
        check_docs(docs)
        if docs.shape[1:] != (self.n_docs, self.doc_dim):
            raise ValueError(f"ConcatFusion expects docs [B, {self.n_docs}, {self.doc_dim}], got {tuple(docs.shape)}")
        check_query(query, docs.shape[0], self.query_dim)
        return concat_fusion(query, docs, doc_mask), None


class MeanFusion(nn.Module):
    """Mean fusion (no parameters): ``forward(docs [B, k, d], doc_mask)`` -> (mean of the real
    documents [B, d], their uniform weights [B, k])."""

    def forward(self, docs, doc_mask=None):
        check_docs(docs)
        mask = check_mask(doc_mask, docs.shape[:2])
        weights = torch.ones(docs.shape[:2], dtype=docs.dtype, device=docs.device)
        if mask is not None:
            weights = weights.masked_fill(~mask, 0.0)
        weights = weights / weights.sum(-1, keepdim=True)
        return mean_fusion(docs, mask), weights
