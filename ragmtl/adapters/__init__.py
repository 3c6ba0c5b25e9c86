"""Adapters over a shared backbone: per-task adapter matrices (the source article's scheme, corrected),
bottleneck adapters (Houlsby et al., 2019) and LoRA (Hu et al., 2021), with injection by module name."""
from .bottleneck import BottleneckAdapter, BottleneckLinear, bottleneck_adapter
from .inject import (ADAPTER_KINDS, AdapterConfig, adapter_l2, adapter_modules, count_parameters,
                     freeze_backbone, inject_adapters, is_adapter_parameter, load_adapters, route,
                     save_adapters, set_phase, set_task)
from .compare import predict
from .finetune import (AdapterClassifier, CachedSplit, FinetuneConfig, cache_encoded, cache_states, evaluate, fit_linear_probe,
                       pooled_features, train_classifier)
from .layer_cache import lower_states, upper_forward
from .lora import LoRALinear, lora_delta
from .task_adapter import TaskAdapterLinear, task_adapter_linear

__all__ = [
    "BottleneckAdapter", "BottleneckLinear", "bottleneck_adapter", "ADAPTER_KINDS", "AdapterConfig",
    "adapter_l2", "adapter_modules", "count_parameters", "freeze_backbone", "inject_adapters",
    "is_adapter_parameter", "load_adapters", "route", "save_adapters", "set_phase", "set_task",
    "AdapterClassifier", "CachedSplit", "FinetuneConfig", "cache_encoded", "cache_states", "evaluate", "train_classifier",
    "fit_linear_probe", "pooled_features", "predict",
    "lower_states", "upper_forward", "LoRALinear", "lora_delta", "TaskAdapterLinear", "task_adapter_linear",
]
