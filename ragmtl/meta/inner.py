"""The inner loop of gradient-based meta-learning, as pure functions over a parameter dict.

A model's parameters are a plain ``dict[str, Tensor]`` and the model is called with
``torch.func.functional_call``, so the k inner steps

    phi_0 = theta,   phi_{j+1} = phi_j - alpha * grad L_support(phi_j)

are an ordinary differentiable function of ``theta`` (Finn et al., 2017, MAML). ``alpha`` is either
one float or, as in Meta-SGD (Li et al., 2017), a dict of tensors shaped like the parameters
(one learned rate per weight). The gradients come from ``torch.func.grad``, so the whole loop
composes with an outer ``torch.func.grad`` (second-order MAML) and with ``torch.func.vmap`` over a
batch of tasks.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Union

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad

__all__ = ["Params", "LossFn", "InnerLR", "init_params", "detached", "functional_loss", "sgd_step",
           "adapt", "check_inner_lr"]

Params = dict[str, Tensor]
LossFn = Callable[[Tensor, Tensor], Tensor]
InnerLR = Union[float, Params]


def init_params(model: nn.Module) -> Params:
    """A leaf copy of ``model``'s parameters (``requires_grad=True``), keyed by parameter name."""
    return {name: p.detach().clone().requires_grad_(True) for name, p in model.named_parameters()}


def detached(params: Params) -> Params:
    """The same tensors cut from any autograd graph (no copy)."""
    return {name: p.detach() for name, p in params.items()}


def functional_loss(model: nn.Module, params: Params, x: Tensor, y: Tensor, loss_fn: LossFn) -> Tensor:
    """``loss_fn(model(x; params), y)`` as a scalar: the model run with ``params`` in place of its own."""
    return loss_fn(functional_call(model, params, (x,)), y)


def check_inner_lr(params: Params, inner_lr: InnerLR) -> None:
    """Raise ``ValueError`` unless ``inner_lr`` is a positive float or a dict of per-parameter rates
    with exactly the keys and shapes of ``params`` (Meta-SGD)."""
    if isinstance(inner_lr, dict):
        if set(inner_lr) != set(params):
            raise ValueError(f"per-parameter inner_lr must have the keys of params; missing "
                             f"{sorted(set(params) - set(inner_lr))}, extra {sorted(set(inner_lr) - set(params))}")
        for name, p in params.items():
            if inner_lr[name].shape != p.shape:
                raise ValueError(f"inner_lr[{name!r}] has shape {tuple(inner_lr[name].shape)}; expected the "
                                 f"parameter's shape {tuple(p.shape)}")
    elif not isinstance(inner_lr, (int, float)) or inner_lr <= 0:
        raise ValueError(f"inner_lr must be a positive float or a dict of per-parameter rates, got {inner_lr!r}")


def sgd_step(params: Params, grads: Params, inner_lr: InnerLR) -> Params:
    """One gradient step ``theta - alpha * g``; ``alpha`` a float or a per-parameter dict (Meta-SGD,
    elementwise product)."""
    if isinstance(inner_lr, dict):
        return {name: p - inner_lr[name] * grads[name] for name, p in params.items()}
    return {name: p - inner_lr * grads[name] for name, p in params.items()}


def adapt(model: nn.Module, params: Params, x: Tensor, y: Tensor, loss_fn: LossFn,
          inner_lr: InnerLR, steps: int) -> Params:
    """``steps`` full-batch gradient steps on ``(x, y)`` from ``params``; returns the adapted dict.

    ``x`` [n, ...] and ``y`` [n, ...] are one task's support set (inside ``vmap`` the task dimension
    is hidden). The result is differentiable with respect to ``params`` (and a dict ``inner_lr``):
    call it under ``torch.func.grad`` for second-order MAML, or on ``detached`` params when only the
    adapted values are needed. Raises ``ValueError`` for ``steps < 0``, a bad ``inner_lr``, or an
    empty support set (its mean loss would be 0/0).
    """
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative int, got {steps!r}")
    if steps and (x.shape[0] == 0 or y.shape[0] != x.shape[0]):
        raise ValueError(f"adapt needs a non-empty support set with one target per input, got x "
                         f"{tuple(x.shape)} and y {tuple(y.shape)}")
    check_inner_lr(params, inner_lr)

    def support_loss(p: Params) -> Tensor:
        return functional_loss(model, p, x, y, loss_fn)

    for _ in range(steps):
        params = sgd_step(params, grad(support_loss)(params), inner_lr)
    return params
