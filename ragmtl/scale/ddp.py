"""Data-parallel multi-task training on ``torch.distributed`` (gloo on CPU): N processes, one model.

Every process (rank r of N) holds a replica of the model. Each step, all ranks draw the same
global mini-batch with one seeded generator (exactly as :func:`ragmtl.mtl.train_multitask`
draws it, with N times the per-process batch), and rank r keeps its contiguous share of every
task's rows. The model runs once per step through ``DistributedDataParallel`` (Li et al., 2020),
whose backward hooks average the gradients over ranks while they are computed. The per-task loss
*values* are averaged over ranks before the weighting sees them (``L_t + (mean_r L_t - L_t).detach()``:
the gradient stays the local one, the value is the global one), so a loss-based weighting (equal,
uncertainty, DWA) computes the same weights on every rank and the run follows the one-process run
with the N-times larger batch (fp32 rounding aside). Gradient-based weightings (GradNorm, PCGrad)
look at per-task gradients of the local batch, which would need one all-reduce per task: they are
refused. Dropout is seeded per rank (``seed + rank``); DDP broadcasts rank 0's initial weights.
Only rank 0 writes: the trained model through :func:`ragmtl.sharing.save_pretrained` (a whole
folder swapped in at the end, so a failed run leaves no folder that loads), with ``history.json``.

Launch with :func:`launch_multitask` (``torch.multiprocessing`` spawn; a failing rank stops the
others and raises :class:`DistributedRunError` naming it), or under ``torchrun``
(``torchrun --nproc-per-node N script.py`` calling :func:`train_multitask_rank` with
``int(os.environ["RANK"])``).
"""
from __future__ import annotations

import copy
import json
import os
import socket
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..mtl.trainer import TaskData, TrainConfig, task_batch_sizes
from ..mtl.weighting import GradNorm, PCGrad

__all__ = ["DDPConfig", "DistributedRunError", "AllTasks", "local_rows", "train_multitask_rank",
           "launch_multitask", "free_port", "check_weighting"]

HISTORY_NAME = "history.json"


class DistributedRunError(RuntimeError):
    """A rank of a data-parallel run raised: the message names the rank and its error."""


@dataclass(frozen=True)
class DDPConfig:
    """How to run: ``world_size`` processes, ``backend`` (gloo: CPU), ``port`` (0 = a free one)."""

    world_size: int = 2
    backend: str = "gloo"
    port: int = 0
    timeout_s: float = 120.0  # a collective that waits longer than this fails instead of hanging
    threads_per_rank: int = 1  # torch intra-op threads per process (2 cores, 2 ranks: 1 each)

    def __post_init__(self) -> None:
        if self.world_size < 1 or self.threads_per_rank < 1 or self.timeout_s <= 0:
            raise ValueError(f"world_size and threads_per_rank must be >= 1 and timeout_s > 0, got {self}")


