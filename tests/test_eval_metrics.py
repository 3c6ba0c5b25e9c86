"""Accuracy, macro-F1, Delta_MTL and the transfer matrix: hand-computed cases and scikit-learn as a peer."""
import math
import random

import pytest

from ragmtl.eval import accuracy, delta_mtl, macro_f1, per_class_f1, relative_change, transfer_matrix

# predictions and golds small enough to count on paper:
#   a: TP 1, predicted 2, gold 1 -> F1 = 2/(2+1) = 2/3
#   b: TP 1, predicted 1, gold 3 -> F1 = 2/(1+3) = 1/2
#   c: TP 0, predicted 1, gold 0 -> F1 = 0 (only predicted, still counted)
PRED = ["a", "a", "b", "c"]
GOLD = ["a", "b", "b", "b"]


def test_accuracy_hand_computed():
    assert accuracy(PRED, GOLD) == pytest.approx(0.5)
    assert accuracy([1, 2, 3], [1, 2, 3]) == 1.0
    assert accuracy([0], [1]) == 0.0


def test_macro_f1_hand_computed():
    assert per_class_f1(PRED, GOLD) == pytest.approx({"a": 2 / 3, "b": 0.5, "c": 0.0})
    assert macro_f1(PRED, GOLD) == pytest.approx((2 / 3 + 0.5 + 0.0) / 3)
    # a fixed label set adds the unseen class "d" with F1 = 0
    assert macro_f1(PRED, GOLD, labels=["a", "b", "c", "d"]) == pytest.approx((2 / 3 + 0.5) / 4)
    assert macro_f1([0, 1], [0, 1]) == 1.0


def test_macro_f1_matches_sklearn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = random.Random(0)
    for n_classes, n in [(2, 7), (3, 20), (5, 40)]:
        gold = [rng.randrange(n_classes) for _ in range(n)]
        pred = [rng.randrange(n_classes + 1) for _ in range(n)]  # class n_classes is predicted-only
        peer = sklearn_metrics.f1_score(gold, pred, average="macro")
        siblings = {avg: sklearn_metrics.f1_score(gold, pred, average=avg) for avg in ("micro", "weighted")}
        siblings["gold classes only"] = sklearn_metrics.f1_score(gold, pred, average="macro",
                                                                 labels=sorted(set(gold)), zero_division=0)
        for name, value in siblings.items():  # the inputs tell macro-F1 from its nearest siblings
            assert abs(value - peer) > 1e-3, (n_classes, n, name)
        assert macro_f1(pred, gold) == pytest.approx(peer)
        assert accuracy(pred, gold) == pytest.approx(sklearn_metrics.accuracy_score(gold, pred))
        labels = list(range(n_classes + 3))
        expected = sklearn_metrics.f1_score(gold, pred, average="macro", labels=labels, zero_division=0)
        assert macro_f1(pred, gold, labels=labels) == pytest.approx(expected)
    assert macro_f1(PRED, GOLD) == pytest.approx(sklearn_metrics.f1_score(GOLD, PRED, average="macro"))


@pytest.mark.parametrize("pred,gold,match", [
    ([0, 1], [0], "2 predictions for 1 gold"),
    ([], [], "no predictions"),
    ("ab", "ab", "not a single str"),
])
def test_classification_bad_inputs(pred, gold, match):
    for metric in (accuracy, macro_f1):
        with pytest.raises(ValueError, match=match):
            metric(pred, gold)


def test_macro_f1_bad_labels():
    with pytest.raises(ValueError, match=r"\['c'\] occur in the data"):
        macro_f1(PRED, GOLD, labels=["a", "b"])
    with pytest.raises(ValueError, match="distinct"):
        macro_f1(PRED, GOLD, labels=["a", "b", "c", "a"])


