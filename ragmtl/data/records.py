"""Plain typed records shared by the loaders, and the one seeded split they all use."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["LabelledText", "TextClassification", "seeded_split", "decode_line"]

SPLIT_SEED = 0  # the seed of every split the book makes where a source has none


@dataclass(frozen=True)
class LabelledText:
    """One example of a text classification task: the text and an integer label."""

    text: str
    label: int


@dataclass
class TextClassification:
    """A text classification dataset with train/dev/test splits.

    ``label_names[i]`` names label ``i``. ``note`` says where each split comes from (the
    source's own, or a seeded split made here) and what lines were skipped.
    """

    name: str
    label_names: list[str]
    train: list[LabelledText]
    dev: list[LabelledText]
    test: list[LabelledText]
    note: str = ""
    skipped: int = 0
    licence: str = field(default="", repr=False)

    @property
    def num_labels(self) -> int:
        return len(self.label_names)

    def split(self, name: str) -> list[LabelledText]:
        """The split called ``name`` ('train', 'dev' or 'test')."""
        if name not in ("train", "dev", "test"):
            raise ValueError(f"unknown split {name!r}; expected 'train', 'dev' or 'test'")
        return getattr(self, name)

    def texts(self, split: str) -> list[str]:
        return [ex.text for ex in self.split(split)]

    def labels(self, split: str) -> np.ndarray:
        return np.array([ex.label for ex in self.split(split)], dtype=np.int64)


def seeded_split(n: int, fractions: tuple[float, ...], seed: int = SPLIT_SEED) -> list[np.ndarray]:
    """Shuffle ``range(n)`` with ``seed`` and cut it into parts of the given fractions.

    The last part takes the remainder, so the parts always cover every index exactly once.
    Each part is returned sorted, so examples keep their file order inside a split.
    """
    if n < 0 or not fractions or any(f < 0 for f in fractions) or sum(fractions) > 1 + 1e-9:
        raise ValueError(f"bad split: n={n}, fractions={fractions} (need n >= 0, fractions >= 0 summing to <= 1)")
    order = np.random.default_rng(seed).permutation(n)
    parts, start = [], 0
    for i, frac in enumerate(fractions):
        stop = n if i == len(fractions) - 1 else start + int(round(frac * n))
        parts.append(np.sort(order[start:stop]))
        start = stop
    return parts


def decode_line(raw: bytes) -> str:
    """Decode one line as UTF-8, falling back to Latin-1 (which never fails) for stray bytes."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
