"""Hard parameter sharing (Caruana, 1997): one shared trunk, one linear head per task.

``x`` [B, in_dim] -> trunk (``num_layers`` blocks of Dropout-Linear-ReLU-Dropout) -> [B, hidden_dim]
-> ``heads[task]`` -> [B, num_classes[task]]. With ``num_layers=0`` the trunk is the identity and
every task is a linear probe on the shared input (the single-task baseline of the chapter uses one
task per model). Raises ``ValueError`` on an unknown task id.
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from .base import MultiTaskModel, mlp

__all__ = ["HardSharingConfig", "HardSharing"]


@dataclass
class HardSharingConfig:
    in_dim: int = 384  # size of the shared input representation (MiniLM: 384)
    hidden_dim: int = 512  # width of each trunk layer
    num_layers: int = 1  # trunk depth; 0 = no trunk (linear heads on the input)
    dropout: float = 0.1  # dropout before and after each trunk layer


class HardSharing(MultiTaskModel):
    """Shared trunk + task heads. ``forward(x [B, in_dim], task) -> logits [B, C_task]``."""

    def __init__(self, num_classes: dict[str, int], config: HardSharingConfig | None = None) -> None:
        super().__init__(num_classes)
        self.config = config = config or HardSharingConfig()
        if config.num_layers < 0:
            raise ValueError(f"num_layers must be >= 0, got {config.num_layers}")
        dims = [config.in_dim] + [config.hidden_dim] * config.num_layers
        self.trunk = nn.Sequential(*[mlp(a, b, config.dropout) for a, b in zip(dims[:-1], dims[1:])])
        self.heads = nn.ModuleDict({t: nn.Linear(dims[-1], n) for t, n in self.num_classes.items()})

    def forward(self, x: Tensor, task: str) -> Tensor:
        self.check_task(task)
        return self.heads[task](self.trunk(x))

    def shared_parameters(self) -> list[nn.Parameter]:
        return list(self.trunk.parameters())

    def task_parameters(self, task: str) -> list[nn.Parameter]:
        self.check_task(task)
        return list(self.heads[task].parameters())
