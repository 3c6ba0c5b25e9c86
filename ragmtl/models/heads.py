"""Task heads of the RAG-MTL model: a neighbour-fusing classifier and a span reader.

:class:`NeighbourClassifierHead` reads the mean-pooled query state ``h`` and the query's ``k``
retrieved labelled neighbours (their frozen sentence vectors ``d_i`` and labels ``y_i``). The
neighbours are fused with :class:`ragmtl.fusion.BilinearAttention`: ``alpha_i = softmax_i(q^T W_a d_i)``
with ``q = h / |h|``, and the fused vector is the attention-weighted vote of the neighbours' labels,
``v = sum_i alpha_i onehot(y_i)`` (a point of the simplex over the C classes: a learned, soft
k-nearest-neighbour vote). Logits are ``W h + b + s * v`` with a learned scale ``s``: at the start
(``W`` small, ``s = vote_init``) the head predicts the neighbours' vote, and training learns how much
to trust it against the query's own features. :class:`SpanHead` gives start and end logits over
passage tokens.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..encoders import mean_pool
from ..fusion import BilinearAttention
from ..fusion.pooling import mean_fusion
from ..rag.reader import NEG

__all__ = ["NeighbourClassifierHead", "SpanHead"]


class NeighbourClassifierHead(nn.Module):
    """Logits ``[B, C]`` from top-layer states and retrieved labelled neighbours (see the module doc)."""

    def __init__(self, hidden: int, num_classes: int, fusion: str = "bilinear", attention_init: float = 20.0,
                 vote_init: float = 5.0) -> None:
        super().__init__()
        self.fusion, self.num_classes = fusion, num_classes
        self.out = nn.Linear(hidden, num_classes)
        if fusion == "none":
            return
        self.vote_scale = nn.Parameter(torch.tensor(float(vote_init)))
        if fusion == "bilinear":
            self.attention = BilinearAttention(hidden, hidden, init_scale=attention_init)

    def forward(self, states: torch.Tensor, batch: dict) -> dict[str, torch.Tensor]:
        pooled = mean_pool(states.float(), batch["mask"])
        logits = self.out(pooled).float()
        if self.fusion == "none":
            return {"logits": logits}
        docs, labels = batch["neighbour_vectors"], batch["neighbour_labels"]
        values = F.one_hot(labels, self.num_classes).float()
        if self.fusion == "bilinear":
            vote, alpha = self.attention(F.normalize(pooled, dim=-1), docs, values=values)
        else:
            vote = mean_fusion(values)
            alpha = torch.full(labels.shape, 1.0 / labels.shape[1])
        return {"logits": logits + self.vote_scale * vote.float(), "alpha": alpha.float()}

    @staticmethod
    def loss(out: dict, batch: dict) -> torch.Tensor:
        return F.cross_entropy(out["logits"], batch["labels"])


class SpanHead(nn.Module):
    """Start and end logits ``[B, T]``; tokens outside the passage (``context_mask`` 0) get ``NEG``."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.qa = nn.Linear(hidden, 2)

    def forward(self, states: torch.Tensor, batch: dict) -> dict[str, torch.Tensor]:
        logits = self.qa(states).float().masked_fill(~batch["context_mask"].unsqueeze(-1), NEG)
        return {"start": logits[..., 0], "end": logits[..., 1]}

    @staticmethod
    def loss(out: dict, batch: dict) -> torch.Tensor:
        return (F.cross_entropy(out["start"], batch["start"]) + F.cross_entropy(out["end"], batch["end"])) / 2
