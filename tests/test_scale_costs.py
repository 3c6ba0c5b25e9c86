"""ragmtl.scale.costs: the log-log fit recovers a known power law; the Wikipedia table by hand."""
import numpy as np
import pytest

from ragmtl.scale.costs import WikiAssumptions, fit_power_law, wiki_costs


def test_fit_recovers_a_known_power_law():
    n = np.array([1e4, 3e4, 1e5, 3e5, 1e6])
    fit = fit_power_law(n, 2e-3 * n ** 0.5)
    assert fit.exponent == pytest.approx(0.5, abs=1e-9) and fit.coefficient == pytest.approx(2e-3, rel=1e-9)
    assert fit.r2 == pytest.approx(1.0) and (fit.n_min, fit.n_max) == (10_000, 1_000_000)
    assert fit(4e6) == pytest.approx(2e-3 * 2000)
    linear = fit_power_law(n, 3 * n * np.exp(np.random.default_rng(0).normal(0, 0.05, 5)))
    assert linear.exponent == pytest.approx(1.0, abs=0.1) and linear.r2 < 1.0
    with pytest.raises(ValueError, match="two distinct"):
        fit_power_law([5, 5], [1, 2])
    with pytest.raises(ValueError, match="positive"):
        fit_power_law([1, 2], [0, 2])


def test_wiki_table_by_hand():
    table = wiki_costs(WikiAssumptions(n_passages=1_000_000, dim=100, code_bytes=16, encode_s_per_1000=36.0,
                                       encode_cores=2), fits={"latency_ms": fit_power_law([1, 10], [1, 10])})
    assert table["flat_gb"] == pytest.approx(0.4)  # 1e6 * 100 * 4 bytes
    assert table["ivfpq_gb"] == pytest.approx(0.024)  # 1e6 * (16 + 8) bytes
    assert table["encode_core_hours"] == pytest.approx(20.0)  # 1000 * 36 s * 2 cores / 3600
    assert table["latency_ms_at_wiki"] == pytest.approx(1e6)
    assert wiki_costs()["flat_gb"] == pytest.approx(32.28, abs=0.01)  # the 32 GB
