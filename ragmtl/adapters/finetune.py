"""Training sentence classifiers on a MiniLM backbone with adapters, over cached lower-layer states.

The lower ``n_lower`` layers are frozen for every method compared in the adapters chapter, so
their states are computed once per text (:func:`cache_states`) and each method trains and runs only
the top layers (:func:`~ragmtl.adapters.layer_cache.upper_forward`) plus one linear head per task on
the mean-pooled output. Batches are built from length-sorted examples (little padding) and mix the
tasks; rows go through their own task's adapters (per-example routing for task adapters, one pass
per task for LoRA and bottleneck adapter sets) and their own task's head.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..encoders import mean_pool
from ..utils import bf16_autocast, progress, warmup_linear_decay
from .inject import adapter_l2, adapter_modules, route, set_task
from .layer_cache import lower_states, upper_forward
from .task_adapter import TaskAdapterLinear

__all__ = ["CachedSplit", "cache_encoded", "cache_states", "AdapterClassifier", "FinetuneConfig", "train_classifier", "evaluate",
           "pooled_features", "fit_linear_probe"]


@dataclass
class CachedSplit:
    """Lower-layer states of one task's split: ``states[i]`` [T_i, H] (bf16), ``labels`` [N]."""

    task: str
    states: list[torch.Tensor]
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.states)


@torch.no_grad()  # not inference_mode: the states must be usable by autograd later
def cache_encoded(model, tokenizer, encoded: dict, n_lower: int, batch_size: int = 256,
                  bf16: bool | None = None) -> list[torch.Tensor]:
    """Lower-layer states of already tokenised inputs, one unpadded bf16 tensor [T_i, H] per input.

    ``encoded`` holds ``input_ids`` (lists of ids) and optionally ``token_type_ids`` (sentence
    pairs); inputs are run longest first in batches of ``batch_size``.
    """
    keys = [k for k in ("input_ids", "token_type_ids") if k in encoded]
    ids = encoded["input_ids"]
    order = np.argsort([-len(x) for x in ids], kind="stable")
    states: list[torch.Tensor | None] = [None] * len(ids)
    with bf16_autocast(bf16):
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            batch = tokenizer.pad({k: [encoded[k][i] for i in idx] for k in keys}, return_tensors="pt")
            hidden = lower_states(model, batch, n_lower)
            for row, i in enumerate(idx):
                states[i] = hidden[row, : int(batch["attention_mask"][row].sum())].to(torch.bfloat16).clone()
    return states


def cache_states(model, tokenizer, task: str, texts: list[str], labels, n_lower: int, max_length: int = 64,
                 batch_size: int = 256, bf16: bool | None = None) -> CachedSplit:
    """Run embeddings + the first ``n_lower`` layers over ``texts`` once; keep each text's states unpadded."""
    enc = tokenizer(list(texts), truncation=True, max_length=max_length)
    states = cache_encoded(model, tokenizer, {"input_ids": enc["input_ids"]}, n_lower, batch_size, bf16)
    return CachedSplit(task, states, torch.as_tensor(np.asarray(labels), dtype=torch.long))


def _batches(splits: list[CachedSplit], batch_size: int, rng: np.random.Generator | None):
    """Length-sorted chunks over all tasks' examples as (task index, example index) pairs, order shuffled."""
    items = [(t, i, len(s.states[i])) for t, s in enumerate(splits) for i in range(len(s))]
    items.sort(key=lambda x: (-x[2], x[0], x[1]))
    chunks = [items[k:k + batch_size] for k in range(0, len(items), batch_size)]
    if rng is not None:
        chunks = [chunks[k] for k in rng.permutation(len(chunks))]
    return chunks


def _collate(splits: list[CachedSplit], chunk):
    width = max(n for _, _, n in chunk)
    dim = splits[0].states[0].shape[-1]
    hidden = torch.zeros(len(chunk), width, dim)
    mask = torch.zeros(len(chunk), width, dtype=torch.long)
    for row, (t, i, n) in enumerate(chunk):
        hidden[row, :n] = splits[t].states[i].float()
        mask[row, :n] = 1
    tasks = torch.tensor([t for t, _, _ in chunk])
    labels = torch.stack([splits[t].labels[i] for t, i, _ in chunk])
    return hidden, mask, tasks, labels


class AdapterClassifier(nn.Module):
    """Top layers of ``backbone`` (from layer ``n_lower`` on) + mean pooling + one linear head per task."""

    def __init__(self, backbone, num_classes: dict[str, int], n_lower: int) -> None:
        super().__init__()
        self.backbone, self.n_lower, self.tasks = backbone, n_lower, list(num_classes)
        dim = backbone.config.hidden_size
        self.heads = nn.ModuleDict({t: nn.Linear(dim, c) for t, c in num_classes.items()})

    def _encode(self, hidden, mask, task_ids):
        modules = list(adapter_modules(self.backbone).values())
        if modules and isinstance(modules[0], TaskAdapterLinear):
            with route(self.backbone, task_ids):  # one pass, each row through its own task's adapters
                return upper_forward(self.backbone, hidden, mask, self.n_lower)
        if modules and len(modules[0].tasks) > 1:  # per-task adapter sets: one pass per task present
            out = torch.zeros_like(hidden)
            for t in task_ids.unique().tolist():
                rows = task_ids == t
                set_task(self.backbone, self.tasks[t])
                out[rows] = upper_forward(self.backbone, hidden[rows], mask[rows], self.n_lower).to(out.dtype)
            return out
        return upper_forward(self.backbone, hidden, mask, self.n_lower)

    def forward(self, hidden, mask, task_ids) -> list[torch.Tensor | None]:
        """Logits per task (None where the batch has no row of that task); rows in batch order per task."""
        pooled = mean_pool(self._encode(hidden, mask, task_ids), mask).float()
        return [self.heads[name](pooled[task_ids == t]) if (task_ids == t).any() else None
                for t, name in enumerate(self.tasks)]


