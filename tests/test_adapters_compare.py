"""Per-sentence predictions of an adapter classifier."""
import numpy as np
import pytest
import torch

from ragmtl.adapters import AdapterClassifier, cache_states, evaluate, predict
from ragmtl.encoders import load_minilm


def test_predict_keeps_example_order_and_agrees_with_evaluate():
    tokenizer, model = load_minilm()
    texts = ["a short one", "a much longer sentence than the first one here", "mid length text", "x",
             "another example sentence", "the last"]
    torch.manual_seed(0)
    a = cache_states(model, tokenizer, "a", texts, [0, 1, 0, 1, 1, 0], n_lower=5, bf16=False)
    b = cache_states(model, tokenizer, "b", texts[::-1], [2, 0, 1, 1, 0, 2], n_lower=5, bf16=False)
    clf = AdapterClassifier(model, {"a": 2, "b": 3}, n_lower=5)
    with torch.no_grad():
        for head in clf.heads.values():
            torch.nn.init.normal_(head.weight, std=5.0)  # predictions that differ between examples
    preds = predict(clf, [a, b], batch_size=4, bf16=False)
    assert preds["a"].shape == (6,) and preds["b"].shape == (6,) and len(set(preds["b"].tolist())) > 1
    acc = evaluate(clf, [a, b], batch_size=4, bf16=False)
    for s in (a, b):
        assert np.mean(preds[s.task] == s.labels.numpy()) == pytest.approx(acc[s.task])
        for i in range(len(s)):  # each example alone gets the label predict gave it in the batch
            alone = type(s)(s.task, [s.states[i]], s.labels[i:i + 1])
            other = b if s is a else a
            one = predict(clf, [alone, other] if s is a else [other, alone], bf16=False)[s.task]
            assert one[0] == preds[s.task][i]
    with pytest.raises(ValueError, match="follow the classifier"):
        predict(clf, [b, a])
