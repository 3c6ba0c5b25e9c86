"""A seeded multi-task trainer over fixed input features, with task sampling and per-task metrics.

Every step draws one mini-batch that mixes all tasks; how many of its ``batch_size`` examples come
from task ``t`` follows the sampling scheme over the training-set sizes ``n_t``:
``proportional`` (p_t ∝ n_t), ``uniform`` (p_t = 1/T) or ``temperature`` (p_t ∝ n_t^(1/tau), Arivazhagan
et al., 2019; tau = 1 is proportional, tau -> inf uniform). Each task's rows go through the model
separately, the per-task losses go to a :class:`~ragmtl.mtl.weighting.Weighting`, and AdamW steps.
Every ``eval_every`` steps dev and test accuracy / macro-F1 are recorded; the reported test scores
are those of the step chosen on dev (the best mean dev accuracy, or each task's own best dev step
when ``select="per_task"``, right for independent single-task models). Per-item test correctness
at the chosen step is kept too (``TrainResult.test_correct``), for paired intervals over test items.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..utils import progress
from .architectures.base import MultiTaskModel
from .metrics import accuracy, macro_f1
from .weighting.base import Weighting

__all__ = ["TaskData", "TrainConfig", "TrainResult", "task_batch_sizes", "train_multitask"]


@dataclass
class TaskData:
    """One task's features and labels: ``x_*`` float32 [N, D], ``y_*`` int64 [N]."""

    name: str
    num_classes: int
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_dev: torch.Tensor
    y_dev: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    def __post_init__(self) -> None:
        """Refuse, naming the task and split, an empty split, x and y of different lengths, or a label
        outside ``range(num_classes)`` (each would fail later with a cryptic torch error)."""
        if self.num_classes < 2:
            raise ValueError(f"task {self.name!r}: num_classes must be >= 2, got {self.num_classes}")
        for split in ("train", "dev", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if len(x) == 0:
                raise ValueError(f"task {self.name!r} has an empty {split} split: expected at least one example")
            if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
                raise ValueError(f"task {self.name!r}, {split} split: expected x [N, D] and y [N], got "
                                 f"{tuple(x.shape)} and {tuple(y.shape)}")
            if int(y.min()) < 0 or int(y.max()) >= self.num_classes:
                raise ValueError(f"task {self.name!r}, {split} split: labels must be in [0, {self.num_classes}), "
                                 f"got {int(y.min())}..{int(y.max())}")


@dataclass
class TrainConfig:
    steps: int = 300  # optimiser steps
    batch_size: int = 1024  # examples per step, all tasks together
    lr: float = 1e-3
    weight_decay: float = 1e-4  # AdamW decoupled weight decay
    sampling: str = "proportional"  # "proportional", "uniform" or "temperature"
    temperature: float = 2.0  # tau of temperature sampling
    eval_every: int = 25
    select: str = "mean"  # checkpoint choice on dev: "mean" (one step for all tasks) or "per_task"
    seed: int = 0
    show_progress: bool = True

    def __post_init__(self) -> None:
        if self.sampling not in ("proportional", "uniform", "temperature"):
            raise ValueError(f"sampling must be 'proportional', 'uniform' or 'temperature', got {self.sampling!r}")
        if self.select not in ("mean", "per_task"):
            raise ValueError(f"select must be 'mean' or 'per_task', got {self.select!r}")
        if self.steps < 1 or self.batch_size < 1 or self.eval_every < 1 or self.temperature <= 0:
            raise ValueError("steps, batch_size, eval_every and temperature must be positive")


@dataclass
class TrainResult:
    """Test scores at the chosen steps (``test_acc``, ``test_f1``: task -> fraction), the chosen
    ``best_step`` per task, the full ``history`` (one dict per evaluation) and task ``weights``, and
    ``test_correct``: task -> bool [N_test], which test items the chosen checkpoint got right."""

    test_acc: dict[str, float]
    test_f1: dict[str, float]
    dev_acc: dict[str, float]
    best_step: dict[str, int]
    history: list[dict] = field(default_factory=list)
    weights: list[dict[str, float]] = field(default_factory=list)
    test_correct: dict[str, np.ndarray] = field(default_factory=dict)


def task_batch_sizes(sizes: dict[str, int], batch_size: int, sampling: str = "proportional",
                     temperature: float = 2.0) -> dict[str, int]:
    """Split ``batch_size`` over tasks by the sampling scheme (largest remainders, at least 1 each)."""
    empty = [t for t, n in sizes.items() if n < 1]
    if empty:
        raise ValueError(f"tasks {empty} have no training example: expected at least one per task")
    if batch_size < len(sizes):
        raise ValueError(f"batch_size {batch_size} is smaller than the number of tasks {len(sizes)}")
    n = np.array([sizes[t] for t in sizes], dtype=float)
    if sampling == "proportional":
        p = n
    elif sampling == "uniform":
        p = np.ones_like(n)
    elif sampling == "temperature":
        p = n ** (1.0 / temperature)
    else:
        raise ValueError(f"unknown sampling {sampling!r}; expected 'proportional', 'uniform' or 'temperature'")
    raw = p / p.sum() * batch_size
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts), kind="stable")[: batch_size - counts.sum()]:
        counts[i] += 1
    while (counts == 0).any():  # every task gets at least one example, taken from the largest share
        counts[np.argmax(counts)] -= 1
        counts[np.argmin(counts)] += 1
    return {t: int(c) for t, c in zip(sizes, counts)}


