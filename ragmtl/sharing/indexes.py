"""Save and load a retriever's index: a FAISS file for dense retrieval, a rebuild recipe for BM25/TF-IDF.

A saved index folder holds ``retriever.json`` (the kind, settings and corpus identity), for a
dense retriever also ``index.faiss`` (written by ``faiss.write_index``, read by
``faiss.read_index``: FAISS's own binary format, no pickling), and ``manifest.json`` with the sha256
of both. The encoder of a dense retriever is not saved: pass it to :func:`load_index` again (it is
the shared encoder, saved with the model). Sparse indexes are rebuilt from their recipe (see
:mod:`ragmtl.sharing.recipes`). Any other retriever type (e.g. a hybrid) is an error: save its
parts one by one. The folder is built next to its target and swapped in, as a model folder is.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from ..retrieval import DenseConfig, DenseRetriever
from .config_io import config_from_dict, config_to_dict
from .errors import CorruptFileError, FormatVersionError, MissingFileError
from .files import atomic_write, check_inside, read_json, staged_folder
from .manifest import MANIFEST_NAME, FileEntry, verify_manifest, write_manifest
from .recipes import SPARSE_KINDS, resolve_corpus, rebuild_sparse, sparse_recipe

__all__ = ["INDEX_RECIPE_NAME", "FAISS_NAME", "INDEX_VERSION", "save_index", "load_index"]

INDEX_RECIPE_NAME = "retriever.json"
FAISS_NAME = "index.faiss"
INDEX_VERSION = 1


def _dense_recipe(directory: Path, retriever: DenseRetriever, corpus: str | None,
                  texts: Sequence[str] | None) -> dict[str, Any]:
    import faiss

    if retriever.n_docs == 0:
        raise ValueError("the DenseRetriever has no index yet: call index() or index_vectors() before saving it")
    identity = None
    if corpus is not None or texts is not None:
        identity, texts = resolve_corpus(corpus, texts)
        if len(texts) != retriever.n_docs:
            raise ValueError(f"the corpus has {len(texts)} texts but the index holds {retriever.n_docs} vectors")
    faiss.write_index(retriever.faiss_index, str(directory / FAISS_NAME))
    return {"kind": "dense", "config": config_to_dict(retriever.config), "dim": retriever.dim,
            "n_docs": retriever.n_docs, "corpus": identity,
            "encoder": None if retriever.encoder is None else type(retriever.encoder).__name__,
            "versions": {"faiss": faiss.__version__}}


def save_index(directory: str | Path, retriever, *, corpus: str | None = None,
               texts: Sequence[str] | None = None) -> dict[str, FileEntry]:
    """Save ``retriever``'s index to ``directory`` with a manifest; return the manifest entries.

    ``DenseRetriever``: the FAISS index is written as it is (``corpus``/``texts`` optional, recorded
    for identity). ``BM25`` / ``TfidfRetriever``: a recipe is written, which needs the corpus named
    (a key of :data:`~ragmtl.sharing.recipes.CORPUS_BUILDERS`) or its ``texts``; the recipe is checked
    to rebuild this exact index first. Raises ``TypeError`` for an unsupported retriever type and
    ``ValueError`` for an empty index or a corpus that is not the indexed one.
    """
    root = Path(directory)
    dense = type(retriever) is DenseRetriever
    if not dense and not any(type(retriever) is cls for cls, _ in SPARSE_KINDS.values()):
        raise TypeError(f"cannot save a {type(retriever).__name__}: save_index supports DenseRetriever, "
                        f"{', '.join(c.__name__ for c, _ in SPARSE_KINDS.values())} (save a hybrid's parts "
                        "one by one)")
    if root.is_dir() and any(root.iterdir()) and not (root / MANIFEST_NAME).is_file():
        raise FileExistsError(f"{root} holds files that are not a saved index: saving would replace them; "
                              "choose a new or empty folder")
    recipe = None if dense else sparse_recipe(retriever, corpus, texts)
    with staged_folder(root) as tmp:
        if dense:
            recipe, names = _dense_recipe(tmp, retriever, corpus, texts), [INDEX_RECIPE_NAME, FAISS_NAME]
        else:
            names = [INDEX_RECIPE_NAME]
        recipe = {"format_version": INDEX_VERSION, **recipe}
        atomic_write(tmp / INDEX_RECIPE_NAME, json.dumps(recipe, indent=2, allow_nan=False) + "\n")
        entries = write_manifest(tmp, names)
    return entries


def _load_dense(root: Path, recipe: dict[str, Any], encoder) -> DenseRetriever:
    import faiss

    try:
        index = faiss.read_index(str(check_inside(root, FAISS_NAME)))
    except RuntimeError as err:
        raise CorruptFileError(f"{root / FAISS_NAME} is not a FAISS index FAISS can read "
                               f"({str(err).strip().splitlines()[-1][:200]})") from None
    if index.ntotal != recipe["n_docs"] or index.d != recipe["dim"]:
        raise ValueError(f"{root / FAISS_NAME} holds {index.ntotal} vectors of dimension {index.d}; "
                         f"{INDEX_RECIPE_NAME} says {recipe['n_docs']} of dimension {recipe['dim']}")
    retriever = DenseRetriever(encoder, config_from_dict(DenseConfig, recipe["config"]))
    retriever.faiss_index, retriever.dim, retriever.n_docs = index, int(index.d), int(index.ntotal)
    return retriever


def load_index(directory: str | Path, *, texts: Sequence[str] | None = None, encoder=None):
    """Load a retriever saved by :func:`save_index`, after checking the manifest's sha256s.

    ``encoder`` is attached to a dense retriever (needed to search with query strings rather than
    vectors). ``texts`` is needed to rebuild a sparse index whose corpus is not a named one. Raises
    :class:`MissingFileError` / :class:`ChecksumError` for missing or changed files,
    :class:`FormatVersionError` for an unknown ``format_version``, and ``ValueError`` when the
    rebuilt corpus or analyzer output differs from the recorded one.
    """
    root = Path(directory)
    entries = verify_manifest(root, required=[INDEX_RECIPE_NAME])
    recipe = read_json(check_inside(root, INDEX_RECIPE_NAME))
    if not isinstance(recipe, dict):
        raise CorruptFileError(f"{root / INDEX_RECIPE_NAME} is not a JSON object: expected a recipe from save_index")
    if recipe.get("format_version") != INDEX_VERSION:
        raise FormatVersionError(f"{root / INDEX_RECIPE_NAME} has format_version {recipe.get('format_version')!r}; "
                                 f"this ragmtl reads version {INDEX_VERSION} only")
    kinds = ["dense", *SPARSE_KINDS]
    if recipe.get("kind") not in kinds:
        raise ValueError(f"{root / INDEX_RECIPE_NAME} has kind {recipe.get('kind')!r}; known kinds: {kinds}")
    try:
        if recipe["kind"] == "dense":
            if FAISS_NAME not in entries:
                raise MissingFileError(f"{root}/manifest.json does not list {FAISS_NAME}, which a dense index needs")
            return _load_dense(root, recipe, encoder)
        return rebuild_sparse(recipe, texts)
    except (KeyError, TypeError) as err:
        raise CorruptFileError(f"{root / INDEX_RECIPE_NAME} lacks or mistypes a field ({type(err).__name__}: "
                               f"{err}): expected a recipe from save_index") from None
