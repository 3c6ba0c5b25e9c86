"""The meta-training loop: sample a meta-batch of tasks, take a meta-gradient, step the initialisation.

One loop serves every method in :data:`METHODS` (second-order MAML, first-order MAML, Reptile and
plain joint pre-training), since each is a function ``(model, params, batch, loss_fn, inner_lr,
steps) -> MetaGrad``. The outer optimiser (Adam by default, as in Finn et al., 2017) treats the
meta-gradient as an ordinary gradient; with ``outer_optimizer="sgd"`` Reptile's step is exactly
``theta + epsilon (mean phi - theta)``. Runs are seeded: the same config gives the same weights.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..utils import progress
from .baselines import joint_grad
from .inner import InnerLR, LossFn, Params, init_params
from .maml import MetaGrad, fomaml_grad, maml_grad
from .reptile import reptile_grad
from .samplers import TaskBatch

__all__ = ["METHODS", "MetaTrainConfig", "MetaTrainResult", "meta_train"]

GradFn = Callable[..., MetaGrad]
METHODS: dict[str, GradFn] = {"maml": maml_grad, "fomaml": fomaml_grad, "reptile": reptile_grad,
                              "joint": joint_grad}


@dataclass
class MetaTrainConfig:
    """Settings of :func:`meta_train`."""

    method: str = "maml"  # a key of METHODS: "maml", "fomaml", "reptile" or "joint"
    iterations: int = 1000  # outer steps
    meta_batch_size: int = 25  # tasks per outer step
    inner_lr: float = 0.01  # alpha (the initial value of every per-parameter rate with learn_inner_lr)
    inner_steps: int = 1  # k, gradient steps of the inner loop at training time
    outer_lr: float = 1e-3  # beta (epsilon for Reptile with outer_optimizer="sgd")
    outer_optimizer: str = "adam"  # "adam" or "sgd"
    learn_inner_lr: bool = False  # Meta-SGD: learn one inner rate per weight (method "maml" only)
    seed: int = 0  # seeds task sampling
    show_progress: bool = True
    desc: str | None = None  # progress-bar label (default: the method)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method {self.method!r} is not registered; known methods: {sorted(METHODS)}")
        if self.outer_optimizer not in ("adam", "sgd"):
            raise ValueError(f"outer_optimizer must be 'adam' or 'sgd', got {self.outer_optimizer!r}")
        if self.iterations < 0 or self.meta_batch_size < 1 or self.inner_steps < 0:
            raise ValueError(f"need iterations >= 0, meta_batch_size >= 1, inner_steps >= 0; got "
                             f"{self.iterations}, {self.meta_batch_size}, {self.inner_steps}")
        if self.inner_lr <= 0 or self.outer_lr <= 0:
            raise ValueError(f"learning rates must be positive, got inner_lr={self.inner_lr}, outer_lr={self.outer_lr}")
        if self.learn_inner_lr and self.method != "maml":
            raise ValueError(f"learn_inner_lr (Meta-SGD) needs method 'maml', got {self.method!r}")


@dataclass
class MetaTrainResult:
    """Trained initialisation ``params``, the inner rate(s) to adapt with, and the mean query loss of
    every outer step ``losses`` [iterations] (before that step's update)."""

    params: Params
    inner_lr: InnerLR
    losses: np.ndarray


def meta_train(model: nn.Module, sample_tasks: Callable[[int, np.random.Generator], TaskBatch], loss_fn: LossFn,
               config: MetaTrainConfig, params: Params | None = None) -> MetaTrainResult:
    """Meta-train an initialisation of ``model`` (starting from ``params``, default its current weights).

    ``sample_tasks(num_tasks, rng)`` returns a :class:`TaskBatch` of ``num_tasks`` training tasks; it is
    called once per outer step with a generator seeded from ``config.seed``. Shows a progress bar.
    """
    grad_fn = METHODS[config.method]
    params = init_params(model) if params is None else {k: v.detach().clone().requires_grad_(True)
                                                        for k, v in params.items()}
    inner_lr: InnerLR = config.inner_lr
    leaves = list(params.values())
    if config.learn_inner_lr:
        inner_lr = {k: torch.full_like(v, config.inner_lr).requires_grad_(True) for k, v in params.items()}
        leaves += list(inner_lr.values())
    opt_cls = torch.optim.Adam if config.outer_optimizer == "adam" else torch.optim.SGD
    opt = opt_cls(leaves, lr=config.outer_lr)
    rng = np.random.default_rng(config.seed)
    losses = np.zeros(config.iterations)
    bar = progress(range(config.iterations), total=config.iterations, desc=config.desc or config.method,
                   disable=not config.show_progress)
    for it in bar:
        batch = sample_tasks(config.meta_batch_size, rng)
        meta = grad_fn(model, params, batch, loss_fn, inner_lr, config.inner_steps)
        for name, p in params.items():
            p.grad = meta.params[name]
        if meta.inner_lr is not None:
            for name, a in inner_lr.items():
                a.grad = meta.inner_lr[name]
        opt.step()
        losses[it] = float(meta.loss)
    final_lr = {k: v.detach().clone() for k, v in inner_lr.items()} if isinstance(inner_lr, dict) else inner_lr
    return MetaTrainResult({k: v.detach().clone() for k, v in params.items()}, final_lr, losses)
