"""The RAG-MTL model: a shared MiniLM with per-task adapters, per-task retrieval, fusion and heads.

It is composed from the book's modules rather than written anew: MiniLM from
:func:`ragmtl.encoders.load_minilm`, frozen lower layers run once and cached
(:mod:`ragmtl.adapters.layer_cache`), per-task adapters injected by name
(:func:`ragmtl.adapters.inject_adapters`), bilinear attention from :mod:`ragmtl.fusion`, and the
extractive reader's masking from :mod:`ragmtl.rag.reader`. Retrieval happens outside the module
(see :mod:`ragmtl.models.data`): each batch carries its retrieved neighbours or passages.

``model(task, batch)`` runs the trainable top layers on ``batch["hidden"]`` (cached lower-layer
states [B, T, H]) with ``batch["mask"]`` [B, T] through ``task``'s adapters and head.
"""
from __future__ import annotations

import re

from torch import nn

from ..adapters import AdapterConfig, adapter_modules, inject_adapters, is_adapter_parameter, set_task
from ..adapters.layer_cache import upper_forward
from .config import TOP_LAYER_TARGETS, RAGMTLConfig
from .heads import NeighbourClassifierHead, SpanHead

__all__ = ["RAGMTLModel", "build_model"]

_LAYER = re.compile(r"^backbone\.encoder\.layer\.(\d+)\.")


class RAGMTLModel(nn.Module):
    """Shared ``backbone`` (a transformers BertModel) + one head per task of ``config``."""

    def __init__(self, backbone, config: RAGMTLConfig) -> None:
        super().__init__()
        n_layers = len(backbone.encoder.layer)
        if not 0 <= config.n_lower < n_layers:
            raise ValueError(f"n_lower must be in [0, {n_layers - 1}] for this {n_layers}-layer backbone "
                             f"(at least one layer must be above the cache), got {config.n_lower}")
        self.backbone, self.config = backbone, config
        for module in backbone.modules():  # dropout off: on a CPU its masks cost a quarter of a step
            if isinstance(module, nn.Dropout):
                module.p = 0.0
        if config.adapter is not None:
            targets = tuple(f"layer.{i}.{t}" for i in range(config.n_lower, n_layers) for t in TOP_LAYER_TARGETS)
            inject_adapters(backbone, AdapterConfig(
                kind=config.adapter, targets=targets, tasks=tuple(config.task_names), r=config.adapter_r,
                alpha=config.adapter_alpha, bottleneck=config.adapter_bottleneck))
        hidden = backbone.config.hidden_size
        self.heads = nn.ModuleDict({
            t.name: (NeighbourClassifierHead(hidden, t.num_classes, t.fusion, config.attention_init,
                                            config.vote_init)
                     if t.kind == "classification" else SpanHead(hidden)) for t in config.tasks})
        self._set_trainable()

    @property
    def tasks(self) -> list[str]:
        return self.config.task_names

    def _set_trainable(self) -> None:
        for name, p in self.named_parameters():
            p.requires_grad_(self.is_trainable(name))

    def is_trainable(self, name: str) -> bool:
        """Heads, adapters, and (with ``train_shared``) the shared layers above the cache train."""
        if name.startswith("heads."):
            return True
        if is_adapter_parameter(name):
            return True
        m = _LAYER.match(name)
        return bool(self.config.train_shared and m and int(m.group(1)) >= self.config.n_lower)

    def saved_keys(self) -> list[str]:
        """State-dict names a checkpoint holds: what training can change (heads, adapters, and the
        shared top layers when they train); the rest is the pretrained MiniLM, rebuilt on loading."""
        return [n for n in self.state_dict() if self.is_trainable(n)]

    def shared_parameters(self) -> list[nn.Parameter]:
        """Trainable parameters every task's loss reaches (the weighting methods act on these)."""
        return [p for n, p in self.backbone.named_parameters() if p.requires_grad and not is_adapter_parameter(n)]

    def task_parameters(self, task: str) -> list[nn.Parameter]:
        self.config.task(task)
        return [p for p in self.heads[task].parameters() if p.requires_grad]

    def forward(self, task: str, batch: dict) -> dict:
        if task not in self.heads:
            raise ValueError(f"task {task!r} is not in this model; its tasks: {self.tasks}")
        if adapter_modules(self.backbone):
            set_task(self.backbone, task)
        states = upper_forward(self.backbone, batch["hidden"], batch["mask"], self.config.n_lower)
        return self.heads[task](states, batch)

    def loss(self, task: str, out: dict, batch: dict):
        return self.heads[task].loss(out, batch)


def build_model(config: RAGMTLConfig, model_path=None, seed: int = 0) -> RAGMTLModel:
    """Pretrained MiniLM (local files only) wrapped as a fresh :class:`RAGMTLModel` of ``config``.

    The heads (and adapters) are initialised from ``seed`` in a forked RNG, so the same config and
    seed always give the same model whatever ran before, and the global RNG is left untouched.
    Raises ``ValueError`` for a ``config.base_model`` other than the MiniLM this builds (unless
    ``model_path`` points at that model's own files).
    """
    import torch

    from ..encoders import MODEL_NAME, load_minilm

    if model_path is None and config.base_model != MODEL_NAME:
        raise ValueError(f"base_model {config.base_model!r} is not available offline: build_model loads "
                         f"{MODEL_NAME!r} from its local package (pass model_path= for other local files)")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    _, backbone = load_minilm(model_path)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return RAGMTLModel(backbone, config)
