"""The retrieval-augmented few-shot classifier on a case worked out by hand."""
import math

import pytest
import torch

from ragmtl.meta import RetrievalConfig, RetrievalFewShotClassifier, retrieval_fused_probs


def test_hand_computed_case():
    # supports at angles 0, 90 and 60 degrees with labels 0, 1, 1; query at 0 degrees
    support = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, math.sqrt(3) / 2]])
    labels = torch.tensor([0, 1, 1])
    query = torch.tensor([[2.0, 0.0]])  # not unit length: the function normalises
    # k=2 keeps cosines 1 (label 0) and 0.5 (label 1); temperature 0.5 -> weights softmax([2, 1])
    probs = retrieval_fused_probs(support, labels, query, n_way=2, k=2, temperature=0.5)
    w0 = math.exp(2) / (math.exp(2) + math.exp(1))
    torch.testing.assert_close(probs, torch.tensor([[w0, 1 - w0]]))
    # k=3 adds the orthogonal support (cosine 0) to label 1
    probs3 = retrieval_fused_probs(support, labels, query, n_way=2, k=3, temperature=0.5)
    z = math.exp(2) + math.exp(1) + 1
    torch.testing.assert_close(probs3, torch.tensor([[math.exp(2) / z, (math.exp(1) + 1) / z]]))
    # k larger than the support set is capped; a 3-way problem leaves the unseen class at 0
    probs_big = retrieval_fused_probs(support, labels, query, n_way=3, k=10, temperature=0.5)
    torch.testing.assert_close(probs_big[0, :2], probs3[0])
    assert probs_big[0, 2] == 0


def test_batched_episodes_equal_one_by_one():
    g = torch.Generator().manual_seed(0)
    sx, qx = torch.randn(4, 10, 8, generator=g), torch.randn(4, 6, 8, generator=g)
    sy = torch.randint(0, 5, (4, 10), generator=g)
    clf = RetrievalFewShotClassifier(RetrievalConfig(k=3, temperature=0.1))
    batched = clf(sx, sy, qx, 5)
    for t in range(4):
        torch.testing.assert_close(batched[t], clf(sx[t], sy[t], qx[t], 5))
    torch.testing.assert_close(batched.sum(-1), torch.ones(4, 6))


def test_errors():
    with pytest.raises(ValueError, match="temperature"):
        RetrievalConfig(k=1, temperature=0.0)
    with pytest.raises(ValueError, match="labels must lie"):
        retrieval_fused_probs(torch.ones(2, 3), torch.tensor([0, 5]), torch.ones(1, 3), 2, 1, 0.1)
    with pytest.raises(ValueError, match="disagree"):
        retrieval_fused_probs(torch.ones(2, 3), torch.tensor([0, 1]), torch.ones(1, 4), 2, 1, 0.1)
