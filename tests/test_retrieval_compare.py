"""Retriever comparisons with intervals, and the validation grids of ragmtl.retrieval.compare."""
import numpy as np
import pytest

from ragmtl.eval import bootstrap_mean, paired_bootstrap
from ragmtl.retrieval import BM25, BM25Config, evaluate_run, ids_to_run
from ragmtl.retrieval.compare import best_setting, bm25_grid, paired_differences, rrf_grid, score_intervals

DOC_IDS = ["d0", "d1", "d2", "d3"]
DOCS = [["cat", "mat"], ["dog"] * 4 + ["park", "walk", "ball", "run"] * 3, ["dog", "bone"], ["cat", "dog"]]
QUERY_IDS, QUERIES = ["q0", "q1"], [["dog"], ["cat"]]
QRELS = {"q0": {"d2": 1}, "q1": {"d0": 1}}


def test_intervals_and_paired_differences_match_ragmtl_eval():
    rng = np.random.default_rng(0)
    per_query = {"a": {"ndcg@10": rng.random(30)}, "b": {"ndcg@10": rng.random(30)}}
    iv = score_intervals(per_query, ["ndcg@10"])
    assert iv["a"]["ndcg@10"] == bootstrap_mean(per_query["a"]["ndcg@10"])
    d = paired_differences(per_query, [("a", "b")], ["ndcg@10"])[("a", "b")]["ndcg@10"]
    assert d == paired_bootstrap(per_query["a"]["ndcg@10"], per_query["b"]["ndcg@10"])
    with pytest.raises(KeyError, match="unknown system 'c'"):
        paired_differences(per_query, [("a", "c")], ["ndcg@10"])
    with pytest.raises(KeyError, match="recall@100"):
        score_intervals(per_query, ["recall@100"])


def test_bm25_grid_by_hand():
    # q0 "dog": b = 1 punishes d1's length and ranks the short d2 first (nDCG 1); with b = 0, d1's
    # four occurrences win and d2 is second (nDCG 1/log2(3)); q1 "cat" ranks d0 first either way.
    grid = bm25_grid(DOCS, QUERIES, QUERY_IDS, DOC_IDS, QRELS, k1s=[1.2], bs=[0.0, 1.0], depth=4)
    assert grid[(1.2, 1.0)] == pytest.approx(1.0)
    assert grid[(1.2, 0.0)] == pytest.approx((1 / np.log2(3) + 1) / 2)
    assert best_setting(grid) == (1.2, 1.0)
    _, ids = BM25(BM25Config(1.2, 0.0)).index_tokens(DOCS).search_tokens(QUERIES, 4)
    direct = evaluate_run(ids_to_run(QUERY_IDS, ids, DOC_IDS), QRELS, ("ndcg@10",))["ndcg@10"].mean()
    assert grid[(1.2, 0.0)] == pytest.approx(direct)


def test_rrf_grid_weights():
    first = np.array([[2, 0, 1, 3], [0, 1, 2, 3]])  # q0: d2 first, q1: d0 first (both right)
    second = np.array([[1, 2, 0, 3], [3, 0, 1, 2]])
    grid = rrf_grid([first, second], 4, QUERY_IDS, DOC_IDS, QRELS, cs=[60], first_weights=[1.0, 0.0], depth=4)
    assert grid[(60, 1.0)] == pytest.approx(1.0)  # the first ranking alone
    assert grid[(60, 0.0)] == pytest.approx(1 / np.log2(3))  # the second alone: both relevant docs second
    with pytest.raises(ValueError, match="two rankings"):
        rrf_grid([first], 4, QUERY_IDS, DOC_IDS, QRELS, cs=[60], first_weights=[0.5])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        rrf_grid([first, second], 4, QUERY_IDS, DOC_IDS, QRELS, cs=[60], first_weights=[1.5])


def test_best_setting_ties_and_empty():
    assert best_setting({(1, 2): 0.5, (3, 4): 0.7, (5, 6): 0.7}) == (3, 4)
    with pytest.raises(ValueError, match="at least one"):
        best_setting({})
