"""Late fusion by marginalisation over documents, as in RAG (Lewis et al., 2020):

    p(y | x) = sum_i p(d_i | x) p(y | x, d_i)

Each document is read on its own and the k predictions are mixed with the retrieval distribution;
the documents are a latent variable, summed out. Attention-based fusion mixes the documents'
*representations* before one prediction (early fusion); here the *predictions* are mixed. For
classification (one output token) RAG-Sequence and RAG-Token coincide, and this is
``ragmtl.rag.marginal.marginalize`` (the sequence version, RAG chapter) with T = 1, plus a mask for
padded documents.
"""
from __future__ import annotations

import torch

from .masks import check_mask

__all__ = ["marginalize_docs"]


def marginalize_docs(doc_scores: torch.Tensor, doc_logits: torch.Tensor,
                doc_mask: torch.Tensor | None = None) -> torch.Tensor:
    """``log p(y | x) = logsumexp_i [log softmax_i(doc_scores) + log softmax_y(doc_logits_i)]``.

    Shapes: ``doc_scores`` [B, k] (unnormalised retrieval scores), ``doc_logits`` [B, k, C] (one
    prediction per document), ``doc_mask`` [B, k] -> log-probabilities [B, C] (rows logsumexp to 0).
    Padded documents contribute nothing. Raises ``ValueError`` for mismatched shapes.
    """
    if doc_scores.dim() != 2 or doc_logits.dim() != 3 or doc_logits.shape[:2] != doc_scores.shape:
        raise ValueError(f"expected doc_scores [B, k] and doc_logits [B, k, C] with the same [B, k], got "
                         f"{tuple(doc_scores.shape)} and {tuple(doc_logits.shape)}")
    mask = check_mask(doc_mask, tuple(doc_scores.shape))
    if mask is not None:
        doc_scores = doc_scores.masked_fill(~mask, float("-inf"))
    log_prior = torch.log_softmax(doc_scores, dim=-1)  # log p(d_i | x), over the documents
    return torch.logsumexp(log_prior.unsqueeze(-1) + torch.log_softmax(doc_logits, dim=-1), dim=1)
