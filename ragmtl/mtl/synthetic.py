"""Synthetic linear regression tasks whose relatedness is one knob: the angle between their weights.

Task 1 has weights ``w_1 = u_1``; task 2 has ``w_2 = cos(theta) u_1 + sin(theta) u_2`` with
``u_1 ⟂ u_2`` unit vectors in R^d, so ``theta = 0`` is the same task, ``90°`` unrelated tasks and
``180°`` opposed tasks (``w_2 = -w_1``). Each task gets its own inputs ``x ~ N(0, I_d)`` and targets
``y = w_t . x + noise * eps``. The estimators are closed form, so every number can be checked:

* single-task ridge: ``w_t = (X_t'X_t + lam I)^-1 X_t'y_t``;
* pooled (hard sharing of everything): one ridge fit on both tasks' data;
* L2-coupled (soft sharing; Evgeniou & Pontil, 2004): ``w_t = w_0 + v_t`` minimising
  ``sum_t ||X_t w_t - y_t||^2 + lam ||w_0||^2 + coupling sum_t ||v_t||^2``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LinearTasks", "make_linear_tasks", "fit_single_task", "fit_pooled", "fit_l2_coupled", "task_mse"]


@dataclass
class LinearTasks:
    """Two (or more) regression tasks: lists of ``x`` [n, d] and ``y`` [n] per task, true weights [T, d]."""

    x_train: list[np.ndarray]
    y_train: list[np.ndarray]
    x_test: list[np.ndarray]
    y_test: list[np.ndarray]
    weights: np.ndarray


def make_linear_tasks(angle_deg: float, dim: int = 20, n_train: int = 30, n_test: int = 1000,
                      noise: float = 0.5, seed: int = 0) -> LinearTasks:
    """Two linear tasks at ``angle_deg`` degrees apart (0 = identical, 180 = opposed)."""
    if dim < 2 or n_train < 1 or n_test < 1 or noise < 0:
        raise ValueError(f"need dim >= 2, n_train >= 1, n_test >= 1, noise >= 0; got {dim}, {n_train}, {n_test}, {noise}")
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((dim, 2)))
    u1, u2 = basis[:, 0], basis[:, 1]
    theta = np.deg2rad(angle_deg)
    weights = np.stack([u1, np.cos(theta) * u1 + np.sin(theta) * u2])
    data: dict[str, list[np.ndarray]] = {"x_train": [], "y_train": [], "x_test": [], "y_test": []}
    for w in weights:
        for split, n in (("train", n_train), ("test", n_test)):
            x = rng.standard_normal((n, dim))
            data[f"x_{split}"].append(x)
            data[f"y_{split}"].append(x @ w + noise * rng.standard_normal(n))
    return LinearTasks(weights=weights, **data)


def fit_single_task(tasks: LinearTasks, lam: float = 1.0) -> np.ndarray:
    """Ridge on each task alone -> weights [T, d]."""
    dim = tasks.weights.shape[1]
    return np.stack([np.linalg.solve(x.T @ x + lam * np.eye(dim), x.T @ y)
                     for x, y in zip(tasks.x_train, tasks.y_train)])


def fit_pooled(tasks: LinearTasks, lam: float = 1.0) -> np.ndarray:
    """One ridge fit on all tasks' data pooled; every task gets the same weights -> [T, d]."""
    x, y = np.concatenate(tasks.x_train), np.concatenate(tasks.y_train)
    w = np.linalg.solve(x.T @ x + lam * np.eye(x.shape[1]), x.T @ y)
    return np.tile(w, (len(tasks.x_train), 1))


def fit_l2_coupled(tasks: LinearTasks, coupling: float = 10.0, lam: float = 1.0) -> np.ndarray:
    """Soft sharing ``w_t = w_0 + v_t`` with penalty ``lam ||w_0||^2 + coupling sum_t ||v_t||^2``
    (a ridge regression in the stacked unknowns [w_0, v_1, ..., v_T]) -> weights [T, d]."""
    if coupling <= 0:
        raise ValueError(f"coupling must be > 0, got {coupling}")
    num_tasks, dim = len(tasks.x_train), tasks.weights.shape[1]
    rows = []
    for t, x in enumerate(tasks.x_train):
        blocks = [x] + [x if s == t else np.zeros_like(x) for s in range(num_tasks)]
        rows.append(np.concatenate(blocks, axis=1))
    design, y = np.concatenate(rows), np.concatenate(tasks.y_train)
    penalty = np.diag(np.r_[np.full(dim, lam), np.full(num_tasks * dim, coupling)])
    theta = np.linalg.solve(design.T @ design + penalty, design.T @ y)
    w0, v = theta[:dim], theta[dim:].reshape(num_tasks, dim)
    return w0 + v


def task_mse(tasks: LinearTasks, weights: np.ndarray) -> np.ndarray:
    """Mean squared error of each task's predictor on its test set -> [T]."""
    return np.array([np.mean((x @ w - y) ** 2) for x, y, w in zip(tasks.x_test, tasks.y_test, weights)])
