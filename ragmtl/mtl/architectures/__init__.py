"""Multi-task architectures over a shared input representation, and a plain registry."""
from .base import MultiTaskModel
from .hard import HardSharing, HardSharingConfig
from .mmoe import MMoE, MMoEConfig, mixture
from .soft import SoftSharing, SoftSharingConfig, cross_stitch, l2_coupling

ARCHITECTURES = {"hard": (HardSharing, HardSharingConfig), "soft": (SoftSharing, SoftSharingConfig),
                 "mmoe": (MMoE, MMoEConfig)}

__all__ = ["MultiTaskModel", "HardSharing", "HardSharingConfig", "MMoE", "MMoEConfig", "mixture",
           "SoftSharing", "SoftSharingConfig", "cross_stitch", "l2_coupling", "ARCHITECTURES"]
