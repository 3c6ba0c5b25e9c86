"""Bilinear attention over retrieved documents (Bahdanau et al., 2015 style scoring, Luong's
"general" form), and the source article's version of it, whose softmax ran over the wrong axis.

    alpha_i = softmax_i(h^T W_a d_i),     h_aug = sum_i alpha_i d_i

The softmax normalises over the **documents**: the weights of one query sum to one, and a padded
document gets exactly zero. The article scored documents into a tensor shaped [B, k, 1] and took
``softmax(dim=-1)``, a softmax over an axis of size 1: every weight is exactly 1, h_aug is the plain
sum of the documents, and W_a receives no gradient at all (:func:`article_bilinear_attention`).
"""
from __future__ import annotations

import torch
from torch import nn

from .masks import check_docs, check_mask, check_query, masked_softmax
from .pooling import weighted_sum

__all__ = ["bilinear_scores", "bilinear_attention", "article_bilinear_attention", "BilinearAttention"]


def _check(query: torch.Tensor, docs: torch.Tensor, W_a: torch.Tensor) -> None:
    check_docs(docs)
    check_query(query, docs.shape[0])
    if W_a.dim() != 2 or tuple(W_a.shape) != (query.shape[1], docs.shape[2]):
        raise ValueError(f"W_a must have shape [d_q, d] = [{query.shape[1]}, {docs.shape[2]}] for a query of "
                         f"dimension {query.shape[1]} and documents of dimension {docs.shape[2]}, "
                         f"got {tuple(W_a.shape)}")


def bilinear_scores(query: torch.Tensor, docs: torch.Tensor, W_a: torch.Tensor) -> torch.Tensor:
    """Scores ``h^T W_a d_i``: ``query`` [B, d_q], ``docs`` [B, k, d], ``W_a`` [d_q, d] -> [B, k].

    Raises ``ValueError`` when the dimensions do not fit together.
    """
    _check(query, docs, W_a)
    return torch.einsum("bq,qd,bkd->bk", query, W_a, docs)


def bilinear_attention(query: torch.Tensor, docs: torch.Tensor, W_a: torch.Tensor,
                       doc_mask: torch.Tensor | None = None,
                       values: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention over documents: ``alpha = softmax_i(h^T W_a d_i)``, ``h_aug = sum_i alpha_i v_i``.

    Shapes: ``query`` h [B, d_q], ``docs`` [B, k, d] (the keys), ``W_a`` [d_q, d], ``doc_mask`` [B, k]
    (True = real document), ``values`` [B, k, d_v] (default: ``docs``) -> (h_aug [B, d_v], alpha [B, k]).
    Each row of alpha sums to one over the k documents; padded documents get weight 0. Invariant to
    document order (alpha is permuted with them). Raises ``ValueError`` for mismatched shapes or masks.
    """
    scores = bilinear_scores(query, docs, W_a)
    mask = check_mask(doc_mask, docs.shape[:2])
    if values is None:
        values = docs
    elif values.dim() != 3 or values.shape[:2] != docs.shape[:2]:
        raise ValueError(f"values must have shape [B, k, d_v] with [B, k] = {tuple(docs.shape[:2])}, "
                         f"got {tuple(values.shape)}")
    alpha = masked_softmax(scores, mask, dim=-1)
    return weighted_sum(values, alpha, mask), alpha


def article_bilinear_attention(query: torch.Tensor, docs: torch.Tensor, W_a: torch.Tensor,
                               values: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The source article's code, kept to show its error; do not use it.

    Scores are shaped [B, k, 1] and softmaxed over the last axis, which has size 1, so every weight
    is exactly 1 whatever W_a is: h_aug = sum_i v_i (not an average), and no gradient reaches W_a.
    Shapes: ``query`` [B, d_q], ``docs`` [B, k, d], ``W_a`` [d_q, d], ``values`` [B, k, d_v]
    (default ``docs``) -> (h_aug [B, d_v], weights [B, k, 1]).
    """
    _check(query, docs, W_a)
    values = docs if values is None else values
    scores = torch.bmm(docs, (query @ W_a).unsqueeze(-1))  # [B, k, 1]
    weights = torch.softmax(scores, dim=-1)  # the error: the axis of size 1, not the documents
    return (weights * values).sum(dim=1), weights


class BilinearAttention(nn.Module):
    """Learned bilinear attention over documents.

    ``W_a`` starts as ``init_scale * I`` when the query and documents have one dimension (attention
    then begins as a softmax over the retriever's inner products at temperature 1 / init_scale),
    otherwise, or with ``init_scale=0``, at zero (attention begins uniform: mean fusion).

    ``forward(query [B, query_dim], docs [B, k, doc_dim], doc_mask=None, values=None)`` ->
    (h_aug [B, d_v], alpha [B, k]); ``values`` [B, k, d_v] default to ``docs``. With
    ``article=True`` it computes the source's softmax over an axis of size 1 instead (every weight
    1, returned as [B, k]; no mask), to compare the two.
    """

    def __init__(self, query_dim: int, doc_dim: int, init_scale: float = 0.0, article: bool = False) -> None:
        super().__init__()
        W_a = torch.eye(query_dim) * init_scale if query_dim == doc_dim else torch.zeros(query_dim, doc_dim)
        self.W_a = nn.Parameter(W_a)
        self.article = article

    def forward(self, query, docs, doc_mask=None, values=None):
        if not self.article:
            return bilinear_attention(query, docs, self.W_a, doc_mask, values)
        if doc_mask is not None:
            raise ValueError("the article's attention has no padding mask")
        h_aug, weights = article_bilinear_attention(query, docs, self.W_a, values)
        return h_aug, weights.squeeze(-1)
