"""Retrievers for the retrieval chapter: BM25, TF-IDF, dense MiniLM + FAISS, hybrid RRF, metrics.

Every retriever indexes a corpus once and answers ``search(queries, k) -> (scores, ids)`` with two
[n_queries, k] arrays, best first (see :mod:`ragmtl.retrieval.base`). FAISS is imported only when a
dense index is built.
"""
from .analyzer import LUCENE_STOP_WORDS, Analyzer, AnalyzerConfig
from .ann_sweep import SweepPoint, recall_vs_exact, sweep_indexes
from .base import Retriever, check_k, top_k, top_k_sparse
from .bm25 import BM25, IDF_VARIANTS, BM25Config, bm25_idf, bm25_term_weight, bm25_weights
from .dense import INDEX_TYPES, DenseConfig, DenseRetriever, build_faiss_index
from .evaluate import evaluate_retriever, ids_to_run
from .hybrid import HybridConfig, HybridRetriever, reciprocal_rank_fusion
from .metrics import average_precision, evaluate_run, mrr_at_k, ndcg_at_k, recall_at_k
from .sparse import Vocabulary, count_matrix
from .tfidf import TfidfConfig, TfidfRetriever, tfidf_idf, tfidf_vectors

__all__ = [
    "SweepPoint", "recall_vs_exact", "sweep_indexes",
    "LUCENE_STOP_WORDS", "Analyzer", "AnalyzerConfig", "Retriever", "check_k", "top_k", "top_k_sparse", "BM25",
    "IDF_VARIANTS", "BM25Config", "bm25_idf", "bm25_term_weight", "bm25_weights", "INDEX_TYPES", "DenseConfig",
    "DenseRetriever", "build_faiss_index", "evaluate_retriever", "ids_to_run", "HybridConfig",
    "HybridRetriever", "reciprocal_rank_fusion", "average_precision", "evaluate_run", "mrr_at_k",
    "ndcg_at_k", "recall_at_k", "Vocabulary", "count_matrix", "TfidfConfig", "TfidfRetriever",
    "tfidf_idf", "tfidf_vectors",
]
