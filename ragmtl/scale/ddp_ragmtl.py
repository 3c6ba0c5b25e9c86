"""Data-parallel training of the RAG-MTL model (:mod:`ragmtl.models`) inside a ``torch.distributed`` group.

:func:`train_ragmtl_ddp` is :func:`ragmtl.models.train_ragmtl` for rank r of N, the way
:mod:`ragmtl.scale.ddp` does it for the MTL trainer: every rank draws the same global rows per
task (``rng.choice(trainable rows, N * batch, replace=False)``, one seeded generator per task, the
one-process draw when N = 1), keeps its contiguous share, runs every task in one forward through
``DistributedDataParallel`` (gradients averaged over ranks), and hands the weighting the losses
with their values averaged over ranks (the same weights everywhere; GradNorm / PCGrad refused).
Padding differs between a rank's batch and the global one, and bf16 autocast rounds, so the match
with a one-process run is approximate here; the exact fp32 check is on the MTL trainer.
The caller initialises the process group (``torch.distributed.init_process_group``) and decides
who saves (rank 0): see :mod:`ragmtl.cli.train`'s ``--nproc``.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..models.train import TrainConfig, make_optimizer
from ..mtl.weighting import EqualWeighting
from ..utils import bf16_autocast
from .ddp import check_weighting

__all__ = ["TaskLosses", "train_ragmtl_ddp"]


class TaskLosses(nn.Module):
    """``forward({task: batch}) -> losses [T]`` (task order of the dict): one forward for all tasks."""

    def __init__(self, model: nn.Module, bf16: bool | None) -> None:
        super().__init__()
        self.model, self.bf16 = model, bf16

    def forward(self, batches: dict[str, dict]) -> torch.Tensor:
        losses = []
        for t, batch in batches.items():
            with bf16_autocast(self.bf16):
                out = self.model(t, batch)
            losses.append(self.model.loss(t, out, batch).float())
        return torch.stack(losses)


def train_ragmtl_ddp(model, train: dict, config: TrainConfig | None = None, weighting=None) -> list[dict]:
    """Train ``model`` in place on this rank's share of every step (the process group must exist);
    return per-step globally averaged losses and weights, as :func:`~ragmtl.models.train_ragmtl` does."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    config = config or TrainConfig()
    rank, world = dist.get_rank(), dist.get_world_size()
    if sorted(train) != sorted(model.tasks):
        raise ValueError(f"training splits {sorted(train)} must be exactly the model's tasks {sorted(model.tasks)}")
    weighting = weighting or EqualWeighting(model.tasks)
    check_weighting(weighting)
    sizes = {}
    for t in model.tasks:
        kind = model.config.task(t).kind
        rows = train[t].trainable_rows
        sizes[t] = min(config.batch_size[kind], len(rows) // world)
        if sizes[t] < 1:
            raise ValueError(f"task {t!r} has {len(rows)} trainable examples: fewer than the {world} ranks")
    torch.manual_seed(config.seed + rank)
    rngs = {t: np.random.default_rng([config.seed, i]) for i, t in enumerate(model.tasks)}
    optim, sched = make_optimizer(model, weighting, config)
    replica = DistributedDataParallel(TaskLosses(model, config.bf16), find_unused_parameters=True)
    shared, history = model.shared_parameters(), []
    model.train()
    for _ in range(config.steps):
        optim.zero_grad(set_to_none=True)
        batches = {}
        for t in model.tasks:
            rows = rngs[t].choice(train[t].trainable_rows, size=sizes[t] * world, replace=False)
            batches[t] = train[t].batch(rows[rank * sizes[t]:(rank + 1) * sizes[t]].tolist())
        local = replica(batches)
        mean = local.detach().clone()
        dist.all_reduce(mean)
        mean /= world
        synced = local + (mean - local.detach())
        weights = weighting.backward({t: synced[i] for i, t in enumerate(model.tasks)}, shared)
        optim.step()
        sched.step()
        history.append({**{f"loss/{t}": float(mean[i]) for i, t in enumerate(model.tasks)},
                        **{f"weight/{t}": w for t, w in weights.items()}})
    model.eval()
    return history
