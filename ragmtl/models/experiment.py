"""One run of the chapter's grid: build a RAG-MTL model on some of the tasks, train it, score it."""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Sequence

from ..utils import seed_everything
from .config import RAGMTLConfig
from .evaluate import evaluate
from .model import RAGMTLModel, build_model
from .train import TrainConfig, train_ragmtl

__all__ = ["Run", "fit"]


@dataclass
class Run:
    """A trained model, its test ``scores`` ({task: {metric: value}}), per-step ``history`` and
    training time in seconds."""

    model: RAGMTLModel
    scores: dict[str, dict[str, float]]
    history: list[dict[str, float]]
    seconds: float


def fit(config: RAGMTLConfig, train: dict, tests: dict, tasks: Sequence[str] | None = None,
        train_config: TrainConfig | None = None, weighting: str = "equal", adapter: str | None = None,
        generation: bool = True, model_path=None) -> Run:
    """Train ``config`` restricted to ``tasks`` (default: all), with per-task ``adapter`` if given,
    from ``train_config.seed``, and score it on ``tests``. ``weighting`` names a method of
    :func:`ragmtl.mtl.weighting.make_weighting`."""
    from ..mtl.weighting import make_weighting

    train_config = train_config or TrainConfig()
    names = list(tasks) if tasks is not None else config.task_names
    cfg = config.with_tasks(names)
    if adapter is not None:
        cfg = replace(cfg, adapter=adapter)
    seed_everything(train_config.seed)
    pcgrad_seed = {"seed": train_config.seed} if weighting == "pcgrad" else {}  # its projection order
    model = build_model(cfg, model_path, seed=train_config.seed)
    start = time.perf_counter()
    history = train_ragmtl(model, {t: train[t] for t in names}, train_config,
                           make_weighting(weighting, names, **pcgrad_seed), desc=" + ".join(names))
    seconds = time.perf_counter() - start
    return Run(model, evaluate(model, {t: tests[t] for t in names}, generation), history, seconds)
