"""One interface for task weighting: per-task losses in, gradients on the parameters out.

``weighting.backward(losses, shared)`` takes ``losses``, a dict task -> scalar loss tensor holding
exactly the weighting's tasks, and ``shared``, the model's shared parameters. It fills ``.grad`` of
every parameter (like ``loss.backward()``, accumulating) with the combined update and returns the
weights it used, ``{task: float}``. Loss-based methods (equal, uncertainty, DWA) only combine the
losses; gradient-based ones (GradNorm, PCGrad) also look at the per-task gradients of ``shared``.
A loss dict that misses a task, or names an unknown one, raises ``ValueError``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor, nn

__all__ = ["Weighting", "task_gradients"]


def task_gradients(losses: list[Tensor], params: list[Tensor]) -> Tensor:
    """Flattened gradient of each loss w.r.t. ``params``: [T, P] (zeros where a loss does not depend on
    a parameter). The graph is kept, so the losses can be back-propagated again afterwards."""
    rows = []
    for loss in losses:
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        rows.append(torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                               for g, p in zip(grads, params)]))
    return torch.stack(rows)


def set_flat_grad(params: list[Tensor], flat: Tensor) -> None:
    """Write the flat vector ``flat`` [P] into the ``.grad`` of ``params`` (replacing it)."""
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset:offset + n].view_as(p).clone()
        offset += n
    if offset != flat.numel():
        raise ValueError(f"flat gradient has {flat.numel()} entries, parameters need {offset}")


class Weighting(nn.Module, ABC):
    """Base class. Subclasses implement :meth:`backward`; ``tasks`` fixes the order of the tasks."""

    def __init__(self, tasks: list[str]) -> None:
        super().__init__()
        if not tasks or len(set(tasks)) != len(tasks):
            raise ValueError(f"tasks must be a non-empty list of distinct names, got {tasks!r}")
        self.tasks = list(tasks)

    @property
    def num_tasks(self) -> int:
        return len(self.tasks)

    def stack(self, losses: dict[str, Tensor]) -> Tensor:
        """The losses as a tensor [T] in task order; ``ValueError`` if a task is missing or unknown."""
        missing = [t for t in self.tasks if t not in losses]
        unknown = [t for t in losses if t not in self.tasks]
        if missing or unknown:
            raise ValueError(f"loss dict must hold exactly the tasks {self.tasks}; missing {missing}, "
                             f"unknown {unknown}")
        return torch.stack([losses[t].reshape(()) for t in self.tasks])

    @abstractmethod
    def backward(self, losses: dict[str, Tensor], shared: list[Tensor]) -> dict[str, float]:
        """Back-propagate the combined update of ``losses``; return the task weights used."""

    def as_dict(self, weights: Tensor) -> dict[str, float]:
        return {t: float(w) for t, w in zip(self.tasks, weights.detach())}
