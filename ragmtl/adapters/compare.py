"""Per-sentence predictions and intervals for the adapters chapter's comparisons.

:func:`predict` keeps each test sentence's predicted label, so two methods can be compared on the
same sentences (McNemar, paired bootstrap: ``ragmtl.eval.stats``). :func:`macro_mean_interval`
gives the unweighted mean over tasks of per-sentence scores with a bootstrap interval that resamples
each task's sentences on its own (a stratified bootstrap, Efron & Tibshirani, 1993); passed the
per-sentence *differences* of two methods, it is the paired interval of their mean-accuracy gap.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy import stats as _st

from ..eval.stats import LEVEL, N_RESAMPLES, Interval
from ..utils import bf16_autocast
from .finetune import AdapterClassifier, CachedSplit, _batches, _collate

__all__ = ["predict", "macro_mean_interval"]


@torch.no_grad()
def predict(clf: AdapterClassifier, splits: list[CachedSplit], batch_size: int = 128,
            bf16: bool | None = None) -> dict[str, np.ndarray]:
    """Predicted label of every example, per task, in example order: ``{task: int array [N_task]}``.

    Raises ValueError when the splits do not follow the classifier's tasks.
    """
    if [s.task for s in splits] != clf.tasks:
        raise ValueError(f"splits {[s.task for s in splits]} must follow the classifier's tasks {clf.tasks}")
    clf.eval()
    preds = {s.task: np.full(len(s), -1, dtype=np.int64) for s in splits}
    for chunk in _batches(splits, batch_size, None):
        hidden, mask, tasks, _ = _collate(splits, chunk)
        with bf16_autocast(bf16):
            logits = clf(hidden, mask, tasks)
        for t, lg in enumerate(logits):
            if lg is None:
                continue
            rows = [i for tt, i, _ in chunk if tt == t]  # rows of task t, in batch order
            preds[splits[t].task][rows] = lg.argmax(-1).numpy()
    return preds


def macro_mean_interval(per_task: Sequence[Sequence[float]], level: float = LEVEL,
                        n_resamples: int = N_RESAMPLES, seed: int = 0) -> Interval:
    """Unweighted mean over tasks of each task's mean per-item score, with a stratified percentile
    bootstrap interval (each task's items resampled within that task). ``per_task[t]`` holds task
    t's per-item scores (0/1 correct, or the difference of two methods' 0/1 on the same items).

    Raises ValueError for no task or a task with fewer than 2 items.
    """
    samples = [np.asarray(x, dtype=float) for x in per_task]
    if not samples or any(x.ndim != 1 or x.size < 2 for x in samples):
        raise ValueError(f"need at least one task, each with >= 2 per-item scores; got sizes "
                         f"{[x.size for x in samples]}")

    def macro(*xs, axis=-1):
        return np.mean([x.mean(axis) for x in xs], axis=0)

    estimate = float(macro(*samples))
    res = _st.bootstrap(tuple(samples), macro, n_resamples=n_resamples, vectorized=True, axis=-1,
                        confidence_level=level, method="percentile", rng=np.random.default_rng(seed), batch=1000)
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if np.isnan(low):  # every resample equal (e.g. two methods agree on every item)
        low = high = estimate
    return Interval(estimate, low, high, level, sum(x.size for x in samples))
