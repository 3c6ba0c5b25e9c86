"""Meta-train / meta-test pools split by *domain*, so that few-shot transfer is to unseen domains.

CLINC150 (Larson et al., 2019) groups its 150 intents into 10 domains of 15. The book meta-trains on
the intents of 8 domains and meta-tests on the other 2; the two pools share no intent, and the
meta-test pool comes from the source's test split only.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .samplers import check_disjoint_classes

__all__ = ["DomainSplit", "domain_split"]


@dataclass
class DomainSplit:
    """Texts and labels (original label ids) of the meta-train and meta-test pools."""

    train_domains: list[str]
    test_domains: list[str]
    train_classes: list[int]
    test_classes: list[int]
    train_texts: list[str]
    train_labels: np.ndarray  # [n_train]
    test_texts: list[str]
    test_labels: np.ndarray  # [n_test]


def domain_split(clinc, test_domains: Sequence[str], train_per_class: int | None = None,
                 seed: int = 0) -> DomainSplit:
    """Split a :class:`ragmtl.data.Clinc150` by domain.

    Meta-train: the *train* split of every intent outside ``test_domains``, optionally
    ``train_per_class`` examples per intent drawn with ``seed`` (kept in file order). Meta-test: the
    *test* split of the intents of ``test_domains``. Raises ``ValueError`` for an unknown domain,
    no test domain or no train domain left, or a ``train_per_class`` larger than an intent's examples.
    """
    test_domains = list(test_domains)
    unknown = sorted(set(test_domains) - set(clinc.domains))
    if unknown or not test_domains:
        raise ValueError(f"test_domains must be a non-empty list of known domains; unknown {unknown}, "
                         f"known {sorted(clinc.domains)}")
    train_domains = [d for d in clinc.domains if d not in test_domains]
    if not train_domains:
        raise ValueError("every domain is a test domain: nothing is left to meta-train on")
    train_classes = clinc.labels_of_domains(train_domains)
    test_classes = clinc.labels_of_domains(test_domains)
    check_disjoint_classes(train_classes, test_classes)

    labels = clinc.intents.labels("train")
    rows = np.flatnonzero(np.isin(labels, train_classes))
    if train_per_class is not None:
        rng = np.random.default_rng(seed)
        picked = []
        for c in train_classes:
            of_c = np.flatnonzero(labels == c)
            if train_per_class > len(of_c):
                raise ValueError(f"train_per_class={train_per_class} but intent {c} has {len(of_c)} train examples")
            picked.append(rng.choice(of_c, size=train_per_class, replace=False))
        rows = np.sort(np.concatenate(picked))
    test_labels = clinc.intents.labels("test")
    test_rows = np.flatnonzero(np.isin(test_labels, test_classes))
    return DomainSplit(train_domains, test_domains, train_classes, test_classes,
                       [clinc.intents.train[i].text for i in rows], labels[rows],
                       [clinc.intents.test[i].text for i in test_rows], test_labels[test_rows])
