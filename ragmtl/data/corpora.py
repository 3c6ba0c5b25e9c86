"""Named corpora made from the data manifest's datasets: the texts a retriever indexes, in order,
and the dataset's own id for each (so a search result names the document, not a row number).

A plain registry dict (``CORPORA``); the loaders run only when a corpus is built. Sharing recipes
(``ragmtl.sharing``) and the command line (``ragmtl retrieve --corpus``) both read it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["CorpusBuilder", "CORPORA"]


@dataclass(frozen=True)
class CorpusBuilder:
    """How one corpus is made from a dataset of ragmtl's data manifest: ``build() -> list[str]``
    and ``ids() -> list[str]``, the dataset's document ids in the same order."""

    dataset: str
    build: Callable[[], list[str]]
    description: str
    ids: Callable[[], list[str]]


def _scifact(with_title: bool) -> Callable[[], list[str]]:
    def build() -> list[str]:
        from .scifact import load_scifact

        return [(d.title + " " + d.text) if with_title else d.text for d in load_scifact().corpus]
    return build


def _scifact_ids() -> list[str]:
    from .scifact import load_scifact

    return [d.doc_id for d in load_scifact().corpus]


#: Named corpora; add an entry for a new corpus (a plain dict, no magic).
CORPORA: dict[str, CorpusBuilder] = {
    "scifact/title+text": CorpusBuilder("scifact", _scifact(True), "SciFact abstracts as BEIR indexes them: "
                                        "title, a space, the abstract (the retrieval chapter's corpus)", _scifact_ids),
    "scifact/text": CorpusBuilder("scifact", _scifact(False), "SciFact abstracts without titles", _scifact_ids),
}
