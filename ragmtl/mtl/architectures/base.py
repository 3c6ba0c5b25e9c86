"""What every multi-task architecture shares: task heads, task-id checks, shared vs task parameters.

An architecture maps a batch of input vectors of one task to that task's logits:
``model(x, task)`` with ``x`` [B, in_dim] -> [B, num_classes[task]]. It tells the weighting
methods which parameters are shared (``shared_parameters()``) and which belong to one task
(``task_parameters(task)``), because gradient-based weighting (PCGrad, GradNorm) acts on the
shared ones only.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

from torch import Tensor, nn

__all__ = ["MultiTaskModel", "mlp", "check_num_classes"]


def check_num_classes(num_classes: dict[str, int]) -> dict[str, int]:
    """Validate ``{task: number of classes}``: at least one task, each with >= 1 output."""
    if not isinstance(num_classes, dict) or not num_classes:
        raise ValueError(f"num_classes must be a non-empty dict task -> int, got {num_classes!r}")
    for task, n in num_classes.items():
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"task {task!r} needs a positive int number of outputs, got {n!r}")
    return dict(num_classes)


def mlp(in_dim: int, hidden_dim: int, dropout: float) -> nn.Sequential:
    """One hidden layer block ``Dropout -> Linear(in_dim, hidden_dim) -> ReLU -> Dropout``."""
    return nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, hidden_dim), nn.ReLU(), nn.Dropout(dropout))


class MultiTaskModel(nn.Module, ABC):
    """Base class: holds ``tasks`` (ordered) and checks task ids. Subclasses define ``forward``."""

    def __init__(self, num_classes: dict[str, int]) -> None:
        super().__init__()
        self.num_classes = check_num_classes(num_classes)
        self.tasks = list(self.num_classes)

    def check_task(self, task: str) -> None:
        """Raise ``ValueError`` naming the known tasks when ``task`` is not one of them."""
        if task not in self.num_classes:
            raise ValueError(f"task {task!r} is not registered; known tasks: {self.tasks}")

    @abstractmethod
    def forward(self, x: Tensor, task: str) -> Tensor:
        """Logits [N, C_task] of ``task`` for inputs ``x`` [N, D]."""

    @abstractmethod
    def shared_parameters(self) -> list[nn.Parameter]:
        """Parameters that more than one task's loss depends on."""

    @abstractmethod
    def task_parameters(self, task: str) -> list[nn.Parameter]:
        """Parameters only ``task``'s loss depends on."""

    def regularizer(self) -> Tensor | float:
        """Extra loss term the architecture adds (soft sharing's coupling penalty); 0 by default."""
        return 0.0
