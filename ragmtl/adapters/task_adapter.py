"""Per-task adapter matrices over a shared weight: the source article's "random adapter" scheme, corrected.

The article writes a layer as ``y = W_s x + W_a^(i) x``: a shared matrix ``W_s`` plus one adapter
matrix per task ``i``, randomly initialised, trained in two phases (shared weights first, then the
adapters with an L2 penalty). Its code, however, added *every* task's adapter to every input, which
is the same as one extra shared matrix: tasks were never told apart. Here each example is routed to
its own task's adapter, ``y_b = W_s x_b + b + W_a^(t_b) x_b``, also inside a batch that mixes tasks.

Routing: set the batch's task ids with :meth:`TaskAdapterLinear.set_task_ids` (or the
:func:`~ragmtl.adapters.inject.route` context manager for a whole model) before the forward pass.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["task_adapter_linear", "TaskAdapterLinear"]


def task_adapter_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                        adapters: torch.Tensor, task_ids: torch.Tensor) -> torch.Tensor:
    """``y_b = x_b W_s^T + b + x_b W_a^(t_b)^T`` per example.

    ``x`` [B, ..., in], ``weight`` [out, in], ``adapters`` [T, out, in], ``task_ids`` [B] (ints in
    ``[0, T)``) -> [B, ..., out]. Rows of one task share one matrix product.
    """
    if task_ids.dim() != 1 or task_ids.shape[0] != x.shape[0]:
        raise ValueError(f"task_ids must be [B] with B = {x.shape[0]}, got {tuple(task_ids.shape)}")
    if task_ids.numel() and (task_ids.min() < 0 or task_ids.max() >= adapters.shape[0]):
        raise ValueError(f"task ids must lie in [0, {adapters.shape[0]}), got {task_ids.unique().tolist()}")
    y = nn.functional.linear(x, weight, bias)
    delta = torch.zeros_like(y)
    for t in task_ids.unique().tolist():
        rows = task_ids == t
        delta[rows] = nn.functional.linear(x[rows], adapters[t]).to(y.dtype)
    return y + delta


class TaskAdapterLinear(nn.Module):
    """A shared ``nn.Linear`` (``W_s``, ``b``) plus a full ``[out, in]`` adapter matrix per task.

    ``init="zero"`` starts every adapter at 0 (the layer computes the shared map exactly);
    ``init="random"`` draws them from N(0, ``init_std``^2) as the source article does.
    """

    def __init__(self, base: nn.Linear, tasks: tuple[str, ...], init: str = "zero", init_std: float = 0.01) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"TaskAdapterLinear wraps nn.Linear, got {type(base).__name__}")
        if not tasks or len(set(tasks)) != len(tasks):
            raise ValueError(f"need distinct task names, got {tasks}")
        if init not in ("zero", "random"):
            raise ValueError(f"init must be 'zero' or 'random', got {init!r}")
        self.base = base
        self.task_names = tuple(tasks)
        adapters = torch.zeros(len(tasks), base.out_features, base.in_features)
        if init == "random":
            adapters.normal_(0.0, init_std)
        self.adapters = nn.Parameter(adapters)
        self.task_ids: torch.Tensor | None = None

    @property
    def tasks(self) -> list[str]:
        return list(self.task_names)

    def task_index(self, task: str) -> int:
        if task not in self.task_names:
            raise ValueError(f"task {task!r} is not registered; known tasks: {list(self.task_names)}")
        return self.task_names.index(task)

    def set_task_ids(self, task_ids: torch.Tensor | None) -> None:
        """Task id of every example of the next batch ([B] ints), or None to clear."""
        self.task_ids = task_ids

    def set_task(self, task: str) -> None:
        """Route every example to one task (the batch size is taken from the input)."""
        self.task_ids = torch.tensor([self.task_index(task)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.task_ids is None:
            raise RuntimeError("no task ids set: call set_task_ids(ids) or use ragmtl.adapters.route(model, ids)")
        ids = self.task_ids
        if ids.numel() == 1 and x.shape[0] != 1:
            ids = ids.expand(x.shape[0])
        return task_adapter_linear(x, self.base.weight, self.base.bias, self.adapters, ids)

    def l2_penalty(self) -> torch.Tensor:
        """Sum of squared adapter entries (the article's L2 term on adapters)."""
        return self.adapters.pow(2).sum()
