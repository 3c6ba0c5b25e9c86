"""Sparse indexes (BM25, TF-IDF) shared as a recipe: the corpus's identity plus every setting.

A BM25 or TF-IDF index is a deterministic function of the corpus texts, the analyzer settings and
the retriever settings, and rebuilding it takes seconds, so it is shared as JSON rather than as
matrices::

    {"kind": "bm25", "analyzer": {...AnalyzerConfig...}, "config": {...BM25Config...},
     "corpus": {"builder": "scifact/title+text", "dataset": "scifact", "files": {"scifact.zip": "a798..."},
                "n_docs": 5183, "texts_sha256": "..."},
     "tokens_sha256": "...", "versions": {"snowballstemmer": "3.0.1"}}

The corpus is named by a builder in :data:`CORPUS_BUILDERS` (which dataset of ragmtl's data
manifest, and how its records become texts), pinned by the sha256 of the dataset's files and of
the texts themselves; a corpus that is not in the registry can still be shared, with the texts
passed by hand on both sides and checked against ``texts_sha256``. ``tokens_sha256`` hashes the
analyzer's output, so a changed stemmer is caught on rebuilding instead of silently moving scores.
"""
from __future__ import annotations

import hashlib
from typing import Any, Sequence

import numpy as np

from ..data.corpora import CORPORA, CorpusBuilder
from ..retrieval import BM25, Analyzer, AnalyzerConfig, BM25Config, TfidfConfig, TfidfRetriever
from .config_io import config_from_dict, config_to_dict

__all__ = ["CorpusBuilder", "CORPUS_BUILDERS", "SPARSE_KINDS", "texts_sha256", "tokens_sha256",
           "resolve_corpus", "sparse_recipe",
           "rebuild_sparse"]


#: Named corpora a recipe can refer to: the data layer's registry (``ragmtl.data.corpora``).
CORPUS_BUILDERS: dict[str, CorpusBuilder] = CORPORA

#: Sparse retriever kinds: name -> (retriever class, config class).
SPARSE_KINDS = {"bm25": (BM25, BM25Config), "tfidf": (TfidfRetriever, TfidfConfig)}


def texts_sha256(texts: Sequence[str]) -> str:
    """sha256 of a list of texts (each length-prefixed, so ['ab', 'c'] and ['a', 'bc'] differ)."""
    h = hashlib.sha256()
    for text in texts:
        data = text.encode("utf-8")
        h.update(len(data).to_bytes(8, "little") + data)
    return h.hexdigest()


def tokens_sha256(docs: Sequence[Sequence[str]]) -> str:
    """sha256 of analyzed documents (lists of terms): what the index is built from."""
    h = hashlib.sha256()
    for doc in docs:
        h.update(len(doc).to_bytes(8, "little"))
        h.update(texts_sha256(doc).encode("ascii"))
    return h.hexdigest()


def _kind_of(retriever) -> str:
    kind = next((k for k, (cls, _) in SPARSE_KINDS.items() if type(retriever) is cls), None)
    if kind is None:
        raise TypeError(f"no recipe for a {type(retriever).__name__}: sparse recipes cover "
                        f"{[c.__name__ for c, _ in SPARSE_KINDS.values()]}")
    if type(retriever.analyzer) is not Analyzer:
        raise TypeError(f"the {kind} index uses a {type(retriever.analyzer).__name__}; a recipe can only "
                        "record ragmtl's Analyzer, whose behaviour is fixed by its AnalyzerConfig")
    if retriever.n_docs == 0:
        raise ValueError(f"the {kind} retriever has no index yet: call index(texts) before saving it")
    return kind


def _build(kind: str, config, analyzer: Analyzer, texts: list[str]):
    docs = analyzer.analyze_all(texts)
    retriever = SPARSE_KINDS[kind][0](config, analyzer)
    retriever = retriever.index_tokens(docs) if kind == "bm25" else retriever.index(texts)
    return retriever, tokens_sha256(docs)


def _same_index(a, b) -> bool:
    if list(a.vocab.index.items()) != list(b.vocab.index.items()) or a.n_docs != b.n_docs:
        return False
    mats = ("weights_t",) if isinstance(a, BM25) else ("doc_vectors_t",)
    return np.array_equal(a.idf, b.idf) and all(
        np.array_equal(getattr(getattr(a, m), p), getattr(getattr(b, m), p))
        for m in mats for p in ("indptr", "indices", "data"))


