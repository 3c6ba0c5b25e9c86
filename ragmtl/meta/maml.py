"""MAML's meta-gradient, second-order and first-order, averaged over a batch of tasks.

MAML (Finn et al., 2017) minimises ``sum_i L_i^query(U_i(theta))`` where ``U_i`` is the inner loop
(:func:`ragmtl.meta.inner.adapt`) on task ``i``'s support set. Its exact gradient backpropagates
through ``U_i`` and so carries second derivatives of the support loss; first-order MAML drops them
and uses ``grad L_i^query`` evaluated at the adapted parameters. Tasks are mapped with
``torch.func.vmap`` over the leading dimension of a :class:`~ragmtl.meta.samplers.TaskBatch`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.func import grad_and_value, vmap

from .inner import InnerLR, LossFn, Params, adapt, check_inner_lr, detached, functional_loss
from .samplers import TaskBatch

__all__ = ["MetaGrad", "maml_query_loss", "maml_grad", "fomaml_grad", "task_mean"]


@dataclass
class MetaGrad:
    """A meta-gradient: ``params`` (keys of the model's parameters), ``inner_lr`` (the gradient of the
    per-parameter rates of Meta-SGD, else ``None``) and the mean query ``loss`` it came with
    (before adaptation for the methods that do not adapt)."""

    params: Params
    inner_lr: Params | None
    loss: Tensor


def task_mean(batched: Params) -> Params:
    """Mean over the leading task dimension of every tensor of a vmapped dict."""
    return {name: g.mean(0) for name, g in batched.items()}


def maml_query_loss(model: nn.Module, params: Params, inner_lr: InnerLR, support_x: Tensor, support_y: Tensor,
                    query_x: Tensor, query_y: Tensor, loss_fn: LossFn, steps: int) -> Tensor:
    """One task's MAML objective ``L^query(adapt(theta, support))`` (scalar), differentiable in
    ``params`` and a dict ``inner_lr``. Shapes as in :func:`~ragmtl.meta.inner.adapt`, no task dim."""
    adapted = adapt(model, params, support_x, support_y, loss_fn, inner_lr, steps)
    return functional_loss(model, adapted, query_x, query_y, loss_fn)


def maml_grad(model: nn.Module, params: Params, batch: TaskBatch, loss_fn: LossFn, inner_lr: InnerLR,
              steps: int) -> MetaGrad:
    """Second-order MAML: ``(1/T) sum_i d/dtheta L_i^query(adapt(theta))`` through the inner steps.

    With a dict ``inner_lr`` (Meta-SGD, Li et al., 2017) the gradient of the rates is returned too.
    ``batch`` tensors carry the task dimension ``T``; the result has the parameters' shapes.
    """
    check_inner_lr(params, inner_lr)
    params = detached(params)
    learn_lr = isinstance(inner_lr, dict)
    lr = detached(inner_lr) if learn_lr else inner_lr

    def task(p: Params, a: InnerLR, sx: Tensor, sy: Tensor, qx: Tensor, qy: Tensor) -> Tensor:
        return maml_query_loss(model, p, a, sx, sy, qx, qy, loss_fn, steps)

    argnums = (0, 1) if learn_lr else 0
    per_task = vmap(grad_and_value(task, argnums=argnums), in_dims=(None, None, 0, 0, 0, 0))
    grads, losses = per_task(params, lr, *batch.tensors())
    if learn_lr:
        return MetaGrad(task_mean(grads[0]), task_mean(grads[1]), losses.mean())
    return MetaGrad(task_mean(grads), None, losses.mean())


def fomaml_grad(model: nn.Module, params: Params, batch: TaskBatch, loss_fn: LossFn, inner_lr: InnerLR,
                steps: int) -> MetaGrad:
    """First-order MAML: ``(1/T) sum_i grad L_i^query(phi_i)`` with ``phi_i = adapt(theta)`` treated as
    a constant (the Jacobian of the inner loop replaced by the identity; Finn et al., 2017, sec. 5.2).

    Per-parameter learned rates are refused (``ValueError``): their gradient needs the inner loop's
    derivative, which first-order MAML drops by definition.
    """
    if isinstance(inner_lr, dict):
        raise ValueError("first-order MAML has no gradient for learned per-parameter inner rates "
                         "(Meta-SGD); use maml_grad or a float inner_lr")
    check_inner_lr(params, inner_lr)
    params = detached(params)

    def adapted_of(sx: Tensor, sy: Tensor) -> Params:
        return adapt(model, params, sx, sy, loss_fn, inner_lr, steps)

    def query_loss(p: Params, qx: Tensor, qy: Tensor) -> Tensor:
        return functional_loss(model, p, qx, qy, loss_fn)

    with torch.no_grad():  # torch.func.grad still differentiates inside; nothing else is recorded
        adapted = vmap(adapted_of)(batch.support_x, batch.support_y)
        grads, losses = vmap(grad_and_value(query_loss))(adapted, batch.query_x, batch.query_y)
    return MetaGrad(task_mean(grads), None, losses.mean())

