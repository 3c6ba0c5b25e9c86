"""ragmtl.eval.stats against scipy, closed forms and hand-checked cases."""
import math

import numpy as np
import pytest
from scipy import stats as st

from ragmtl.eval import delta_mtl
from ragmtl.eval.stats import (Interval, bootstrap_delta_mtl, bootstrap_mean, bootstrap_task_mean, mcnemar,
                               paired_bootstrap, paired_permutation_test, seed_interval)


@pytest.fixture
def pair():
    rng = np.random.default_rng(1)
    a = (rng.random(400) < 0.80).astype(float)
    b = (rng.random(400) < 0.70).astype(float)
    return a, b


def test_paired_bootstrap_equals_scipy_on_differences(pair):
    a, b = pair
    got = paired_bootstrap(a, b, seed=3)
    ref = st.bootstrap((a - b,), np.mean, method="percentile", n_resamples=10_000, batch=1000,
                       rng=np.random.default_rng(3)).confidence_interval
    assert got.estimate == pytest.approx(a.mean() - b.mean(), abs=1e-12)
    assert (got.low, got.high) == pytest.approx((ref.low, ref.high), abs=1e-12)
    assert got.n == 400


def test_paired_interval_is_narrower_than_unpaired_for_correlated_systems():
    """The nearest wrong answer: resampling a and b independently. For two systems that agree on
    most items the paired interval must be much narrower (hand check: d has 20 +1 and 380 zeros)."""
    rng = np.random.default_rng(0)
    b = (rng.random(400) < 0.7).astype(float)
    a = b.copy()
    a[np.flatnonzero(b == 0)[:20]] = 1.0  # a = b plus 20 fixes
    paired = paired_bootstrap(a, b)
    unpaired = st.bootstrap((a, b), lambda x, y, axis=-1: x.mean(axis) - y.mean(axis), method="percentile",
                            rng=np.random.default_rng(0)).confidence_interval
    assert paired.estimate == pytest.approx(20 / 400)
    assert paired.low > 0  # 20 wins, no losses: clearly better
    se = math.sqrt(0.05 * 0.95 / 400)  # binomial s.e. of the win rate
    assert paired.half_width == pytest.approx(1.96 * se, rel=0.15)
    assert (unpaired.high - unpaired.low) / 2 > 2.5 * paired.half_width


def test_bootstrap_mean_is_close_to_the_normal_interval():
    rng = np.random.default_rng(5)
    x = (rng.random(2000) < 0.6).astype(float)
    iv = bootstrap_mean(x)
    se = x.std(ddof=1) / math.sqrt(x.size)
    assert iv.estimate == pytest.approx(x.mean())
    assert iv.low == pytest.approx(x.mean() - 1.96 * se, abs=0.004)
    assert iv.high == pytest.approx(x.mean() + 1.96 * se, abs=0.004)


def test_deterministic_and_seed_dependent(pair):
    a, b = pair
    assert paired_bootstrap(a, b, seed=7) == paired_bootstrap(a, b, seed=7)
    assert (paired_bootstrap(a, b, seed=7).low, paired_bootstrap(a, b, seed=7).high) != \
        (paired_bootstrap(a, b, seed=8).low, paired_bootstrap(a, b, seed=8).high)


def test_identical_systems_give_a_zero_width_interval():
    x = np.array([1.0, 0.0, 1.0, 1.0])
    iv = paired_bootstrap(x, x)
    assert (iv.estimate, iv.low, iv.high) == (0.0, 0.0, 0.0)
    assert iv.verdict() == "no measurable difference"


def test_seed_interval_hand_checked():
    # values 1, 2, 3: mean 2, s = 1, t_{2, 0.975} = 4.302652729749464
    iv = seed_interval([1.0, 2.0, 3.0])
    half = 4.302652729749464 / math.sqrt(3)
    assert (iv.estimate, iv.low, iv.high) == pytest.approx((2.0, 2.0 - half, 2.0 + half))
    ref = st.t.interval(0.95, 2, loc=2.0, scale=st.sem([1.0, 2.0, 3.0]))
    assert (iv.low, iv.high) == pytest.approx(ref)


def test_mcnemar_hand_checked():
    # a right / b wrong on 8 items, the reverse on 2: two-sided exact p = 2 * P(X <= 2 | n=10) = 112/1024
    a = [1] * 8 + [0] * 2 + [1] * 5
    b = [0] * 8 + [1] * 2 + [1] * 5
    r = mcnemar(a, b)
    assert (r.a_only, r.b_only) == (8, 2)
    assert r.pvalue == pytest.approx(112 / 1024)
    assert mcnemar(b, a).pvalue == pytest.approx(r.pvalue)
    assert mcnemar(a, a).pvalue == 1.0
    with pytest.raises(ValueError, match="0/1"):
        mcnemar([0.5, 1.0], [1.0, 0.0])


