"""Uncertainty for the book's comparisons: intervals over test items and over seeds, paired tests.

Every comparison the book draws a conclusion from goes through one of these:

- ``bootstrap_mean``: a system's score on per-item values (0/1 correct, EM, F1, nDCG@10 per query)
  with its percentile bootstrap 95% interval (Efron & Tibshirani, 1993).
- ``paired_bootstrap``: the difference ``mean(a) - mean(b)`` of two systems scored on the *same*
  items, resampling items (Koehn, 2004; Dror et al., 2018).
- ``bootstrap_task_mean``: the unweighted mean over tasks of each task's mean score (a macro
  average), with each task's items resampled on their own (a stratified bootstrap).
- ``bootstrap_delta_mtl``: Delta_MTL (``ragmtl.eval.mtl``) with items resampled within each task,
  multi-task and single-task predictions kept paired.
- ``paired_permutation_test`` (approximate randomisation: swap each item's two scores) and
  ``mcnemar`` (exact, on the discordant pairs of two classifiers' correct/incorrect vectors).
- ``seed_interval``: mean +/- t_{n-1, 0.975} s / sqrt(n) over independent seeds.

Resampling is done by ``scipy.stats.bootstrap`` and ``scipy.stats.permutation_test`` with a seeded
generator, so every interval is deterministic. Intervals are :class:`Interval` objects; an interval
that covers zero reads "no measurable difference" (:meth:`Interval.verdict`).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

__all__ = ["Interval", "McNemarResult", "bootstrap_mean", "paired_bootstrap", "bootstrap_task_mean",
           "bootstrap_delta_mtl",
           "paired_permutation_test", "mcnemar", "seed_interval"]

N_RESAMPLES = 10_000
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval ``[low, high]`` at ``level``."""
    estimate: float
    low: float
    high: float
    level: float = LEVEL
    n: int = 0

    def covers(self, value: float = 0.0) -> bool:
        return self.low <= value <= self.high

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def scaled(self, factor: float) -> Interval:
        """The same interval with every bound multiplied by ``factor`` (e.g. 100 for percent)."""
        lo, hi = sorted((self.low * factor, self.high * factor))
        return Interval(self.estimate * factor, lo, hi, self.level, self.n)

    def verdict(self, better: str = "better", worse: str = "worse", margin: float = 0.0) -> str:
        """``better`` when the interval lies above ``margin``, ``worse`` below ``-margin``, else
        "no measurable difference".

        ``margin`` (>= 0, in the interval's units) is a band around zero that a bound must clear: for
        a difference of accuracies over n items, one item's worth (100 / n points) keeps the verdict
        from hanging on a single item, which another machine's arithmetic can flip.
        """
        if margin < 0:
            raise ValueError(f"margin must be >= 0, got {margin}")
        if self.low > margin:
            return better
        if self.high < -margin:
            return worse
        return "no measurable difference"

    def format(self, digits: int = 1, signed: bool = False) -> str:
        """``"84.1 [83.2, 85.0]"``: the estimate and both ends, always in this one form.

        (A "+/-" form for intervals that look symmetric would make the printed *text* depend on the
        last digit of noisy bounds, so a re-run on another machine could change words, not only numbers.)
        """
        sign = "+" if signed else ""
        return f"{self.estimate:{sign}.{digits}f} [{self.low:{sign}.{digits}f}, {self.high:{sign}.{digits}f}]"

    def __str__(self) -> str:
        return self.format(3)


