"""The RAG-MTL model of the book's last chapter, composed from the other packages.

A shared MiniLM (frozen lower layers cached, trainable top layers with optional per-task
adapters), a retriever per task (labelled neighbours in FAISS, or BM25 passages), fusion of what
was retrieved (bilinear attention, or reading the passage with the question), and a head per task,
trained with the MTL chapter's task weightings and shared with checksummed files and a model card.
"""
from .card import card_info
from .config import FUSIONS, TASK_KINDS, TOP_LAYER_TARGETS, RAGMTLConfig, TaskSpec, book_tasks
from .data import (TASK_LOADERS, ClassificationSplit, QASplit, TaskData, classification_splits, clinc_task,
                   collate_states, neighbour_ids, qa_split, squad_task, subsample_indices, trec_task)
from .evaluate import evaluate, item_scores, predict, score
from .experiment import Run, fit
from .heads import NeighbourClassifierHead, SpanHead
from .io import METRICS_NAME, TRAINING_NAME, load_ragmtl, load_task_index, read_metrics, read_training, save_ragmtl
from .model import RAGMTLModel, build_model
from .train import TrainConfig, train_ragmtl

__all__ = [
    "FUSIONS", "TASK_KINDS", "TOP_LAYER_TARGETS", "RAGMTLConfig", "TaskSpec", "book_tasks",
    "TASK_LOADERS", "ClassificationSplit", "QASplit", "TaskData", "classification_splits", "clinc_task",
    "collate_states", "neighbour_ids", "qa_split", "squad_task", "subsample_indices", "trec_task",
    "evaluate", "predict", "score", "item_scores", "Run", "fit", "NeighbourClassifierHead", "SpanHead",
    "METRICS_NAME", "TRAINING_NAME", "load_ragmtl", "load_task_index", "read_metrics", "read_training", "save_ragmtl",
    "RAGMTLModel", "build_model", "TrainConfig", "train_ragmtl", "card_info",
]
