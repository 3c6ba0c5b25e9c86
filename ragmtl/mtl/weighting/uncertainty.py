"""Uncertainty weighting (Kendall, Gal & Cipolla, 2018).

Each task has a learned log-variance ``s_t = log sigma_t^2`` and the combined loss is
``L = sum_t exp(-s_t) L_t + s_t`` (the form LibMTL uses; Kendall et al.'s ``L_t / (2 sigma^2) +
log sigma`` is half of it). For a fixed ``L_t`` the minimum over ``s_t`` is at
``exp(s_t) = sigma_t^2 = L_t``: noisy (high-loss) tasks get small weights ``1 / sigma_t^2``.
The ``log_vars`` are parameters: give them to the optimizer with the model's.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import Weighting

__all__ = ["UncertaintyWeighting", "uncertainty_loss"]


def uncertainty_loss(losses: Tensor, log_vars: Tensor) -> Tensor:
    """``sum_t exp(-s_t) L_t + s_t`` for ``losses`` [T] and ``log_vars`` [T] -> scalar."""
    if losses.shape != log_vars.shape or losses.dim() != 1:
        raise ValueError(f"losses and log_vars must both be [T], got {tuple(losses.shape)} and "
                         f"{tuple(log_vars.shape)}")
    return (torch.exp(-log_vars) * losses + log_vars).sum()


class UncertaintyWeighting(Weighting):
    """Learned homoscedastic-uncertainty weights ``exp(-s_t)``."""

    def __init__(self, tasks: list[str]) -> None:
        super().__init__(tasks)
        self.log_vars = nn.Parameter(torch.zeros(len(tasks)))

    def backward(self, losses: dict[str, Tensor], shared: list[Tensor]) -> dict[str, float]:
        uncertainty_loss(self.stack(losses), self.log_vars).backward()
        return self.as_dict(torch.exp(-self.log_vars))