def test_permutation_test_agrees_with_scipy_and_separates(pair):
    a, b = pair
    p = paired_permutation_test(a, b, seed=2)
    ref = st.permutation_test((a, b), lambda x, y, axis=-1: np.mean(x - y, axis=axis), vectorized=True,
                              permutation_type="samples", n_resamples=10_000, rng=np.random.default_rng(2)).pvalue
    assert p == pytest.approx(ref)
    assert p < 0.01
    c = np.random.default_rng(9).random(300)
    assert paired_permutation_test(c + 1.0, c) < 1e-3
    assert paired_permutation_test(c, c) == 1.0


def test_delta_mtl_bootstrap_point_estimate_and_pairing():
    rng = np.random.default_rng(4)
    single = {"a": (rng.random(300) < 0.8).astype(float), "b": (rng.random(200) < 0.5).astype(float)}
    multi = {t: v.copy() for t, v in single.items()}
    multi["a"][np.flatnonzero(single["a"] == 0)[:30]] = 1.0  # +10 points on a, b unchanged
    iv = bootstrap_delta_mtl(multi, single)
    point = delta_mtl({t: v.mean() for t, v in multi.items()}, {t: v.mean() for t, v in single.items()})
    assert iv.estimate == pytest.approx(point)
    assert iv.low > 0  # every change is a win: paired resampling keeps it above 0
    assert iv.low < iv.estimate < iv.high


def test_task_mean_by_hand_and_one_task_equals_bootstrap_mean():
    iv = bootstrap_task_mean([[1, 0, 1, 1], [0, 1]])
    assert iv.estimate == pytest.approx((0.75 + 0.5) / 2)  # unweighted over tasks, not the pooled 4/6
    assert iv.low <= iv.estimate <= iv.high and iv.n == 6
    assert bootstrap_task_mean({"b": [0, 1], "a": [1, 0, 1, 1]}) == iv  # a mapping, tasks in sorted order
    one, ref = bootstrap_task_mean([[1, 0, 1, 1, 0, 1, 1, 1]]), bootstrap_mean([1, 0, 1, 1, 0, 1, 1, 1])
    assert (one.low, one.high) == pytest.approx((ref.low, ref.high))
    same = bootstrap_task_mean([[0.0, 0.0, 0.0], [0.0, 0.0]])  # two systems that agree everywhere
    assert (same.low, same.estimate, same.high) == (0.0, 0.0, 0.0)


def test_task_mean_resamples_each_task_on_its_own():
    """Pooling the items (the nearest wrong answer) lets the big task's count vary; stratified does not."""
    rng = np.random.default_rng(3)
    big, small = (rng.random(2000) < 0.9).astype(float), (rng.random(40) < 0.5).astype(float)
    iv = bootstrap_task_mean([big, small])
    se = math.sqrt((big.var(ddof=1) / big.size + small.var(ddof=1) / small.size)) / 2
    assert iv.half_width == pytest.approx(1.96 * se, rel=0.15)


def test_interval_formatting_and_verdict():
    assert Interval(84.12, 83.2, 85.02).format(1) == "84.1 [83.2, 85.0]"  # one form, symmetric or not
    assert Interval(1.0, -0.5, 3.0).format(1, signed=True) == "+1.0 [-0.5, +3.0]"
    assert Interval(1.0, 0.2, 1.8).verdict() == "better"
    assert Interval(-1.0, -1.8, -0.2).verdict() == "worse"
    assert Interval(0.1, -0.2, 0.4).verdict() == "no measurable difference"
    # a bound one item's worth above zero: measurable without a margin, not with one
    assert Interval(1.07, 100 / 1500, 2.07).verdict() == "better"
    assert Interval(1.07, 100 / 1500, 2.07).verdict(margin=100 / 1500) == "no measurable difference"
    assert Interval(1.07, 2 * 100 / 1500, 2.07).verdict(margin=100 / 1500) == "better"
    assert Interval(-1.07, -2.07, -100 / 1500).verdict(margin=100 / 1500) == "no measurable difference"
    with pytest.raises(ValueError, match="margin"):
        Interval(0, -1, 1).verdict(margin=-1)
    s = Interval(0.01, -0.002, 0.03).scaled(100)
    assert (s.estimate, s.low, s.high) == pytest.approx((1.0, -0.2, 3.0))
    s = Interval(0.01, -0.002, 0.03).scaled(-1)
    assert s.low < s.high


@pytest.mark.parametrize("call", [
    lambda: paired_bootstrap([1.0, 0.0, 1.0], [1.0, 0.0]),
    lambda: paired_bootstrap([], []),
    lambda: bootstrap_mean([1.0]),
    lambda: bootstrap_mean([[1.0, 0.0]]),
    lambda: paired_bootstrap([1.0, float("nan")], [1.0, 0.0]),
    lambda: seed_interval([0.9]),
    lambda: bootstrap_delta_mtl({"a": [1, 0]}, {"b": [1, 0]}),
    lambda: bootstrap_delta_mtl({"a": [1, 0]}, {"a": [0, 0]}),
    lambda: bootstrap_mean([1.0, 0.0], level=95),
    lambda: bootstrap_task_mean([]),
    lambda: bootstrap_task_mean([[1, 0], [1]]),
])
def test_clear_errors(call):
    with pytest.raises(ValueError):
        call()
