"""Choosing settings without the meta-test domains: validation domains carved from meta-training,
and the pick of a setting by its mean validation score.

The book's CLINC150 meta-test domains stay unseen until the end: settings are compared on episodes
of ``n`` validation domains drawn (seeded) from the meta-training domains, with every candidate
meta-trained on the remaining ones; the chosen setting is then re-run on all meta-training domains.
"""
from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np

__all__ = ["validation_domains", "best_setting"]


def validation_domains(clinc, train_domains: Sequence[str], n: int = 2, seed: int = 0
                       ) -> tuple[list[str], list[int], list[int]]:
    """Draw ``n`` of ``train_domains`` as validation domains (seeded): returns the validation
    domains, the intents of the domains left for meta-training and the validation intents.

    Raises ValueError unless 1 <= n < len(train_domains).
    """
    train_domains = list(train_domains)
    if not 1 <= n < len(train_domains):
        raise ValueError(f"need 1 <= n < {len(train_domains)} validation domains, got n={n}")
    rng = np.random.default_rng(seed)
    val = sorted(rng.choice(train_domains, size=n, replace=False).tolist())
    rest = [d for d in train_domains if d not in val]
    return val, clinc.labels_of_domains(rest), clinc.labels_of_domains(val)


def best_setting(scores: Mapping[Hashable, Sequence[float]], higher_is_better: bool = True) -> Hashable:
    """The key whose per-episode validation scores have the best mean (the first listed on ties).

    Raises ValueError for no candidates or a candidate without scores.
    """
    if not scores or any(len(v) == 0 for v in scores.values()):
        raise ValueError(f"need at least one candidate, each with scores; got {list(scores)}")
    sign = 1.0 if higher_is_better else -1.0
    keys = list(scores)
    means = [sign * float(np.mean(scores[k])) for k in keys]
    return keys[int(np.argmax(means))]
