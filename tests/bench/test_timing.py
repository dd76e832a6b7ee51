"""The one percentile helper every benchmark reports through."""

import pytest

from llamasys.apps.bench.timing import percentiles


def test_percentiles_of_known_samples():
    # inclusive quantiles of [10, 12, 50] ms: p50 = 12, p95 = 12 + 0.9 * (50 - 12) = 46.2
    assert percentiles([0.010, 0.012, 0.050]) == {
        "p50_ms": 12.0,
        "p95_ms": 46.2,
        "mean_ms": 24.0,
        "min_ms": 10.0,
        "n": 3,
    }


def test_percentiles_ignore_input_order_and_take_one_sample():
    assert percentiles([0.05, 0.01, 0.012]) == percentiles([0.01, 0.012, 0.05])
    assert percentiles([0.002]) == {"p50_ms": 2.0, "p95_ms": 2.0, "mean_ms": 2.0, "min_ms": 2.0, "n": 1}


def test_percentiles_of_nothing_is_an_error():
    with pytest.raises(ValueError, match="at least once"):
        percentiles([])
