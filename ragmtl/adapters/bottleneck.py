"""Bottleneck adapters (Houlsby et al., 2019): a small residual MLP after a sublayer's output.

``a(h) = h + W_up f(W_down h + b_down) + b_up`` with ``W_down`` [m, d], ``W_up`` [d, m], ``m << d``
and ``f`` a non-linearity. ``W_up`` and ``b_up`` start at zero, so an adapted model starts out
computing exactly what the backbone computes. :class:`BottleneckLinear` puts one adapter per task
on the output of a linear layer (Houlsby place them on the attention output and the feed-forward
output projections, before the residual connection and layer norm).
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["bottleneck_adapter", "BottleneckAdapter", "BottleneckLinear"]

_ACTIVATIONS = {"gelu": nn.functional.gelu, "relu": torch.relu, "tanh": torch.tanh}


def bottleneck_adapter(h: torch.Tensor, w_down: torch.Tensor, b_down: torch.Tensor, w_up: torch.Tensor,
                       b_up: torch.Tensor, activation: str = "gelu") -> torch.Tensor:
    """``h + f(h W_down^T + b_down) W_up^T + b_up``: ``h`` [..., d], ``w_down`` [m, d], ``w_up`` [d, m] -> [..., d]."""
    if activation not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; known: {sorted(_ACTIVATIONS)}")
    return h + _ACTIVATIONS[activation](h @ w_down.T + b_down) @ w_up.T + b_up


class BottleneckAdapter(nn.Module):
    """One bottleneck adapter of width ``bottleneck`` over ``dim``-wide states (up-projection zero-initialised)."""

    def __init__(self, dim: int, bottleneck: int = 32, activation: str = "gelu") -> None:
        super().__init__()
        if bottleneck < 1 or dim < 1:
            raise ValueError(f"need dim >= 1 and bottleneck >= 1, got {dim}, {bottleneck}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; known: {sorted(_ACTIVATIONS)}")
        self.down = nn.Linear(dim, bottleneck)
        self.up = nn.Linear(bottleneck, dim)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)
        self.activation = activation

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return bottleneck_adapter(h, self.down.weight, self.down.bias, self.up.weight, self.up.bias, self.activation)


class BottleneckLinear(nn.Module):
    """``base`` (an ``nn.Linear``) followed by the active task's bottleneck adapter."""

    def __init__(self, base: nn.Linear, bottleneck: int = 32, activation: str = "gelu",
                 tasks: tuple[str, ...] = ("default",)) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"a bottleneck adapter wraps nn.Linear here, got {type(base).__name__}")
        if not tasks:
            raise ValueError("need at least one task")
        self.base = base
        self.adapters = nn.ModuleDict({t: BottleneckAdapter(base.out_features, bottleneck, activation) for t in tasks})
        self.active_task = tasks[0]

    @property
    def tasks(self) -> list[str]:
        return list(self.adapters.keys())

    def set_task(self, task: str) -> None:
        if task not in self.adapters:
            raise ValueError(f"task {task!r} has no adapter here; known tasks: {self.tasks}")
        self.active_task = task

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base(x)
        return self.adapters[self.active_task](y)
