import copy

import numpy as np
import pytest
import torch

from ragmtl.adapters import (AdapterClassifier, AdapterConfig, FinetuneConfig, cache_states, count_parameters,
                             evaluate, freeze_backbone, inject_adapters, lower_states, train_classifier,
                             upper_forward)
from ragmtl.encoders import load_minilm


@pytest.fixture(scope="module")
def minilm():
    return load_minilm()


def test_lower_then_upper_equals_full_model(minilm):
    tokenizer, model = minilm
    batch = tokenizer(["a short one", "a somewhat longer sentence with padding in the batch"], padding=True,
                      return_tensors="pt")
    with torch.no_grad():
        full = model(**batch).last_hidden_state
        for k in (0, 3, 6):
            split = upper_forward(model, lower_states(model, batch, k), batch["attention_mask"], k)
            torch.testing.assert_close(split, full, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="n_lower"):
        lower_states(model, batch, 7)


def test_cached_states_are_unpadded_and_keep_labels(minilm):
    tokenizer, model = minilm
    texts = ["one", "two words", "three words here"]
    split = cache_states(model, tokenizer, "toy", texts, [0, 1, 0], n_lower=2, bf16=False)
    assert [s.shape[0] for s in split.states] == [len(tokenizer(t)["input_ids"]) for t in texts]
    assert split.labels.tolist() == [0, 1, 0] and len(split) == 3


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["lora", "task"])
def test_short_training_beats_chance_on_a_toy_two_task_problem(minilm, kind):
    """Two tiny tasks whose labels are keyword-driven: a few seconds of adapter training must learn both."""
    tokenizer, model = minilm
    good, bad = ["wonderful", "great", "superb", "lovely"], ["awful", "terrible", "dreadful", "horrible"]
    cities, foods = ["paris", "rome", "tokyo", "lima"], ["bread", "rice", "soup", "cake"]

    def make(n, seed):
        r = np.random.default_rng(seed)
        senti = [(f"the film was {r.choice(good if y else bad)} overall", y) for y in r.integers(0, 2, n)]
        topic = [(f"tell me about {r.choice(cities if y else foods)} please", y) for y in r.integers(0, 2, n)]
        return senti, topic

    m = copy.deepcopy(model)
    targets = tuple(f"encoder.layer.5.attention.self.{x}" for x in ("query", "value"))
    inject_adapters(m, AdapterConfig(kind, targets=targets, tasks=("senti", "topic"), r=4))
    freeze_backbone(m)
    clf = AdapterClassifier(m, {"senti": 2, "topic": 2}, n_lower=5)
    # LoRA r=4: 2 targets x 2 tasks x 2 x 4 x 384; task adapters: 2 targets x 2 tasks x 384 x 384 (+ heads)
    expected = {"lora": 2 * 2 * 2 * 4 * 384, "task": 2 * 2 * 384 * 384}[kind] + 2 * (2 * 384 + 2)
    assert count_parameters(clf) == expected
    (tr_s, tr_t), (te_s, te_t) = make(96, 1), make(64, 2)
    train = [cache_states(model, tokenizer, name, [t for t, _ in d], [y for _, y in d], 5, bf16=False)
             for name, d in (("senti", tr_s), ("topic", tr_t))]
    test = [cache_states(model, tokenizer, name, [t for t, _ in d], [y for _, y in d], 5, bf16=False)
            for name, d in (("senti", te_s), ("topic", te_t))]
    losses = train_classifier(clf, train, FinetuneConfig(epochs=3, batch_size=16, lr=3e-3, head_lr=3e-2,
                                                         bf16=False, show_progress=False))
    acc = evaluate(clf, test, bf16=False)
    assert np.mean(losses[-3:]) < losses[0]
    assert min(acc.values()) >= 0.9, acc
    with pytest.raises(ValueError, match="must follow"):
        evaluate(clf, test[::-1], bf16=False)


def test_linear_probe_separates_separable_data_and_pooled_features_shape(minilm):
    from ragmtl.adapters import fit_linear_probe, pooled_features

    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 5, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    head = fit_linear_probe(x, y, 2, steps=300)
    assert (head(x).argmax(-1) == y).float().mean() >= 0.97

    tokenizer, model = minilm
    split = cache_states(model, tokenizer, "toy", ["a b c", "d e", "f"], [0, 1, 0], n_lower=6, bf16=False)
    clf = AdapterClassifier(model, {"toy": 2}, n_lower=6)
    (feats,) = pooled_features(clf, [split], bf16=False)
    assert feats.shape == (3, 384)
    with torch.no_grad():
        ref = model(**tokenizer(["f"], return_tensors="pt")).last_hidden_state.mean(1)[0]
    torch.testing.assert_close(feats[2], ref, atol=1e-2, rtol=0)  # cached states are stored in bf16
