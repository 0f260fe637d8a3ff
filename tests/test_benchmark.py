"""The S&P 500 proxy benchmark."""

from __future__ import annotations

import pandas as pd
import pytest

from pma_lab.benchmark import benchmark_from_file, proxy_tracking_report, sp500_proxy
from pma_lab.errors import DataError, PriceDataError


@pytest.fixture(scope="module")
def bench():
    return sp500_proxy("2026-07-31")


def test_weights_are_a_proper_cap_weighted_index(bench):
    w = bench.weights
    assert abs(w.sum() - 1) < 1e-12 and (w > 0).all()
    assert len(w) > 440 and w.index[0] == "AAPL"
    assert w.is_monotonic_decreasing
    # share classes split the company cap instead of counting it twice
    assert abs(w["GOOG"] - w["GOOGL"]) < 1e-12 and w["GOOG"] + w["GOOGL"] < 0.08
    # a renamed company uses its predecessor's 2018 cap (BK -> BNY, same CIK)
    assert "predecessor" in bench.anchor["BNY"]


def test_missing_members_are_listed_with_reasons(bench):
    assert len(bench.missing) > 0 and bench.missing.reason.str.len().gt(0).all()
    assert not set(bench.missing.ticker) & set(bench.weights.index)


def test_top_n_is_rescaled(bench):
    top = bench.top(30)
    assert len(top) == 30 and abs(top.sum() - 1) < 1e-12
    assert list(top.index) == list(bench.weights.index[:30])


def test_too_early_is_a_clear_error():
    with pytest.raises(PriceDataError, match="can be priced and weighted"):
        sp500_proxy("1999-06-30")


def test_weights_file_is_validated_not_rescaled(tmp_path):
    p = tmp_path / "w.csv"
    pd.DataFrame({"ticker": ["AAPL", "MSFT"], "weight": [0.6, 0.5]}).to_csv(p, index=False)
    with pytest.raises(DataError, match="sum to 1.10000000, not 1"):
        benchmark_from_file(p, "2024-06-28")
    pd.DataFrame({"ticker": ["AAPL", "ZZZZ"], "weight": [0.5, 0.5]}).to_csv(p, index=False)
    with pytest.raises(DataError, match="unknown ticker 'ZZZZ'"):
        benchmark_from_file(p, "2024-06-28")
    pd.DataFrame({"ticker": ["AAPL", "MSFT"], "weight": [0.5, 0.5]}).to_csv(p, index=False)
    assert list(benchmark_from_file(p, "2024-06-28").weights) == [0.5, 0.5]


def test_proxy_tracks_spy_closely_in_recent_years():
    rep = proxy_tracking_report("2021-01-01", "2022-12-31")
    assert list(rep.year) == [2021, 2022]
    assert (rep.te_vs_spy < 0.03).all()
    assert (abs(rep.proxy_return - rep.spy_return) < 0.03).all()


# ------------------------------------------------------------------ plug-in point (issue 15)
def test_benchmark_from_weights_validates_and_never_rescales():
    import pandas as pd

    from pma_lab.benchmark import Benchmark
    from pma_lab.errors import DataError

    b = Benchmark.from_weights(pd.DataFrame({"ticker": ["MSFT", "AAPL"], "weight": [0.4, 0.6]}),
                               name="mine")
    assert list(b.weights.index) == ["AAPL", "MSFT"] and b.as_of is None
    with pytest.raises(DataError, match=r"weights sum to 0.90000000, not 1"):
        Benchmark.from_weights(pd.Series({"AAPL": 0.7, "MSFT": 0.2}))
    with pytest.raises(DataError, match=r"row 3: unknown ticker 'NOPE'.*row 3: weight -0.1"):
        Benchmark.from_weights(pd.DataFrame({"ticker": ["AAPL", "NOPE"], "weight": [1.1, -0.1]}))