def test_relative_change_and_delta_mtl_hand_computed():
    assert relative_change(0.9, 0.8) == pytest.approx(12.5)
    assert relative_change(0.15, 0.2, lower_is_better=True) == pytest.approx(25.0)  # error fell by a quarter
    assert relative_change(-1.0, -2.0) == pytest.approx(50.0)  # a log-likelihood that rose
    # acc: +12.5 %; err: 0.2 -> 0.15 is +25 % once signed; Delta_MTL = (12.5 + 25) / 2
    multi, single = {"acc": 0.9, "err": 0.15}, {"acc": 0.8, "err": 0.2}
    assert delta_mtl(multi, single, lower_is_better={"err"}) == pytest.approx(18.75)
    # forgetting the sign turns the error's gain into a loss: (12.5 - 25) / 2
    assert delta_mtl(multi, single) == pytest.approx(-6.25)
    assert delta_mtl({"a": 1.0}, {"a": 1.0}) == 0.0


@pytest.mark.parametrize("multi,single,lower,match", [
    ({"a": 1.0}, {"b": 1.0}, (), "same tasks"),
    ({}, {}, (), "no tasks"),
    ({"a": 1.0}, {"a": 0.0}, (), "baseline score is 0"),
    ({"a": 1.0}, {"a": 1.0}, {"loss"}, r"unknown tasks \['loss'\]"),
    ({"a": 1.0}, {"a": 1.0}, "a", "not the str"),
    ({"a": math.nan}, {"a": 1.0}, (), "finite"),
])
def test_delta_mtl_bad_inputs(multi, single, lower, match):
    with pytest.raises(ValueError, match=match):
        delta_mtl(multi, single, lower_is_better=lower)


SINGLE = {"sst2": 0.80, "trec": 0.90, "ppl": 20.0}
PAIRS = {
    ("trec", "sst2"): 0.84, ("ppl", "sst2"): 0.76,  # sst2: +5 %, -5 %
    ("sst2", "trec"): 0.90, ("ppl", "trec"): 0.99,  # trec: 0 %, +10 %
    ("sst2", "ppl"): 25.0, ("trec", "ppl"): 15.0,  # perplexity, lower is better: -25 %, +25 %
}


def test_transfer_matrix_hand_computed():
    m = transfer_matrix(SINGLE, PAIRS, lower_is_better={"ppl"})
    assert list(m.index) == ["sst2", "trec", "ppl"] and list(m.columns) == ["sst2", "trec", "ppl"]
    assert (m.index.name, m.columns.name) == ("source", "target")
    expected = {("trec", "sst2"): 5.0, ("ppl", "sst2"): -5.0, ("sst2", "trec"): 0.0,
                ("ppl", "trec"): 10.0, ("sst2", "ppl"): -25.0, ("trec", "ppl"): 25.0}
    for (source, target), value in expected.items():
        assert m.loc[source, target] == pytest.approx(value)
    assert all(math.isnan(m.loc[t, t]) for t in SINGLE)


@pytest.mark.parametrize("single,pairs,lower,match", [
    (SINGLE, {k: v for k, v in PAIRS.items() if k != ("ppl", "trec")}, {"ppl"}, r"lacks the ordered pairs \[\('ppl', 'trec'\)\]"),
    (SINGLE, {**PAIRS, ("qa", "sst2"): 0.5}, {"ppl"}, r"unknown tasks \['qa'\]"),
    (SINGLE, {**PAIRS, ("trec", "trec"): 0.5}, {"ppl"}, "with itself"),
    (SINGLE, {**PAIRS, "trec": 0.5}, {"ppl"}, r"\(source, target\) tuples"),
    (SINGLE, PAIRS, {"loss"}, r"unknown tasks \['loss'\]"),
    ({"sst2": 0.8}, {}, (), "at least two tasks"),
    ({**SINGLE, "trec": 0.0}, PAIRS, {"ppl"}, "baseline score is 0"),
])
def test_transfer_matrix_bad_inputs(single, pairs, lower, match):
    with pytest.raises(ValueError, match=match):
        transfer_matrix(single, pairs, lower_is_better=lower)
