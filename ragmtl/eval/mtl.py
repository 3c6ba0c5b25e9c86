"""Multi-task gains against single-task baselines: Delta_MTL and the pairwise task-transfer matrix.

Delta_MTL (Maninis, Radosavovic & Kokkinos, 2019) is the mean signed relative change of each
task's metric M against its single-task baseline, in percent::

    Delta_MTL = 100 / T * sum_t (-1)^{l_t} (M_mtl,t - M_single,t) / M_single,t

with ``l_t = 1`` when lower is better for task t's metric (an error rate, a perplexity) and 0
otherwise, so a positive Delta_MTL always means multi-task training helped on average. A task with
several metrics enters once per metric: use keys such as ``"qa/em"`` and ``"qa/f1"``.

The transfer matrix applies the same signed relative change to pairs: entry ``[source, target]``
is the change of ``target``'s score when it is trained together with ``source`` against ``target``
trained alone (rows: source, columns: target, diagonal NaN). :func:`transfer_intervals` gives each
entry its paired bootstrap interval over the target's test items (``ragmtl.eval.stats``).
"""
from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

import numpy as np

__all__ = ["relative_change", "delta_mtl", "transfer_matrix", "transfer_intervals"]


def relative_change(score: float, baseline: float, lower_is_better: bool = False) -> float:
    """Signed relative change in percent, ``(-1)^l 100 (score - baseline) / |baseline|``.

    Dividing by ``|baseline|`` equals the paper's formula for the usual positive metrics and keeps
    the sign meaningful for a negative-valued one (a log-likelihood).

    Raises ValueError when ``baseline`` is 0 or either value is not finite.
    """
    if not (math.isfinite(score) and math.isfinite(baseline)):
        raise ValueError(f"scores must be finite, got score={score}, baseline={baseline}")
    if baseline == 0:
        raise ValueError("baseline score is 0: the relative change is undefined; expected a non-zero baseline")
    sign = -1.0 if lower_is_better else 1.0
    return sign * 100.0 * (score - baseline) / abs(baseline)


def _check_lower_is_better(lower_is_better: Collection[str], tasks: Collection[str]) -> None:
    if isinstance(lower_is_better, str):
        raise ValueError(f"lower_is_better must be a collection of task names, not the str {lower_is_better!r}")
    unknown = sorted(set(lower_is_better) - set(tasks))
    if unknown:
        raise ValueError(f"lower_is_better names unknown tasks {unknown}; known tasks: {sorted(tasks)}")


def delta_mtl(multi_task: Mapping[str, float], single_task: Mapping[str, float],
              lower_is_better: Collection[str] = ()) -> float:
    """Delta_MTL in percent (Maninis et al., 2019; formula in the module docstring).

    ``multi_task`` and ``single_task`` map each task (or task/metric key) to its score;
    ``lower_is_better`` names the keys whose metric improves downwards. Raises ValueError when the
    two mappings have different keys or are empty, when ``lower_is_better`` names an unknown key,
    or when a baseline is 0.
    """
    if set(multi_task) != set(single_task):
        raise ValueError(f"multi_task and single_task must score the same tasks; got {sorted(multi_task)} "
                         f"and {sorted(single_task)}")
    if not multi_task:
        raise ValueError("no tasks to compare; expected at least one task score")
    _check_lower_is_better(lower_is_better, single_task)
    changes = [relative_change(multi_task[t], single_task[t], t in lower_is_better) for t in single_task]
    return sum(changes) / len(changes)


def transfer_matrix(single_task: Mapping[str, float], pair_scores: Mapping[tuple[str, str], float],
                    lower_is_better: Collection[str] = ()):
    """Task-transfer matrix of signed relative changes in percent, as a ``pandas.DataFrame``.

    ``single_task[t]`` is task t's score trained alone; ``pair_scores[(source, target)]`` is
    ``target``'s score when trained together with ``source``. Entry ``[source, target]`` is
    ``relative_change(pair_scores[(source, target)], single_task[target], target in lower_is_better)``;
    rows and columns follow the order of ``single_task``; the diagonal is NaN. Raises ValueError on
    fewer than two tasks, a pair naming an unknown task or a task with itself, a key that is not a
    (source, target) pair, a missing ordered pair, or an unknown task in ``lower_is_better``.
    """
    import pandas as pd

    tasks = list(single_task)
    if len(tasks) < 2:
        raise ValueError(f"a transfer matrix needs at least two tasks, got {tasks}")
    _check_lower_is_better(lower_is_better, tasks)
    for key in pair_scores:
        if not (isinstance(key, tuple) and len(key) == 2):
            raise ValueError(f"pair_scores keys must be (source, target) tuples, got {key!r}")
        unknown = [t for t in key if t not in single_task]
        if unknown:
            raise ValueError(f"pair {key} names unknown tasks {unknown}; known tasks: {tasks}")
        if key[0] == key[1]:
            raise ValueError(f"pair {key} pairs a task with itself; its single-task score goes in single_task")
    missing = [(s, t) for s in tasks for t in tasks if s != t and (s, t) not in pair_scores]
    if missing:
        raise ValueError(f"pair_scores lacks the ordered pairs {missing}; expected every (source, target) "
                         "with source != target")
    matrix = pd.DataFrame(float("nan"), index=pd.Index(tasks, name="source"),
                          columns=pd.Index(tasks, name="target"))
    for (source, target), score in pair_scores.items():
        matrix.loc[source, target] = relative_change(score, single_task[target], target in lower_is_better)
    return matrix


def transfer_intervals(single_items: Mapping[str, Sequence[float]],
                       pair_items: Mapping[tuple[str, str], Sequence[float]], seed: int = 0):
    """The transfer matrix with a 95% interval per entry, as a ``pandas.DataFrame`` of
    :class:`ragmtl.eval.stats.Interval` (diagonal None).

    ``single_items[t]`` holds task t's per-item test scores trained alone (higher is better, e.g.
    0/1 correct or per-question F1); ``pair_items[(source, target)]`` the target's per-item scores,
    same items in the same order, when trained with ``source``. Entry ``[source, target]`` is
    ``relative_change`` of the means (what :func:`transfer_matrix` gives) with the paired bootstrap
    over the target's items (:func:`ragmtl.eval.stats.bootstrap_delta_mtl` on one task). Raises
    ValueError as :func:`transfer_matrix` does, and on unpaired item lists.
    """
    import pandas as pd

    from .stats import bootstrap_delta_mtl

    means = {t: float(np.mean(v)) for t, v in single_items.items()}
    transfer_matrix(means, {k: float(np.mean(v)) for k, v in pair_items.items()})  # the same checks
    tasks = list(single_items)
    out = pd.DataFrame([[None] * len(tasks) for _ in tasks], index=pd.Index(tasks, name="source"),
                       columns=pd.Index(tasks, name="target"), dtype=object)
    for (source, target), items in pair_items.items():
        out.loc[source, target] = bootstrap_delta_mtl({target: items}, {target: single_items[target]}, seed=seed)
    return out
