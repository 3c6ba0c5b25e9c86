"""Scaling up and out: compressed and sharded FAISS indexes, checkpointed sharded encoding,
data-parallel training on ``torch.distributed``, BM25 at scale and cost curves.

Modules: ``ann`` (IVF-Flat / IVF-PQ / OPQ / HNSW from factory strings, exact re-ranking, recall
against exact search, bytes per vector), ``sweep`` (the knob sweep as plain records), ``shards``
(one index per shard merged by score), ``store`` (saving compressed indexes through
:mod:`ragmtl.sharing`), ``ddp`` (data-parallel MTL training on torch.distributed, gloo), ``encode`` (a corpus
encoded in checkpointed shards, resumable), ``bm25_scale`` (a Zipf corpus; ragmtl's BM25 vs
bm25s), ``costs`` (log-log power-law fits and the 21M-passage extrapolation). FAISS and torch.distributed are imported only when used;
``ddp_ragmtl`` (the RAG-MTL trainer, data-parallel) and ``cli_ddp`` (``ragmtl train --nproc N``)
import the model code and are not imported here.
"""
from .ann import (REFINE_KINDS, AnnSpec, build_ann, bytes_per_vector, exact_top_k, recall_at_k_vs_exact,
                  set_search_knob, time_search)
from .bm25_scale import (Bm25Timing, ZipfCorpusConfig, as_bm25s_scores, build_bm25s, time_bm25, zipf_corpus,
                         zipf_queries)
from .costs import PowerLaw, WikiAssumptions, fit_power_law, wiki_costs
from .ddp import (DDPConfig, DistributedRunError, AllTasks, check_weighting, free_port, launch_multitask, local_rows,
                  train_multitask_rank)
from .encode import PLAN_NAME, ShardPlan, encode_corpus, finished_shards, load_encoded, shard_plan
from .shards import ShardedIndex, merge_top_k
from .store import ANN_INDEX_NAME, ANN_RECIPE_NAME, ANN_VERSION, load_ann_index, save_ann_index
from .sweep import AnnPoint, sweep_ann

__all__ = [
    "REFINE_KINDS", "AnnSpec", "build_ann", "bytes_per_vector", "exact_top_k", "recall_at_k_vs_exact",
    "set_search_knob", "time_search", "ShardedIndex", "merge_top_k", "ANN_INDEX_NAME", "ANN_RECIPE_NAME",
    "ANN_VERSION", "load_ann_index", "save_ann_index", "AnnPoint", "sweep_ann",
    "DDPConfig", "DistributedRunError", "AllTasks", "check_weighting", "free_port", "launch_multitask", "local_rows",
    "train_multitask_rank", "PLAN_NAME", "ShardPlan", "encode_corpus", "finished_shards", "load_encoded", "shard_plan",
    "Bm25Timing", "ZipfCorpusConfig", "as_bm25s_scores", "build_bm25s", "time_bm25", "zipf_corpus", "zipf_queries",
    "PowerLaw", "WikiAssumptions", "fit_power_law", "wiki_costs",
]
