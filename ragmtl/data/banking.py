"""BANKING77 (Casanueva et al., 2020): 13,083 online-banking queries in 77 fine-grained intents."""
from __future__ import annotations

import csv
import json

from .records import SPLIT_SEED, LabelledText, TextClassification, seeded_split
from .store import fetch

__all__ = ["load_banking77"]


def load_banking77() -> TextClassification:
    """Train (a seeded 90% of the source's train), dev (the other 10%) and the source's test."""
    root = fetch("banking77")
    with open(root / "categories.json", encoding="utf-8") as f:
        names = list(json.load(f))
    index = {name: i for i, name in enumerate(names)}

    def read(file: str) -> list[LabelledText]:
        with open(root / file, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        unknown = {r["category"] for r in rows} - set(index)
        if unknown:
            raise ValueError(f"{file}: categories not in categories.json: {sorted(unknown)}")
        return [LabelledText(r["text"].strip(), index[r["category"]]) for r in rows]

    full, test = read("train.csv"), read("test.csv")
    tr, dv = seeded_split(len(full), (0.9, 0.1), SPLIT_SEED)
    return TextClassification(
        "banking77", names, [full[i] for i in tr], [full[i] for i in dv], test,
        note=f"the source's test file; dev is a seeded (seed {SPLIT_SEED}) 10% of the source's train file",
    )