def resolve_corpus(corpus: str | None, texts: Sequence[str] | None) -> tuple[dict[str, Any], list[str]]:
    """(identity, texts) of a named corpus and/or given texts; both given must agree."""
    if corpus is None and texts is None:
        raise ValueError("a sparse index keeps no copy of its texts: name the corpus "
                         f"(one of {sorted(CORPUS_BUILDERS)}) or pass texts=")
    builder = None
    if corpus is not None:
        if corpus not in CORPUS_BUILDERS:
            raise ValueError(f"unknown corpus {corpus!r}; known corpora: {sorted(CORPUS_BUILDERS)}")
        builder = CORPUS_BUILDERS[corpus]
        built = builder.build()
        if texts is not None and texts_sha256(list(texts)) != texts_sha256(built):
            raise ValueError(f"the texts given are not corpus {corpus!r} (their sha256 differs)")
        texts = built
    texts = list(texts)
    from ..data import manifest

    files = {e.file: e.sha256 for e in manifest() if builder and e.dataset == builder.dataset}
    identity = {"builder": corpus, "dataset": builder.dataset if builder else None, "files": files,
                "n_docs": len(texts), "texts_sha256": texts_sha256(texts)}
    return identity, texts


def sparse_recipe(retriever, corpus: str | None = None, texts: Sequence[str] | None = None) -> dict[str, Any]:
    """The JSON recipe of a built BM25/TF-IDF ``retriever`` over corpus ``corpus`` or ``texts``.

    The recipe is rebuilt once here and must reproduce the retriever's index exactly (same
    vocabulary, idf and weight matrix), so a recipe that would not rebuild is never written.
    Raises ``TypeError`` for another retriever type and ``ValueError`` for an unknown corpus, texts
    that differ from it, or texts that are not the ones indexed.
    """
    kind = _kind_of(retriever)
    identity, texts = resolve_corpus(corpus, texts)
    rebuilt, tokens_hash = _build(kind, retriever.config, retriever.analyzer, texts)
    if not _same_index(rebuilt, retriever):
        raise ValueError(f"the {kind} retriever was not indexed on these {len(texts)} texts with its own settings "
                         f"(it holds {retriever.n_docs} documents): its recipe would not rebuild it")
    versions = {}
    if retriever.analyzer.config.stem:
        import snowballstemmer

        versions["snowballstemmer"] = getattr(snowballstemmer, "__version__", "unknown")
    return {"kind": kind, "analyzer": config_to_dict(retriever.analyzer.config),
            "config": config_to_dict(retriever.config), "corpus": identity, "tokens_sha256": tokens_hash,
            "versions": versions}


def rebuild_sparse(recipe: dict[str, Any], texts: Sequence[str] | None = None):
    """Rebuild the BM25/TF-IDF retriever a :func:`sparse_recipe` describes.

    A named corpus is rebuilt from ragmtl's data (whose file sha256 must still be the recorded ones);
    otherwise ``texts`` must be given. Raises ``ValueError`` when the data files, the texts or the
    analyzer's output differ from those recorded.
    """
    kind, corpus = recipe["kind"], recipe["corpus"]
    if kind not in SPARSE_KINDS:
        raise ValueError(f"unknown sparse index kind {kind!r}; known kinds: {sorted(SPARSE_KINDS)}")
    if corpus["builder"] is None and texts is None:
        raise ValueError(f"this {kind} recipe's corpus is not a named one: pass the {corpus['n_docs']} texts "
                         f"(sha256 {corpus['texts_sha256']}) as texts=")
    identity, texts = resolve_corpus(corpus["builder"], texts)
    if identity["files"] != corpus["files"]:
        raise ValueError(f"the data files of {corpus['dataset']!r} differ from those the recipe was made with: "
                         f"recorded {corpus['files']}, ragmtl's data manifest now has {identity['files']}")
    if identity["texts_sha256"] != corpus["texts_sha256"]:
        raise ValueError(f"the {len(texts)} texts are not the recipe's corpus ({corpus['n_docs']} texts, "
                         f"sha256 {corpus['texts_sha256']}; got {identity['texts_sha256']})")
    analyzer = Analyzer(config_from_dict(AnalyzerConfig, recipe["analyzer"]))
    retriever, tokens_hash = _build(kind, config_from_dict(SPARSE_KINDS[kind][1], recipe["config"]), analyzer, texts)
    if tokens_hash != recipe["tokens_sha256"]:
        raise ValueError(f"the analyzer now turns the corpus into other terms than when the recipe was written "
                         f"(recorded versions {recipe.get('versions')}): the rebuilt index would score differently")
    return retriever
