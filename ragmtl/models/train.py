"""Training the RAG-MTL model: every step, one mini-batch per task, combined by a task weighting.

The per-task losses go to a :class:`ragmtl.mtl.weighting.Weighting` (equal, uncertainty, DWA,
GradNorm, PCGrad: the MTL chapter's methods, same interface), which back-propagates their combined
update through the shared layers; AdamW with warm-up and linear decay steps. Rows are drawn with a
seeded generator per task, so a run repeats exactly on one machine. Each task has its own batch
size, because a question read with a passage is ten times longer than a TREC question.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..mtl.weighting import EqualWeighting
from ..mtl.weighting.base import Weighting
from ..utils import bf16_autocast, progress, warmup_linear_decay
from .model import RAGMTLModel

__all__ = ["TrainConfig", "train_ragmtl"]


@dataclass
class TrainConfig:
    steps: int = 100  # optimiser steps (fixed, never a time budget)
    batch_size: dict[str, int] = field(default_factory=lambda: {"classification": 16, "extractive_qa": 12})
    lr: float = 5e-4  # shared layers and adapters
    head_lr: float = 3e-3
    weight_decay: float = 0.01
    warmup_steps: int = 10
    seed: int = 0
    bf16: bool | None = None  # None: bf16 autocast where the CPU does it natively
    show_progress: bool = True

    def __post_init__(self) -> None:
        if self.steps < 1 or self.warmup_steps < 0:
            raise ValueError(f"steps must be >= 1 and warmup_steps >= 0, got {self.steps}, {self.warmup_steps}")
        bad = {k: v for k, v in self.batch_size.items() if v < 1}
        if bad:
            raise ValueError(f"batch sizes must be >= 1, got {bad}")



def make_optimizer(model, weighting, config):
    """AdamW with the body at ``config.lr``, the heads (and any weighting parameters) at
    ``config.head_lr``, and warm-up then linear decay: (optimizer, scheduler)."""
    heads = [p for p in model.heads.parameters() if p.requires_grad]
    head_ids = {id(p) for p in heads}
    body = [p for p in model.parameters() if p.requires_grad and id(p) not in head_ids]
    groups = [{"params": body, "lr": config.lr}, {"params": heads, "lr": config.head_lr}]
    if list(weighting.parameters()):
        groups.append({"params": list(weighting.parameters()), "lr": config.head_lr, "weight_decay": 0.0})
    optim = torch.optim.AdamW([g for g in groups if g["params"]], weight_decay=config.weight_decay)
    return optim, warmup_linear_decay(optim, config.warmup_steps, config.steps)

def train_ragmtl(model: RAGMTLModel, train: dict, config: TrainConfig | None = None,
                 weighting: Weighting | None = None, desc: str = "training") -> list[dict[str, float]]:
    """Train ``model`` on the training splits ``train`` (task -> split, exactly the model's tasks).

    ``weighting`` defaults to equal weighting over the model's tasks. Returns, per step, each task's
    loss and the weights used (``{"loss/<task>": ..., "weight/<task>": ...}``).
    """
    config = config or TrainConfig()
    if sorted(train) != sorted(model.tasks):
        raise ValueError(f"training splits {sorted(train)} must be exactly the model's tasks {sorted(model.tasks)}")
    weighting = weighting or EqualWeighting(model.tasks)
    if sorted(weighting.tasks) != sorted(model.tasks):
        raise ValueError(f"weighting tasks {weighting.tasks} differ from the model's tasks {model.tasks}")
    sizes = {}
    for t in model.tasks:
        kind = model.config.task(t).kind
        if kind not in config.batch_size:
            raise ValueError(f"no batch size for task kind {kind!r}; config.batch_size has {sorted(config.batch_size)}")
        rows = train[t].trainable_rows
        if len(rows) == 0:
            raise ValueError(f"task {t!r} has no trainable example")
        sizes[t] = min(config.batch_size[kind], len(rows))
    torch.manual_seed(config.seed)
    rngs = {t: np.random.default_rng([config.seed, i]) for i, t in enumerate(model.tasks)}
    shared = model.shared_parameters()
    optim, sched = make_optimizer(model, weighting, config)
    history = []
    model.train()
    for _ in progress(range(config.steps), total=config.steps, desc=desc, disable=not config.show_progress):
        optim.zero_grad(set_to_none=True)
        losses = {}
        for t in model.tasks:
            rows = rngs[t].choice(train[t].trainable_rows, size=sizes[t], replace=False).tolist()
            batch = train[t].batch(rows)
            with bf16_autocast(config.bf16):
                out = model(t, batch)
            losses[t] = model.loss(t, out, batch)
        weights = weighting.backward(losses, shared)
        optim.step()
        sched.step()
        history.append({**{f"loss/{t}": float(v.detach()) for t, v in losses.items()},
                        **{f"weight/{t}": w for t, w in weights.items()}})
    model.eval()
    return history