class AllTasks(nn.Module):
    """``forward({task: x [B_t, D]}) -> {task: logits [B_t, C_t]}``: every task in one forward, as DDP needs."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {t: self.model(x, t) for t, x in inputs.items()}


def local_rows(rows: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """Rank ``rank``'s contiguous share of a global batch's ``rows`` [B]: [B / world_size]; raises
    ``ValueError`` when B does not split evenly (the ranks' means would not average to the global one)."""
    if len(rows) % world_size:
        raise ValueError(f"a task's global batch of {len(rows)} rows does not split over {world_size} ranks")
    n = len(rows) // world_size
    return rows[rank * n:(rank + 1) * n]


def free_port() -> int:
    """A TCP port on 127.0.0.1 free at the time of the call."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_weighting(weighting) -> None:
    """Raise ``ValueError`` for a gradient-based weighting (GradNorm, PCGrad): see the module docstring."""
    if isinstance(weighting, (GradNorm, PCGrad)):
        raise ValueError(f"{type(weighting).__name__} looks at per-task gradients of the local batch; data-parallel "
                         "training supports the loss-based weightings (equal, uncertainty, DWA)")


def train_multitask_rank(rank: int, model: nn.Module, weighting, data: dict[str, TaskData], config: TrainConfig,
                         ddp: DDPConfig, out: str | None, model_config: Any = None, port: int | None = None) -> None:
    """Rank ``rank``'s part of a data-parallel :func:`~ragmtl.mtl.train_multitask` run (training only,
    ``config.steps`` AdamW steps, per-process batch ``config.batch_size``); rank 0 saves to ``out``.
    ``model`` and ``weighting`` are copied first: the caller's objects are never modified."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    check_weighting(weighting)
    # spawned ranks receive the parent's tensors in shared memory: train copies, never the caller's model
    model, weighting = copy.deepcopy(model), copy.deepcopy(weighting)
    torch.set_num_threads(ddp.threads_per_rank)
    world = ddp.world_size
    dist.init_process_group(ddp.backend, init_method=f"tcp://127.0.0.1:{port or ddp.port}", rank=rank,
                            world_size=world, timeout=timedelta(seconds=ddp.timeout_s))
    try:
        tasks = list(data)
        torch.manual_seed(config.seed + rank)  # dropout: each rank its own masks
        gen = torch.Generator().manual_seed(config.seed)  # the global batch: the same draw on every rank
        sizes = task_batch_sizes({t: len(data[t].y_train) for t in tasks}, config.batch_size * world,
                                 config.sampling, config.temperature)
        replica = DistributedDataParallel(AllTasks(model))
        params = list(model.parameters()) + list(weighting.parameters())
        optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        shared, history = model.shared_parameters(), []
        model.train()
        for _ in range(config.steps):
            optimizer.zero_grad(set_to_none=True)
            rows = {t: local_rows(torch.randint(len(data[t].y_train), (sizes[t],), generator=gen), rank, world)
                    for t in tasks}
            logits = replica({t: data[t].x_train[rows[t]] for t in tasks})
            local = torch.stack([F.cross_entropy(logits[t], data[t].y_train[rows[t]]) for t in tasks])
            mean = local.detach().clone()
            dist.all_reduce(mean)
            mean /= world
            synced = local + (mean - local.detach())
            weights = weighting.backward({t: synced[i] for i, t in enumerate(tasks)}, shared)
            reg = model.regularizer()
            if isinstance(reg, torch.Tensor) and reg.requires_grad:
                reg.backward()  # the same on every rank: its gradient needs no averaging
            optimizer.step()
            history.append({"loss": {t: float(mean[i]) for i, t in enumerate(tasks)}, "weights": weights})
        if rank == 0 and out is not None:
            _save(out, model, model_config, history)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _save(out: str, model: nn.Module, model_config: Any, history: list[dict]) -> None:
    from ..sharing import save_pretrained

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / HISTORY_NAME
        path.write_text(json.dumps(history, allow_nan=False) + "\n")
        save_pretrained(out, model, model_config if model_config is not None else model.config,
                        extra_files={HISTORY_NAME: path})


def launch_multitask(model: nn.Module, weighting, data: dict[str, TaskData], config: TrainConfig, out: str | Path,
                     ddp: DDPConfig | None = None, model_config: Any = None) -> None:
    """Train on ``ddp.world_size`` spawned processes; the trained model is saved in ``out`` by rank 0.

    ``config.batch_size`` is the per-process batch. Raises ``ValueError`` for GradNorm / PCGrad and :class:`DistributedRunError` (naming the
    rank and its error) when any rank fails; the other ranks are stopped and ``out`` is not written.
    """
    ddp = ddp or DDPConfig()
    check_weighting(weighting)
    port = ddp.port or free_port()
    args = (model, weighting, data, config, ddp, os.fspath(out), model_config, port)
    spawn_ranks(train_multitask_rank, args, ddp.world_size, out)


def spawn_ranks(fn, args: tuple, nprocs: int, out) -> None:
    """Run ``fn(rank, *args)`` on ``nprocs`` spawned processes; a failing rank becomes a
    :class:`DistributedRunError` naming it (and saying that nothing was saved to ``out``)."""
    import torch.multiprocessing as mp

    try:
        mp.start_processes(fn, args=args, nprocs=nprocs, join=True, start_method="spawn")
    except mp.ProcessRaisedException as err:
        last = str(err).strip().splitlines()[-1]
        raise DistributedRunError(f"rank {err.error_index} of {nprocs} failed: {last}; "
                                  f"nothing was saved to {out}") from None
    except mp.ProcessExitedException as err:
        raise DistributedRunError(f"rank {err.error_index} of {nprocs} exited with code {err.exit_code}; "
                                  f"nothing was saved to {out}") from None
