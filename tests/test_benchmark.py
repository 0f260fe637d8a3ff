"""The S&P 500 proxy benchmark."""

from __future__ import annotations

import pandas as pd
import pytest

from pma_lab.errors import DataError, PriceDataError
from pma_lab.market.benchmark import benchmark_from_file, proxy_tracking_report, sp500_proxy


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


def test_too_late_says_to_choose_an_earlier_date():
    with pytest.raises(PriceDataError, match=r"choose a date on or before \d{4}-\d\d-\d\d") as e:
        sp500_proxy("2031-01-01")
    assert "later date" not in str(e.value)


def test_too_early_still_says_later():
    with pytest.raises(PriceDataError, match="choose a later date"):
        sp500_proxy("1999-06-30")


def test_weights_file_is_validated_not_rescaled(tmp_path):
    p = tmp_path / "w.csv"
    pd.DataFrame({"ticker": ["AAPL", "MSFT"], "weight": [0.6, 0.5]}).to_csv(p, index=False)
    with pytest.raises(DataError, match="sum to 1.1, not 1"):
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

    from pma_lab.errors import DataError
    from pma_lab.market.benchmark import Benchmark

    b = Benchmark.from_weights(pd.DataFrame({"ticker": ["MSFT", "AAPL"], "weight": [0.4, 0.6]}),
                               name="mine")
    assert list(b.weights.index) == ["AAPL", "MSFT"] and b.as_of is None
    with pytest.raises(DataError, match=r"weights sum to 0.9, not 1"):
        Benchmark.from_weights(pd.Series({"AAPL": 0.7, "MSFT": 0.2}))
    with pytest.raises(DataError, match=r"row 3: unknown ticker 'NOPE'.*row 3: weight -0.1"):
        Benchmark.from_weights(pd.DataFrame({"ticker": ["AAPL", "NOPE"], "weight": [1.1, -0.1]}))
    # a researcher's own names: the message says how (known=), and known= works
    own = pd.Series({"S1": 0.5, "S2": 0.5})
    with pytest.raises(DataError, match=r"unknown ticker 'S1'.*correct it, or .*pass known="):
        Benchmark.from_weights(own)
    assert Benchmark.from_weights(own, known={"S1", "S2"}).weights.to_dict() == own.to_dict()
    # a dict of weights, as prepare(target=...) takes (reviewer 1, session 23: an
    # AttributeError 'dict' object has no attribute 'reset_index'); another type says which
    assert Benchmark.from_weights({"AAPL": 0.6, "MSFT": 0.4}).weights.to_dict() == {
        "AAPL": 0.6, "MSFT": 0.4}
    with pytest.raises(DataError, match=r"a Series or a dict of weights by ticker, not list"):
        Benchmark.from_weights([0.6, 0.4])
    # weights as text were read as numbers without a word (reviewer 1, session 25, #14)
    with pytest.raises(DataError, match=r"row 2: weight '0.6' is a str, not a number.*"
                                        r"pd.to_numeric"):
        Benchmark.from_weights({"AAPL": "0.6", "MSFT": 0.4})
    with pytest.raises(DataError, match=r"row 3: weight '0.4' is a str"):
        Benchmark.from_weights(pd.DataFrame({"ticker": ["AAPL", "MSFT"],
                                             "weight": [0.6, "0.4"]}))


def test_benchmark_from_weights_says_which_known_ticker_was_meant():
    """Lower case or a custodian's BRK-B used to get only 'unknown ticker' (issue 15); the
    canonical spelling is suggested, never applied silently."""
    import pandas as pd

    from pma_lab.errors import DataError
    from pma_lab.market.benchmark import Benchmark

    with pytest.raises(DataError, match=r"row 2: unknown ticker 'aapl' \(did you mean 'AAPL'\?\);"
                       r" row 3: unknown ticker 'BRK-B' \(did you mean 'BRK.B'\?\)"):
        Benchmark.from_weights(pd.Series({"aapl": 0.5, "BRK-B": 0.5}))
    with pytest.raises(DataError, match=r"unknown ticker 'MSFTT' \(did you mean 'MSFT'\?\)"):
        Benchmark.from_weights(pd.Series({"MSFTT": 1.0}), known={"MSFT", "XOM"})


