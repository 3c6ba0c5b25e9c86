"""Multi-task learning over a shared input representation: the home package of the MTL chapter.

Modules: ``architectures`` (hard sharing, soft sharing, MMoE), ``weighting`` (equal, uncertainty,
DWA, GradNorm, PCGrad behind one ``Weighting.backward`` interface), ``trainer`` (task sampling,
seeded training, per-task metrics), ``metrics`` (accuracy, macro-F1, Delta_MTL), ``synthetic``
(linear tasks at a chosen angle), ``tasks`` (the six Kim 2014 tasks as MiniLM features),
``experiment`` (the chapter's grid) and ``evidence`` (intervals over test items for its comparisons).
"""
from .architectures import (ARCHITECTURES, HardSharing, HardSharingConfig, MMoE, MMoEConfig, MultiTaskModel,
                            SoftSharing, SoftSharingConfig, cross_stitch, l2_coupling, mixture)
from .metrics import accuracy, average, delta_mtl, macro_f1
from .trainer import TaskData, TrainConfig, TrainResult, task_batch_sizes, train_multitask
from .weighting import (DWA, WEIGHTINGS, EqualWeighting, GradNorm, PCGrad, UncertaintyWeighting, Weighting,
                        dwa_weights, gradnorm_loss, make_weighting, pcgrad_project, uncertainty_loss)

__all__ = [
    "ARCHITECTURES", "HardSharing", "HardSharingConfig", "MMoE", "MMoEConfig", "MultiTaskModel", "SoftSharing",
    "SoftSharingConfig", "cross_stitch", "l2_coupling", "mixture", "accuracy", "average", "delta_mtl", "macro_f1",
    "TaskData", "TrainConfig", "TrainResult", "task_batch_sizes", "train_multitask", "DWA", "WEIGHTINGS",
    "EqualWeighting", "GradNorm", "PCGrad", "UncertaintyWeighting", "Weighting", "dwa_weights", "gradnorm_loss",
    "make_weighting", "pcgrad_project", "uncertainty_loss",
]
