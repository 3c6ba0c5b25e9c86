"""Checksummed public datasets and loaders that return plain typed records.

Files are read from :func:`data_dir` (``$RAGMTL_DATA``, else a per-user cache), checked against
the manifest shipped with the package, and downloaded on a miss when the network allows.
"""
from .banking import load_banking77
from .clinc import Clinc150, load_clinc150
from .records import LabelledText, TextClassification, seeded_split
from .scifact import Document, Query, SciFact, cited_qrels, load_scifact, parse_abstract
from .sentclf import SENTCLF_TASKS, load_sentclf
from .sentiment import UCI_DOMAINS, load_uci_sentiment
from .squad import Answer, Paragraph, Question, SQuAD2, load_squad2
from .store import (DataChecksumError, DataFileMissingError, ManifestEntry, data_dir, datasets,
                    fetch, manifest, sha256_of)

__all__ = [
    "load_banking77", "Clinc150", "load_clinc150", "LabelledText", "TextClassification",
    "seeded_split", "Document", "Query", "SciFact", "cited_qrels", "load_scifact", "parse_abstract",
    "SENTCLF_TASKS", "load_sentclf", "UCI_DOMAINS", "load_uci_sentiment", "Answer", "Paragraph",
    "Question", "SQuAD2", "load_squad2", "DataChecksumError", "DataFileMissingError",
    "ManifestEntry", "data_dir", "datasets", "fetch", "manifest", "sha256_of",
]
