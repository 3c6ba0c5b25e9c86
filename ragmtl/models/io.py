"""Saving and loading a RAG-MTL model with its retrieval indexes and model card.

A saved folder holds what :func:`ragmtl.sharing.save_pretrained` writes (safetensors weights, JSON
config, manifest of sha256s, ``README.md`` model card) plus ``indexes/<task>/``, each task's
retrieval index (:func:`ragmtl.sharing.save_index`: a FAISS file for the labelled-neighbour memory,
a BM25 recipe for the QA passages), ``metrics.json`` when scores are given and ``training.json``
when the training settings are (steps, weighting, batch sizes, seed, data sizes: how the model was
made; listed in the manifest and shown on the card). The folder is written whole and swapped in
(:func:`ragmtl.sharing.save_pretrained`), so an interruption never leaves a mix. The weights are a
partial checkpoint: only what differs from the pretrained MiniLM (the layers above the cache, the
adapters and the heads); loading rebuilds MiniLM from its local files and puts them on top, after
checking that the file holds exactly those tensors.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Mapping

from ..sharing import (MissingFileError, WeightsMismatchError, load_index, load_pretrained, read_shapes, save_index,
                       save_pretrained, verify_manifest)
from ..sharing.files import check_inside, check_plain_name, read_json
from .config import RAGMTLConfig
from .model import RAGMTLModel, build_model

__all__ = ["METRICS_NAME", "TRAINING_NAME", "save_ragmtl", "load_ragmtl", "load_task_index", "read_metrics",
           "read_training"]

METRICS_NAME = "metrics.json"
TRAINING_NAME = "training.json"


def _json_file(folder: Path, name: str, value, what: str) -> Path:
    try:
        text = json.dumps(value, indent=2, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{what} cannot be saved as JSON ({err}); expected str keys and finite numbers") from None
    (folder / name).write_text(text + "\n", encoding="utf-8")
    return folder / name


def save_ragmtl(directory: str | Path, model: RAGMTLModel, *, indexes: Mapping[str, tuple] | None = None,
                metrics: Mapping[str, Mapping[str, float]] | None = None, card=None,
                training: Mapping[str, object] | None = None, overwrite: bool = False) -> int:
    """Save ``model`` to ``directory``; return the folder's size in bytes.

    ``indexes`` maps a task to ``(retriever, corpus_texts)``: the texts pin the index's corpus by
    sha256 (and rebuild a BM25 index on loading). ``metrics`` ({task: {metric: value}}) is written to
    ``metrics.json``, ``training`` (the training settings, JSON values) to ``training.json``; ``card``
    (a :class:`ragmtl.sharing.ModelCardInfo`) becomes ``README.md``. ``overwrite=True`` replaces an
    earlier save in ``directory`` whole. Raises ``ValueError`` for an index of a task the model lacks
    (checked before anything is written) and ``FileExistsError`` for a folder that is not empty
    (without ``overwrite``) or that holds files other than a saved model's.
    """
    for task in indexes or {}:
        check_plain_name(task, "index task name")
    unknown = [t for t in (indexes or {}) if t not in model.tasks]
    if unknown:
        raise ValueError(f"indexes for tasks {unknown} that the model does not have; its tasks: {model.tasks}")
    root = Path(directory)
    if not overwrite and root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise FileExistsError(f"{root} exists and is not an empty folder: choose a new one or pass overwrite=True")
    with tempfile.TemporaryDirectory() as tmp:
        extra = {}
        for task, (retriever, texts) in (indexes or {}).items():
            save_index(Path(tmp) / task, retriever, texts=texts)
            extra[f"indexes/{task}"] = Path(tmp) / task
        if metrics is not None:
            extra[METRICS_NAME] = _json_file(Path(tmp), METRICS_NAME, metrics, "metrics")
        if training is not None:
            extra[TRAINING_NAME] = _json_file(Path(tmp), TRAINING_NAME, training, "training settings")
        save_pretrained(root, model, model.config, keys=set(model.saved_keys()), extra_files=extra, card=card)
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())


def load_ragmtl(directory: str | Path, model_path=None) -> tuple[RAGMTLModel, RAGMTLConfig]:
    """Rebuild a model saved by :func:`save_ragmtl` (MiniLM from local files + the saved tensors).

    Raises the errors of :func:`ragmtl.sharing.load_pretrained` (missing or changed file, unknown
    version, wrong config class, names or shapes that do not fit), and :class:`WeightsMismatchError`
    when the file does not hold exactly the tensors this config's model saves.
    """
    root = Path(directory)
    model, config = load_pretrained(root, lambda c: build_model(c, model_path), RAGMTLConfig, strict=False)
    saved, expected = set(read_shapes(root / "model.safetensors")), set(model.saved_keys())
    if saved != expected:
        raise WeightsMismatchError(f"{root} does not hold this config's trained tensors: missing "
                                   f"{sorted(expected - saved)[:5]}, unexpected {sorted(saved - expected)[:5]}")
    model.eval()
    return model, config


def load_task_index(directory: str | Path, task: str, *, texts=None, encoder=None):
    """The retrieval index saved for ``task`` (see :func:`ragmtl.sharing.load_index`)."""
    root = check_inside(Path(directory), f"indexes/{check_plain_name(task, 'task name')}")
    if not root.is_dir():
        raise MissingFileError(f"no index for task {task!r} in {directory} (expected the folder {root})")
    return load_index(root, texts=texts, encoder=encoder)


def read_metrics(directory: str | Path) -> dict:
    """The scores saved with the model (``metrics.json``), after checking the folder's manifest."""
    root = Path(directory)
    verify_manifest(root, required=[METRICS_NAME])
    return read_json(root / METRICS_NAME)


def read_training(directory: str | Path) -> dict:
    """The training settings saved with the model (``training.json``), after checking the manifest."""
    root = Path(directory)
    verify_manifest(root, required=[TRAINING_NAME])
    return read_json(root / TRAINING_NAME)
