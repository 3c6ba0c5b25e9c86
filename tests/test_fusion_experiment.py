"""Passage sets with a gold among distractors, and short seeded runs of the fusion experiment."""
import numpy as np
import pytest
import torch

from ragmtl.fusion import (GOLD, HARD, RANDOM, FiDConfig, PassageConfig, ReaderConfig, TrainConfig,
                           build_passage_sets, make_fusion_data, run_methods, train_reader)


def clusters(n_classes: int, per_class: int, dim: int, seed: int, noise: float = 0.6):
    """Unit vectors around random class centres: a stand-in for sentence embeddings of intents."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_classes, dim))
    labels = np.repeat(np.arange(n_classes), per_class)
    x = centres[labels] + noise * rng.standard_normal((len(labels), dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), labels


def test_passage_sets_gold_and_distinct_distractors():
    x, y = clusters(10, 6, 16, seed=0)
    config = PassageConfig(n_docs=5, n_gold=1, n_hard=2, search_depth=20, seed=0)
    sets = build_passage_sets(x, y, x, y, config, exclude_self=True)
    assert sets.doc_ids.shape == sets.kind.shape == (60, 5)
    assert ((sets.kind == GOLD).sum(1) == 1).all() and ((sets.kind == HARD).sum(1) == 2).all()
    assert ((sets.kind == RANDOM).sum(1) == 2).all()
    doc_labels = y[sets.doc_ids]
    assert (doc_labels[sets.kind == GOLD] == y).all()
    assert (sets.doc_ids != np.arange(60)[:, None]).all()  # never itself
    for q in range(60):
        distractors = doc_labels[q][sets.kind[q] != GOLD]
        assert len(set(distractors)) == 4 and y[q] not in distractors
    again = build_passage_sets(x, y, x, y, config, exclude_self=True)
    assert np.array_equal(again.doc_ids, sets.doc_ids)
    assert len(set(np.argmax(sets.kind == GOLD, 1))) > 1  # the gold's position is shuffled


def test_passage_sets_errors():
    x, y = clusters(4, 3, 8, seed=0)
    with pytest.raises(ValueError, match="distinct-label distractors"):
        build_passage_sets(x, y, x, y, PassageConfig(n_docs=5, n_hard=1))
    with pytest.raises(ValueError, match="n_gold"):
        PassageConfig(n_docs=3, n_gold=2, n_hard=2)
    with pytest.raises(ValueError, match="every query label"):
        make_fusion_data(x, y + 10, x, y, PassageConfig(n_docs=3, n_hard=1))
    data = make_fusion_data(x, y, x, y, PassageConfig(n_docs=3, n_hard=1), exclude_self=True)
    with pytest.raises(ValueError, match=r"\(query_dim, doc_dim, n_docs\) = \(384, 384, 8\)"):
        train_reader("mean", data, ReaderConfig())


@pytest.mark.slow
def test_attention_readers_beat_chance_on_unseen_classes(one_thread):
    """300 steps on 16 classes; evaluation on 8 new classes with new codes (chance: 1 / k)."""
    x, y = clusters(24, 20, 24, seed=1)
    seen = y < 16
    passages = PassageConfig(n_docs=4, n_gold=1, n_hard=2, search_depth=30, seed=0)
    train = make_fusion_data(x[seen], y[seen], x[seen], y[seen], passages, exclude_self=True)
    pool = np.isin(np.arange(len(y)) % 20, np.arange(10))  # half of each new class is the pool
    test = make_fusion_data(x[~seen & ~pool], y[~seen & ~pool], x[~seen & pool], y[~seen & pool], passages)
    readers = ReaderConfig(query_dim=24, doc_dim=24, code_dim=16, n_docs=4, d_model=16, hidden=32,
                           fid=FiDConfig(n_heads=2, d_ff=32))
    config = TrainConfig(steps=300, batch_size=32, lr=1e-2)
    results = run_methods(["mean", "bilinear", "fid"], train, test, readers, config, show_progress=False)
    chance = 1 / passages.n_docs
    assert results["bilinear"].accuracy > chance + 0.4
    assert results["fid"].accuracy > chance + 0.3
    assert results["mean"].accuracy < chance + 0.2  # the mean cannot tell which passage is gold
    for name in ("bilinear", "fid"):
        r = results[name]
        assert r.gold_weight > 2 * r.distractor_weight
        assert np.allclose(r.weights.sum(1), 1, atol=1e-5)
    again = run_methods(["bilinear"], train, test, readers, config, show_progress=False)["bilinear"]
    assert again.accuracy == results["bilinear"].accuracy and np.array_equal(again.loss_curve,
                                                                             results["bilinear"].loss_curve)


def _small_task():
    x, y = clusters(24, 20, 24, seed=1)
    seen = y < 16
    passages = PassageConfig(n_docs=4, n_gold=1, n_hard=2, search_depth=30, seed=0)
    train = make_fusion_data(x[seen], y[seen], x[seen], y[seen], passages, exclude_self=True)
    part = np.arange(len(y)) % 20
    pool, val = part < 10, (part >= 10) & (part < 15)
    new = ~seen
    val_data = make_fusion_data(x[new & val], y[new & val], x[new & pool], y[new & pool], passages)
    test = make_fusion_data(x[new & ~pool & ~val], y[new & ~pool & ~val], x[new & pool], y[new & pool], passages)
    readers = ReaderConfig(query_dim=24, doc_dim=24, code_dim=16, n_docs=4, d_model=16, hidden=32,
                           fid=FiDConfig(n_heads=2, d_ff=32))
    return train, val_data, test, readers


def test_select_on_validation_picks_the_best_validation_setting(one_thread):
    from ragmtl.fusion import run_method, select_on_validation

    train, val, test, readers = _small_task()
    config = TrainConfig(steps=60, batch_size=16, lr=1e-2)
    sel = select_on_validation("bilinear", train, val, test, lrs=[1e-4, 1e-2], init_scales=[0.0, 10.0],
                               reader_config=readers, config=config, show_progress=False)
    assert [s["lr"] for s in sel.settings] == [1e-4, 1e-4, 1e-2, 1e-2] and len(sel.val_accuracy) == 4
    assert sel.chosen == int(np.argmax(sel.val_accuracy)) and sel.setting == sel.settings[sel.chosen]
    # the chosen reader on test is the same model as training that setting afresh
    again = run_method("bilinear", train, test, ReaderConfig(**{**vars(readers), "init_scale": sel.setting["init_scale"]}),
                       TrainConfig(steps=60, batch_size=16, lr=sel.setting["lr"]), show_progress=False)
    assert again.accuracy == sel.result.accuracy and np.array_equal(again.predictions, sel.result.predictions)
    with pytest.raises(ValueError, match="at least one learning rate"):
        select_on_validation("mean", train, val, test, lrs=[], reader_config=readers, config=config)


def test_compare_accuracies_hand_checked():
    from ragmtl.fusion import compare_accuracies

    a = np.array([1, 1, 1, 1, 0, 1, 1, 1, 0, 1], bool)
    b = np.array([0, 1, 0, 1, 0, 0, 1, 0, 0, 1], bool)  # a right and b wrong on 4 queries, never the reverse
    (diff, test), = compare_accuracies({"a": a, "b": b}, [("a", "b")]).values()
    assert diff.estimate == pytest.approx(0.4) and diff.low > 0
    assert (test.a_only, test.b_only) == (4, 0) and test.pvalue == pytest.approx(2 / 16)
    with pytest.raises(KeyError, match="unknown reader 'c'"):
        compare_accuracies({"a": a}, [("a", "c")])
