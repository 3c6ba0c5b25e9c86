"""Non-meta-learned starting points the chapter compares with: joint pre-training on all tasks,
a fresh classification head on a pre-trained body, and a randomly initialised network.

Joint pre-training is the "pretrained" baseline of Finn et al. (2017): one network fitted to the
pooled data of many tasks, later fine-tuned on a new task with the same inner loop as MAML.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import grad_and_value, vmap

from .inner import LossFn, Params, detached, functional_loss
from .maml import MetaGrad, task_mean
from .samplers import TaskBatch

__all__ = ["joint_grad", "pretrain_classifier", "with_new_head"]


def joint_grad(model: nn.Module, params: Params, batch: TaskBatch, loss_fn: LossFn, inner_lr: float = 0.0,
               steps: int = 0) -> MetaGrad:
    """Gradient of the mean loss over all of the batch's examples at ``theta`` itself (no adaptation):
    plain multi-task pre-training. ``inner_lr`` and ``steps`` are ignored (same signature as MAML's)."""
    params = detached(params)
    x = torch.cat([batch.support_x, batch.query_x], dim=1)
    y = torch.cat([batch.support_y, batch.query_y], dim=1)

    def loss(p: Params, xi: Tensor, yi: Tensor) -> Tensor:
        return functional_loss(model, p, xi, yi, loss_fn)

    grads, losses = vmap(grad_and_value(loss), in_dims=(None, 0, 0))(params, x, y)
    return MetaGrad(task_mean(grads), None, losses.mean())


def pretrain_classifier(model: nn.Module, features: Tensor, labels: Tensor, epochs: int, lr: float = 1e-3,
                        batch_size: int = 64, seed: int = 0, weight_decay: float = 0.0) -> Params:
    """Train ``model`` (its own parameters, in place) with Adam and cross-entropy on ``features`` [n, d],
    ``labels`` [n] for ``epochs`` shuffled epochs; returns a detached copy of the trained parameters."""
    if features.shape[0] != labels.shape[0] or features.shape[0] == 0:
        raise ValueError(f"need as many labels as feature rows (> 0); got {features.shape[0]} and {labels.shape[0]}")
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(epochs):
        order = torch.from_numpy(rng.permutation(features.shape[0]))
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            loss = nn.functional.cross_entropy(model(features[idx]), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def with_new_head(body: Params, head: Params, head_prefix: str) -> Params:
    """Parameters of a pre-trained ``body`` with the ``head_prefix*`` entries replaced by ``head``
    (e.g. a 120-way output layer swapped for a fresh 5-way one). Raises ``ValueError`` when ``head``
    has keys outside ``head_prefix``."""
    stray = [k for k in head if not k.startswith(head_prefix)]
    if stray:
        raise ValueError(f"head keys must start with {head_prefix!r}; got {stray}")
    kept = {k: v.detach().clone() for k, v in body.items() if not k.startswith(head_prefix)}
    return {**kept, **{k: v.detach().clone() for k, v in head.items()}}
