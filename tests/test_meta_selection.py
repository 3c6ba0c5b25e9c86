"""Validation domains carved from the meta-training domains, and the pick of a setting."""
import numpy as np
import pytest

from ragmtl.meta import best_setting, validation_domains


class FakeClinc:
    domains = ["a", "b", "c", "d"]

    def labels_of_domains(self, domains):
        return [10 * self.domains.index(d) + i for d in domains for i in range(2)]


def test_validation_domains_are_disjoint_seeded_and_cover_the_rest():
    clinc = FakeClinc()
    val, fit, held = validation_domains(clinc, ["a", "b", "c"], n=1, seed=3)
    assert len(val) == 1 and val[0] in ("a", "b", "c")
    assert set(fit).isdisjoint(held)
    assert sorted(fit + held) == sorted(clinc.labels_of_domains(["a", "b", "c"]))
    assert validation_domains(clinc, ["a", "b", "c"], n=1, seed=3) == (val, fit, held)
    with pytest.raises(ValueError, match="validation domains"):
        validation_domains(clinc, ["a", "b"], n=2)
    with pytest.raises(ValueError, match="validation domains"):
        validation_domains(clinc, ["a", "b"], n=0)


def test_best_setting_by_mean_first_on_ties():
    assert best_setting({0.1: [0.5, 0.7], 0.5: [0.9, 0.8], 1.0: [0.2]}) == 0.5
    assert best_setting({"x": [1.0, 0.0], "y": np.array([0.5, 0.5])}) == "x"  # tie: the first listed
    assert best_setting({"x": [1.0], "y": [2.0]}, higher_is_better=False) == "x"
    with pytest.raises(ValueError, match="candidate"):
        best_setting({})
    with pytest.raises(ValueError, match="candidate"):
        best_setting({"x": []})


def test_not_worse_rule_keeps_the_first_listed_near_tie_and_drops_a_measurably_worse_one():
    rng = np.random.default_rng(0)
    base = rng.random(300)
    noise = rng.normal(0, 0.1, 300)
    noise -= noise.mean() + 0.001  # first: 0.001 below the best on average, episode by episode noisy
    scores = {"first": base + noise, "second": base, "third": base - 0.2}
    assert best_setting(scores) == "second"  # the best mean
    assert best_setting(scores, rule="not_worse") == "first"
    worse = {"first": base - 0.05, "second": base}  # every episode lower: measurably worse
    assert best_setting(worse, rule="not_worse") == "second"
    loss = {"a": base - noise, "b": base}  # lower is better: b is best, a a near-tie listed first
    assert best_setting(loss, higher_is_better=False, rule="not_worse") == "a"


def test_not_worse_rule_needs_paired_scores_and_a_known_rule():
    with pytest.raises(ValueError, match="same episodes"):
        best_setting({"a": [0.1, 0.2, 0.3], "b": [0.1, 0.2]}, rule="not_worse")
    with pytest.raises(ValueError, match="rule"):
        best_setting({"a": [0.1, 0.2]}, rule="first")
