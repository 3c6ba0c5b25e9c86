"""Reptile (Nichol, Achiam and Schulman, 2018): move the initialisation towards adapted weights.

For each task, run ``k`` inner steps from ``theta`` on the task's data to get ``phi_i``; then

    theta <- theta + epsilon * (1/T) sum_i (phi_i - theta).

No gradient flows through the inner loop. ``reptile_grad`` returns the pseudo-gradient
``theta - mean_i phi_i``, so that plain SGD with learning rate ``epsilon`` performs exactly the
update above (and Adam may be used on it, as Nichol et al. also do).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.func import vmap

from .inner import LossFn, Params, adapt, check_inner_lr, detached, functional_loss
from .maml import MetaGrad
from .samplers import TaskBatch

__all__ = ["reptile_update", "reptile_grad"]


def reptile_update(params: Params, adapted: Params, outer_lr: float) -> Params:
    """The Reptile step ``theta + outer_lr * (mean_i phi_i - theta)``.

    ``adapted`` holds the adapted weights of ``T`` tasks, each tensor [T, *shape] (a vmapped
    :func:`~ragmtl.meta.inner.adapt`). Raises ``ValueError`` on mismatched keys or shapes.
    """
    if set(adapted) != set(params):
        raise ValueError(f"adapted and params must share keys; got {sorted(adapted)} vs {sorted(params)}")
    for name, p in params.items():
        if adapted[name].shape[1:] != p.shape:
            raise ValueError(f"adapted[{name!r}] has shape {tuple(adapted[name].shape)}; expected "
                             f"[T, {', '.join(map(str, p.shape))}]")
    return {name: p + outer_lr * (adapted[name].mean(0) - p) for name, p in params.items()}


def reptile_grad(model: nn.Module, params: Params, batch: TaskBatch, loss_fn: LossFn, inner_lr: float,
                 steps: int) -> MetaGrad:
    """Reptile's pseudo-gradient ``theta - (1/T) sum_i phi_i``, each ``phi_i`` from ``steps`` full-batch
    steps on all of task ``i``'s examples (support and query joined: Reptile has no query split).
    ``loss`` is the mean query loss before adaptation."""
    if isinstance(inner_lr, dict):
        raise ValueError("Reptile here takes a float inner_lr (no learned per-parameter rates)")
    if steps < 1:
        raise ValueError(f"Reptile needs at least one inner step, got steps={steps}")
    check_inner_lr(params, inner_lr)
    params = detached(params)
    x = torch.cat([batch.support_x, batch.query_x], dim=1)
    y = torch.cat([batch.support_y, batch.query_y], dim=1)
    with torch.no_grad():
        adapted = vmap(lambda xi, yi: adapt(model, params, xi, yi, loss_fn, inner_lr, steps))(x, y)
        losses = vmap(lambda qx, qy: functional_loss(model, params, qx, qy, loss_fn))(batch.query_x, batch.query_y)
    return MetaGrad({name: p - adapted[name].mean(0) for name, p in params.items()}, None, losses.mean())
