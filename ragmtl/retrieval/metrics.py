"""Ranking metrics with graded relevance, as BEIR reports them (via trec_eval conventions).

A ``ranking`` is a list of document ids, best first; ``rels`` maps the judged documents of one
query to a grade (``qrels[query_id][doc_id] = grade``; grade >= 1 counts as relevant, unjudged
documents are grade 0). With R the set of relevant documents and rel_i the grade at rank i:

* recall@k  = |top-k ∩ R| / |R|
* MRR@k     = 1 / (rank of the first relevant document), 0 if none in the top k
* nDCG@k    = DCG@k / IDCG@k, DCG@k = sum_{i<=k} rel_i / log2(i + 1) (linear gain, Järvelin &
  Kekäläinen, 2002), IDCG@k the DCG of the judged documents sorted by grade
* AP        = (1 / |R|) sum over relevant documents at rank i of precision@i; MAP is its mean
  (here over the full ranking given, or its top k when k is set)

A query with no relevant document raises ``ValueError`` (its metrics are undefined; BEIR drops such
queries from the qrels), and so does a ranking that lists a document twice (it would count the
document's gain twice: nDCG and AP above 1).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

__all__ = ["recall_at_k", "mrr_at_k", "ndcg_at_k", "average_precision", "evaluate_run", "METRICS"]


def _relevant(rels: Mapping[str, int]) -> set:
    relevant = {d for d, g in rels.items() if g > 0}
    if not relevant:
        raise ValueError("this query has no relevant document (grade >= 1): its metrics are undefined")
    return relevant


def _check_ranking(ranking: Sequence[str]) -> Sequence[str]:
    if isinstance(ranking, str):
        raise ValueError(f"a ranking is a sequence of document ids, not the str {ranking!r}")
    if len(set(ranking)) != len(ranking):
        seen, repeated = set(), []
        for doc in ranking:
            if doc in seen and doc not in repeated:
                repeated.append(doc)
            seen.add(doc)
        raise ValueError(f"the ranking lists documents {repeated[:5]} more than once: expected distinct ids "
                         "(each document has one rank)")
    return ranking


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise ValueError(f"k must be a positive int, got {k!r}")


def recall_at_k(ranking: Sequence[str], rels: Mapping[str, int], k: int) -> float:
    """Fraction of the relevant documents found in the top ``k``."""
    _check_k(k)
    _check_ranking(ranking)
    relevant = _relevant(rels)
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def mrr_at_k(ranking: Sequence[str], rels: Mapping[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant document within the top ``k`` (0 if none)."""
    _check_k(k)
    _check_ranking(ranking)
    relevant = _relevant(rels)
    for i, doc in enumerate(ranking[:k], start=1):
        if doc in relevant:
            return 1.0 / i
    return 0.0


def ndcg_at_k(ranking: Sequence[str], rels: Mapping[str, int], k: int) -> float:
    """Normalised discounted cumulative gain at ``k`` with graded (linear) gains."""
    _check_k(k)
    _check_ranking(ranking)
    _relevant(rels)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    gains = np.array([max(rels.get(d, 0), 0) for d in ranking[:k]], dtype=np.float64)
    dcg = float(gains @ discounts[: len(gains)])
    ideal = np.sort(np.array([g for g in rels.values() if g > 0], dtype=np.float64))[::-1][:k]
    return dcg / float(ideal @ discounts[: len(ideal)])


def average_precision(ranking: Sequence[str], rels: Mapping[str, int], k: int | None = None) -> float:
    """Average precision of ``ranking`` (cut at ``k`` if given), normalised by all relevant documents."""
    _check_ranking(ranking)
    if k is not None:
        _check_k(k)
        ranking = ranking[:k]
    relevant = _relevant(rels)
    hits, total = 0, 0.0
    for i, doc in enumerate(ranking, start=1):
        if doc in relevant:
            hits += 1
            total += hits / i
    return total / len(relevant)


METRICS = {"recall": recall_at_k, "mrr": mrr_at_k, "ndcg": ndcg_at_k, "map": average_precision}


def evaluate_run(run: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]],
                 metrics: Sequence[str] = ("ndcg@10", "recall@100", "mrr@10", "map@100"),
                 ) -> dict[str, np.ndarray]:
    """Per-query metric values for a ``run`` (query id -> ranked doc ids) against ``qrels``.

    ``metrics`` are names ``"<metric>@<k>"`` with metric in recall, mrr, ndcg, map. Returns
    ``{name: array [n_queries]}`` in the order of ``qrels`` (queries without relevant documents
    skipped); take ``.mean()`` for the usual averages. A query in qrels missing from ``run`` counts
    as an empty ranking. Raises ``ValueError`` for an unknown metric name.
    """
    parsed = []
    for name in metrics:
        metric, _, k = name.partition("@")
        if metric not in METRICS or not k.isdigit() or int(k) <= 0:
            raise ValueError(f"bad metric {name!r}; expected '<name>@<k>' with name in {list(METRICS)}, k >= 1")
        parsed.append((name, METRICS[metric], int(k)))
    qids = [q for q, rels in qrels.items() if any(g > 0 for g in rels.values())]
    return {name: np.array([fn(list(run.get(q, [])), qrels[q], k) for q in qids]) for name, fn, k in parsed}
