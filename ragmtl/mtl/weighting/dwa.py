"""Dynamic weight average, DWA (Liu, Johns & Davison, 2019).

With ``r_t = L_t(k-1) / L_t(k-2)`` the ratio of a task's average loss over the last two epochs,
``w_t(k) = T exp(r_t / temperature) / sum_s exp(r_s / temperature)``: a task whose loss falls
slowly gets more weight. The first two epochs use ``w_t = 1``. Here an "epoch" is a window of
``window`` calls to :meth:`DWA.backward`.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .base import Weighting

__all__ = ["DWA", "dwa_weights"]


def dwa_weights(history: Tensor, temperature: float = 2.0) -> Tensor:
    """DWA weights from ``history`` [K, T] (average loss of each past epoch, oldest first) -> [T].
    Fewer than two epochs of history give all ones."""
    if history.dim() != 2:
        raise ValueError(f"history must be [epochs, tasks], got shape {tuple(history.shape)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    num_tasks = history.shape[1]
    if history.shape[0] < 2:
        return torch.ones(num_tasks)
    ratio = history[-1] / history[-2]
    return num_tasks * torch.softmax(ratio / temperature, dim=0)


class DWA(Weighting):
    """Loss weights from the rate at which each task's loss falls."""

    def __init__(self, tasks: list[str], temperature: float = 2.0, window: int = 50) -> None:
        super().__init__(tasks)
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.temperature, self.window = temperature, window
        self.history: list[Tensor] = []
        self._sum, self._count = torch.zeros(len(tasks)), 0

    def backward(self, losses: dict[str, Tensor], shared: list[Tensor]) -> dict[str, float]:
        stacked = self.stack(losses)
        weights = dwa_weights(torch.stack(self.history[-2:]) if self.history else torch.zeros(0, self.num_tasks),
                              self.temperature)
        (weights * stacked).sum().backward()
        self._sum += stacked.detach()
        self._count += 1
        if self._count == self.window:
            self.history.append(self._sum / self._count)
            self._sum, self._count = torch.zeros(self.num_tasks), 0
        return self.as_dict(weights)
