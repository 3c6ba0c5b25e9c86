"""Per-item scores, validation-only choices and the transfer matrix's intervals (the capstone chapter).

Small fixtures worked out by hand; the equivalence check of ``advance_states`` (states moved up a
layer equal states cached that high) first asserts that moving a layer changes the states by far
more than the tolerance, so a no-op would fail it.
"""
import numpy as np
import pytest
import torch

from ragmtl.adapters import cache_encoded
from ragmtl.eval.mtl import transfer_intervals, transfer_matrix
from ragmtl.eval.stats import Interval, paired_bootstrap
from ragmtl.models import ClassificationSplit, QASplit, item_scores, score
from ragmtl.models.selection import MAIN_METRIC, advance_split, advance_states, choose, main_score

H = 32


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    yield


def tiny_bert(seed: int = 0):
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=64, hidden_size=H, num_hidden_layers=3, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64, initializer_range=0.5)
    return BertModel(config).eval()


class _Pad:
    """The part of a tokenizer ``cache_encoded`` uses: padding lists of ids into tensors."""

    def pad(self, features, return_tensors="pt"):
        width = max(len(x) for x in features["input_ids"])
        ids = torch.zeros(len(features["input_ids"]), width, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for r, x in enumerate(features["input_ids"]):
            ids[r, : len(x)], mask[r, : len(x)] = torch.tensor(x), 1
        return {"input_ids": ids, "attention_mask": mask}


def test_advance_states_equals_caching_higher_and_is_not_a_no_op():
    model = tiny_bert()
    g = np.random.default_rng(0)
    ids = [g.integers(1, 64, size=n).tolist() for n in (5, 9, 3, 7)]
    low = cache_encoded(model, _Pad(), {"input_ids": ids}, 1, bf16=False)
    high = cache_encoded(model, _Pad(), {"input_ids": ids}, 3, bf16=False)
    moved = advance_states(model, low, 1, 3, batch_size=3, bf16=False)
    assert [m.shape for m in moved] == [h.shape for h in high]
    gap = max(float((h.float() - s.float()).abs().max()) for h, s in zip(high, low))
    err = max(float((h.float() - m.float()).abs().max()) for h, m in zip(high, moved))
    assert gap > 0.5  # two layers change the states a lot ...
    assert err < 0.05 < gap / 10  # ... and moving them reproduces caching higher, to bf16 rounding
    one = advance_states(model, low, 1, 2, bf16=False)  # stopping a layer early is not the same
    assert max(float((h.float() - o.float()).abs().max()) for h, o in zip(high, one)) > 10 * err
    assert advance_states(model, low, 2, 2, bf16=False)[0].equal(low[0])
    with pytest.raises(ValueError, match="n_from <= n_to"):
        advance_states(model, low, 2, 1)
    with pytest.raises(ValueError, match="<= 3"):
        advance_states(model, low, 1, 4)


def test_advance_split_keeps_everything_but_the_states():
    model = tiny_bert()
    states = [torch.randn(n, H).to(torch.bfloat16) for n in (2, 4)]
    split = ClassificationSplit("a", ["x", "y"], states, torch.tensor([0, 1]), np.zeros((2, 1), dtype=np.int64),
                                torch.zeros(1, H), torch.tensor([0]))
    moved = advance_split(split, model, 1, 2, bf16=False)
    assert moved is not split and moved.texts == split.texts and moved.labels.equal(split.labels)
    assert not moved.states[1].equal(states[1]) and split.states[1].equal(states[1])  # the original is kept
    assert advance_split(split, model, 2, 2) is split


def classification_split(labels, n_classes=3):
    n = len(labels)
    return ClassificationSplit("c", [str(i) for i in range(n)], [torch.zeros(2, H)] * n, torch.tensor(labels),
                               np.zeros((n, 1), dtype=np.int64), torch.zeros(1, H), torch.tensor([0]))


def qa_split_of(answers):
    n = len(answers)
    return QASplit("q", [f"q{i}" for i in range(n)], answers, [[i] for i in range(n)], np.zeros((n, 1)),
                   ["p"] * n, [torch.zeros(3, H)] * n, [[0, 1, 0]] * n, [[None, (0, 1), None]] * n, [None] * n)


def test_item_scores_by_hand_and_their_means_are_the_scores():
    split = classification_split([0, 1, 2, 1])
    items = item_scores(split, [0, 2, 2, 1])
    assert items["accuracy"].tolist() == [100, 0, 100, 100]
    assert items["accuracy"].mean() == pytest.approx(score(split, [0, 2, 2, 1])["accuracy"])
    qa = qa_split_of([("the Rankine cycle", "Rankine"), ("steam",), ("high pressure",)])
    preds = ["Rankine", "water steam", "low"]
    items = item_scores(qa, preds)
    assert items["em"].tolist() == [100, 0, 0]  # best over the gold answers; "the" is dropped
    assert items["f1"].tolist() == pytest.approx([100, 100 * 2 / 3, 0])  # p = 1/2, r = 1
    scores = score(qa, preds, generation=False)
    assert items["em"].mean() == pytest.approx(scores["em"]) and items["f1"].mean() == pytest.approx(scores["f1"])
    with pytest.raises(ValueError, match="3 predictions for 4 examples"):
        item_scores(split, [0, 1, 2])


def test_main_score_and_choose():
    class Config:
        def task(self, name):
            return type("Spec", (), {"kind": "extractive_qa" if name == "squad2" else "classification"})

    scores = {"trec": {"accuracy": 90.0, "macro_f1": 80.0}, "squad2": {"em": 10.0, "f1": 20.0}}
    assert main_score(Config(), scores) == {"trec": 90.0, "squad2": 20.0}
    assert MAIN_METRIC == {"classification": "accuracy", "extractive_qa": "f1"}
    assert choose({"two layers": {"a": 80, "b": 30}, "one layer": {"a": 90, "b": 10}}) == "two layers"  # 55 vs 50
    assert choose({"x": {"a": 50}, "y": {"a": 50}}) == "x"  # ties: the first
    assert choose({"x": {"a": 50}, "y": {"a": 51}}) == "y"
    with pytest.raises(ValueError, match="no candidates"):
        choose({})
    with pytest.raises(ValueError, match="same tasks"):
        choose({"x": {"a": 1}, "y": {"b": 1}})


def test_transfer_intervals_match_the_matrix_and_tell_signal_from_noise():
    rng = np.random.default_rng(0)
    single = {"a": (rng.random(400) < 0.5).astype(float), "b": rng.random(300)}
    flipped = single["a"].copy()
    flipped[np.flatnonzero(single["a"] == 0)[:100]] = 1  # 100 of 400 items fixed: +50% relative, far from noise
    noise = single["b"] + rng.normal(0, 0.05, 300)  # no systematic change
    pairs = {("b", "a"): flipped, ("a", "b"): noise}
    cis = transfer_intervals(single, pairs)
    means = transfer_matrix({t: v.mean() for t, v in single.items()}, {k: v.mean() for k, v in pairs.items()})
    for s, t in pairs:
        assert isinstance(cis.loc[s, t], Interval)
        assert cis.loc[s, t].estimate == pytest.approx(means.loc[s, t])
        assert cis.loc[s, t].low <= cis.loc[s, t].estimate <= cis.loc[s, t].high
    assert cis.loc["b", "a"].verdict() == "better" and cis.loc["b", "a"].low > 30
    assert cis.loc["a", "b"].verdict() == "no measurable difference"
    assert cis.loc["a", "a"] is None
    # the relative interval is the paired difference of means divided by the single-task mean, resampled together
    points = paired_bootstrap(flipped, single["a"])
    assert points.estimate / single["a"].mean() * 100 == pytest.approx(cis.loc["b", "a"].estimate)
    with pytest.raises(ValueError, match="same items"):
        transfer_intervals(single, {("b", "a"): flipped[:-1], ("a", "b"): noise})
    with pytest.raises(ValueError, match="lacks the ordered pairs"):
        transfer_intervals(single, {("b", "a"): flipped})
