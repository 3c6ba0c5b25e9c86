"""Shape checks and the masked softmax that every fusion operator shares.

A batch of retrieved knowledge is a tensor of document vectors ``docs`` [B, k, d] (``k`` = n_docs
retrieved per query) with an optional boolean ``doc_mask`` [B, k]: True for a real document, False
for padding (a query for which fewer than k documents were found). Token-level operators use
``tokens`` [B, k, T, d] with a ``token_mask`` [B, k, T].
"""
from __future__ import annotations

import torch

__all__ = ["check_docs", "check_query", "check_mask", "full_mask", "masked_softmax"]


def check_docs(docs: torch.Tensor, name: str = "docs", ndim: int = 3) -> None:
    """Raise ``ValueError`` unless ``docs`` is a floating tensor with ``ndim`` dimensions and k >= 1."""
    if not isinstance(docs, torch.Tensor) or not docs.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got {type(docs).__name__}"
                         f"{'' if not isinstance(docs, torch.Tensor) else ' of ' + str(docs.dtype)}")
    if docs.dim() != ndim:
        shape = "[B, k, d]" if ndim == 3 else "[B, k, T, d]"
        raise ValueError(f"{name} must have shape {shape}, got {tuple(docs.shape)}")
    if docs.shape[1] == 0:
        raise ValueError(f"{name} holds no documents (k = 0): retrieve at least one per query")


def check_query(query: torch.Tensor, batch: int, dim: int | None = None, name: str = "query") -> None:
    """Raise ``ValueError`` unless ``query`` is [B, dim] with the documents' batch size B."""
    if not isinstance(query, torch.Tensor) or query.dim() != 2:
        shape = tuple(query.shape) if isinstance(query, torch.Tensor) else type(query).__name__
        raise ValueError(f"{name} must have shape [B, d], got {shape}")
    if query.shape[0] != batch:
        raise ValueError(f"{name} has batch size {query.shape[0]} but the documents have {batch}")
    if dim is not None and query.shape[1] != dim:
        raise ValueError(f"{name} has dimension {query.shape[1]}, expected {dim}")


def check_mask(mask: torch.Tensor | None, shape: tuple[int, ...], name: str = "doc_mask") -> torch.Tensor | None:
    """Validate a padding mask of ``shape`` (True = keep) and return it as bool; ``None`` passes through.

    Raises ``ValueError`` when the shape differs or when a query has every entry masked (its
    softmax would be undefined; a query with no retrieved document must be handled by the caller).
    """
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor) or tuple(mask.shape) != tuple(shape):
        got = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ValueError(f"{name} must have shape {tuple(shape)} (True = real, False = padding), got {got}")
    if mask.dtype != torch.bool:
        if mask.is_floating_point() or not ((mask == 0) | (mask == 1)).all():
            raise ValueError(f"{name} must be boolean or 0/1 integers, got {mask.dtype}")
        mask = mask.bool()
    empty = ~mask.reshape(shape[0], -1).any(-1)
    if empty.any():
        rows = empty.nonzero().flatten().tolist()
        raise ValueError(f"{name} masks every document of batch rows {rows[:5]}: each query needs at least one")
    return mask


def full_mask(shape: tuple[int, ...], device=None) -> torch.Tensor:
    """An all-True mask of ``shape`` (no padding)."""
    return torch.ones(shape, dtype=torch.bool, device=device)


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None, dim: int = -1) -> torch.Tensor:
    """Softmax of ``scores`` along ``dim`` with masked entries (False) set to exactly zero weight.

    ``mask`` must broadcast to ``scores``. ``dim`` must be the documents (or tokens) axis: over an
    axis of size 1 every weight is 1, whatever the scores (the source article's error, see
    :func:`ragmtl.fusion.bilinear.article_bilinear_attention`).
    """
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=dim)
    if mask is not None:  # rows with every entry masked give NaN; check_mask forbids them, be safe anyway
        weights = weights.masked_fill(~mask, 0.0)
    return weights
