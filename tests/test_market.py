"""Tests of the packaged market data and its loaders (pma_lab.market.data)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from pma_lab.errors import DataError, MarketDataError, PriceDataError
from pma_lab.market.corpactions import EVENTS_FILE, PROVENANCE_FILE
from pma_lab.market.data import (
    MARKET_FILES,
    TENORS,
    MarketData,
    last_valid_rows,
    load_market,
    to_timestamp,
)
from pma_lab.paths import market_dir, repo_root

SOURCE = Path(os.environ.get("PMA_LAB_MARKET_SOURCE",
                             repo_root().parent / "shared" / "data" / "market"))
CHAIN_TICKERS = ["AAPL", "MSFT", "KVUE", "BRK.B", "UNH"]


@pytest.fixture(scope="module")
def market() -> MarketData:
    return load_market()


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads((market_dir() / "manifest.json").read_text())


def _read_panel(name: str, tickers: list[str]) -> pd.DataFrame:
    path = SOURCE / "prices" / name
    if not path.is_file():
        # CI runs with ../shared beside the clone, so there the source must be present
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"source panel {path} missing in CI (../shared/data/market expected)")
        pytest.skip(f"source panel {path} not available (set PMA_LAB_MARKET_SOURCE)")
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        column_types={"date": pa.string(), "ticker": pa.string(), "adj_close": pa.float64()}))
    table = table.filter(pc.is_in(table["ticker"], value_set=pa.array(tickers)))
    df = table.to_pandas()
    df["date"] = pd.to_datetime(df["date"])
    return df.pivot(index="date", columns="ticker", values="adj_close")


@pytest.fixture(scope="module")
def panels() -> tuple[pd.DataFrame, pd.DataFrame]:
    main = _read_panel("sp500_yahoo_daily_adj_close_2000-2024.csv.gz", CHAIN_TICKERS)
    ext = _read_panel("sp500_yahoo_daily_adj_close_2023-2026_extension.csv.gz", CHAIN_TICKERS)
    return main, ext


# ------------------------------------------------------------------------------ manifest
def test_manifest_matches_files(manifest):
    assert set(manifest["files"]) == set(MARKET_FILES) | {EVENTS_FILE, PROVENANCE_FILE}
    for name, entry in manifest["files"].items():
        path = market_dir() / name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], name
        meta = pq.ParquetFile(path).metadata
        assert meta.num_rows == entry["rows"], name
        names = pq.ParquetFile(path).schema_arrow.names
        expected = entry["columns"] + ([entry["index"]] if entry["index"] else [])
        assert sorted(names) == sorted(expected), name
        assert path.stat().st_size == entry["bytes"], name


def test_manifest_records_the_raw_price_files_provenance(manifest):
    # the raw-price view (issue 13) is checked by verify() like every other file, and
    # says which script built it from which sources
    for name in (EVENTS_FILE, PROVENANCE_FILE):
        entry = manifest["files"][name]
        assert entry["generated_by"] == "scripts/build_raw_prices.py"
        assert (repo_root() / entry["generated_by"]).is_file()
        for src in entry["sources"]:
            assert src in manifest["sources"] or src in manifest["files"], (name, src)
    av = manifest["sources"]["av_daily"]["path"]
    assert av == "prices/sp500_alphavantage_daily_1999-2021.csv.gz"
    events = pd.read_parquet(market_dir() / EVENTS_FILE)
    assert manifest["stats"]["raw_prices"]["events"] == len(events)
    assert manifest["files"][EVENTS_FILE]["last_date"] == str(events.date.max().date())


def test_manifest_dates_match_loaded_data(market, manifest):
    files = manifest["files"]
    assert files["prices.parquet"]["first_date"] == "2000-01-03"
    assert files["prices.parquet"]["last_date"] == "2026-08-03"
    assert market.prices.first_date == pd.Timestamp(files["prices.parquet"]["first_date"])
    assert market.prices.last_date == pd.Timestamp(files["prices.parquet"]["last_date"])
    assert market.etfs.last_date == pd.Timestamp(files["etf_prices.parquet"]["last_date"])
    assert market.index.last_date == pd.Timestamp(files["sp500_index.parquet"]["last_date"])
    assert market.treasury.first_date == pd.Timestamp("1990-01-02")
    assert market.treasury.last_date == pd.Timestamp("2025-07-11")
    assert len(market.prices.tickers) == files["prices.parquet"]["n_columns"]


def test_verify_passes(market):
    market.verify()


def test_total_size_is_small():
    total = sum(p.stat().st_size for p in market_dir().iterdir() if p.is_file())
    assert total < 40e6


# ------------------------------------------------------------------------------ universe
def test_universe_shape_and_gics(market):
    uni = market.universe
    assert len(uni) == 600
    frame = uni.frame()
    assert frame.ticker.is_unique and len(frame) == 600
    members = frame[frame.in_sp500_2026_08_08]
    assert len(members) == 503
    gics = ["gics_sector", "gics_industry_group", "gics_industry", "gics_sub_industry",
            "gics_sub_industry_code"]
    assert members[gics].notna().all(axis=None)
    assert (members[gics].apply(lambda c: c.str.len()) > 0).all(axis=None)
    assert (members.gics_vintage == "2023-03-18 structure").all()
    assert frame.gics_sub_industry_code.str.fullmatch(r"\d{8}").all()
    assert frame.gics_sector.notna().all()
    assert frame.in_sp500_2021_04_25.sum() == 505
    assert set(market.prices.tickers) <= set(uni.tickers)


def test_universe_lookups(market):
    uni = market.universe
    assert "BRK.B" in uni and "BRK-B" not in uni
    assert uni.sector("AAPL") == "Information Technology"
    assert uni.row("BRK.B")["yahoo_ticker"] == "BRK-B"
    with pytest.raises(DataError, match="BRK.B"):
        uni.row("BRK-B")
    # 2021-only names fall back to the 2018 structure; V is IT there but Financials in 2023
    var = uni.row("VAR")
    assert var.gics_vintage == "2018-09-29 structure" and var.gics_sector == "Health Care"
    assert uni.sector("V") == "Financials"
    assert np.isnan(uni.row("BRK.B")["market_cap_usd_2026_08_22"])  # blank upstream


def test_members_use_half_open_intervals(market):
    uni = market.universe
    before = uni.members("2021-04-19")
    on = uni.members(dt.date(2021, 4, 20))
    assert "VAR" in before and "VAR" not in on
    assert "PTC" not in before and "PTC" in on
    assert len(uni.members("2020-01-02")) == 505
    with pytest.raises(DataError, match="2025-11-16"):
        uni.members("2026-08-03")


# -------------------------------------------------------------------------------- prices
def _returns(s: pd.Series) -> pd.Series:
    return s / s.shift(1) - 1


def test_chained_prices_reproduce_source_returns(market, panels):
    main, ext = panels
    prov = market.price_provenance().set_index("ticker")
    full = market.prices.frame()
    for ticker in ("AAPL", "MSFT", "KVUE"):
        assert prov.loc[ticker, "source"] == "chained"
        splice = prov.loc[ticker, "splice_date"]
        chained = full[ticker].dropna()
        r = _returns(chained)
        e = ext[ticker].dropna()
        after = r.index > splice
        np.testing.assert_allclose(r[after], _returns(e).reindex(r.index[after]),
                                   rtol=1e-12, atol=1e-14)
        # levels from the splice date on are the extension's, exactly
        np.testing.assert_array_equal(chained[chained.index >= splice],
                                      e[e.index >= splice])
        m = main[ticker].dropna()
        before = r.index[(r.index < splice) & (r.index > chained.index[0])]
        np.testing.assert_allclose(r[before], _returns(m).reindex(before), rtol=1e-12,
                                   atol=1e-14)
        ratio = e[splice] / m[splice]
        assert prov.loc[ticker, "scale_ratio"] == pytest.approx(ratio, rel=1e-15)
        np.testing.assert_allclose(chained[chained.index < splice], m[m.index < splice] * ratio,
                                   rtol=1e-15)
    assert prov.loc["AAPL", "splice_date"] == pd.Timestamp("2023-01-03")
    assert prov.loc["KVUE", "splice_date"] == pd.Timestamp("2023-05-04")


def test_single_panel_tickers_are_untouched(market, panels):
    main, ext = panels
    prov = market.price_provenance().set_index("ticker")
    full = market.prices.frame()
    assert prov.loc["BRK.B", "source"] == "yahoo_ext_2023_2026"
    assert prov.loc["UNH", "source"] == "yahoo_2000_2024"
    np.testing.assert_array_equal(full["BRK.B"].dropna(), ext["BRK.B"].dropna())
    np.testing.assert_array_equal(full["UNH"].dropna(), main["UNH"].dropna())
    assert full["UNH"].last_valid_index() == pd.Timestamp("2024-03-08")
    assert full.loc["2024-03-11":, "UNH"].isna().all()  # not extended, not filled


def test_gap_stays_nan(market):
    window = market.prices.window("2025-11-10", "2025-11-14", ["FISV", "AAPL"])
    assert np.isnan(window.loc["2025-11-12", "FISV"])
    assert window["FISV"].drop(pd.Timestamp("2025-11-12")).notna().all()
    assert window["AAPL"].notna().all()
    rets = market.prices.returns("2025-11-11", "2025-11-14", "FISV")
    assert rets["FISV"].isna().tolist() == [False, True, True, False]
    cov = market.prices.coverage()
    assert cov.loc["FISV", "n_missing_inside"] == 1
    assert cov.n_missing_inside.sum() == 1
    # at() uses the last valid close, and says so through last_valid()
    lv = market.prices.last_valid("2025-11-12", ["FISV"])
    assert lv.loc["FISV", "date"] == pd.Timestamp("2025-11-11")
    assert market.prices.at("2025-11-12", ["FISV"])["FISV"] == window.loc["2025-11-11", "FISV"]



def test_last_valid_rows_is_the_scan_of_the_whole_history():
    """The last-row-first lookup gives what scanning every column's history gives."""
    nan = np.nan
    values = np.array([[1.0, nan, nan, 4.0],
                       [2.0, 5.0, nan, nan],
                       [nan, 6.0, nan, nan],
                       [3.0, nan, nan, 7.0]])
    for stop in range(len(values) + 1):
        for cols in ([0, 1, 2, 3], [3, 1], [2], []):
            has, row = last_valid_rows(values, stop, np.array(cols, dtype=int))
            sub = values[:stop, cols]
            valid = ~np.isnan(sub)
            want_has = valid.any(axis=0) if stop else np.zeros(len(cols), bool)
            assert has.tolist() == want_has.tolist(), (stop, cols)
            if stop:
                want_row = stop - 1 - valid[::-1].argmax(axis=0)
                assert row.tolist() == want_row.tolist(), (stop, cols)


