"""Task samplers: N-way K-shot episodes from a labelled dataset, and the sinusoid task family.

Every sampler returns a :class:`TaskBatch` whose tensors carry a leading task dimension ``T``, so a
batch goes straight into ``torch.func.vmap``. Randomness comes only from the ``numpy`` generator
passed in, so a seeded generator gives the same episodes on every run.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["TaskBatch", "EpisodeSampler", "SinusoidTasks", "check_disjoint_classes"]


@dataclass
class TaskBatch:
    """``T`` tasks: support ``support_x`` [T, S, ...], ``support_y`` [T, S, ...] and query
    ``query_x`` [T, Q, ...], ``query_y`` [T, Q, ...]. ``info`` holds sampler-specific extras
    (the classes of each episode, the amplitude and phase of each sinusoid)."""

    support_x: Tensor
    support_y: Tensor
    query_x: Tensor
    query_y: Tensor
    info: dict | None = None

    def __post_init__(self) -> None:
        """Refuse no task, an empty support or query set, and tensors whose T or S/Q disagree
        (an empty support set would make the inner loop's mean loss 0/0)."""
        sx, sy, qx, qy = self.tensors()
        if sx.dim() < 2 or qx.dim() < 2 or sy.dim() < 2 or qy.dim() < 2:
            raise ValueError(f"TaskBatch tensors need a task and an example dimension [T, S, ...], got shapes "
                             f"{[tuple(t.shape) for t in self.tensors()]}")
        if len({sx.shape[0], sy.shape[0], qx.shape[0], qy.shape[0]}) != 1 or sx.shape[0] == 0:
            raise ValueError(f"TaskBatch needs T >= 1 tasks in every tensor, got shapes "
                             f"{[tuple(t.shape) for t in self.tensors()]}")
        if sx.shape[1] == 0 or qx.shape[1] == 0:
            raise ValueError(f"TaskBatch has an empty {'support' if sx.shape[1] == 0 else 'query'} set "
                             f"(support {tuple(sx.shape)}, query {tuple(qx.shape)}): expected at least one example")
        if sx.shape[1] != sy.shape[1] or qx.shape[1] != qy.shape[1]:
            raise ValueError(f"TaskBatch inputs and targets differ in length: support {tuple(sx.shape)} vs "
                             f"{tuple(sy.shape)}, query {tuple(qx.shape)} vs {tuple(qy.shape)}")

    def tensors(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        return self.support_x, self.support_y, self.query_x, self.query_y

    @property
    def num_tasks(self) -> int:
        return int(self.support_x.shape[0])


def check_disjoint_classes(train_classes: Iterable[int], test_classes: Iterable[int]) -> None:
    """Raise ``ValueError`` if meta-train and meta-test share a class (that would leak the test
    classes into meta-training)."""
    shared = sorted(set(train_classes) & set(test_classes))
    if shared:
        raise ValueError(f"meta-train and meta-test classes overlap on {shared[:10]}"
                         f"{' ...' if len(shared) > 10 else ''} ({len(shared)} shared); they must be disjoint")


class EpisodeSampler:
    """N-way K-shot episodes (Vinyals et al., 2016) over ``features`` [n, d] restricted to ``classes``.

    Each episode draws ``n_way`` distinct classes, then ``k_shot + n_query`` distinct examples of
    each; the first ``k_shot`` go to the support set, the rest to the query set, so support and query
    never share an example. Labels are renumbered ``0 .. n_way-1`` in a random order per episode.
    Raises ``ValueError`` when ``n_way`` exceeds the classes available, when a class has fewer than
    ``k_shot + n_query`` examples, or when ``exclude`` (e.g. the meta-test classes) meets ``classes``.
    """

    def __init__(self, features: np.ndarray | Tensor, labels: Sequence[int] | np.ndarray,
                 classes: Iterable[int], n_way: int, k_shot: int, n_query: int,
                 exclude: Iterable[int] = ()) -> None:
        features = torch.as_tensor(np.asarray(features, dtype=np.float32))
        labels = np.asarray(labels, dtype=np.int64)
        if features.shape[0] != labels.shape[0]:
            raise ValueError(f"features has {features.shape[0]} rows but labels has {labels.shape[0]}")
        if n_way < 1 or k_shot < 1 or n_query < 1:
            raise ValueError(f"n_way, k_shot and n_query must be >= 1, got {n_way}, {k_shot}, {n_query}")
        self.classes = sorted(set(int(c) for c in classes))
        check_disjoint_classes(self.classes, exclude)
        if n_way > len(self.classes):
            raise ValueError(f"n_way={n_way} is larger than the {len(self.classes)} classes available")
        self.index = {c: np.flatnonzero(labels == c) for c in self.classes}
        need = k_shot + n_query
        short = {c: len(ix) for c, ix in self.index.items() if len(ix) < need}
        if short:
            c, have = next(iter(sorted(short.items())))
            raise ValueError(f"class {c} has {have} examples but k_shot + n_query = {k_shot} + {n_query} = "
                             f"{need} are needed ({len(short)} classes too small)")
        self.features, self.n_way, self.k_shot, self.n_query = features, n_way, k_shot, n_query

    def sample(self, num_tasks: int, rng: np.random.Generator) -> TaskBatch:
        """``num_tasks`` episodes: support [T, N*K, d] / [T, N*K], query [T, N*Q, d] / [T, N*Q];
        ``info["classes"]`` [T, N] gives the original class of each new label."""
        n, k, q = self.n_way, self.k_shot, self.n_query
        sup_idx = np.empty((num_tasks, n * k), dtype=np.int64)
        qry_idx = np.empty((num_tasks, n * q), dtype=np.int64)
        chosen = np.empty((num_tasks, n), dtype=np.int64)
        for t in range(num_tasks):
            chosen[t] = rng.choice(self.classes, size=n, replace=False)
            for j, c in enumerate(chosen[t]):
                picks = rng.choice(self.index[int(c)], size=k + q, replace=False)
                sup_idx[t, j * k:(j + 1) * k] = picks[:k]
                qry_idx[t, j * q:(j + 1) * q] = picks[k:]
        sup_y = torch.arange(n).repeat_interleave(k).expand(num_tasks, -1).clone()
        qry_y = torch.arange(n).repeat_interleave(q).expand(num_tasks, -1).clone()
        return TaskBatch(self.features[torch.from_numpy(sup_idx)], sup_y,
                         self.features[torch.from_numpy(qry_idx)], qry_y,
                         info={"classes": chosen, "support_index": sup_idx, "query_index": qry_idx})


@dataclass
class SinusoidTasks:
    """The sinusoid regression family of Finn et al. (2017): ``y = A sin(x - phase)`` with
    ``A ~ U[0.1, 5]``, ``phase ~ U[0, pi]`` and inputs ``x ~ U[-5, 5]``."""

    amplitude: tuple[float, float] = (0.1, 5.0)
    phase: tuple[float, float] = (0.0, math.pi)
    x_range: tuple[float, float] = (-5.0, 5.0)

    def sample(self, num_tasks: int, k_shot: int, n_query: int, rng: np.random.Generator) -> TaskBatch:
        """``num_tasks`` tasks with ``k_shot`` support and ``n_query`` query points each, drawn
        independently: x and y are [T, K, 1] and [T, Q, 1]; ``info`` holds ``amplitude`` and ``phase`` [T]."""
        if num_tasks < 1 or k_shot < 1 or n_query < 1:
            raise ValueError(f"num_tasks, k_shot and n_query must be >= 1, got {num_tasks}, {k_shot}, {n_query}")
        amp = rng.uniform(*self.amplitude, size=num_tasks)
        phase = rng.uniform(*self.phase, size=num_tasks)
        x = rng.uniform(*self.x_range, size=(num_tasks, k_shot + n_query, 1))
        y = self.function(x, amp, phase)
        t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
        return TaskBatch(t(x[:, :k_shot]), t(y[:, :k_shot]), t(x[:, k_shot:]), t(y[:, k_shot:]),
                         info={"amplitude": amp, "phase": phase})

    @staticmethod
    def function(x: np.ndarray, amplitude: np.ndarray, phase: np.ndarray) -> np.ndarray:
        """``A sin(x - phase)`` with ``x`` [T, n, 1] and ``amplitude``, ``phase`` [T]."""
        return amplitude[:, None, None] * np.sin(x - phase[:, None, None])
