"""Putting adapters into a transformers model by module name, switching tasks, freezing, counting, saving.

``inject_adapters(model, AdapterConfig(kind="lora", targets=("query", "value"), tasks=("sst2", "mr")))``
replaces every ``nn.Linear`` whose name is a target, or ends with ``"." + target``, by the adapter
wrapper of that kind. A target that matches no linear layer is an error that lists the names there
are. Afterwards :func:`set_task` switches every adapter to one task, :func:`route` gives each
example of a mixed batch its own task (task adapters), :func:`freeze_backbone` leaves only adapter
weights (and the modules you name) trainable, and :func:`save_adapters` / :func:`load_adapters`
store the adapter weights alone, in safetensors.
"""
from __future__ import annotations

import json
import re
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from .bottleneck import BottleneckLinear
from .lora import LoRALinear
from .task_adapter import TaskAdapterLinear

__all__ = ["ADAPTER_KINDS", "AdapterConfig", "inject_adapters", "adapter_modules", "set_task", "route",
           "is_adapter_parameter", "freeze_backbone", "set_phase", "count_parameters", "adapter_l2",
           "save_adapters", "load_adapters"]

ADAPTER_KINDS = {"lora": LoRALinear, "bottleneck": BottleneckLinear, "task": TaskAdapterLinear}
_ADAPTER_PARAM = re.compile(r"(^|\.)(lora_A|lora_B|adapters)(\.|$)")


@dataclass
class AdapterConfig:
    """Which adapter, where, for which tasks, and its size."""

    kind: str  # "lora", "bottleneck" or "task"
    targets: tuple[str, ...]  # linear layer names, full or as a suffix ("query", "attention.output.dense")
    tasks: tuple[str, ...] = ("default",)
    r: int = 8  # LoRA rank
    alpha: float = 16.0  # LoRA scale numerator: the update is scaled by alpha / r
    dropout: float = 0.0  # LoRA dropout on the layer input
    bottleneck: int = 32  # bottleneck adapter width
    activation: str = "gelu"  # bottleneck non-linearity
    init: str = "zero"  # task adapters: "zero" or "random"
    init_std: float = 0.01  # task adapters: std of the random init

    def __post_init__(self) -> None:
        if self.kind not in ADAPTER_KINDS:
            raise ValueError(f"unknown adapter kind {self.kind!r}; known kinds: {sorted(ADAPTER_KINDS)}")
        if not self.targets:
            raise ValueError("targets is empty: name at least one linear layer")
        self.targets, self.tasks = tuple(self.targets), tuple(self.tasks)

    def wrap(self, base: nn.Linear) -> nn.Module:
        if self.kind == "lora":
            return LoRALinear(base, self.r, self.alpha, self.dropout, self.tasks)
        if self.kind == "bottleneck":
            return BottleneckLinear(base, self.bottleneck, self.activation, self.tasks)
        return TaskAdapterLinear(base, self.tasks, self.init, self.init_std)


def _linear_names(model: nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]


def _matches(name: str, target: str) -> bool:
    return name == target or name.endswith("." + target)


def inject_adapters(model: nn.Module, config: AdapterConfig) -> list[str]:
    """Wrap every targeted ``nn.Linear`` of ``model`` in place; return the wrapped module names."""
    if adapter_modules(model):
        raise ValueError("model already has adapters: inject once, with all targets and tasks in one config")
    names = _linear_names(model)
    chosen = {t: [n for n in names if _matches(n, t)] for t in config.targets}
    missing = [t for t, found in chosen.items() if not found]
    if missing:
        generic = sorted({re.sub(r"\.\d+\.", ".*.", n) for n in names})
        raise ValueError(f"target modules {missing} match no linear layer; available: {generic}")
    wrapped = sorted({n for found in chosen.values() for n in found})
    for name in wrapped:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, config.wrap(getattr(parent, child)))
    model.adapter_config = config
    return wrapped