def test_last_valid_on_every_day_of_a_gap_and_of_the_data(market):
    """``last_valid`` as the forward fill of the window says, names with a gap included."""
    names = ["FISV", "AAPL", "UNH"]
    lv = market.prices.last_valid("2025-11-12", names)
    assert lv.loc["AAPL", "date"] == pd.Timestamp("2025-11-12")
    assert lv.loc["FISV", "date"] == pd.Timestamp("2025-11-11")
    assert lv.loc["UNH", "date"] == pd.Timestamp("2024-03-08")  # its last close
    full = market.prices.frame()
    filled = full.loc[:"2025-11-12", names].ffill().iloc[-1]
    assert lv["close"].to_numpy().tobytes() == filled.to_numpy().tobytes()
    early = market.prices.last_valid(full.index[0] - pd.Timedelta(days=1), names)
    assert early["close"].isna().all() and early["date"].isna().all()

def test_coverage_matches_provenance(market):
    cov = market.prices.coverage()
    prov = market.price_provenance().set_index("ticker")
    cols = ["first_date", "last_date", "n_obs", "n_missing_inside"]
    pd.testing.assert_frame_equal(cov[cols], prov.loc[cov.index, cols], check_names=False)


def test_at_values_and_date_forms(market):
    ts = market.prices.at(pd.Timestamp("2024-03-08"), ["AAPL", "MSFT"])
    assert list(ts.index) == ["AAPL", "MSFT"]
    assert ts.name == pd.Timestamp("2024-03-08")
    for form in ("2024-03-08", dt.date(2024, 3, 8), dt.datetime(2024, 3, 8, 15, 30),
                 np.datetime64("2024-03-08")):
        pd.testing.assert_series_equal(market.prices.at(form, ["AAPL", "MSFT"]), ts)
    # a Saturday uses Friday's close
    sat = market.prices.at("2024-03-09", "AAPL")
    assert sat["AAPL"] == ts["AAPL"]
    assert market.etfs.at("2026-08-03", ["FXAIX"])["FXAIX"] > 0  # ends 2026-07-31, 3 days