@torch.no_grad()
def _scores(model: MultiTaskModel, data: dict[str, TaskData],
            split: str) -> tuple[dict[str, tuple[float, float]], dict[str, np.ndarray]]:
    """(task -> (accuracy, macro-F1), task -> per-item correctness bool [N]) on ``split``."""
    out, correct = {}, {}
    for task, d in data.items():
        x, y = getattr(d, f"x_{split}"), getattr(d, f"y_{split}")
        pred = model(x, task).argmax(-1).numpy()
        out[task] = (accuracy(pred.tolist(), y.tolist()), macro_f1(pred.tolist(), y.tolist()))
        correct[task] = pred == y.numpy()
    return out, correct


def train_multitask(model: MultiTaskModel, weighting: Weighting, data: dict[str, TaskData],
                    config: TrainConfig | None = None, desc: str = "train") -> TrainResult:
    """Train ``model`` on all tasks of ``data`` with ``weighting``; deterministic given ``config.seed``."""
    config = config or TrainConfig()
    tasks = list(data)
    if sorted(tasks) != sorted(weighting.tasks) or sorted(tasks) != sorted(model.tasks):
        raise ValueError(f"model tasks {model.tasks}, weighting tasks {weighting.tasks} and data tasks {tasks} "
                         "must be the same")
    torch.manual_seed(config.seed)  # dropout
    gen = torch.Generator().manual_seed(config.seed)
    sizes = task_batch_sizes({t: len(data[t].y_train) for t in tasks}, config.batch_size, config.sampling,
                             config.temperature)
    params = list(model.parameters()) + list(weighting.parameters())
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    shared = model.shared_parameters()
    history, weights = [], []
    for step in progress(range(1, config.steps + 1), total=config.steps, desc=desc,
                         disable=not config.show_progress):
        model.train()
        optimizer.zero_grad(set_to_none=True)
        losses = {}
        for t in tasks:
            idx = torch.randint(len(data[t].y_train), (sizes[t],), generator=gen)
            losses[t] = F.cross_entropy(model(data[t].x_train[idx], t), data[t].y_train[idx])
        weights.append(weighting.backward(losses, shared))
        reg = model.regularizer()
        if isinstance(reg, torch.Tensor) and reg.requires_grad:
            reg.backward()
        optimizer.step()
        if step % config.eval_every == 0 or step == config.steps:
            model.eval()
            (dev, _), (test, test_correct) = _scores(model, data, "dev"), _scores(model, data, "test")
            history.append({"step": step, "train_loss": {t: float(v.detach()) for t, v in losses.items()},
                            "dev": dev, "test": test, "test_correct": test_correct})
    return _select(history, tasks, config.select, weights)


def _select(history: list[dict], tasks: list[str], select: str, weights: list) -> TrainResult:
    if select == "mean":
        best = max(range(len(history)), key=lambda i: (np.mean([history[i]["dev"][t][0] for t in tasks]), -i))
        chosen = {t: best for t in tasks}
    else:
        chosen = {t: max(range(len(history)), key=lambda i: (history[i]["dev"][t][0], -i)) for t in tasks}
    return TrainResult(test_acc={t: history[chosen[t]]["test"][t][0] for t in tasks},
                       test_f1={t: history[chosen[t]]["test"][t][1] for t in tasks},
                       dev_acc={t: history[chosen[t]]["dev"][t][0] for t in tasks},
                       best_step={t: history[chosen[t]]["step"] for t in tasks},
                       history=history, weights=weights,
                       test_correct={t: history[chosen[t]]["test_correct"][t] for t in tasks})