def test_dated_weights_file_uses_the_latest_date_on_or_before(tmp_path):
    p = tmp_path / "model.csv"
    p.write_text("date,ticker,weight\n2024-01-02,AAPL,0.5\n2024-01-02,MSFT,0.5\n"
                 "2024-06-03,AAPL,0.25\n2024-06-03,MSFT,0.25\n2024-06-03,NVDA,0.5\n",
                 encoding="utf-8")
    b = benchmark_from_file(p, "2024-05-31")
    assert b.weights.to_dict() == {"AAPL": 0.5, "MSFT": 0.5} and b.name == "model (2024-01-02)"
    b = benchmark_from_file(p, "2024-06-28")
    assert b.weights.to_dict() == {"NVDA": 0.5, "AAPL": 0.25, "MSFT": 0.25}
    with pytest.raises(DataError, match="first date in the file is 2024-01-02"):
        benchmark_from_file(p, "2023-12-29")


def test_weights_file_errors_name_file_row_column_and_fix(tmp_path):
    from pma_lab.errors import BenchmarkFileError

    p = tmp_path / "bad.csv"
    p.write_text("Symbol,Weight,Date\nAAPL,40,2024-01-02\nMSFT,abc,2024-01-02\n"
                 "ZZZZ,0.1,2024-01-02\nNVDA,0.2,01/02/2024\nAAPL,0.1,2024-01-02\n",
                 encoding="utf-8")
    with pytest.raises(BenchmarkFileError) as e:
        benchmark_from_file(p, "2024-06-28")
    got = {(i.row, i.column, i.code) for i in e.value.issues}
    assert got >= {(2, "Weight", "weight_above_one"), (3, "Weight", "not_a_number"),
                   (4, "Symbol", "unknown_ticker"), (5, "Date", "invalid_date")}
    text = str(e.value)
    assert f"{p}, row 2, column 'Weight'" in text and "write 1.5 % as 0.015" in text
    p.write_text("ticker,weight\nAAPL,0.5\nAAPL,0.5\n", encoding="utf-8")
    with pytest.raises(BenchmarkFileError, match="AAPL appears on rows 2, 3"):
        benchmark_from_file(p, "2024-06-28")
    p.write_text("ticker\nAAPL\n", encoding="utf-8")
    with pytest.raises(BenchmarkFileError, match="no 'weight' column"):
        benchmark_from_file(p, "2024-06-28")


def test_target_follows_the_benchmark_file_on_the_cli(tmp_path, capsys):
    from pma_lab.app.cli import main

    w = tmp_path / "tech.csv"
    w.write_text("ticker,weight\nAAPL,0.3\nMSFT,0.3\nNVDA,0.2\nGOOGL,0.1\nAMZN,0.1\n",
                 encoding="utf-8")
    out = tmp_path / "target.csv"
    rc = main(["target", "build", "--profile", "data/samples/clients/tech-exec/profile.toml",
               "--benchmark-file", str(w), "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "vs the unrestricted tech" in printed
    t = pd.read_csv(out)
    # every target name is in the file's benchmark (the profile's no_buy list still holds)
    assert set(t.ticker) <= {"AAPL", "MSFT", "NVDA", "GOOGL", "AMZN"}
    assert t.weight.sum() == pytest.approx(1.0)


def test_a_semicolon_weights_file_is_refused_with_a_fix_that_exists(tmp_path):
    """Benchmark warnings are not shown to the user, so a semicolon file is not guessed:
    the fix says how to save it (there is no --delimiter option)."""
    from pma_lab.errors import BenchmarkFileError
    from pma_lab.market.benchmark import read_benchmark_weights

    p = tmp_path / "w.csv"
    p.write_text("ticker;weight\nAAPL;0,6\nMSFT;0,4\n")
    with pytest.raises(BenchmarkFileError) as e:
        read_benchmark_weights(p)
    (i,) = e.value.issues
    assert i.code == "wrong_delimiter" and i.row == 1 and "'ticker', 'weight'" in i.value
    assert "--delimiter" not in i.fix and "comma-separated CSV" in i.fix
