"""Saving and loading a RAG-MTL model with its retrieval indexes and model card.

A saved folder holds what :func:`ragmtl.sharing.save_pretrained` writes (safetensors weights, JSON
config, manifest of sha256s, ``README.md`` model card) plus ``indexes/<task>/``, each task's
retrieval index (:func:`ragmtl.sharing.save_index`: a FAISS file for the labelled-neighbour memory,
a BM25 recipe for the QA passages), and ``metrics.json`` when scores are given. The weights are a
partial checkpoint: only what differs from the pretrained MiniLM (the layers above the cache, the
adapters and the heads); loading rebuilds MiniLM from its local files and puts them on top, after
checking that the file holds exactly those tensors.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Mapping

from ..sharing import (WeightsMismatchError, load_index, load_pretrained, read_shapes, save_index,
                       save_pretrained, verify_manifest)
from .config import RAGMTLConfig
from .model import RAGMTLModel, build_model

__all__ = ["METRICS_NAME", "save_ragmtl", "load_ragmtl", "load_task_index", "read_metrics"]

METRICS_NAME = "metrics.json"


def save_ragmtl(directory: str | Path, model: RAGMTLModel, *, indexes: Mapping[str, tuple] | None = None,
                metrics: Mapping[str, Mapping[str, float]] | None = None, card=None) -> int:
    """Save ``model`` to ``directory``; return the folder's size in bytes.

    ``indexes`` maps a task to ``(retriever, corpus_texts)``: the texts pin the index's corpus by
    sha256 (and rebuild a BM25 index on loading). ``metrics`` ({task: {metric: value}}) is written to
    ``metrics.json``; ``card`` (a :class:`ragmtl.sharing.ModelCardInfo`) becomes ``README.md``.
    """
    unknown = [t for t in (indexes or {}) if t not in model.tasks]
    if unknown:
        raise ValueError(f"indexes for tasks {unknown} that the model does not have; its tasks: {model.tasks}")
    root = Path(directory)
    with tempfile.TemporaryDirectory() as tmp:
        extra = {}
        for task, (retriever, texts) in (indexes or {}).items():
            save_index(Path(tmp) / task, retriever, texts=texts)
            extra[f"indexes/{task}"] = Path(tmp) / task
        if metrics is not None:
            (Path(tmp) / METRICS_NAME).write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
            extra[METRICS_NAME] = Path(tmp) / METRICS_NAME
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
    root = Path(directory) / "indexes" / task
    if not root.is_dir():
        from ..sharing import MissingFileError

        raise MissingFileError(f"no index for task {task!r} in {directory} (expected the folder {root})")
    return load_index(root, texts=texts, encoder=encoder)


def read_metrics(directory: str | Path) -> dict:
    """The scores saved with the model (``metrics.json``), after checking the folder's manifest."""
    root = Path(directory)
    verify_manifest(root, required=[METRICS_NAME])
    return json.loads((root / METRICS_NAME).read_text(encoding="utf-8"))
