"""LoRA: a frozen linear layer plus a trainable low-rank update (Hu et al., 2021).

``h = W x + (alpha / r) * B A dropout(x)`` with ``A`` [r, in] (Kaiming-uniform, as in the paper's
code and peft) and ``B`` [out, r] (zeros, so training starts from the frozen model). One (A, B) pair
per task; the active task is chosen with :meth:`LoRALinear.set_task`. ``merge`` folds the active
update into ``W`` for inference at no extra cost; ``unmerge`` takes it out again.
"""
from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["lora_delta", "LoRALinear"]


def lora_delta(x: torch.Tensor, lora_A: torch.Tensor, lora_B: torch.Tensor, scaling: float) -> torch.Tensor:
    """The LoRA term ``scaling * x A^T B^T``: ``x`` [..., in], ``lora_A`` [r, in], ``lora_B`` [out, r] -> [..., out]."""
    if lora_A.shape[0] != lora_B.shape[1] or x.shape[-1] != lora_A.shape[1]:
        raise ValueError(f"shapes do not chain: x {tuple(x.shape)}, A {tuple(lora_A.shape)}, B {tuple(lora_B.shape)}")
    return (x @ lora_A.T) @ lora_B.T * scaling


class LoRALinear(nn.Module):
    """``base`` (an ``nn.Linear``, frozen by :func:`~ragmtl.adapters.inject.freeze_backbone`) plus LoRA per task."""

    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 16.0, dropout: float = 0.0,
                 tasks: tuple[str, ...] = ("default",)) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"LoRA wraps nn.Linear, got {type(base).__name__}")
        if r < 1 or not tasks:
            raise ValueError(f"need rank r >= 1 and at least one task, got r={r}, tasks={tasks}")
        self.base, self.r, self.alpha, self.scaling = base, r, alpha, alpha / r
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.lora_A = nn.ParameterDict()
        self.lora_B = nn.ParameterDict()
        for task in tasks:
            a = torch.empty(r, base.in_features)
            nn.init.kaiming_uniform_(a, a=math.sqrt(5))
            self.lora_A[task] = nn.Parameter(a)
            self.lora_B[task] = nn.Parameter(torch.zeros(base.out_features, r))
        self.active_task, self.merged = tasks[0], False

    @property
    def tasks(self) -> list[str]:
        return list(self.lora_A.keys())

    def set_task(self, task: str) -> None:
        if task not in self.lora_A:
            raise ValueError(f"task {task!r} has no LoRA weights here; known tasks: {self.tasks}")
        if self.merged and task != self.active_task:
            raise RuntimeError("unmerge() before switching task: the merged weight holds the active task's update")
        self.active_task = task

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base(x)
        if self.merged:
            return y
        t = self.active_task
        return y + lora_delta(self.dropout(x), self.lora_A[t], self.lora_B[t], self.scaling).to(y.dtype)

    def _delta_weight(self) -> torch.Tensor:
        t = self.active_task
        return self.lora_B[t] @ self.lora_A[t] * self.scaling

    @torch.no_grad()
    def merge(self) -> None:
        """Fold the active task's update into ``base.weight``."""
        if self.merged:
            raise RuntimeError("already merged")
        self.base.weight += self._delta_weight()
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Take the merged update out of ``base.weight`` again."""
        if not self.merged:
            raise RuntimeError("not merged")
        self.base.weight -= self._delta_weight()
        self.merged = False
