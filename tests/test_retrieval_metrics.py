"""Ranking metrics on a ranking worked out by hand."""
import math

import numpy as np
import pytest

from ragmtl.retrieval import average_precision, evaluate_run, ids_to_run, mrr_at_k, ndcg_at_k, recall_at_k

# ranking:   d1   d2   d3   d4   d5
# grade:     0    2    0    1    0     (d6, grade 1, and d7, grade 0, are judged but not retrieved)
RANKING = ["d1", "d2", "d3", "d4", "d5"]
RELS = {"d2": 2, "d4": 1, "d6": 1, "d7": 0}


def test_recall_by_hand():
    assert recall_at_k(RANKING, RELS, 1) == 0.0
    assert recall_at_k(RANKING, RELS, 2) == pytest.approx(1 / 3)
    assert recall_at_k(RANKING, RELS, 5) == pytest.approx(2 / 3)
    assert recall_at_k(RANKING, RELS, 100) == pytest.approx(2 / 3)


def test_mrr_by_hand():
    assert mrr_at_k(RANKING, RELS, 1) == 0.0
    assert mrr_at_k(RANKING, RELS, 10) == pytest.approx(0.5)


def test_ndcg_by_hand():
    dcg = 2 / math.log2(3) + 1 / math.log2(5)
    idcg = 2 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(RANKING, RELS, 5) == pytest.approx(dcg / idcg)
    # at k=2 the ideal list is cut at 2 as well
    assert ndcg_at_k(RANKING, RELS, 2) == pytest.approx((2 / math.log2(3)) / (2 + 1 / math.log2(3)))
    assert ndcg_at_k(["d2", "d4", "d6"], RELS, 10) == pytest.approx(1.0)


def test_average_precision_by_hand():
    assert average_precision(RANKING, RELS) == pytest.approx((1 / 2 + 2 / 4) / 3)
    assert average_precision(RANKING, RELS, k=3) == pytest.approx((1 / 2) / 3)
    assert average_precision(["d6", "d2", "d4"], RELS) == pytest.approx(1.0)


def test_evaluate_run_and_ids_to_run():
    qrels = {"q1": RELS, "q2": {"a": 1}, "q3": {"b": 0}}  # q3 has no relevant document: skipped
    run = ids_to_run(["q1", "q2"], np.array([[0, 1, 2, 3, 4], [5, -1, -1, -1, -1]]),
                     ["d1", "d2", "d3", "d4", "d5", "a"])
    assert run == {"q1": RANKING, "q2": ["a"]}
    res = evaluate_run(run, qrels, ["recall@5", "mrr@10", "ndcg@5", "map@5"])
    assert res["recall@5"].tolist() == pytest.approx([2 / 3, 1.0])
    assert res["mrr@10"].tolist() == pytest.approx([0.5, 1.0])
    assert res["ndcg@5"][1] == pytest.approx(1.0)
    assert evaluate_run({}, {"q2": {"a": 1}}, ["ndcg@10"])["ndcg@10"].tolist() == [0.0]


def test_bad_metric_inputs():
    with pytest.raises(ValueError, match="bad metric 'precision@5'"):
        evaluate_run({}, {}, ["precision@5"])
    with pytest.raises(ValueError, match="bad metric"):
        evaluate_run({}, {}, ["ndcg@0"])
    with pytest.raises(ValueError, match="k must be a positive int"):
        recall_at_k(RANKING, RELS, 0)
    with pytest.raises(ValueError, match="no relevant document"):
        ndcg_at_k(RANKING, {"d1": 0}, 10)
