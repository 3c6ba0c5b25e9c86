"""Multi-gate mixture of experts, MMoE (Ma et al., 2018).

``E`` shared experts ``f_e`` (one hidden layer each) and one softmax gate per task:
``g_t(x) = softmax(W_t x)`` [B, E], ``h_t(x) = sum_e g_t(x)_e f_e(x)`` [B, H], then the task head.
Tasks that conflict can use different experts; related tasks can share them.
``forward(x [B, in_dim], task) -> logits [B, C_task]``; ``ValueError`` on an unknown task.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .base import MultiTaskModel, mlp

__all__ = ["MMoEConfig", "MMoE", "mixture"]


def mixture(expert_out: Tensor, gate_logits: Tensor) -> tuple[Tensor, Tensor]:
    """Gate-weighted sum of experts: ``expert_out`` [B, E, H], ``gate_logits`` [B, E]
    -> (mixed [B, H], gates [B, E] summing to one over E)."""
    if expert_out.dim() != 3 or gate_logits.shape != expert_out.shape[:2]:
        raise ValueError(f"expected experts [B, E, H] and gate logits [B, E], got {tuple(expert_out.shape)} "
                         f"and {tuple(gate_logits.shape)}")
    gates = torch.softmax(gate_logits, dim=-1)
    return torch.einsum("be,beh->bh", gates, expert_out), gates


@dataclass
class MMoEConfig:
    in_dim: int = 384
    num_experts: int = 4
    expert_dim: int = 128  # hidden width of each expert
    dropout: float = 0.1


class MMoE(MultiTaskModel):
    """Shared experts, a gate and a head per task."""

    def __init__(self, num_classes: dict[str, int], config: MMoEConfig | None = None) -> None:
        super().__init__(num_classes)
        self.config = config = config or MMoEConfig()
        if config.num_experts < 1:
            raise ValueError(f"num_experts must be >= 1, got {config.num_experts}")
        # All experts as one wide layer (one matmul), viewed as [B, E, H].
        self.experts = mlp(config.in_dim, config.num_experts * config.expert_dim, config.dropout)
        self.gates = nn.ModuleDict({t: nn.Linear(config.in_dim, config.num_experts) for t in self.tasks})
        self.heads = nn.ModuleDict({t: nn.Linear(config.expert_dim, n) for t, n in self.num_classes.items()})

    def gate(self, x: Tensor, task: str) -> Tensor:
        """Gate weights of ``task`` on ``x``: [B, E], rows sum to one."""
        self.check_task(task)
        return torch.softmax(self.gates[task](x), dim=-1)

    def forward(self, x: Tensor, task: str) -> Tensor:
        self.check_task(task)
        experts = self.experts(x).view(x.shape[0], self.config.num_experts, self.config.expert_dim)
        mixed, _ = mixture(experts, self.gates[task](x))
        return self.heads[task](mixed)

    def shared_parameters(self) -> list[nn.Parameter]:
        return list(self.experts.parameters())

    def task_parameters(self, task: str) -> list[nn.Parameter]:
        self.check_task(task)
        return list(self.gates[task].parameters()) + list(self.heads[task].parameters())
