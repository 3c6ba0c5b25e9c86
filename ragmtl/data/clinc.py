"""CLINC150 (Larson et al., 2019): 150 intents in 10 domains, plus out-of-scope queries."""
from __future__ import annotations

import json
from dataclasses import dataclass

from .records import LabelledText, TextClassification
from .store import fetch

__all__ = ["Clinc150", "load_clinc150"]


@dataclass
class Clinc150:
    """In-scope intents as a :class:`TextClassification` (labels index ``intents.label_names``),
    the out-of-scope texts of each split, and the domain of every intent."""

    intents: TextClassification
    oos_train: list[str]
    oos_dev: list[str]
    oos_test: list[str]
    domains: dict[str, list[str]]  # domain -> its 15 intents

    @property
    def intent_domain(self) -> dict[str, str]:
        return {intent: dom for dom, intents in self.domains.items() for intent in intents}

    def labels_of_domains(self, domains: list[str]) -> list[int]:
        """Label ids of the intents of the given domains."""
        unknown = set(domains) - set(self.domains)
        if unknown:
            raise ValueError(f"unknown domains {sorted(unknown)}; known: {sorted(self.domains)}")
        index = {name: i for i, name in enumerate(self.intents.label_names)}
        return sorted(index[i] for d in domains for i in self.domains[d])


def load_clinc150() -> Clinc150:
    """Load the 'full' CLINC150 variant: 15,000 / 3,000 / 4,500 in-scope utterances (train/val/test)."""
    root = fetch("clinc150")
    with open(root / "data_full.json", encoding="utf-8") as f:
        raw = json.load(f)
    with open(root / "domains.json", encoding="utf-8") as f:
        domains = {d: list(intents) for d, intents in json.load(f).items()}
    names = sorted({intent for _, intent in raw["train"]})
    index = {name: i for i, name in enumerate(names)}
    missing = set(names) ^ {i for v in domains.values() for i in v}
    if missing:
        raise ValueError(f"intents and domains.json disagree on {sorted(missing)}")

    def split(key: str) -> list[LabelledText]:
        return [LabelledText(text, index[intent]) for text, intent in raw[key]]

    intents = TextClassification(
        "clinc150", names, split("train"), split("val"), split("test"),
        note="the source's own train/val/test splits ('full' variant); 'val' is called dev here",
    )
    oos = {k: [text for text, _ in raw[f"oos_{k}"]] for k in ("train", "val", "test")}
    return Clinc150(intents, oos["train"], oos["val"], oos["test"], domains)