@dataclass
class FinetuneConfig:
    epochs: float = 1.0  # passes over the (mixed) training examples
    batch_size: int = 32
    lr: float = 1e-4  # backbone / adapter learning rate
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 10  # then linear decay to 0
    adapter_l2: float = 0.0  # coefficient of the L2 penalty on adapter weights
    seed: int = 0
    bf16: bool | None = None  # None: bf16 autocast where the CPU does it natively
    show_progress: bool = True


def train_classifier(clf: AdapterClassifier, train: list[CachedSplit], config: FinetuneConfig) -> list[float]:
    """Train the trainable parameters of ``clf`` (set ``requires_grad`` first); return the loss per step."""
    if [s.task for s in train] != clf.tasks:
        raise ValueError(f"training splits {[s.task for s in train]} must follow the classifier's tasks {clf.tasks}")
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    head_params = list(clf.heads.parameters())
    body = [p for p in clf.backbone.parameters() if p.requires_grad]
    optim = torch.optim.AdamW([{"params": body, "lr": config.lr}, {"params": head_params, "lr": config.head_lr}],
                              weight_decay=config.weight_decay)
    per_epoch = math.ceil(sum(len(s) for s in train) / config.batch_size)
    total = max(1, int(round(config.epochs * per_epoch)))
    sched = warmup_linear_decay(optim, config.warmup_steps, total)
    chunks, losses = [], []
    clf.train()
    for _ in progress(range(total), total=total, desc="training", disable=not config.show_progress):
        if not chunks:
            chunks = _batches(train, config.batch_size, rng)
        hidden, mask, tasks, labels = _collate(train, chunks.pop())
        with bf16_autocast(config.bf16):
            logits = clf(hidden, mask, tasks)
        loss = sum(F.cross_entropy(lg.float(), labels[tasks == t], reduction="sum")
                   for t, lg in enumerate(logits) if lg is not None) / len(labels)
        if config.adapter_l2 > 0:
            loss = loss + config.adapter_l2 * adapter_l2(clf.backbone)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        sched.step()
        losses.append(float(loss.detach()))
    return losses


@torch.no_grad()
def evaluate(clf: AdapterClassifier, splits: list[CachedSplit], batch_size: int = 128,
             bf16: bool | None = None) -> dict[str, float]:
    """Accuracy per task on cached ``splits`` (in the classifier's task order)."""
    if [s.task for s in splits] != clf.tasks:
        raise ValueError(f"splits {[s.task for s in splits]} must follow the classifier's tasks {clf.tasks}")
    clf.eval()
    correct = {s.task: 0 for s in splits}
    for chunk in _batches(splits, batch_size, None):
        hidden, mask, tasks, labels = _collate(splits, chunk)
        with bf16_autocast(bf16):
            logits = clf(hidden, mask, tasks)
        for t, lg in enumerate(logits):
            if lg is not None:
                correct[splits[t].task] += int((lg.argmax(-1) == labels[tasks == t]).sum())
    return {s.task: correct[s.task] / len(s) for s in splits}


@torch.no_grad()
def pooled_features(clf: AdapterClassifier, splits: list[CachedSplit], batch_size: int = 128,
                    bf16: bool | None = None) -> list[torch.Tensor]:
    """Mean-pooled top-layer outputs [N, H] of each split, in example order (for a frozen-feature probe)."""
    clf.eval()
    feats = [torch.zeros(len(s), clf.backbone.config.hidden_size) for s in splits]
    for chunk in _batches(splits, batch_size, None):
        hidden, mask, tasks, _ = _collate(splits, chunk)
        with bf16_autocast(bf16):
            pooled = mean_pool(clf._encode(hidden, mask, tasks), mask).float()
        for row, (t, i, _) in enumerate(chunk):
            feats[t][i] = pooled[row]
    return feats


def fit_linear_probe(features: torch.Tensor, labels: torch.Tensor, num_classes: int, steps: int = 300,
                     lr: float = 0.05, weight_decay: float = 1e-4, seed: int = 0) -> nn.Linear:
    """Multinomial logistic regression on frozen ``features`` [N, H]: full-batch AdamW, ``steps`` steps."""
    torch.manual_seed(seed)
    head = nn.Linear(features.shape[1], num_classes)
    optim = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        optim.zero_grad(set_to_none=True)
        F.cross_entropy(head(features), labels).backward()
        optim.step()
    return head
