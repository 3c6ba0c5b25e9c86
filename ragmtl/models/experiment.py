"""One run of the chapter's grid: build a RAG-MTL model on some of the tasks, train it, score it."""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Sequence

from ..utils import seed_everything
from .config import RAGMTLConfig
from .evaluate import predict, score
from .model import RAGMTLModel, build_model
from .train import TrainConfig, train_ragmtl

__all__ = ["Run", "fit"]


@dataclass
class Run:
    """A trained model, its test ``scores`` ({task: {metric: value}}), per-step ``history``, training
    time in seconds, and the ``predictions`` behind the scores ({task: one per test example}; per-item
    scores for intervals come from :func:`ragmtl.models.item_scores`)."""

    model: RAGMTLModel | None
    scores: dict[str, dict[str, float]]
    history: list[dict[str, float]]
    seconds: float
    predictions: dict[str, list] = field(default_factory=dict)


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
    predictions = {t: predict(model, tests[t]) for t in names}
    scores = {t: score(tests[t], predictions[t], generation) for t in names}
    return Run(model, scores, history, seconds, predictions)
