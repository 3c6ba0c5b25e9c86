"""PCGrad, gradient surgery (Yu, Kumar, Gupta, Levine, Hausman & Finn, 2020).

For each task gradient ``g_i`` of the shared parameters, in a random order of the other tasks
``j``: if ``g_i . g_j < 0`` (they conflict), remove the conflicting component,
``g_i <- g_i - (g_i . g_j) / ||g_j||^2 g_j``. The shared update is the sum of the projected
gradients; task-specific parameters get their own task's gradient unchanged.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .base import Weighting, set_flat_grad, task_gradients

__all__ = ["PCGrad", "pcgrad_project"]


def pcgrad_project(grads: Tensor, generator: torch.Generator | None = None, shuffle: bool = True) -> Tensor:
    """Project each row of ``grads`` [T, P] off the rows it conflicts with -> [T, P].

    Projections use the original gradients ``g_j`` (as in Yu et al.'s Algorithm 1); the order of
    the ``j`` is random (``generator``) when ``shuffle``, else ascending.
    """
    if grads.dim() != 2:
        raise ValueError(f"grads must be [tasks, params], got shape {tuple(grads.shape)}")
    num_tasks = grads.shape[0]
    projected = grads.clone()
    for i in range(num_tasks):
        others = [j for j in range(num_tasks) if j != i]
        if shuffle:
            others = [others[k] for k in torch.randperm(len(others), generator=generator).tolist()]
        for j in others:
            dot = projected[i] @ grads[j]
            if dot < 0:
                projected[i] -= dot / grads[j].pow(2).sum().clamp(min=1e-20) * grads[j]
    return projected


class PCGrad(Weighting):
    """Equal loss weights, with conflicting shared-gradient components projected away."""

    def __init__(self, tasks: list[str], seed: int = 0) -> None:
        super().__init__(tasks)
        self.generator = torch.Generator().manual_seed(seed)

    def backward(self, losses: dict[str, Tensor], shared: list[Tensor]) -> dict[str, float]:
        stacked = self.stack(losses)
        shared = [p for p in shared if p.requires_grad]
        if shared:
            grads = task_gradients(list(stacked), shared)  # [T, P]
            before = [None if p.grad is None else p.grad.clone() for p in shared]
        stacked.sum().backward()  # task-specific parameters get their own task's gradient
        if shared:
            combined = pcgrad_project(grads, self.generator).sum(0)
            set_flat_grad(shared, combined)
            for p, g in zip(shared, before):  # keep accumulation semantics
                if g is not None:
                    p.grad += g
        return self.as_dict(torch.ones(self.num_tasks))
