"""The chapter's experiment grid as plain functions: build a model by name, run one seeded
configuration, and summarise runs into mean/std tables (no plotting, no printing)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from .architectures import HardSharing, HardSharingConfig, MMoE, MMoEConfig, SoftSharing, SoftSharingConfig
from .architectures.base import MultiTaskModel
from .trainer import TaskData, TrainConfig, TrainResult, train_multitask
from .weighting import make_weighting

__all__ = ["MODELS", "WEIGHTING_OPTIONS", "build_model", "run_config", "mean_std"]

MODELS = ("stl", "hard", "soft", "cross-stitch", "mmoe")
# Options of the weightings in the chapter's runs. DWA's "epoch" is a window of optimiser steps: 25
# steps (the evaluation interval) let its weights move after 50 of the 150 steps.
WEIGHTING_OPTIONS: dict[str, dict] = {"dwa": {"window": 25}}


def build_model(name: str, num_classes: dict[str, int], in_dim: int, hidden_dim: int = 256,
                num_experts: int = 4, dropout: float = 0.1) -> MultiTaskModel:
    """``stl``: independent towers (soft sharing with zero coupling = one single-task MLP per task);
    ``hard``: shared trunk; ``soft``: L2-coupled towers; ``cross-stitch``: uncoupled towers mixed by
    cross-stitch units (Misra et al., 2016); ``mmoe``: ``num_experts`` experts of width
    ``hidden_dim // num_experts`` (the same total width as the hard-sharing trunk)."""
    if name == "stl":
        return SoftSharing(num_classes, SoftSharingConfig(in_dim, hidden_dim, dropout, coupling=0.0))
    if name == "soft":
        return SoftSharing(num_classes, SoftSharingConfig(in_dim, hidden_dim, dropout, coupling=1e-2))
    if name == "cross-stitch":
        return SoftSharing(num_classes, SoftSharingConfig(in_dim, hidden_dim, dropout, coupling=0.0, cross_stitch=True))
    if name == "hard":
        return HardSharing(num_classes, HardSharingConfig(in_dim, hidden_dim, 1, dropout))
    if name == "mmoe":
        return MMoE(num_classes, MMoEConfig(in_dim, num_experts, hidden_dim // num_experts, dropout))
    raise ValueError(f"unknown model {name!r}; known: {list(MODELS)}")


def run_config(data: dict[str, TaskData], model: str, weighting: str, seed: int, config: TrainConfig,
               hidden_dim: int = 256) -> TrainResult:
    """Seed, build ``model`` over the tasks of ``data``, train with ``weighting``; single-task
    models (``stl``) choose each task's checkpoint on its own dev set, shared models one for all."""
    torch.manual_seed(seed)
    num_classes = {t: d.num_classes for t, d in data.items()}
    in_dim = next(iter(data.values())).x_train.shape[1]
    net = build_model(model, num_classes, in_dim, hidden_dim)
    kwargs = {"seed": seed} if weighting == "pcgrad" else dict(WEIGHTING_OPTIONS.get(weighting, {}))
    config = replace(config, seed=seed, select="per_task" if model == "stl" else "mean")
    return train_multitask(net, make_weighting(weighting, list(data), **kwargs), data, config,
                           desc=f"{model}/{weighting}/{seed}")


def mean_std(runs: list[dict[str, float]], scale: float = 100.0) -> tuple[dict[str, float], dict[str, float]]:
    """Per-task mean and sample std (ddof=1 for more than one run) over ``runs`` of task -> score."""
    if not runs:
        raise ValueError("mean_std needs at least one run")
    tasks = list(runs[0])
    values = np.array([[r[t] for t in tasks] for r in runs]) * scale
    std = values.std(0, ddof=1) if len(runs) > 1 else np.zeros(len(tasks))
    return dict(zip(tasks, values.mean(0).tolist())), dict(zip(tasks, std.tolist()))
