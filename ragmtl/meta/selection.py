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


def best_setting(scores: Mapping[Hashable, Sequence[float]], higher_is_better: bool = True,
                 rule: str = "best") -> Hashable:
    """The chosen key among candidates scored on the same validation episodes.

    ``rule="best"``: the best mean (the first listed on exact ties). ``rule="not_worse"``: the first
    listed candidate that is not measurably worse than the best one, i.e. whose paired 95% bootstrap
    interval (over the episodes) for "candidate minus best" reaches zero. Near-ties then go to the
    first listed (list the default or the simplest setting first) instead of to whichever candidate
    noise puts ahead, so the choice does not change with the machine's arithmetic.

    Raises ValueError for no candidates, a candidate without scores, an unknown rule, or (for
    "not_worse") candidates scored on different numbers of episodes.
    """
    if not scores or any(len(v) == 0 for v in scores.values()):
        raise ValueError(f"need at least one candidate, each with scores; got {list(scores)}")
    if rule not in ("best", "not_worse"):
        raise ValueError(f"rule must be 'best' or 'not_worse', got {rule!r}")
    sign = 1.0 if higher_is_better else -1.0
    keys = list(scores)
    means = [sign * float(np.mean(scores[k])) for k in keys]
    best = keys[int(np.argmax(means))]
    if rule == "best":
        return best
    from ..eval.stats import paired_bootstrap

    if len({len(scores[k]) for k in keys}) != 1:
        raise ValueError("rule='not_worse' pairs the candidates episode by episode: give every candidate "
                         f"the same episodes (got {[len(scores[k]) for k in keys]} scores)")
    for k in keys:
        if k == best:
            return k
        gap = paired_bootstrap(sign * np.asarray(scores[k], float), sign * np.asarray(scores[best], float))
        if gap.high >= 0:
            return k
    return best