def adapter_modules(model: nn.Module) -> dict[str, nn.Module]:
    return {n: m for n, m in model.named_modules() if isinstance(m, tuple(ADAPTER_KINDS.values()))}


def set_task(model: nn.Module, task: str) -> None:
    """Make ``task`` the active task of every adapter in ``model`` (an unknown task is an error)."""
    modules = adapter_modules(model)
    if not modules:
        raise ValueError("model has no adapters: call inject_adapters first")
    for m in modules.values():
        m.set_task(task)


@contextmanager
def route(model: nn.Module, task_ids: torch.Tensor):
    """Within the block, every task adapter sends example ``b`` through adapter ``task_ids[b]``."""
    modules = [m for m in adapter_modules(model).values() if isinstance(m, TaskAdapterLinear)]
    if not modules:
        raise ValueError("route() needs task adapters (kind='task') in the model")
    for m in modules:
        m.set_task_ids(task_ids)
    try:
        yield
    finally:
        for m in modules:
            m.set_task_ids(None)


def is_adapter_parameter(name: str) -> bool:
    return bool(_ADAPTER_PARAM.search(name))


def freeze_backbone(model: nn.Module, keep: tuple[str, ...] = ()) -> None:
    """Only adapter weights, and parameters whose name starts with one of ``keep``, stay trainable."""
    for name, p in model.named_parameters():
        p.requires_grad_(is_adapter_parameter(name) or name.startswith(keep))


def set_phase(model: nn.Module, phase: str, keep: tuple[str, ...] = ()) -> None:
    """The article's two-phase schedule: ``"shared"`` trains everything but the adapters;
    ``"adapters"`` trains only the adapters (and the ``keep`` prefixes, e.g. task heads)."""
    if phase == "shared":
        for name, p in model.named_parameters():
            p.requires_grad_(not is_adapter_parameter(name))
    elif phase == "adapters":
        freeze_backbone(model, keep)
    else:
        raise ValueError(f"phase must be 'shared' or 'adapters', got {phase!r}")


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def adapter_l2(model: nn.Module) -> torch.Tensor:
    """Sum of squared adapter weights over the model (the L2 penalty of the two-phase scheme)."""
    terms = [p.pow(2).sum() for n, p in model.named_parameters() if is_adapter_parameter(n)]
    if not terms:
        raise ValueError("model has no adapter parameters")
    return torch.stack(terms).sum()


def save_adapters(model: nn.Module, path: str | Path) -> int:
    """Write only the adapter weights (and their config) to a safetensors file; return its size in bytes."""
    from safetensors.torch import save_file

    tensors = {n: p.detach().contiguous() for n, p in model.named_parameters() if is_adapter_parameter(n)}
    if not tensors:
        raise ValueError("model has no adapter parameters to save")
    config = getattr(model, "adapter_config", None)
    meta = {"adapter_config": json.dumps(asdict(config)) if config is not None else "{}"}
    save_file(tensors, str(path), metadata=meta)
    return Path(path).stat().st_size


def load_adapters(model: nn.Module, path: str | Path) -> None:
    """Load adapter weights saved by :func:`save_adapters`; names and shapes must match exactly."""
    from safetensors.torch import load_file

    if not Path(path).is_file():
        raise FileNotFoundError(f"no adapter file at {path}")
    tensors = load_file(str(path))
    params = {n: p for n, p in model.named_parameters() if is_adapter_parameter(n)}
    if set(tensors) != set(params):
        raise ValueError(f"adapter names differ: missing {sorted(set(params) - set(tensors))[:5]}, "
                         f"unexpected {sorted(set(tensors) - set(params))[:5]}")
    with torch.no_grad():
        for n, t in tensors.items():
            if t.shape != params[n].shape:
                raise ValueError(f"{n}: saved shape {tuple(t.shape)} != model shape {tuple(params[n].shape)}")
            params[n].copy_(t)
