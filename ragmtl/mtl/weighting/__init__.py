"""Task weighting methods behind one interface (``Weighting.backward``), and a plain registry."""
from .base import Weighting, task_gradients
from .dwa import DWA, dwa_weights
from .equal import EqualWeighting
from .gradnorm import GradNorm, gradnorm_loss
from .pcgrad import PCGrad, pcgrad_project
from .uncertainty import UncertaintyWeighting, uncertainty_loss

WEIGHTINGS: dict[str, type[Weighting]] = {
    "equal": EqualWeighting, "uncertainty": UncertaintyWeighting, "dwa": DWA, "gradnorm": GradNorm,
    "pcgrad": PCGrad,
}


def make_weighting(name: str, tasks: list[str], **kwargs) -> Weighting:
    """Build the weighting called ``name`` (a key of ``WEIGHTINGS``) for ``tasks``."""
    if name not in WEIGHTINGS:
        raise ValueError(f"unknown weighting {name!r}; known: {sorted(WEIGHTINGS)}")
    return WEIGHTINGS[name](tasks, **kwargs)


__all__ = ["Weighting", "task_gradients", "DWA", "dwa_weights", "EqualWeighting", "GradNorm", "gradnorm_loss",
           "PCGrad", "pcgrad_project", "UncertaintyWeighting", "uncertainty_loss", "WEIGHTINGS", "make_weighting"]
