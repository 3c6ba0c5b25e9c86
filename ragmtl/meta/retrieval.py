"""A retrieval-augmented few-shot classifier: retrieve the nearest support examples, fuse their labels.

For each query vector ``q`` the ``k`` support vectors with the highest cosine similarity ``s_j`` are
retrieved and their labels fused with similarity-softmax weights,

    p(c | q) = sum_{j in top-k} softmax_j(s_j / tau) [y_j = c],

a soft k-nearest-neighbour rule (with ``k`` = all supports and class means instead of examples it
would be a prototypical network, Snell et al., 2017). It needs no training: a new task is "learned"
the moment its support set is indexed, the fast transfer a retrieval-augmented model offers.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

__all__ = ["RetrievalConfig", "retrieval_fused_probs", "RetrievalFewShotClassifier"]


@dataclass
class RetrievalConfig:
    """Settings of the retrieval-augmented classifier."""

    k: int = 5  # support examples retrieved per query (capped at the support size)
    temperature: float = 0.05  # softmax temperature over cosine similarities

    def __post_init__(self) -> None:
        if self.k < 1 or self.temperature <= 0:
            raise ValueError(f"need k >= 1 and temperature > 0, got k={self.k}, temperature={self.temperature}")


def retrieval_fused_probs(support_x: Tensor, support_y: Tensor, query_x: Tensor, n_way: int, k: int,
                          temperature: float) -> Tensor:
    """Class probabilities [..., Q, n_way] for queries [..., Q, d] from supports [..., S, d] with labels
    [..., S] in ``0 .. n_way-1``; leading (episode) dimensions are batched. Vectors are L2-normalised
    here, so similarities are cosines. Raises ``ValueError`` on shape or label mismatches."""
    if support_x.shape[:-2] != query_x.shape[:-2] or support_x.shape[-1] != query_x.shape[-1]:
        raise ValueError(f"support [..., S, d] and query [..., Q, d] disagree: {tuple(support_x.shape)} vs "
                         f"{tuple(query_x.shape)}")
    if support_y.shape != support_x.shape[:-1]:
        raise ValueError(f"support_y must be [..., S] = {tuple(support_x.shape[:-1])}, got {tuple(support_y.shape)}")
    if support_y.numel() and (int(support_y.min()) < 0 or int(support_y.max()) >= n_way):
        raise ValueError(f"support labels must lie in 0..{n_way - 1}")
    s = nn.functional.normalize(support_x, dim=-1)
    q = nn.functional.normalize(query_x, dim=-1)
    sims = q @ s.transpose(-1, -2)  # [..., Q, S]
    top, idx = sims.topk(min(k, sims.shape[-1]), dim=-1)
    weights = torch.softmax(top / temperature, dim=-1)
    labels = torch.gather(support_y.unsqueeze(-2).expand(*sims.shape), -1, idx)
    probs = torch.zeros(*sims.shape[:-1], n_way, dtype=weights.dtype, device=weights.device)
    return probs.scatter_add_(-1, labels, weights)


class RetrievalFewShotClassifier(nn.Module):
    """Thin wrapper: ``forward(support_x, support_y, query_x, n_way)`` -> probabilities [..., Q, n_way]."""

    def __init__(self, config: RetrievalConfig | None = None) -> None:
        super().__init__()
        self.config = config or RetrievalConfig()

    def forward(self, support_x: Tensor, support_y: Tensor, query_x: Tensor, n_way: int) -> Tensor:
        return retrieval_fused_probs(support_x, support_y, query_x, n_way, self.config.k, self.config.temperature)
