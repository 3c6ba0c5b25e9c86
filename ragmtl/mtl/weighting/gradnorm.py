"""GradNorm (Chen, Badrinarayanan, Lee & Rabinovich, 2018).

Task weights ``w_t`` are tuned so that the gradient norms of the weighted losses on the last shared
layer ``W``, ``G_t = ||grad_W w_t L_t|| = w_t ||grad_W L_t||``, move toward a common target
``mean(G) * r_t^alpha``, where ``r_t = (L_t / L_t(0)) / mean_s(L_s / L_s(0))`` is the task's relative
inverse training rate. Each call takes one Adam step (learning rate ``lr``) on
``L_grad = sum_t |G_t - target_t|`` with the target held constant, then renormalises ``sum_t w_t = T``.
The model's update uses the weights from before that step.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import Weighting, task_gradients

__all__ = ["GradNorm", "gradnorm_loss"]


def gradnorm_loss(weights: Tensor, grad_norms: Tensor, losses: Tensor, initial_losses: Tensor,
                  alpha: float) -> Tensor:
    """``sum_t |w_t g_t - mean(w g) r_t^alpha|`` (target detached), differentiable in ``weights``.
    ``weights``, ``grad_norms`` (of the unweighted losses), ``losses``, ``initial_losses``: all [T]."""
    if not (weights.shape == grad_norms.shape == losses.shape == initial_losses.shape) or weights.dim() != 1:
        raise ValueError("weights, grad_norms, losses and initial_losses must all be [T]")
    g = weights * grad_norms
    ratio = losses / initial_losses
    target = (g.mean() * (ratio / ratio.mean()) ** alpha).detach()
    return (g - target).abs().sum()


class GradNorm(Weighting):
    """Adaptive loss weights that balance per-task gradient norms on the last shared layer."""

    def __init__(self, tasks: list[str], alpha: float = 1.5, lr: float = 0.025) -> None:
        super().__init__(tasks)
        self.alpha = alpha
        self._weights = nn.Parameter(torch.ones(len(tasks)), requires_grad=False)  # own optimiser, not the model's
        self.optimizer = torch.optim.Adam([self._weights], lr=lr)
        self.initial_losses: Tensor | None = None

    @property
    def weights(self) -> Tensor:
        return self._weights.detach()

    def parameters(self, recurse: bool = True):  # the trainer's optimiser must not touch the weights
        return iter(())

    def backward(self, losses: dict[str, Tensor], shared: list[Tensor]) -> dict[str, float]:
        stacked = self.stack(losses)
        matrices = [p for p in shared if p.dim() >= 2]
        if not matrices:
            raise ValueError("GradNorm needs at least one shared weight matrix (got no shared 2-d parameter)")
        if self.initial_losses is None:
            self.initial_losses = stacked.detach().clamp(min=1e-12)
        grad_norms = task_gradients(list(stacked), [matrices[-1]]).norm(dim=1)
        used = self.weights.clone()
        (used * stacked).sum().backward()
        w = self._weights.detach().clone().requires_grad_(True)
        (grad_w,) = torch.autograd.grad(gradnorm_loss(w, grad_norms, stacked.detach(), self.initial_losses,
                                                      self.alpha), w)
        self._weights.grad = grad_w
        self.optimizer.step()
        with torch.no_grad():
            self._weights.clamp_(min=1e-3)
            self._weights.mul_(self.num_tasks / self._weights.sum())
        return self.as_dict(used)