def _items(values, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-d sequence of per-item scores, got shape {arr.shape}")
    if arr.size < 2:
        raise ValueError(f"{name} needs at least 2 items to resample, got {arr.size}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} holds NaN or inf at items {np.flatnonzero(~np.isfinite(arr))[:10].tolist()}")
    return arr


def _paired(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = _items(a, "a"), _items(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"paired scores must cover the same items: got {a.size} and {b.size} items")
    return a, b


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")


def _mean(x, axis=-1):
    return np.mean(x, axis=axis)


def _bootstrap(data: tuple, statistic, estimate: float, n: int, level: float, n_resamples: int,
               seed: int, paired: bool = False) -> Interval:
    _check_level(level)
    res = _st.bootstrap(data, statistic, n_resamples=n_resamples, vectorized=True, paired=paired, axis=-1,
                        confidence_level=level, method="percentile", rng=np.random.default_rng(seed),
                        batch=1000)
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if math.isnan(low):  # every resample gives the same value (e.g. all differences 0)
        low = high = estimate
    return Interval(estimate, low, high, level, n)


def bootstrap_mean(values: Sequence[float], level: float = LEVEL, n_resamples: int = N_RESAMPLES,
                   seed: int = 0) -> Interval:
    """Mean of per-item scores with its percentile bootstrap interval over items.

    Raises ValueError for fewer than 2 items, NaN/inf, or a non-1-d input.
    """
    x = _items(values, "values")
    return _bootstrap((x,), _mean, float(x.mean()), x.size, level, n_resamples, seed)


def paired_bootstrap(a: Sequence[float], b: Sequence[float], level: float = LEVEL,
                     n_resamples: int = N_RESAMPLES, seed: int = 0) -> Interval:
    """``mean(a) - mean(b)`` for two systems' per-item scores on the same items, with the paired
    percentile bootstrap interval (items resampled, each keeping both its scores).

    Raises ValueError when the two inputs cover different numbers of items or are empty.
    """
    a, b = _paired(a, b)
    d = a - b
    return _bootstrap((d,), _mean, float(d.mean()), d.size, level, n_resamples, seed)


def bootstrap_task_mean(per_task: Mapping[str, Sequence[float]] | Sequence[Sequence[float]], level: float = LEVEL,
                        n_resamples: int = N_RESAMPLES, seed: int = 0) -> Interval:
    """Unweighted mean over tasks of each task's mean per-item score, with a stratified percentile
    bootstrap interval: each task's items are resampled on their own, so a large task does not
    drown a small one. ``per_task`` maps task -> per-item scores (or lists them); for a paired
    comparison pass each task's per-item differences of two systems on the same items.

    Raises ValueError for no task, or a task with fewer than 2 items or NaN/inf.
    """
    groups = [per_task[t] for t in sorted(per_task)] if isinstance(per_task, Mapping) else list(per_task)
    if not groups:
        raise ValueError("bootstrap_task_mean needs at least one task")
    samples = tuple(_items(g, f"task {i}") for i, g in enumerate(groups))

    def macro(*xs, axis=-1):
        return np.mean([x.mean(axis) for x in xs], axis=0)

    return _bootstrap(samples, macro, float(macro(*samples)), sum(x.size for x in samples), level, n_resamples,
                      seed)


def bootstrap_delta_mtl(multi_task: Mapping[str, Sequence[float]], single_task: Mapping[str, Sequence[float]],
                        level: float = LEVEL, n_resamples: int = N_RESAMPLES, seed: int = 0) -> Interval:
    """Delta_MTL (percent, higher-is-better metrics) with a paired bootstrap interval: each task's
    test items are resampled on their own (a stratified bootstrap), the multi-task and single-task
    scores of an item staying together. ``multi_task[t]`` and ``single_task[t]`` are per-item
    scores (e.g. 0/1 correct) of task t's test items in the same order.

    Raises ValueError when the tasks differ, a task's two inputs differ in length, or a single-task
    mean is 0.
    """
    if set(multi_task) != set(single_task) or not multi_task:
        raise ValueError(f"multi_task and single_task must score the same non-empty tasks; got "
                         f"{sorted(multi_task)} and {sorted(single_task)}")
    tasks = sorted(multi_task)
    samples = []
    for t in tasks:
        m, s = _paired(multi_task[t], single_task[t])
        if s.mean() == 0:
            raise ValueError(f"task {t!r}: single-task mean is 0, Delta_MTL is undefined")
        samples.append(np.stack([m, s]))

    def delta(*xs, axis=-1):  # each x: (2, [resamples,] items), row 0 multi-task, row 1 single-task
        rel = [(x[0].mean(axis) - x[1].mean(axis)) / np.abs(x[1].mean(axis)) for x in xs]
        return 100.0 * np.mean(rel, axis=0)

    estimate = float(delta(*samples))
    return _bootstrap(tuple(samples), delta, estimate, sum(x.shape[1] for x in samples), level, n_resamples, seed)


def paired_permutation_test(a: Sequence[float], b: Sequence[float], n_resamples: int = N_RESAMPLES,
                            seed: int = 0) -> float:
    """Two-sided p-value of approximate randomisation for ``mean(a) - mean(b)``: under the null,
    each item's two scores are exchangeable (``scipy.stats.permutation_test``, ``samples``)."""
    a, b = _paired(a, b)
    res = _st.permutation_test((a, b), lambda x, y, axis=-1: np.mean(x - y, axis=axis), vectorized=True,
                               permutation_type="samples", n_resamples=n_resamples, axis=-1,
                               rng=np.random.default_rng(seed))
    return float(res.pvalue)


@dataclass(frozen=True)
class McNemarResult:
    """Discordant pairs (``a_only``: a right and b wrong; ``b_only``) and the exact two-sided p-value."""
    a_only: int
    b_only: int
    pvalue: float


def mcnemar(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> McNemarResult:
    """Exact McNemar test (McNemar, 1947) of two classifiers on the same items: a binomial test of
    ``a_only`` successes in ``a_only + b_only`` trials at p = 1/2 (``scipy.stats.binomtest``).

    Inputs are per-item correctness (bool or 0/1). Raises ValueError on unpaired, empty or
    non-binary inputs.
    """
    a, b = _paired(correct_a, correct_b)
    if not (np.isin(a, (0, 1)).all() and np.isin(b, (0, 1)).all()):
        raise ValueError("mcnemar needs per-item correctness as 0/1 or bool")
    a_only, b_only = int(((a == 1) & (b == 0)).sum()), int(((a == 0) & (b == 1)).sum())
    n = a_only + b_only
    p = 1.0 if n == 0 else float(_st.binomtest(a_only, n, 0.5).pvalue)
    return McNemarResult(a_only, b_only, p)


def seed_interval(values: Sequence[float], level: float = LEVEL) -> Interval:
    """Mean over independent runs (seeds) +/- Student's t half-width ``t_{n-1} s / sqrt(n)``.

    Raises ValueError for fewer than 2 runs (no spread can be estimated) or NaN/inf.
    """
    _check_level(level)
    x = _items(values, "values")
    mean = float(x.mean())
    half = float(_st.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return Interval(mean, mean - half, mean + half, level, x.size)
