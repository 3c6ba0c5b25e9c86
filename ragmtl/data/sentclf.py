"""The six sentence classification tasks of Kim (2014): SST-2, TREC, MR, Subj, CR, MPQA.

Files are ``label<space>text`` per line. SST-2 has train/dev/test files; TREC has train/test
(dev: a seeded 10% of train); MR, Subj, CR and MPQA have no split at all (Kim used 10-fold
cross-validation), so the book uses one fixed, seeded 80/10/10 split instead and says so.
Lines are decoded as UTF-8 with a Latin-1 fallback (TREC, MR and Subj hold Latin-1 bytes).
Lines with a label and no text (4 in CR, 3 in MPQA) are skipped and counted.
"""
from __future__ import annotations

from pathlib import Path

from .records import SPLIT_SEED, LabelledText, TextClassification, decode_line, seeded_split
from .store import fetch

__all__ = ["SENTCLF_TASKS", "load_sentclf"]

# task -> (files, label names); label i of the file is label_names[i]
SENTCLF_TASKS: dict[str, tuple[tuple[str, ...], list[str]]] = {
    "sst2": (("stsa.binary.train", "stsa.binary.dev", "stsa.binary.test"), ["negative", "positive"]),
    # TREC coarse classes in the order the Kim (2014) files number them (checked on examples:
    # "Who was Galileo ?" is 3 = HUM; "How far is it from Denver to Aspen ?" is 5 = NUM).
    "trec": (("TREC.train.all", "TREC.test.all"), ["DESC", "ENTY", "ABBR", "HUM", "LOC", "NUM"]),
    "mr": (("rt-polarity.all",), ["negative", "positive"]),
    "subj": (("subj.all",), ["subjective", "objective"]),
    "cr": (("custrev.all",), ["negative", "positive"]),
    "mpqa": (("mpqa.all",), ["negative", "positive"]),
}


def _read(path: Path) -> tuple[list[LabelledText], int]:
    examples, skipped = [], 0
    with open(path, "rb") as f:
        for raw in f:
            line = decode_line(raw).strip()
            if not line:
                continue
            label, _, text = line.partition(" ")
            text = text.strip()
            if not text:
                skipped += 1
                continue
            examples.append(LabelledText(text, int(label)))
    return examples, skipped


def load_sentclf(name: str) -> TextClassification:
    """Load one of ``sst2``, ``trec``, ``mr``, ``subj``, ``cr``, ``mpqa`` with train/dev/test."""
    if name not in SENTCLF_TASKS:
        raise ValueError(f"unknown sentence task {name!r}; known tasks: {sorted(SENTCLF_TASKS)}")
    files, label_names = SENTCLF_TASKS[name]
    root = fetch("sentclf")
    parts = [_read(root / f) for f in files]
    skipped = sum(s for _, s in parts)
    if len(parts) == 3:
        (train, _), (dev, _), (test, _) = parts
        note = "the source's own train/dev/test files"
    elif len(parts) == 2:
        (full, _), (test, _) = parts
        tr, dv = seeded_split(len(full), (0.9, 0.1), SPLIT_SEED)
        train, dev = [full[i] for i in tr], [full[i] for i in dv]
        note = f"the source's test file; dev is a seeded (seed {SPLIT_SEED}) 10% of the source's train file"
    else:
        (full, _), = parts
        tr, dv, te = seeded_split(len(full), (0.8, 0.1, 0.1), SPLIT_SEED)
        train, dev, test = ([full[i] for i in idx] for idx in (tr, dv, te))
        note = (f"no split in the source (Kim 2014 used 10-fold cross-validation): one fixed "
                f"80/10/10 split with seed {SPLIT_SEED}")
    if skipped:
        note += f"; {skipped} lines with a label and no text skipped"
    for ex in (*train, *dev, *test):
        if not 0 <= ex.label < len(label_names):
            raise ValueError(f"{name}: label {ex.label} outside 0..{len(label_names) - 1} in {ex.text[:40]!r}")
    return TextClassification(name, list(label_names), train, dev, test, note=note, skipped=skipped)
