"""Tests of the MTL chapter's uncertainty helpers (ragmtl.mtl.evidence), per-item test correctness
kept by the trainer, the cross-stitch model of the grid and the leakage overlap."""
import numpy as np
import pytest
import torch

from ragmtl.eval import Interval
from ragmtl.mtl import TaskData, TrainConfig, TrainResult
from ragmtl.mtl import evidence as ev
from ragmtl.mtl.experiment import build_model, run_config
from ragmtl.mtl.tasks import overlap

pytestmark = pytest.mark.usefixtures("one_thread")


def _result(correct: dict, acc: dict | None = None) -> TrainResult:
    acc = acc or {t: float(np.mean(v)) for t, v in correct.items()}
    return TrainResult(test_acc=acc, test_f1=acc, dev_acc=acc, best_step={t: 1 for t in acc},
                       test_correct={t: np.asarray(v, dtype=bool) for t, v in correct.items()})


def test_seed_mean_correct_by_hand_and_errors():
    r1 = _result({"a": [1, 0, 1], "b": [0, 0]})
    r2 = _result({"a": [1, 1, 0], "b": [1, 0]})
    out = ev.seed_mean_correct([r1, r2])
    assert out["a"].tolist() == [1.0, 0.5, 0.5] and out["b"].tolist() == [0.5, 0.0]
    with pytest.raises(ValueError, match="at least one"):
        ev.seed_mean_correct([])
    with pytest.raises(ValueError, match="same test items"):
        ev.seed_mean_correct([r1, _result({"a": [1, 0], "b": [0, 0]})])


def test_task_average_is_mean_of_task_means_not_of_pooled_items():
    # 10 items all right on a, 100 all wrong on b: task average 50 %, pooled item mean 10/110 = 9.1 %
    items = {"a": np.ones(10), "b": np.zeros(100)}
    iv = ev.task_average_interval(items, n_resamples=500)
    assert iv.estimate == pytest.approx(50.0)
    assert iv.low == pytest.approx(50.0) and iv.high == pytest.approx(50.0)  # nothing varies
    rng = np.random.default_rng(0)
    noisy = {"a": rng.integers(0, 2, 200).astype(float), "b": rng.integers(0, 2, 300).astype(float)}
    iv = ev.task_average_interval(noisy, n_resamples=2000)
    # by hand: var of the average = (p_a q_a / n_a + p_b q_b / n_b) / 4, about (1/800 + 1/1200) / 4
    half = 1.96 * 100 * np.sqrt((0.25 / 200 + 0.25 / 300) / 4)
    assert iv.low < iv.estimate < iv.high
    assert iv.half_width == pytest.approx(half, rel=0.15)
    with pytest.raises(ValueError, match="at least 2"):
        ev.task_average_interval({"a": [1.0]})


def test_gain_intervals_and_delta_by_hand():
    multi = {"a": np.array([1.0, 1.0, 1.0, 0.0] * 5), "b": np.array([1.0, 1.0])}
    single = {"a": np.array([1.0, 0.0, 1.0, 0.0] * 5), "b": np.array([1.0, 1.0])}  # no resample is all 0
    gains = ev.gain_intervals(multi, single)
    assert gains["a"].estimate == pytest.approx(25.0) and gains["b"].estimate == pytest.approx(0.0)
    assert gains["b"].low == gains["b"].high == pytest.approx(0.0)
    # Delta_MTL = 100/2 * ((0.75 - 0.5) / 0.5 + 0) = 25 %
    assert ev.delta_interval(multi, single).estimate == pytest.approx(25.0)
    with pytest.raises(ValueError, match="same tasks"):
        ev.gain_intervals({"a": [1.0, 0.0]}, {"b": [1.0, 0.0]})


def test_delta_interval_is_the_mean_relative_gain_not_the_gain_of_the_mean():
    from ragmtl.mtl import delta_mtl
    # a: 0.5 -> 0.75 (+50 %), b: 0.9 -> 0.9 (0 %): Delta_MTL = +25 %; the relative change of the
    # two-task average, (0.825 - 0.7) / 0.7 = +17.9 %, is the sibling it must not be
    multi = {"a": np.array([1.0, 1.0, 1.0, 0.0] * 10), "b": np.array([1.0] * 9 + [0.0]).repeat(4)}
    single = {"a": np.array([1.0, 0.0] * 20), "b": np.array([1.0] * 9 + [0.0]).repeat(4)}
    iv = ev.delta_interval(multi, single)
    means = lambda d: {t: float(v.mean()) for t, v in d.items()}
    of_average = 100 * (np.mean(list(means(multi).values())) / np.mean(list(means(single).values())) - 1)
    assert abs(of_average - 25.0) > 5
    assert iv.estimate == pytest.approx(delta_mtl(means(multi), means(single))) == pytest.approx(25.0)
    assert iv.low < 25.0 < iv.high


