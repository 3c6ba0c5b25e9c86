"""The six Kim (2014) sentence tasks as frozen MiniLM features, cleaned of cross-task test leakage.

SST-2 was built from the same Rotten Tomatoes snippets as MR, and Subj's subjective half comes from
there too, so one task's training set holds many of another task's dev/test sentences
(:func:`overlap` measures how many; the chapter prints it). Training on both would leak test
labels into a multi-task model. :func:`decontaminate` drops every training sentence whose normalised text
(lower case, letters and digits only) is in another task's dev or test set; the single-task and
multi-task models then see the same, clean training sets. Duplicates inside a task (MPQA repeats
short phrases) are left as the source has them.
"""
from __future__ import annotations

import re

import numpy as np
import torch

from ..data import load_sentclf
from ..data.records import TextClassification
from ..utils import progress
from .trainer import TaskData

__all__ = ["KIM_TASKS", "normalise", "overlap", "decontaminate", "subsample", "encode_tasks"]

KIM_TASKS = ("sst2", "mr", "subj", "trec", "cr", "mpqa")


def normalise(text: str) -> str:
    """Lower case, letters and digits only: ``"It's  GOOD!"`` -> ``"itsgood"``."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


def overlap(texts, other_texts) -> float:
    """Fraction of ``texts`` whose normalised form occurs among the normalised ``other_texts``.

    Raises ValueError when ``texts`` is empty (the fraction is undefined).
    """
    texts = list(texts)
    if not texts:
        raise ValueError("overlap needs at least one text to look up")
    others = {normalise(x) for x in other_texts}
    return sum(normalise(x) in others for x in texts) / len(texts)


def decontaminate(datasets: dict[str, TextClassification]) -> dict[str, np.ndarray]:
    """Indices of each task's training examples whose text is in no *other* task's dev or test set."""
    held_out = {t: {normalise(x) for s in ("dev", "test") for x in d.texts(s)} for t, d in datasets.items()}
    keep = {}
    for task, d in datasets.items():
        others = set().union(*(held_out[o] for o in datasets if o != task))
        keep[task] = np.array([i for i, x in enumerate(d.texts("train")) if normalise(x) not in others], dtype=np.int64)
    return keep


def subsample(indices: np.ndarray, max_size: int | None, seed: int) -> np.ndarray:
    """At most ``max_size`` of ``indices``, drawn without replacement with ``seed``, kept sorted."""
    if max_size is None or len(indices) <= max_size:
        return indices
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(indices, size=max_size, replace=False))


def encode_tasks(encoder, tasks: tuple[str, ...] = KIM_TASKS, max_train: int | None = None, seed: int = 0,
                 standardise: bool = True) -> tuple[dict[str, TaskData], dict[str, dict[str, int]]]:
    """Load, decontaminate, optionally subsample (training sets only) and encode the tasks.

    ``encoder`` is a :class:`ragmtl.encoders.Encoder` (vectors cached on disk). With ``standardise``
    every feature is z-scored with the mean and std of all tasks' training vectors pooled.
    Returns ``(data, counts)``: task -> :class:`TaskData`, and task -> sizes of each step
    (``train_all``, ``train_clean``, ``train``, ``dev``, ``test``).
    """
    unknown = [t for t in tasks if t not in KIM_TASKS]
    if unknown:
        raise ValueError(f"unknown tasks {unknown}; known tasks: {list(KIM_TASKS)}")
    datasets = {t: load_sentclf(t) for t in tasks}
    keep = decontaminate(datasets)
    data, counts = {}, {}
    for t in progress(tasks, total=len(tasks), desc="encoding tasks"):
        d = datasets[t]
        idx = subsample(keep[t], max_train, seed)
        train_texts = [d.train[i].text for i in idx]
        x = {s: encoder.encode(texts, show_progress=False)
             for s, texts in (("train", train_texts), ("dev", d.texts("dev")), ("test", d.texts("test")))}
        y = {"train": d.labels("train")[idx], "dev": d.labels("dev"), "test": d.labels("test")}
        counts[t] = {"train_all": len(d.train), "train_clean": len(keep[t]), "train": len(idx),
                     "dev": len(d.dev), "test": len(d.test)}
        data[t] = (d.num_labels, x, y)
    if standardise:
        pooled = np.concatenate([x["train"] for _, x, _ in data.values()])
        mean, std = pooled.mean(0), pooled.std(0) + 1e-6
    out = {}
    for t, (num_labels, x, y) in data.items():
        f = {s: torch.from_numpy(((v - mean) / std if standardise else v).astype(np.float32)) for s, v in x.items()}
        out[t] = TaskData(t, num_labels, f["train"], torch.from_numpy(y["train"]), f["dev"],
                          torch.from_numpy(y["dev"]), f["test"], torch.from_numpy(y["test"]))
    return out, counts
