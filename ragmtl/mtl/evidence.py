"""The MTL chapter's uncertainty: per-item test correctness pooled over seeds, intervals on task
averages, per-task gains and Delta_MTL, and plain-language readings of them.

Every function takes per-item scores (``task -> float [N_test]``, e.g. the fraction of seeds that
got each test item right) so that two systems scored on the same items can be compared paired
(:mod:`ragmtl.eval.stats`). Accuracies and gains are in percentage points.
"""
from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np

from ..eval.stats import (LEVEL, N_RESAMPLES, Interval, bootstrap_delta_mtl, bootstrap_task_mean, paired_bootstrap,
                          seed_interval)
from ..eval.mtl import delta_mtl
from .trainer import TrainResult

__all__ = ["seed_mean_correct", "task_average_interval", "gain_intervals", "delta_interval",
           "robust_verdict", "choose_on_dev",
           "delta_seed_interval", "versus_constant", "distinguishable"]


def seed_mean_correct(results: Sequence[TrainResult]) -> dict[str, np.ndarray]:
    """Per test item, the fraction of ``results`` (one per seed) that got it right: task -> float [N].

    Raises ValueError for no results or results that cover different tasks or test sets.
    """
    if not results:
        raise ValueError("seed_mean_correct needs at least one TrainResult")
    tasks = sorted(results[0].test_correct)
    if not tasks:
        raise ValueError("the TrainResult holds no per-item test correctness (test_correct is empty)")
    out = {}
    for t in tasks:
        rows = [r.test_correct.get(t) for r in results]
        if any(r is None for r in rows) or len({len(r) for r in rows}) != 1:
            raise ValueError(f"task {t!r}: every result must hold test_correct for the same test items")
        out[t] = np.mean(np.stack(rows).astype(float), axis=0)
    return out


def task_average_interval(items_by_task: Mapping[str, Sequence[float]], level: float = LEVEL,
                          n_resamples: int = N_RESAMPLES, seed: int = 0) -> Interval:
    """Mean over tasks of each task's mean per-item score, in percent, with the stratified
    bootstrap interval of :func:`ragmtl.eval.stats.bootstrap_task_mean`."""
    return bootstrap_task_mean(items_by_task, level, n_resamples, seed).scaled(100.0)


def gain_intervals(multi: Mapping[str, Sequence[float]], single: Mapping[str, Sequence[float]],
                   seed: int = 0) -> dict[str, Interval]:
    """Per task, ``multi - single`` accuracy in points with its paired bootstrap interval over items."""
    if set(multi) != set(single):
        raise ValueError(f"multi and single must score the same tasks, got {sorted(multi)} and {sorted(single)}")
    return {t: paired_bootstrap(multi[t], single[t], seed=seed).scaled(100) for t in multi}


def delta_interval(multi: Mapping[str, Sequence[float]], single: Mapping[str, Sequence[float]],
                   seed: int = 0) -> Interval:
    """Delta_MTL (percent) of per-item scores, with the stratified paired bootstrap interval."""
    return bootstrap_delta_mtl(multi, single, seed=seed)


def delta_seed_interval(multi_runs: Sequence[TrainResult], single_runs: Sequence[TrainResult]) -> Interval:
    """Delta_MTL of each multi-task seed against the single-task models' seed-mean accuracies, as a
    t-interval over the multi-task seeds (needs at least 2 of them)."""
    if not single_runs:
        raise ValueError("delta_seed_interval needs single-task runs")
    tasks = list(single_runs[0].test_acc)
    single = {t: float(np.mean([r.test_acc[t] for r in single_runs])) for t in tasks}
    return seed_interval([delta_mtl(r.test_acc, single) for r in multi_runs])


def versus_constant(interval: Interval, value: float, above: str = "above", below: str = "below",
                    level: str = "level with") -> str:
    """``above`` when ``interval`` lies wholly above ``value``, ``below`` when wholly below, else ``level``."""
    if interval.low > value:
        return above
    if interval.high < value:
        return below
    return level


def robust_verdict(items: Interval, seeds: Interval, better: str = "better", worse: str = "worse") -> str:
    """``better`` (``worse``) only when the interval over the test items *and* the one over the seeds
    both lie above (below) zero, else "no measurable difference".

    The item interval alone covers the choice of test items, not the training run; another seed, or
    another machine's arithmetic, moves a bound that sits near zero across it. Asking both keeps a
    verdict from hanging on one run.
    """
    if items.low > 0 and seeds.low > 0:
        return better
    if items.high < 0 and seeds.high < 0:
        return worse
    return "no measurable difference"


def choose_on_dev(dev_by_seed: Mapping[Hashable, Sequence[float]]) -> Hashable:
    """The first listed candidate whose dev score is not measurably below the best candidate's: the
    paired t-interval over the seeds of (candidate - best) reaches zero. ``dev_by_seed`` maps each
    candidate to its dev score per seed, the same seeds in the same order for all (at least 2).

    Candidates the dev sets cannot tell apart go to the first listed (list the simplest first),
    not to whichever one noise puts ahead. Raises ValueError for no candidates or unequal seeds.
    """
    keys = list(dev_by_seed)
    if not keys:
        raise ValueError("choose_on_dev needs at least one candidate")
    n = {len(dev_by_seed[k]) for k in keys}
    if len(n) != 1 or n.pop() < 2:
        raise ValueError(f"every candidate needs the same seeds, at least 2; got {[len(dev_by_seed[k]) for k in keys]}")
    best = max(keys, key=lambda k: float(np.mean(dev_by_seed[k])))
    for k in keys:
        if k == best:
            return k
        diff = np.asarray(dev_by_seed[k], float) - np.asarray(dev_by_seed[best], float)
        if seed_interval(diff).high >= 0:
            return k
    return best


def distinguishable(difference: Interval) -> bool:
    """Whether a difference's interval excludes zero."""
    return not difference.covers(0.0)
