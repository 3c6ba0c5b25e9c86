"""Equal weighting: the plain sum of the task losses, ``L = sum_t L_t``."""
from __future__ import annotations

import torch
from torch import Tensor

from .base import Weighting

__all__ = ["EqualWeighting"]


class EqualWeighting(Weighting):
    """``backward`` back-propagates ``sum_t L_t``; every weight is 1."""

    def backward(self, losses: dict[str, Tensor], shared: list[Tensor]) -> dict[str, float]:
        stacked = self.stack(losses)
        stacked.sum().backward()
        return self.as_dict(torch.ones(self.num_tasks))
