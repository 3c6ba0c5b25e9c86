"""UCI Sentiment Labelled Sentences (Kotzias et al., 2015): Amazon, IMDB and Yelp, 1,000 each.

Each domain is a task (``text<TAB>label``, 0 negative, 1 positive). The source has no split: each
domain gets one fixed, seeded 80/10/10 split.
"""
from __future__ import annotations

from .records import SPLIT_SEED, LabelledText, TextClassification, decode_line, seeded_split
from .store import fetch

__all__ = ["UCI_DOMAINS", "load_uci_sentiment"]

UCI_DOMAINS = {"amazon": "amazon_cells_labelled.txt", "imdb": "imdb_labelled.txt", "yelp": "yelp_labelled.txt"}


def load_uci_sentiment() -> dict[str, TextClassification]:
    """Return ``{"amazon": ..., "imdb": ..., "yelp": ...}``, each with train/dev/test."""
    root = fetch("uci_sentiment")
    out = {}
    for domain, file in UCI_DOMAINS.items():
        examples = []
        with open(root / file, "rb") as f:
            for raw in f:
                line = decode_line(raw).rstrip("\r\n")
                if not line.strip():
                    continue
                text, sep, label = line.rpartition("\t")
                if not sep or label.strip() not in ("0", "1"):
                    raise ValueError(f"{file}: expected 'text<TAB>0|1', got {line[:60]!r}")
                examples.append(LabelledText(text.strip(), int(label)))
        tr, dv, te = seeded_split(len(examples), (0.8, 0.1, 0.1), SPLIT_SEED)
        out[domain] = TextClassification(
            domain, ["negative", "positive"], *([examples[i] for i in idx] for idx in (tr, dv, te)),
            note=f"no split in the source: one fixed 80/10/10 split with seed {SPLIT_SEED}",
        )
    return out
