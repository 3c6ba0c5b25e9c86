"""Task samplers: N-way K-shot episodes (shapes, disjointness, labels, errors) and sinusoids."""
import math

import numpy as np
import pytest
import torch

from ragmtl.meta import EpisodeSampler, SinusoidTasks, check_disjoint_classes


def toy(num_classes=10, per_class=8):
    labels = np.repeat(np.arange(num_classes), per_class)
    # column 0 is the class, column 1 the example's own index: both can be read back from episodes
    features = np.stack([labels, np.arange(len(labels))], axis=1).astype(np.float32)
    return features, labels


def test_episode_shapes_labels_and_disjoint_support_query():
    features, labels = toy()
    sampler = EpisodeSampler(features, labels, classes=range(6), n_way=3, k_shot=2, n_query=4)
    b = sampler.sample(5, np.random.default_rng(0))
    assert b.support_x.shape == (5, 6, 2) and b.support_y.shape == (5, 6)
    assert b.query_x.shape == (5, 12, 2) and b.query_y.shape == (5, 12)
    classes = b.info["classes"]
    for t in range(5):
        assert len(set(classes[t])) == 3 and set(classes[t]) <= set(range(6))
        # each new label points at its original class
        assert np.array_equal(b.support_x[t, :, 0].numpy(), classes[t][b.support_y[t].numpy()])
        assert np.array_equal(b.query_x[t, :, 0].numpy(), classes[t][b.query_y[t].numpy()])
        sup, qry = set(b.support_x[t, :, 1].tolist()), set(b.query_x[t, :, 1].tolist())
        assert len(sup) == 6 and len(qry) == 12 and not sup & qry
    assert torch.equal(b.support_y[0], torch.tensor([0, 0, 1, 1, 2, 2]))


def test_episodes_repeat_with_the_seed_and_differ_without():
    features, labels = toy()
    sampler = EpisodeSampler(features, labels, classes=range(10), n_way=5, k_shot=1, n_query=3)
    a = sampler.sample(4, np.random.default_rng(7))
    b = sampler.sample(4, np.random.default_rng(7))
    c = sampler.sample(4, np.random.default_rng(8))
    assert torch.equal(a.support_x, b.support_x) and not torch.equal(a.support_x, c.support_x)


def test_sampler_errors():
    features, labels = toy(num_classes=4, per_class=5)
    with pytest.raises(ValueError, match="n_way=5 is larger than the 4 classes"):
        EpisodeSampler(features, labels, classes=range(4), n_way=5, k_shot=1, n_query=1)
    with pytest.raises(ValueError, match="class 0 has 5 examples but k_shot \\+ n_query = 3 \\+ 3 = 6"):
        EpisodeSampler(features, labels, classes=range(4), n_way=2, k_shot=3, n_query=3)
    with pytest.raises(ValueError, match="overlap on \\[2\\]"):
        EpisodeSampler(features, labels, classes=[0, 1, 2], n_way=2, k_shot=1, n_query=1, exclude=[2, 3])
    with pytest.raises(ValueError, match="rows"):
        EpisodeSampler(features[:3], labels, classes=[0], n_way=1, k_shot=1, n_query=1)


def test_check_disjoint_classes():
    check_disjoint_classes([0, 1], [2, 3])
    with pytest.raises(ValueError, match="overlap on \\[1\\]"):
        check_disjoint_classes([0, 1], [1, 2])


def test_sinusoids_follow_the_family():
    b = SinusoidTasks().sample(200, 5, 7, np.random.default_rng(0))
    assert b.support_x.shape == (200, 5, 1) and b.query_y.shape == (200, 7, 1)
    amp, phase = b.info["amplitude"], b.info["phase"]
    assert amp.min() >= 0.1 and amp.max() <= 5.0 and phase.min() >= 0 and phase.max() <= math.pi
    assert b.support_x.abs().max() <= 5.0
    expected = torch.as_tensor(amp[:, None, None] * np.sin(b.query_x.numpy() - phase[:, None, None]))
    torch.testing.assert_close(b.query_y, expected.float())
    assert not torch.equal(b.support_x[:, :1], b.query_x[:, :1])  # support and query drawn separately
    with pytest.raises(ValueError, match=">= 1"):
        SinusoidTasks().sample(1, 0, 1, np.random.default_rng(0))


def test_clinc_domain_split_is_disjoint_and_sized(shared_data):
    from ragmtl.data import load_clinc150
    from ragmtl.meta import domain_split

    clinc = load_clinc150()
    split = domain_split(clinc, ["banking", "credit_cards"], train_per_class=30, seed=0)
    assert len(split.train_domains) == 8 and len(split.train_classes) == 120 and len(split.test_classes) == 30
    assert not set(split.train_labels) & set(split.test_labels)
    assert len(split.train_texts) == 120 * 30 == len(split.train_labels)
    assert len(split.test_texts) == 30 * 30  # the source's test split: 30 per intent
    names = {clinc.intents.label_names[c] for c in split.test_classes}
    assert "report_fraud" in names and "credit_limit" in names and "weather" not in names
    again = domain_split(clinc, ["banking", "credit_cards"], train_per_class=30, seed=0)
    assert again.train_texts == split.train_texts
    with pytest.raises(ValueError, match="unknown \\['bankng'\\]"):
        domain_split(clinc, ["bankng"])
    with pytest.raises(ValueError, match="train_per_class=101"):
        domain_split(clinc, ["banking"], train_per_class=101)
