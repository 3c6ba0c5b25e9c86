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
