"""A model card (Mitchell et al., 2019) in Markdown, with its training data taken from ragmtl's data manifest.

The card's sections follow the paper and the Hugging Face card template: description, intended
and out-of-scope use, training data, evaluation results, limitations and biases, how to load, and
the files. The training-data section is not typed by hand: each dataset name is looked up in
``ragmtl/data/manifest.tsv``, which gives its files, source URLs and licence. The files section
comes from the saved folder's ``manifest.json``. Writing a card into a saved folder builds a new
folder (hard links to the other files, a new ``README.md`` and manifest) and swaps it in, so an
interruption never leaves a card that the manifest does not list, and a ``README.md`` that is a
symbolic link is refused rather than followed.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Mapping

from ..data.store import ManifestEntry, datasets, manifest
from .files import atomic_write, check_inside, read_json, staged_folder
from .manifest import MANIFEST_NAME, FileEntry, read_manifest, update_manifest

__all__ = ["CARD_NAME", "ModelCardInfo", "dataset_sources", "results_table", "model_card", "write_model_card",
           "write_card_into"]

CARD_NAME = "README.md"


@dataclass(frozen=True)
class ModelCardInfo:
    """What a card says that the code cannot know; every text field must be non-empty."""

    name: str  # the model's name, the card's title
    description: str  # what the model is and how it was built
    intended_use: str  # what it is for
    out_of_scope_use: str  # what it must not be used for
    datasets: tuple[str, ...]  # training data: dataset names from ragmtl's data manifest
    results: Mapping[str, Mapping[str, float]]  # evaluation: {task: {metric: value}}
    limitations: str  # limitations and biases
    how_to_load: str | None = None  # a Python snippet; None: a load_pretrained snippet is written
    data_files: Mapping[str, tuple[str, ...]] | None = None  # {dataset: the files used}; None: all of each
    training: Mapping[str, object] | None = None  # how it was trained (steps, seed, ...), a table on the card

    def __post_init__(self) -> None:
        for name in ("name", "description", "intended_use", "out_of_scope_use", "limitations"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ValueError(f"ModelCardInfo.{name} must be a non-empty str, got {getattr(self, name)!r}")
        if isinstance(self.datasets, str) or not self.datasets:
            raise ValueError("ModelCardInfo.datasets must be a non-empty tuple of dataset names, "
                             f"got {self.datasets!r}")
        object.__setattr__(self, "datasets", tuple(self.datasets))


def dataset_sources(name: str) -> list[ManifestEntry]:
    """The data-manifest rows (files, URLs, licence) of dataset ``name``; unknown names raise ``ValueError``."""
    rows = [e for e in manifest() if e.dataset == name]
    if not rows:
        raise ValueError(f"dataset {name!r} is not in ragmtl's data manifest; known datasets: {datasets()}")
    return rows


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def results_table(results: Mapping[str, Mapping[str, float]]) -> str:
    """A Markdown table, one row per task and one column per metric (first-seen order); '—' where a task
    lacks a metric. Raises ``ValueError`` for no results or a value that is not a finite number."""
    if not results or not any(results.values()):
        raise ValueError("results is empty: a card reports at least one metric for one task")
    metrics = list(dict.fromkeys(m for per_task in results.values() for m in per_task))
    rows = ["| task | " + " | ".join(_cell(m) for m in metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for task, per_task in results.items():
        cells = []
        for m in metrics:
            v = per_task.get(m)
            if v is not None and (isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(v)):
                raise ValueError(f"result {task}/{m} is {v!r}: expected a finite number")
            cells.append("—" if v is None else f"{float(v):.4g}")
        rows.append(f"| {_cell(task)} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _training_data(names: tuple[str, ...], data_files: Mapping[str, tuple[str, ...]] | None) -> str:
    parts = []
    for name in dict.fromkeys(names):
        rows = dataset_sources(name)
        if data_files is not None and name in data_files:
            unknown = [f for f in data_files[name] if f not in {r.file for r in rows}]
            if unknown:
                raise ValueError(f"data files {unknown} are not files of dataset {name!r}; its files: "
                                 f"{[r.file for r in rows]}")
            rows = [r for r in rows if r.file in data_files[name]]
        licences = "; ".join(dict.fromkeys(r.licence for r in rows))
        table = ["| file | source | sha256 |", "|---|---|---|"]
        table += [f"| {_cell(r.file)} | <{r.url}> | `{r.sha256}` |" for r in rows]
        parts.append(f"### {name}\n\n**Licence:** {licences}\n\n" + "\n".join(table))
    return "\n\n".join(parts)


def _training(training: Mapping[str, object]) -> str:
    rows = ["| setting | value |", "|---|---|"]
    rows += [f"| {_cell(k)} | `{_cell(json.dumps(v, sort_keys=True))}` |" for k, v in sorted(training.items())]
    return "\n".join(rows)


def _default_snippet(config_class: str | None) -> str:
    cls = config_class or "MyConfig"
    return ("from ragmtl.sharing import load_pretrained\n\n"
            f"# build(config) -> nn.Module must construct the architecture from a {cls}\n"
            f"model, config = load_pretrained(\"path/to/this/folder\", build, {cls})")


def _files(files: Mapping[str, FileEntry] | None) -> str:
    if files is None:
        return "Not saved yet: `write_model_card` lists the saved files with their sha256 here."
    rows = ["| file | bytes | sha256 |", "|---|---:|---|"]
    rows += [f"| {_cell(n)} | {e.bytes} | `{e.sha256}` |" for n, e in files.items() if n != CARD_NAME]
    return "\n".join(rows) + ("\n\n`manifest.json` lists the same files; loading checks every sha256 "
                              "before reading anything.")


def model_card(card: ModelCardInfo, files: Mapping[str, FileEntry] | None = None,
               config_class: str | None = None) -> str:
    """The Markdown model card of ``card``; ``files`` {path: FileEntry} fills the files section and
    ``config_class`` the loading snippet. Raises ``ValueError`` for an unknown dataset or bad results."""
    snippet = card.how_to_load or _default_snippet(config_class)
    sections = [
        ("Model description", card.description),
        ("Intended use", card.intended_use),
        ("Out-of-scope use", card.out_of_scope_use),
        ("Training data", _training_data(card.datasets, card.data_files)),
        *([("Training procedure", _training(card.training))] if card.training else []),
        ("Evaluation results", results_table(card.results)),
        ("Limitations and biases", card.limitations),
        ("How to load", f"```python\n{snippet.strip()}\n```"),
        ("Files", _files(files)),
    ]
    body = "\n\n".join(f"## {title}\n\n{text.strip()}" for title, text in sections)
    return f"# {card.name}\n\n{body}\n"


def write_card_into(root: Path, card: ModelCardInfo) -> dict[str, FileEntry]:
    """Write ``README.md`` into ``root`` in place and add it to the manifest; return the manifest.
    (Used inside a folder being built; :func:`write_model_card` is the safe way for a saved one.)"""
    files = read_manifest(root)
    config_class = None
    if "config.json" in files:
        header = read_json(check_inside(root, "config.json"))
        config_class = header.get("config_class") if isinstance(header, dict) else None
    atomic_write(check_inside(root, CARD_NAME), model_card(card, files, config_class))
    return update_manifest(root, [CARD_NAME])


def write_model_card(directory: str | Path, card: ModelCardInfo) -> Path:
    """Write ``README.md`` into a folder saved by ``save_pretrained`` (listing its manifest's files)
    and add the card to the manifest; return the card's path. The folder is rebuilt and swapped in
    (see the module docstring). Raises as :func:`model_card`, and ``UnsafePathError`` for a symbolic
    link in the folder."""
    root = Path(directory)
    read_manifest(root)  # a saved folder, or MissingFileError before anything is written
    model_card(card)  # bad card contents raise here, before anything is written
    with staged_folder(root, keep_existing=True, skip={CARD_NAME, MANIFEST_NAME}) as tmp:
        (tmp / MANIFEST_NAME).write_bytes(check_inside(root, MANIFEST_NAME).read_bytes())
        write_card_into(tmp, card)
    return root / CARD_NAME
