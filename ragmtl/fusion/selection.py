"""Settings chosen on validation queries, and readers compared on the test queries with intervals.

:func:`select_on_validation` trains one reader per point of a small grid (learning rate, and for
the bilinear readers the scale of the identity that ``W_a`` starts from), scores every one on the
*validation* queries, and evaluates only the winner on the test queries: the test set is looked at
once per reader. :func:`compare_accuracies` gives, for pairs of readers scored on the same test
queries, the paired bootstrap interval of the accuracy difference and the exact McNemar test
(``ragmtl.eval.stats``).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ragmtl.eval.stats import Interval, McNemarResult, mcnemar, paired_bootstrap
from ragmtl.utils import progress

from .experiment import MethodResult, TrainConfig, score_reader, train_reader
from .readers import ReaderConfig
from .task import FusionData

__all__ = ["Selection", "select_on_validation", "compare_accuracies"]


@dataclass
class Selection:
    """One reader's grid: ``settings[i]`` (``{"lr": ..., "init_scale": ...}``) scored
    ``val_accuracy[i]`` on validation; ``chosen`` indexes the winner, ``result`` is it on test."""

    method: str
    settings: list[dict]
    val_accuracy: list[float]
    chosen: int
    result: MethodResult

    @property
    def setting(self) -> dict:
        return self.settings[self.chosen]


def select_on_validation(method: str, train: FusionData, val: FusionData, test: FusionData,
                         lrs: Sequence[float], init_scales: Sequence[float] | None = None,
                         reader_config: ReaderConfig | None = None, config: TrainConfig | None = None,
                         show_progress: bool = True, desc: str | None = None) -> Selection:
    """Train ``method`` for every learning rate in ``lrs`` (times every ``init_scale`` when given),
    keep the one with the highest validation accuracy (the first among equals, in grid order) and
    score it on ``test``. Every run uses the same seed, steps and batches as ``config``.

    Raises ``ValueError`` for an empty grid or when validation and test have different classes.
    """
    if not lrs or (init_scales is not None and not init_scales):
        raise ValueError("the grid needs at least one learning rate (and one init_scale when given)")
    if val.n_classes != test.n_classes:
        raise ValueError(f"validation has {val.n_classes} classes, test {test.n_classes}: not the same task")
    config = config or TrainConfig()
    reader_config = reader_config or ReaderConfig(query_dim=train.query.shape[1], doc_dim=train.docs.shape[2],
                                                  n_docs=train.n_docs)
    grid = [{"lr": lr} if init_scales is None else {"lr": lr, "init_scale": s}
            for lr in lrs for s in (init_scales or [None])]
    accuracies, best = [], None
    for setting in progress(grid, desc=desc or method, disable=not show_progress):
        rc = replace(reader_config, init_scale=setting["init_scale"]) if "init_scale" in setting else reader_config
        reader, losses = train_reader(method, train, rc, replace(config, lr=setting["lr"]), show_progress=False)
        accuracies.append(score_reader(reader, losses, val, config).accuracy)
        if best is None or accuracies[-1] > accuracies[best[0]]:
            best = (len(accuracies) - 1, reader, losses)
    chosen, reader, losses = best
    return Selection(method, grid, accuracies, chosen, score_reader(reader, losses, test, config))


def compare_accuracies(correct: Mapping[str, np.ndarray], pairs: Sequence[tuple[str, str]],
                       seed: int = 0) -> dict[tuple[str, str], tuple[Interval, McNemarResult]]:
    """``{(a, b): (interval of accuracy(a) - accuracy(b), McNemar test)}`` from per-query 0/1
    correctness on the same test queries. Raises ``KeyError`` for an unknown reader."""
    out = {}
    for a, b in pairs:
        for name in (a, b):
            if name not in correct:
                raise KeyError(f"unknown reader {name!r}; known: {sorted(correct)}")
        ca, cb = np.asarray(correct[a], float), np.asarray(correct[b], float)
        out[(a, b)] = (paired_bootstrap(ca, cb, seed=seed), mcnemar(ca, cb))
    return out