def test_at_staleness_error_names_ticker_and_last_date(market):
    with pytest.raises(PriceDataError) as info:
        market.prices.at("2025-06-02", ["AAPL", "UNH", "LULU"])
    msg = str(info.value)
    assert "UNH" in msg and "LULU" in msg and "AAPL" not in msg
    assert "2024-03-08" in msg and "on or before 2024-03-08" in msg
    with pytest.raises(PriceDataError, match=r"KVUE.*on or after 2023-05-04"):
        market.prices.at("2022-06-01", ["KVUE"])
    with pytest.raises(PriceDataError, match=r"did you mean 'BRK.B'"):
        market.prices.at("2024-03-08", ["BRK-B"])
    # a wider limit accepts the stale close
    assert market.prices.at("2024-03-20", ["UNH"], max_staleness_days=15)["UNH"] > 0


def test_bad_dates_are_rejected():
    with pytest.raises(DataError, match="ISO date"):
        to_timestamp("03/08/2024")
    with pytest.raises(TypeError):
        to_timestamp(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        to_timestamp(20240308)  # type: ignore[arg-type]


def test_as_of_view_has_no_look_ahead(market):
    view = market.prices.as_of("2020-03-22")  # a Sunday
    assert view.last_date == pd.Timestamp("2020-03-20")
    assert view.frame().index.max() <= pd.Timestamp("2020-03-22")
    with pytest.raises(PriceDataError, match="cutoff"):
        view.at("2020-03-23", ["AAPL"])
    with pytest.raises(PriceDataError, match="cutoff"):
        view.window("2020-03-01", "2020-03-31")
    with pytest.raises(PriceDataError, match="cutoff"):
        view.as_of("2021-01-04")
    # a ticker listed later has no price in the view, even though the full history has one
    with pytest.raises(PriceDataError, match="ABNB"):
        view.at("2020-03-20", ["ABNB"])
    # coverage is computed from what the view can see
    assert view.coverage().last_date.max() <= pd.Timestamp("2020-03-20")
    same = view.window("2020-03-02", "2020-03-20", ["AAPL"])
    pd.testing.assert_frame_equal(same, market.prices.window("2020-03-02", "2020-03-20",
                                                             ["AAPL"]))


def test_returned_frames_cannot_corrupt_the_cache(market):
    before = market.prices.at("2024-03-08", ["AAPL"])["AAPL"]
    win = market.prices.window("2024-03-01", "2024-03-08", ["AAPL"])
    win.iloc[:, :] = -1.0
    full = market.prices.frame()
    full["AAPL"] = 0.0
    ret = market.prices.returns("2024-03-01", "2024-03-08")
    ret.loc[:, :] = 9.0
    series = market.prices.at("2024-03-08", ["AAPL"])
    series.iloc[0] = -5.0
    uni = market.universe.frame()
    uni.loc[:, "gics_sector"] = "Nope"
    row = market.universe.row("AAPL")
    row["gics_sector"] = "Nope"
    curve = market.treasury.at("2024-03-08")
    curve.iloc[:] = -1.0
    info = market.etf_info()
    info.loc[:, "category"] = "x"
    assert market.prices.at("2024-03-08", ["AAPL"])["AAPL"] == before
    assert market.universe.sector("AAPL") == "Information Technology"
    assert market.treasury.at("2024-03-08")["3M"] > 0
    assert (market.etf_info().category != "x").all()
    with pytest.raises(dataclasses.FrozenInstanceError):
        market.prices = market.etfs  # type: ignore[misc]
    with pytest.raises(ValueError):
        market.prices._values[0, 0] = 1.0  # the cached array is read-only


def test_load_market_is_cached(market):
    assert load_market() is market
    assert load_market(market_dir()) is market
    assert load_market(str(market_dir())) is market


def test_missing_folder_raises(tmp_path):
    with pytest.raises(MarketDataError, match="build_market_data.py"):
        load_market(tmp_path / "nowhere")
    (tmp_path / "manifest.json").write_text(json.dumps({"files": {}}))
    with pytest.raises(MarketDataError, match="incomplete"):
        load_market(tmp_path)


# ---------------------------------------------------------------------- index and rates
def test_index_series(market):
    assert market.index.at("2020-03-23") == pytest.approx(2237.40)
    assert market.index.at("2023-01-03") > 3800  # FRED part
    win = market.index.window("2023-01-01", "2023-01-31")
    assert pd.Timestamp("2023-01-16") not in win.index  # a FRED blank holiday row: dropped
    assert win.notna().all()
    with pytest.raises(PriceDataError, match="2026-02-11"):
        market.index.at("2026-08-03")


def test_treasury_not_published_vs_genuine_zero(market):
    curve = market.treasury.frame()
    assert tuple(curve.columns) == TENORS
    assert curve.loc[:"2001-07-30", "1M"].isna().all()
    assert curve.loc["2001-07-31", "1M"] == pytest.approx(3.67)
    assert curve.loc[:"1993-09-30", "20Y"].isna().all()
    assert curve.loc["2002-02-19":"2006-02-08", "30Y"].isna().all()
    assert curve.loc["2006-02-09", "30Y"] == pytest.approx(4.51)
    zero = market.treasury.at("2008-12-10")
    assert zero["1M"] == 0.0 and zero["3M"] == 0.0
    assert market.treasury.at("2008-12-24")["1M"] == 0.0
    assert np.isnan(market.treasury.at("2021-06-01")["1.5M"])
    assert market.treasury.risk_free_rate("2024-01-05") == pytest.approx(0.0547)
    with pytest.raises(PriceDataError, match="tbill_10y"):
        market.treasury.risk_free_rate("2026-01-02")


def test_treasury_sources_joined_on_2022_03_14(market):
    curve = market.treasury.window("2022-03-10", "2022-03-15")
    assert list(curve.index.strftime("%Y-%m-%d")) == ["2022-03-10", "2022-03-11", "2022-03-14",
                                                      "2022-03-15"]
    assert curve.loc["2022-03-11", "2M"] != curve.loc["2022-03-11", "2M"]  # NaN in 1990 file
    assert curve.loc["2022-03-14", "2M"] > 0


def test_lazy_tables(market):
    ff5 = market.ff5_daily()
    assert list(ff5.columns) == ["date", "Mkt-RF", "SMB", "HML", "RMW", "CMA", "RF"]
    assert ff5["Mkt-RF"].abs().max() < 0.25  # decimals per day
    mom = market.ff_mom_monthly()
    assert mom.date.dt.is_month_end.all() and mom["Mom"].abs().max() < 0.5
    ca = market.corporate_actions("AAPL")
    assert (ca.ticker == "AAPL").all() and (ca.split_coefficient == 4.0).any()
    assert len(market.qa_flags()) == 402
    assert len(market.gics_structure("2023")) == 163
    assert len(market.gics_structure("2018")) == 158
    info = market.etf_info().set_index("ticker")
    assert len(info) == 71 and info.loc["XLK", "gics_sector"] == "Information Technology"
    assert info.loc["SPY", "category"] == "sp500_tracker"
    assert market.membership().end_date.isna().sum() == 503


def test_price_history_from_frame():
    from pma_lab.market.data import PriceHistory

    idx = pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"])
    hist = PriceHistory.from_frame(pd.DataFrame({"X": [10.0, np.nan, 11.0, 12.1]}, index=idx))
    rets = hist.returns("2024-01-02", "2024-01-05", "X")["X"]
    assert np.isnan(rets.iloc[0]) and np.isnan(rets.iloc[1]) and np.isnan(rets.iloc[2])
    assert rets.iloc[3] == pytest.approx(0.1)
    assert hist.at("2024-01-03", "X")["X"] == 10.0
    with pytest.raises(MarketDataError):
        PriceHistory.from_frame(pd.DataFrame({"X": [1.0, 2.0]}, index=idx[[1, 0]]))


# ------------------------------------------------------------------ vintages (issue 15)
def _copy_with_manifest(tmp_path, change):
    import json
    import shutil

    from pma_lab.paths import market_dir

    src = market_dir()
    dst = tmp_path / "market"
    dst.mkdir()
    for f in src.iterdir():
        if f.suffix == ".parquet":
            (dst / f.name).symlink_to(f)
        elif f.is_file():
            shutil.copy(f, dst / f.name)
    manifest = json.loads((dst / "manifest.json").read_text())
    change(manifest)
    (dst / "manifest.json").write_text(json.dumps(manifest))
    return dst


def test_snapshot_dates_come_from_the_manifest(tmp_path):
    import pandas as pd

    from pma_lab.market.data import load_market

    m = load_market()
    v = m.vintages
    assert v.membership_snapshot == pd.Timestamp("2025-11-16")
    for a in v.cap_anchors:
        assert a.column in m.universe.frame().columns
    assert v.constituents_column in m.universe.frame().columns
    assert len(m.universe.members("2025-07-01")) > 400

    def earlier(man):
        man["vintages"]["membership_snapshot"] = "2025-06-30"

    other = load_market(_copy_with_manifest(tmp_path, earlier))
    with pytest.raises(DataError, match="known from .* to 2025-06-30"):
        other.universe.members("2025-07-01")


_NOT_VINTAGES = {("io/profile.py", "write as_of = 2026-07-31"),
                 ("app/cli.py", "Analysis date, e.g. 2026-07-31 (default: the profile's "
                                "client.as_of).")}
"""Strings that hold a vintage's date by coincidence: the sample clients' as_of in a fix
or an example."""


def test_no_vintage_dates_or_columns_in_model_code():
    """Issue 15: the snapshot dates and their column names are read from the manifest.

    Every ``.py`` under pma_lab is parsed; outside docstrings, no string may name a vintage
    column (``market_cap_usd_2026_08_22``, ``in_sp500_2021_04_25``) or hold a date of the
    manifest's ``vintages``, no constant may be named for a year (``ANCHOR_2018``), and no
    ``date(...)``/``Timestamp(...)`` call may spell a vintage date.
    """
    import ast
    import re

    import pma_lab

    package = Path(pma_lab.__file__).parent
    v = json.loads((package.parent / "data" / "samples" / "market" / "manifest.json")
                   .read_text())["vintages"]
    dates = ({a["price_date"] for a in v["cap_anchors"]} | {a["label"] for a in v["cap_anchors"]}
             | {c["date"] for c in v["constituent_lists"]}
             | {v["membership_snapshot"], v["constituents"]["date"]}
             | {g["date"] for g in v["gics_structures"]})
    dates = {d for d in dates if re.fullmatch(r"\d{4}-\d{2}-\d{2}", d)}
    assert {"2018-02-08", "2026-08-08", "2023-03-18", "2018-09-29"} <= dates
    column = re.compile(r"(market_cap_usd|in_sp500)_\d{4}_\d{2}_\d{2}")
    found = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package).as_posix()
        tree = ast.parse(path.read_text())
        docs = {id(n.value) for n in ast.walk(tree)
                if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
        for n in ast.walk(tree):
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs:
                hits = [d for d in dates if d in n.value] + column.findall(n.value)
                if hits and (rel, n.value) not in _NOT_VINTAGES:
                    found.append(f"{rel}:{n.lineno}: {n.value[:60]!r}")
            elif isinstance(n, ast.Name) and re.match(r"[A-Z][A-Z_]*_(19|20)\d{2}", n.id):
                found.append(f"{rel}:{n.lineno}: constant {n.id}")
            elif (isinstance(n, ast.Call) and len(n.args) >= 3
                  and all(isinstance(a, ast.Constant) and isinstance(a.value, int)
                          for a in n.args[:3])):
                try:
                    spelled = dt.date(*(a.value for a in n.args[:3])).isoformat()
                except (TypeError, ValueError):
                    continue
                if spelled in dates:
                    found.append(f"{rel}:{n.lineno}: date {spelled}")
    assert not found, "vintages belong in manifest.json ('vintages'):\n" + "\n".join(found)


def test_a_manifest_without_vintages_is_a_market_data_error(tmp_path):
    from pma_lab.errors import MarketDataError
    from pma_lab.market.data import load_market

    folder = _copy_with_manifest(tmp_path, lambda man: man.pop("vintages"))
    with pytest.raises(MarketDataError, match="no valid 'vintages' section"):
        load_market(folder)


def test_the_gics_structures_come_from_the_manifest(tmp_path):
    """Issue 15: the GICS structure's date is the manifest's, not a constant in code."""
    from pma_lab.errors import MarketDataError
    from pma_lab.market.data import load_market

    v = load_market().vintages
    assert v.gics_structures == (("2018", "2018-09-29"), ("2023", "2023-03-18"))
    assert v.gics_structure == "2023-03-18" and v.gics_structure_of("2018") == "2018-09-29"
    with pytest.raises(MarketDataError, match="no GICS structure '2030'.*has 2018, 2023"):
        v.gics_structure_of("2030")

    def drop(man):
        del man["vintages"]["gics_structures"]

    with pytest.raises(MarketDataError, match="no valid 'vintages' section.*gics_structures"):
        load_market(_copy_with_manifest(tmp_path, drop))


def test_a_manifest_whose_current_list_is_not_the_newest_is_refused(tmp_path):
    from pma_lab.errors import MarketDataError
    from pma_lab.market.data import load_market

    def drop(man):
        man["vintages"]["constituent_lists"] = man["vintages"]["constituent_lists"][:1]

    with pytest.raises(MarketDataError, match="newest of 'constituent_lists'"):
        load_market(_copy_with_manifest(tmp_path, drop))


# ------------------------------------------------------- MarketData.from_frames (issue 15)
@functools.lru_cache(maxsize=1)
def _slice():
    """A real slice of the packaged data: a client's names and 40 large caps, three years.

    Cached: callers copy before changing a frame."""
    from pma_lab import load_client
    from pma_lab.market.benchmark import sp500_proxy
    from pma_lab.market.data import load_market
    from pma_lab.paths import clients_dir

    m = load_market()
    client = load_client(clients_dir() / "tech-exec" / "profile.toml")
    held = set(client.lots.lots.ticker)
    proxy = sp500_proxy(client.as_of, m)
    top = [t for t in proxy.weights.sort_values(ascending=False).index if t not in held][:40]
    names = sorted(held | set(top))
    uni = m.universe.frame()
    uni = uni[uni.ticker.isin(names)].reset_index(drop=True)
    px = m.prices.frame().loc["2023-07-01":"2026-07-31", names]
    w = proxy.weights.reindex(names).fillna(0.0)
    return m, client, uni, px, w / w.sum()


def test_from_frames_a_real_slice_runs_through_prepare():
    from pma_lab.market.benchmark import Benchmark
    from pma_lab.market.data import MarketData
    from pma_lab.optimize.engine import prepare

    m, client, uni, px, w = _slice()
    custom = MarketData.from_frames(px.reset_index(), uni)  # a 'date' column works too
    assert custom.universe.tickers == tuple(sorted(uni.ticker)) and len(custom.universe) == 56
    assert custom.prices.first_date == pd.Timestamp("2023-07-03")
    # the frames replace the packaged files in the manifest: caches never mix the two
    files = custom.manifest()["files"]
    assert files["prices.parquet"]["source"] == "from_frames"
    assert files["prices.parquet"]["sha256"] != m.manifest()["files"]["prices.parquet"]["sha256"]
    assert files["etf_prices.parquet"] == m.manifest()["files"]["etf_prices.parquet"]
    custom.verify()
    bench = Benchmark.from_weights(w, name="my 56", known=set(w.index))
    setup = prepare(client, market=custom, benchmark=bench)
    assert setup.market is custom
    assert set(setup.risk.tickers) == set(uni.ticker)  # estimated from the frames only
    assert set(setup.target.weights.index) <= set(uni.ticker)
    assert setup.prices["NVDA"] == m.prices.at(client.as_of, ["NVDA"])["NVDA"]


def test_from_frames_without_the_model_columns_asks_for_your_own_risk_model():
    from pma_lab.market.data import MarketData
    from pma_lab.portfolio.risk import estimate_risk_model

    _m, client, uni, px, _w = _slice()
    lean = MarketData.from_frames(px, uni[["ticker", "name", "gics_sector"]])
    with pytest.raises(DataError, match="no column 'gics_industry_group', 'cik'.*"
                                        "RiskModel.from_covariance"):
        estimate_risk_model(client.as_of, market=lean)


def test_from_frames_takes_sectors_as_a_series():
    from pma_lab.market.data import MarketData

    _m, _client, uni, px, _w = _slice()
    sectors = uni.set_index("ticker")["gics_sector"]
    custom = MarketData.from_frames(px, uni.drop(columns="gics_sector"), sectors)
    assert custom.universe.sector("NVDA") == "Information Technology"
    with pytest.raises(DataError, match="sectors: no sector for 'AAPL'.*every ticker"):
        MarketData.from_frames(px, uni.drop(columns="gics_sector"), sectors.drop("AAPL"))
    with pytest.raises(DataError, match="sectors: row 'ZZZZ' is not a ticker"):
        MarketData.from_frames(px, uni, pd.concat([sectors, pd.Series({"ZZZZ": "Energy"})]))


def _bad_price(px, uni):
    px = px.copy()
    px.loc["2024-03-08", "NVDA"] = -1.0
    return px, uni


def _text_price(px, uni):
    px = px.astype(object)
    px.loc["2024-03-08", "AAPL"] = "n/a"
    return px, uni


def _unsorted(px, uni):
    return px.iloc[[0, 2, 1, 3]], uni


def _repeated_day(px, uni):
    return px.iloc[[0, 1, 1, 2]], uni


def _unknown_column(px, uni):
    return px.assign(ZZZZ=1.0), uni


def _repeated_ticker(px, uni):
    return px, pd.concat([uni, uni.iloc[[3]]], ignore_index=True)


def _dash_ticker(px, uni):
    uni = uni.copy()
    uni.loc[uni.ticker == "BRK.B", "ticker"] = "BRK-B"
    return px, uni


def _bad_sector(px, uni):
    uni = uni.copy()
    uni.loc[uni.ticker == "NVDA", "gics_sector"] = "Tech"
    return px, uni


@pytest.mark.parametrize("spoil, message", [
    (_bad_price, r"prices frame: row 2024-03-08, column 'NVDA': close -1.0 is not a positive"),
    (_text_price, r"prices frame: row 2024-03-08, column 'AAPL': 'n/a' is not a number"),
    (_unsorted, r"prices frame: row 2 \(2023-07-05\) comes after 2023-07-06; sort the rows"),
    (_repeated_day, r"prices frame: row 2023-07-05 appears more than once"),
    (_unknown_column, r"prices frame: column 'ZZZZ' is not in the universe frame.*add a row"),
    (_repeated_ticker, r"universe frame: row 56, column 'ticker': '\w+' appears more than"),
    (_dash_ticker, r"universe frame: row \d+, column 'ticker': 'BRK-B' .*write it 'BRK.B'"),
    (_bad_sector, r"universe frame: row \d+ \(NVDA\), column 'gics_sector': 'Tech' is not"),
])
def test_from_frames_bad_input_names_frame_row_and_column(spoil, message):
    from pma_lab.market.data import MarketData

    _m, _client, uni, px, _w = _slice()
    px, uni = spoil(px, uni)
    with pytest.raises(DataError, match=message):
        MarketData.from_frames(px, uni)


def test_as_of_before_the_first_date_names_the_first_date(market):
    first = market.prices.first_date
    with pytest.raises(PriceDataError, match=f"on or after {first:%Y-%m-%d}"):
        market.prices.as_of("1990-01-02")
