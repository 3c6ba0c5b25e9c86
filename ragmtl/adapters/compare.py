"""Per-sentence predictions and intervals for the adapters chapter's comparisons.

:func:`predict` keeps each test sentence's predicted label, so two methods can be compared on the
same sentences (McNemar, paired bootstrap, and ``bootstrap_task_mean`` for the mean over tasks:
``ragmtl.eval.stats``).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..utils import bf16_autocast
from .finetune import AdapterClassifier, CachedSplit, _batches, _collate

__all__ = ["predict"]


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
