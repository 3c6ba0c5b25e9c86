"""Soft parameter sharing: one tower per task, coupled by an L2 penalty and optional cross-stitch units.

* L2 coupling (Duong et al., 2015; in closed form for linear models, Evgeniou & Pontil, 2004):
  every task has its own tower; the penalty ``coupling * sum_t ||theta_t - mean_s theta_s||^2`` over
  the towers' first-layer weights pulls them together. ``coupling=0`` gives independent towers,
  ``coupling -> inf`` gives hard sharing of that layer.
* Cross-stitch units (Misra et al., 2016): the hidden states of all towers on the same input,
  ``h`` [T, B, H], are mixed by a learned matrix ``alpha`` [T, T] (initialised near the identity):
  ``h'_t = sum_s alpha[t, s] h_s``. Every tower runs on every input, so this costs T times more.

``forward(x [B, in_dim], task) -> logits [B, C_task]``; ``ValueError`` on an unknown task.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .base import MultiTaskModel, mlp

__all__ = ["SoftSharingConfig", "SoftSharing", "l2_coupling", "cross_stitch"]


def l2_coupling(weights: list[Tensor]) -> Tensor:
    """``sum_t ||W_t - mean_s W_s||^2`` over same-shaped tensors ``weights`` (one per task)."""
    if not weights:
        raise ValueError("l2_coupling needs at least one tensor")
    stacked = torch.stack(list(weights))
    return ((stacked - stacked.mean(0, keepdim=True)) ** 2).sum()


def cross_stitch(hidden: Tensor, alpha: Tensor) -> Tensor:
    """Mix task hidden states: ``hidden`` [T, B, H], ``alpha`` [T, T] -> [T, B, H] (Misra et al., 2016)."""
    if hidden.dim() != 3 or alpha.shape != (hidden.shape[0], hidden.shape[0]):
        raise ValueError(f"expected hidden [T, B, H] and alpha [T, T], got {tuple(hidden.shape)} and "
                         f"{tuple(alpha.shape)}")
    return torch.einsum("ts,sbh->tbh", alpha, hidden)


@dataclass
class SoftSharingConfig:
    in_dim: int = 384  # size of the input representation
    hidden_dim: int = 256  # width of each task tower
    dropout: float = 0.1
    coupling: float = 1e-2  # weight of the L2 penalty between the towers' first layers
    cross_stitch: bool = False  # mix the towers' hidden states with a learned [T, T] matrix


class SoftSharing(MultiTaskModel):
    """Per-task towers (one hidden layer each) + linear heads, coupled softly."""

    def __init__(self, num_classes: dict[str, int], config: SoftSharingConfig | None = None) -> None:
        super().__init__(num_classes)
        self.config = config = config or SoftSharingConfig()
        if config.coupling < 0:
            raise ValueError(f"coupling must be >= 0, got {config.coupling}")
        self.towers = nn.ModuleDict({t: mlp(config.in_dim, config.hidden_dim, config.dropout) for t in self.tasks})
        self.heads = nn.ModuleDict({t: nn.Linear(config.hidden_dim, n) for t, n in self.num_classes.items()})
        num_tasks = len(self.tasks)
        self.alpha = (nn.Parameter(0.9 * torch.eye(num_tasks) + 0.1 / num_tasks) if config.cross_stitch else None)

    def forward(self, x: Tensor, task: str) -> Tensor:
        self.check_task(task)
        if self.alpha is None:
            return self.heads[task](self.towers[task](x))
        hidden = torch.stack([self.towers[t](x) for t in self.tasks])  # [T, B, H]
        mixed = cross_stitch(hidden, self.alpha)
        return self.heads[task](mixed[self.tasks.index(task)])

    def regularizer(self) -> Tensor | float:
        if self.config.coupling == 0:
            return 0.0
        weights = [self.towers[t][1].weight for t in self.tasks]
        return self.config.coupling * l2_coupling(weights)

    def shared_parameters(self) -> list[nn.Parameter]:
        # With cross-stitch every tower sees every task's loss; without it only the penalty couples them.
        return [self.alpha] if self.alpha is not None else []

    def task_parameters(self, task: str) -> list[nn.Parameter]:
        self.check_task(task)
        return list(self.towers[task].parameters()) + list(self.heads[task].parameters())
