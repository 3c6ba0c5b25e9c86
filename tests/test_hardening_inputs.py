"""Degenerate inputs get a clear refusal or an explicit empty result, never a silent wrong answer.

Dense vectors with NaN or infinity, a query with no indexed term, rankings that repeat a document,
empty MTL tasks and splits, labels outside ``num_classes``, empty MAML support sets; and one
implementation per metric behind ``ragmtl.mtl``'s names.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from ragmtl import eval as ev
from ragmtl import mtl
from ragmtl.retrieval import BM25, DenseRetriever, TfidfRetriever, average_precision, evaluate_run, ndcg_at_k
from ragmtl.retrieval.metrics import mrr_at_k, recall_at_k

DOCS = ["the cat sat on the mat", "dogs chase cats in the park", "stock markets fell on monday"]


# ---- dense vectors ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_document_vectors_are_refused_with_their_ids(bad):
    vectors = np.eye(5, 4, dtype=np.float32)
    vectors[1, 2] = bad
    vectors[3, 0] = bad
    with pytest.raises(ValueError, match=r"document vectors 1, 3 hold NaN or infinite values"):
        DenseRetriever().index_vectors(vectors)


def test_finite_vectors_keep_every_document():
    retriever = DenseRetriever().index_vectors(np.eye(5, 4, dtype=np.float32))
    _, ids = retriever.search(np.ones((1, 4), dtype=np.float32), 5)
    assert sorted(ids[0].tolist()) == [0, 1, 2, 3, 4]  # FAISS would drop a NaN row without a word


def test_non_finite_query_is_refused():
    retriever = DenseRetriever().index_vectors(np.eye(3, 4, dtype=np.float32))
    queries = np.ones((3, 4), dtype=np.float32)
    queries[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"query vectors 2 hold NaN"):
        retriever.search(queries, 2)


def test_zero_dimensional_vectors_are_refused():
    with pytest.raises(ValueError, match="dim >= 1"):
        DenseRetriever().index_vectors(np.zeros((3, 0), dtype=np.float32))


# ---- sparse queries without an indexed term ----------------------------------------------------------------------

@pytest.mark.parametrize("make", [BM25, TfidfRetriever])
def test_query_without_indexed_term_gets_an_empty_result_and_a_warning(make):
    retriever = make().index(DOCS)
    with pytest.warns(UserWarning, match=r"2 of 3 queries share no term with the index.*'the of and'"):
        scores, ids = retriever.search(["the of and", "cat", "zebra quokka"], 2)
    assert ids[0].tolist() == [-1, -1] and ids[2].tolist() == [-1, -1]
    assert np.isneginf(scores[0]).all() and np.isneginf(scores[2]).all()
    assert ids[1, 0] == 0 and scores[1, 0] > 0  # the query with a term is answered as before


@pytest.mark.parametrize("make", [BM25, TfidfRetriever])
def test_queries_with_terms_do_not_warn(make):
    retriever = make().index(DOCS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores, ids = retriever.search(["cat", "markets"], 3)
    assert (ids >= 0).all() and np.isfinite(scores).all()


def test_cli_retrieve_says_no_result_on_stderr(capsys, tmp_path):
    import json

    from ragmtl.cli import main

    (tmp_path / "docs.txt").write_text("\n".join(DOCS), encoding="utf-8")
    code = main(["retrieve", "--method", "bm25", "--texts", str(tmp_path / "docs.txt"), "the of", "cat"])
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and lines[0] == {"query": "the of", "results": []} and lines[1]["results"][0]["id"] == 0
    assert "ragmtl: warning: query 'the of' has no term in the bm25 index: no result" in err
    assert "'cat'" not in err


def test_cli_retrieve_names_a_file_that_is_not_utf8(capsys, tmp_path):
    from ragmtl.cli import main

    (tmp_path / "docs.txt").write_bytes(b"caf\xe9\n")
    code = main(["retrieve", "--method", "tfidf", "--texts", str(tmp_path / "docs.txt"), "q"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "docs.txt is not UTF-8" in err


# ---- ranking metrics -------------------------------------------------------------------------------------------

RELS = {"d1": 1, "d2": 2}


@pytest.mark.parametrize("metric", [lambda r: ndcg_at_k(r, RELS, 5), lambda r: average_precision(r, RELS),
                                    lambda r: recall_at_k(r, RELS, 5), lambda r: mrr_at_k(r, RELS, 5)])
def test_repeated_document_ids_are_refused(metric):
    with pytest.raises(ValueError, match=r"lists documents \['d2'\] more than once"):
        metric(["d2", "d2", "d1"])


def test_metrics_stay_within_bounds_on_distinct_ids():
    assert ndcg_at_k(["d2", "d1", "x"], RELS, 3) == pytest.approx(1.0)
    assert average_precision(["d2", "d1"], RELS) == pytest.approx(1.0)
    # with the repeat counted twice these were 1.39 and 1.5; refused instead
    with pytest.raises(ValueError):
        evaluate_run({"q": ["d2", "d2", "d2"]}, {"q": RELS}, ("ndcg@3",))


# ---- MTL: one metric implementation, empty tasks refused -------------------------------------------------------

def test_mtl_metrics_are_the_eval_ones():
    assert mtl.accuracy is ev.accuracy and mtl.macro_f1 is ev.macro_f1 and mtl.delta_mtl is ev.delta_mtl
    assert mtl.macro_f1([7, 7], [7, 8]) == pytest.approx((2 / 3 + 0) / 2)  # labels beyond any num_classes: no NaN
    assert mtl.average({"a": 1.0, "b": 2.0}) == 1.5
    with pytest.raises(ValueError, match="empty score dict"):
        mtl.average({})


def _task(name, n_train=6, n_dev=3, n_test=3, num_classes=2, labels=None):
    def split(n):
        y = torch.arange(n) % num_classes if labels is None else torch.tensor(labels[:n])
        return torch.randn(n, 4), y
    (xt, yt), (xd, yd), (xs, ys) = split(n_train), split(n_dev), split(n_test)
    return mtl.TaskData(name, num_classes, xt, yt, xd, yd, xs, ys)


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_train=0), "task 'sst2' has an empty train split"),
    (dict(n_dev=0), "task 'sst2' has an empty dev split"),
    (dict(n_test=0), "task 'sst2' has an empty test split"),
    (dict(labels=[0, 1, 2, 0, 1, 0]), r"task 'sst2', train split: labels must be in \[0, 2\)"),
    (dict(labels=[0, -1, 1, 0, 1, 0]), r"labels must be in \[0, 2\), got -1..1"),
    (dict(num_classes=1), "num_classes must be >= 2"),
])
def test_empty_or_bad_tasks_are_refused_naming_the_task(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _task("sst2", **kwargs)


def test_task_batch_sizes_refuse_an_empty_task():
    with pytest.raises(ValueError, match=r"tasks \['b'\] have no training example"):
        mtl.task_batch_sizes({"a": 10, "b": 0}, 8)
    assert mtl.task_batch_sizes({"a": 10, "b": 10}, 8) == {"a": 4, "b": 4}


# ---- MAML: empty support sets ----------------------------------------------------------------------------------

def test_empty_support_or_query_set_is_refused():
    from ragmtl.meta import TaskBatch

    x, y = torch.zeros(2, 5, 3), torch.zeros(2, 5, dtype=torch.long)
    empty_x, empty_y = torch.zeros(2, 0, 3), torch.zeros(2, 0, dtype=torch.long)
    with pytest.raises(ValueError, match="empty support set"):
        TaskBatch(empty_x, empty_y, x, y)
    with pytest.raises(ValueError, match="empty query set"):
        TaskBatch(x, y, empty_x, empty_y)
    with pytest.raises(ValueError, match="T >= 1 tasks"):
        TaskBatch(x, y, x[:1], y[:1])
    with pytest.raises(ValueError, match="differ in length"):
        TaskBatch(x, y[:, :4], x, y)
    assert TaskBatch(x, y, x, y).num_tasks == 2


def test_adapt_refuses_an_empty_support_set():
    from ragmtl.meta.inner import adapt

    model = torch.nn.Linear(3, 2)
    params = {n: p.detach() for n, p in model.named_parameters()}
    loss = torch.nn.functional.cross_entropy
    with pytest.raises(ValueError, match="non-empty support set"):
        adapt(model, params, torch.zeros(0, 3), torch.zeros(0, dtype=torch.long), loss, 0.1, 1)
    same = adapt(model, params, torch.zeros(0, 3), torch.zeros(0, dtype=torch.long), loss, 0.1, 0)
    assert all(torch.equal(same[n], params[n]) for n in params)  # zero steps: nothing to divide
    moved = adapt(model, params, torch.ones(2, 3), torch.tensor([0, 1]), loss, 0.1, 1)
    assert all(math.isfinite(float(v.abs().sum())) for v in moved.values())
