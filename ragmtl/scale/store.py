"""Saving and loading a compressed index (IVF-PQ, OPQ, HNSW, re-ranked) through :mod:`ragmtl.sharing`.

A saved folder holds ``index.faiss`` (``faiss.write_index``: FAISS's own binary format, no
pickling), ``ann.json`` (the :class:`~ragmtl.scale.ann.AnnSpec`, the vector count and dimension,
the FAISS version) and ``manifest.json`` with the sha256 of both; it is built next to its target
and swapped in whole (:func:`ragmtl.sharing.staged_folder`), so an interrupted save leaves the old
folder or the new one. Loading checks the manifest first: a changed byte is a
:class:`~ragmtl.sharing.ChecksumError`, never a silently wrong index.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from ..sharing import (MANIFEST_NAME, CorruptFileError, FormatVersionError, atomic_write, check_inside, read_json,
                       staged_folder, verify_manifest, write_manifest)
from .ann import AnnSpec

__all__ = ["ANN_RECIPE_NAME", "ANN_INDEX_NAME", "ANN_VERSION", "save_ann_index", "load_ann_index"]

ANN_RECIPE_NAME = "ann.json"
ANN_INDEX_NAME = "index.faiss"
ANN_VERSION = 1


def save_ann_index(directory: str | Path, index, spec: AnnSpec) -> dict:
    """Write ``index`` (built from ``spec``) to ``directory`` with its recipe and a manifest; return the
    manifest entries. Raises ``ValueError`` for an empty index and ``FileExistsError`` for a folder
    holding files that are not a saved index."""
    import faiss

    root = Path(directory)
    if index.ntotal == 0:
        raise ValueError("the index is empty: add vectors before saving it")
    if root.is_dir() and any(root.iterdir()) and not (root / MANIFEST_NAME).is_file():
        raise FileExistsError(f"{root} holds files that are not a saved index: choose a new or empty folder")
    recipe = {"format_version": ANN_VERSION, "spec": asdict(spec), "n_docs": int(index.ntotal),
              "dim": int(index.d), "faiss": faiss.__version__}
    with staged_folder(root) as tmp:
        faiss.write_index(index, str(tmp / ANN_INDEX_NAME))
        atomic_write(tmp / ANN_RECIPE_NAME, json.dumps(recipe, indent=2, allow_nan=False) + "\n")
        entries = write_manifest(tmp, [ANN_RECIPE_NAME, ANN_INDEX_NAME])
    return entries


def load_ann_index(directory: str | Path):
    """``(index, spec)`` saved by :func:`save_ann_index`, after checking every file's sha256.

    Raises :class:`~ragmtl.sharing.MissingFileError` / :class:`~ragmtl.sharing.ChecksumError` for a
    missing or changed file, :class:`FormatVersionError` for an unknown version, and
    :class:`CorruptFileError` for a recipe that does not describe the FAISS file.
    """
    import faiss

    root = Path(directory)
    verify_manifest(root, required=[ANN_RECIPE_NAME, ANN_INDEX_NAME])
    recipe = read_json(check_inside(root, ANN_RECIPE_NAME))
    if not isinstance(recipe, dict) or recipe.get("format_version") != ANN_VERSION:
        version = recipe.get("format_version") if isinstance(recipe, dict) else None
        raise FormatVersionError(f"{root / ANN_RECIPE_NAME} has format_version {version!r}; "
                                 f"this ragmtl reads version {ANN_VERSION} only")
    try:
        spec = AnnSpec(**recipe["spec"])
        n_docs, dim = int(recipe["n_docs"]), int(recipe["dim"])
    except (KeyError, TypeError, ValueError) as err:
        raise CorruptFileError(f"{root / ANN_RECIPE_NAME} lacks or mistypes a field ({type(err).__name__}: {err}): "
                               "expected a recipe from save_ann_index") from None
    try:
        index = faiss.read_index(str(check_inside(root, ANN_INDEX_NAME)))
    except RuntimeError as err:
        raise CorruptFileError(f"{root / ANN_INDEX_NAME} is not a FAISS index FAISS can read "
                               f"({str(err).strip().splitlines()[-1][:200]})") from None
    if index.ntotal != n_docs or index.d != dim:
        raise CorruptFileError(f"{root / ANN_INDEX_NAME} holds {index.ntotal} vectors of dimension {index.d}; "
                               f"{ANN_RECIPE_NAME} says {n_docs} of dimension {dim}")
    return index, spec
