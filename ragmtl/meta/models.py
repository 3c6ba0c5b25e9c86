"""Small networks for the meta-learning chapter: an MLP with ReLU hidden layers.

The sinusoid benchmark of Finn et al. (2017) uses ``MLP(1, (40, 40), 1)``; the few-shot CLINC150
experiments put a small ``MLP(384, (h,), n_way)`` head over frozen MiniLM sentence vectors.
Parameter names are ``layers.<i>.weight`` / ``layers.<i>.bias``; the last layer is the head.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["MLP"]


class MLP(nn.Module):
    """``in_dim -> hidden[0] -> ... -> out_dim`` with ReLU between layers: [..., in_dim] -> [..., out_dim]."""

    def __init__(self, in_dim: int, hidden: Sequence[int], out_dim: int) -> None:
        super().__init__()
        sizes = [in_dim, *hidden, out_dim]
        if any(int(s) < 1 for s in sizes):
            raise ValueError(f"layer sizes must be positive, got {sizes}")
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    @property
    def head_prefix(self) -> str:
        """Name prefix of the output layer's parameters (for swapping heads)."""
        return f"layers.{len(self.layers) - 1}."

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        return self.layers[-1](x)