def test_delta_seed_interval_by_hand():
    single = [_result({"a": [1, 0]}, {"a": 0.5}), _result({"a": [1, 0]}, {"a": 0.7})]  # mean 0.6
    multi = [_result({"a": [1, 0]}, {"a": 0.6}), _result({"a": [1, 0]}, {"a": 0.66})]  # 0 % and +10 %
    iv = ev.delta_seed_interval(multi, single)
    assert iv.estimate == pytest.approx(5.0)
    # t_{1, 0.975} = 12.706, s = 7.0711, n = 2
    assert iv.half_width == pytest.approx(12.7062 * 7.0711 / np.sqrt(2), rel=1e-3)


def test_versus_constant_and_distinguishable():
    iv = Interval(80.0, 79.0, 81.0)
    assert ev.versus_constant(iv, 78.0) == "above" and ev.versus_constant(iv, 82.0) == "below"
    assert ev.versus_constant(iv, 80.5) == "level with"
    assert ev.distinguishable(Interval(1.0, 0.2, 1.8)) and not ev.distinguishable(Interval(0.5, -0.1, 1.1))


def _blobs(seed: int, n: int = 300):
    g = torch.Generator().manual_seed(seed)
    data = {}
    for t, shift in (("a", 0), ("b", 1)):
        xs, ys = [], []
        for _ in ("train", "dev", "test"):
            y = torch.randint(2, (n,), generator=g)
            x = torch.randn(n, 6, generator=g) * 1.5  # noisy: accuracy moves between evaluations
            x[:, shift] += 2.0 * y - 1.0
            xs.append(x), ys.append(y)
        data[t] = TaskData(t, 2, xs[0], ys[0], xs[1], ys[1], xs[2], ys[2])
    return data


@pytest.mark.parametrize("model", ["stl", "hard", "cross-stitch"])
def test_trainer_keeps_per_item_correctness_of_the_chosen_step(model):
    data = _blobs(0)
    cfg = TrainConfig(steps=60, batch_size=64, lr=1e-2, eval_every=10, show_progress=False)
    res = run_config(data, model, "equal", 0, cfg, hidden_dim=8)
    for t in data:
        assert res.test_correct[t].shape == (len(data[t].y_test),)
        assert res.test_correct[t].mean() == pytest.approx(res.test_acc[t])


def test_select_returns_the_items_of_the_dev_chosen_step_not_the_last():
    from ragmtl.mtl.trainer import _select
    items = [np.array([True, False]), np.array([True, True]), np.array([False, False])]
    history = [{"step": 10 * (i + 1), "dev": {"a": (dev, 0.0)}, "test": {"a": (float(c.mean()), 0.0)},
                "test_correct": {"a": c}} for i, (dev, c) in enumerate(zip((0.5, 0.9, 0.7), items))]
    for select in ("mean", "per_task"):
        res = _select(history, ["a"], select, [])
        assert res.best_step == {"a": 20} and res.test_correct["a"].tolist() == [True, True]


def test_cross_stitch_model_has_a_learned_mixing_matrix():
    net = build_model("cross-stitch", {"a": 2, "b": 3}, in_dim=4, hidden_dim=6)
    assert net.alpha is not None and net.alpha.shape == (2, 2) and net.regularizer() == 0.0
    assert [p is net.alpha for p in net.shared_parameters()] == [True]
    assert build_model("soft", {"a": 2, "b": 3}, in_dim=4, hidden_dim=6).alpha is None


def test_overlap_by_hand():
    assert overlap(["Good film .", "other", "x"], ["good film", "X!"]) == pytest.approx(2 / 3)
    assert overlap(["a"], []) == 0.0
    with pytest.raises(ValueError, match="at least one"):
        overlap([], ["a"])


def test_robust_verdict_needs_items_and_seeds_to_agree():
    from ragmtl.eval.stats import Interval
    from ragmtl.mtl.evidence import robust_verdict

    items_worse, seeds_wide = Interval(-1.0, -1.8, -0.2), Interval(-1.0, -3.0, 1.0)
    assert robust_verdict(items_worse, seeds_wide) == "no measurable difference"  # the items alone say worse
    assert robust_verdict(items_worse, Interval(-1.0, -1.5, -0.5)) == "worse"
    assert robust_verdict(Interval(1, 0.2, 1.8), Interval(1, 0.1, 1.9), "gain", "loss") == "gain"
    assert robust_verdict(Interval(1, 0.2, 1.8), Interval(-1, -1.5, -0.5)) == "no measurable difference"


def test_choose_on_dev_takes_the_first_listed_near_tie_over_seeds():
    from ragmtl.mtl.evidence import choose_on_dev

    dev = {"hard": [83.0, 84.0, 83.5], "pcgrad": [83.2, 84.1, 83.6], "bad": [70.0, 71.0, 70.5]}
    assert choose_on_dev(dev) == "hard"  # 0.13 below pcgrad on average, seeds cannot tell them apart
    assert choose_on_dev({"bad": [70.0, 71.0, 70.5], "hard": [83.0, 84.0, 83.5]}) == "hard"  # measurably worse first
    with pytest.raises(ValueError, match="same seeds"):
        choose_on_dev({"a": [1.0, 2.0], "b": [1.0]})
    with pytest.raises(ValueError, match="same seeds"):
        choose_on_dev({"a": [1.0]})
