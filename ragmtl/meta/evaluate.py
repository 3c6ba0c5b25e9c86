"""Test-time evaluation over many episodes at once: adapt on each support set, score the query set,
and report a mean with a normal-approximation 95% confidence interval (as in Finn et al., 2017)."""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from .inner import InnerLR, LossFn, Params, adapt, detached
from .samplers import TaskBatch

__all__ = ["adapt_and_predict", "episode_mse", "episode_accuracy", "adaptation_curve", "mean_ci"]


def adapt_and_predict(model: nn.Module, params: Params, batch: TaskBatch, loss_fn: LossFn, inner_lr: InnerLR,
                      steps: int, chunk_size: int | None = None) -> Tensor:
    """Adapt ``params`` on every support set (``steps`` inner steps) and predict its query inputs:
    returns [T, Q, out]. ``params`` are shared by all tasks; tasks run under ``vmap``."""
    params = detached(params)
    lr = detached(inner_lr) if isinstance(inner_lr, dict) else inner_lr

    def one(sx: Tensor, sy: Tensor, qx: Tensor) -> Tensor:
        phi = adapt(model, params, sx, sy, loss_fn, lr, steps)
        return functional_call(model, phi, (qx,))

    with torch.no_grad():
        return vmap(one, chunk_size=chunk_size)(batch.support_x, batch.support_y, batch.query_x)


def episode_mse(model: nn.Module, params: Params, batch: TaskBatch, inner_lr: InnerLR, steps: int) -> np.ndarray:
    """Per-task query mean squared error [T] after ``steps`` inner steps of MSE regression."""
    pred = adapt_and_predict(model, params, batch, nn.functional.mse_loss, inner_lr, steps)
    return ((pred - batch.query_y) ** 2).flatten(1).mean(1).numpy()


def episode_accuracy(model: nn.Module, params: Params, batch: TaskBatch, inner_lr: InnerLR,
                     steps: int) -> np.ndarray:
    """Per-episode query accuracy [T] after ``steps`` inner steps of cross-entropy on the support set."""
    logits = adapt_and_predict(model, params, batch, nn.functional.cross_entropy, inner_lr, steps)
    return (logits.argmax(-1) == batch.query_y).float().mean(1).numpy()


def adaptation_curve(model: nn.Module, params: Params, batch: TaskBatch, loss_fn: LossFn, inner_lr: InnerLR,
                     max_steps: int, metric=None) -> np.ndarray:
    """Per-task query score after 0, 1, ..., ``max_steps`` inner steps, in one pass: [max_steps + 1, T].

    ``metric(pred [Q, out], y [Q]) -> scalar`` defaults to ``loss_fn`` (e.g. the query MSE).
    """
    metric = metric or loss_fn
    params = detached(params)
    lr = detached(inner_lr) if isinstance(inner_lr, dict) else inner_lr

    def one(sx: Tensor, sy: Tensor, qx: Tensor, qy: Tensor) -> Tensor:
        phi, scores = params, []
        for step in range(max_steps + 1):
            if step:
                phi = adapt(model, phi, sx, sy, loss_fn, lr, 1)
            scores.append(metric(functional_call(model, phi, (qx,)), qy))
        return torch.stack(scores)

    with torch.no_grad():
        return vmap(one)(*batch.tensors()).T.numpy()


def mean_ci(values: np.ndarray | Tensor, z: float = 1.96) -> tuple[float, float]:
    """Mean and half-width ``z * std / sqrt(n)`` (95% for ``z=1.96``) of per-episode scores [n]."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size < 2:
        raise ValueError(f"a confidence interval needs at least 2 values, got {v.size}")
    return float(v.mean()), float(z * v.std(ddof=1) / math.sqrt(v.size))
