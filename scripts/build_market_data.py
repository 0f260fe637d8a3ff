"""Build the packaged market data (``data/samples/market``) from the shared CSV collection.

Usage::

    python scripts/build_market_data.py --source ../shared/data/market --out data/samples/market

The source folder is the collection documented in its ``SOURCES.md``. The build reads the
CSVs, applies the documented conventions (NaN for "not published", return chaining of the
two Yahoo panels, no gap filling) and writes compact parquet files (zstd) plus
``manifest.json`` (rows, columns, dates and sha256 of every file), ``DATA_CARD.md`` and
``LICENSES.md``. Nothing in the output refers back to the source folder, so the product runs
without it.

The build is deterministic: the same sources and library versions give byte-identical
files (no timestamps are written). Every invariant the build relies on is checked and a
violation stops the build with a :class:`BuildError` that says what to look at.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

# ----------------------------------------------------------------------------- constants

#: Source files, relative to ``--source``.
SRC = {
    "security_master": "universe/security_master.csv",
    "fin_2018": "universe/sp500_constituents_financials_2018-02-08.csv",  # see VINTAGES
    "fin_2026": "universe/sp500_constituents_financials_2026-08-22.csv",
    "membership": "universe/sp500_membership_intervals.csv",
    "gics_2018": "universe/gics_structure_2018-09-29.csv",
    "gics_2023": "universe/gics_structure_2023-03-18.csv",
    "yahoo_main": "prices/sp500_yahoo_daily_adj_close_2000-2024.csv.gz",
    "yahoo_ext": "prices/sp500_yahoo_daily_adj_close_2023-2026_extension.csv.gz",
    "av_actions": "prices/sp500_alphavantage_corporate_actions_1999-2021.csv",
    "qa_flags": "prices/price_qa_flags.csv",
    "etf": "etf/etf_yahoo_daily_adj_close_1993-2026.csv.gz",
    "sp500_skfolio": "index/sp500_daily_price_index_1990-2022_skfolio.csv.gz",
    "sp500_fred": "index/sp500_daily_fred_2016-2026.csv",
    "ust_1990": "rates/ust_par_yield_curve_daily_1990-2022.csv",
    "ust_2021": "rates/ust_par_yield_curve_daily_2021-2025.csv",
    "irx_tnx": "rates/yahoo_irx_tnx_daily_1976-2026.csv",
    "ff5_daily": "factors/ff5_daily_1963-2024.csv.gz",
    "ff_mom": "factors/us_ff5_mom_monthly_1963-2025.csv.gz",
}

# The dates of the snapshots in the data, written to manifest.json so that pma_lab reads
# them from the data instead of hard-coding them (MarketData.vintages):
# membership_snapshot: the commit date of fja05680/sp500's sp500_ticker_start_end.csv (an
# open interval means "still a member" then); constituents: the current-members list and
# its universe column; constituent_lists: every members list in the universe (oldest first,
# the current one last); cap_anchors: market-cap columns of the universe, each with the
# date whose close prices it is rolled from (the 2026 file's prices are from mixed dates
# in 2025-26, anchored at 2026-07-31: an approximation), preferred in this order;
# gics_structures: the date of each GICS structure file (gics_structure_<vintage>.parquet),
# the newest being the one the screen catalog's codes use.
VINTAGES: dict[str, Any] = {
    "membership_snapshot": "2025-11-16",
    "constituents": {"date": "2026-08-08", "column": "in_sp500_2026_08_08"},
    "constituent_lists": [{"date": "2021-04-25", "column": "in_sp500_2021_04_25"},
                          {"date": "2026-08-08", "column": "in_sp500_2026_08_08"}],
    "cap_anchors": [
        {"label": "2018-02-08", "column": "market_cap_usd_2018_02_08",
         "price_date": "2018-02-08"},
        {"label": "2026 snapshot", "column": "market_cap_usd_2026_08_22",
         "price_date": "2026-07-31"},
    ],
    "gics_structures": [{"vintage": "2018", "date": "2018-09-29"},
                        {"vintage": "2023", "date": "2023-03-18"}],
}

#: The 18 names whose extension file carries the full Yahoo history (SOURCES.md §2).
EXT_FULL_HISTORY = (
    "BF.B", "BNY", "BRK.B", "CPAY", "DOC", "ECHO", "EXE", "FDXF", "FISV", "GEV", "HONA",
    "MRSH", "PSKY", "Q", "SNDK", "SOLV", "SW", "XYZ",
)

#: Price-panel source labels used in ``price_provenance.parquet``.
SOURCE_MAIN = "yahoo_2000_2024"
SOURCE_EXT = "yahoo_ext_2023_2026"
SOURCE_CHAINED = "chained"

#: A day counts as a market day for a panel when at least this share of the tickers that
#: are live that day (first valid date <= day <= last valid date) have a value.
MARKET_DAY_SHARE = 0.90

#: Treasury tenors, in output order, and where each comes from in the two source files.
TENORS = ("1M", "1.5M", "2M", "3M", "4M", "6M", "1Y", "2Y", "3Y", "5Y", "7Y", "10Y", "20Y",
          "30Y")
UST_1990_COLUMNS = {
    "BC_1MONTH": "1M", "BC_3MONTH": "3M", "BC_6MONTH": "6M", "BC_1YEAR": "1Y",
    "BC_2YEAR": "2Y", "BC_3YEAR": "3Y", "BC_5YEAR": "5Y", "BC_7YEAR": "7Y",
    "BC_10YEAR": "10Y", "BC_20YEAR": "20Y", "BC_30YEAR": "30Y",
}
UST_2021_COLUMNS = {
    "1 Mo": "1M", "1.5 Mo": "1.5M", "2 Mo": "2M", "3 Mo": "3M", "4 Mo": "4M", "6 Mo": "6M",
    "1 Yr": "1Y", "2 Yr": "2Y", "3 Yr": "3Y", "5 Yr": "5Y", "7 Yr": "7Y", "10 Yr": "10Y",
    "20 Yr": "20Y", "30 Yr": "30Y",
}
#: "0.0 means not published" ranges of the 1990-2022 file (SOURCES.md §5), inclusive.
UST_NOT_PUBLISHED = (
    ("1M", "1990-01-02", "2001-07-30"),
    ("20Y", "1990-01-02", "1993-09-30"),
    ("30Y", "2002-02-19", "2006-02-08"),
)
#: Tenors on which genuine 0.00 prints exist outside those ranges (bills near zero).
UST_GENUINE_ZERO_TENORS = ("1M", "3M")
UST_SWITCH_DATE = "2022-03-14"

#: ETF categories and, for sector funds, the GICS sector tracked (SOURCES.md §3).
ETF_CATEGORIES: dict[str, tuple[str, ...]] = {
    "sp500_tracker": ("SPY", "IVV", "VOO", "FXAIX", "VFIAX"),
    "broad_us_equity": ("VTI", "ITOT", "SCHX", "SCHB", "IWB", "IWV", "RSP", "QQQ", "DIA",
                        "IWM"),
    "sector_spdr": ("XLB", "XLE", "XLF", "XLI", "XLK", "XLP", "XLU", "XLV", "XLY", "XLRE",
                    "XLC"),
    "vanguard_sector": ("VGT", "VHT", "VFH", "VDE", "VIS", "VCR", "VDC", "VPU", "VNQ", "VAW",
                        "VOX"),
    "esg": ("ESGU", "SUSA", "ESGV", "DSI", "SPYX", "EFIV", "SNPE"),
    "factor": ("MTUM", "QUAL", "USMV", "VLUE", "SIZE"),
    "treasury_bond": ("BIL", "SGOV", "SHV", "SHY", "IEI", "IEF", "TLT", "GOVT", "VGSH",
                      "VGIT", "VGLT", "AGG", "BND"),
    "muni_bond": ("MUB", "TFI", "SHM", "ITM", "PZA", "SUB", "HYD", "NEAR", "VTEB"),
}
ETF_SECTORS = {
    "XLB": "Materials", "VAW": "Materials",
    "XLE": "Energy", "VDE": "Energy",
    "XLF": "Financials", "VFH": "Financials",
    "XLI": "Industrials", "VIS": "Industrials",
    "XLK": "Information Technology", "VGT": "Information Technology",
    "XLP": "Consumer Staples", "VDC": "Consumer Staples",
    "XLU": "Utilities", "VPU": "Utilities",
    "XLV": "Health Care", "VHT": "Health Care",
    "XLY": "Consumer Discretionary", "VCR": "Consumer Discretionary",
    "XLRE": "Real Estate", "VNQ": "Real Estate",
    "XLC": "Communication Services", "VOX": "Communication Services",
}
ETF_NOTES = {
    "FXAIX": "mutual fund (not an ETF); prices end 2026-07-31",
    "VFIAX": "mutual fund (not an ETF); prices end 2026-07-31",
    "RSP": "equal-weight S&P 500",
    "QQQ": "Nasdaq-100",
    "DIA": "Dow Jones Industrial Average",
    "IWM": "Russell 2000 (small caps)",
    "SPYX": "S&P 500 ex fossil-fuel reserve owners",
    "AGG": "US aggregate bonds (Treasuries, agencies, MBS, corporates)",
    "BND": "US aggregate bonds (Treasuries, agencies, MBS, corporates)",
    "VNQ": "REITs (MSCI US IMI Real Estate 25/50)",
    "VOX": "Telecommunication Services before the 2018-09 GICS change",
    "XLC": "created 2018-06 for the 2018-09 GICS Communication Services sector",
    "XLRE": "split from XLF in 2015-10",
}

#: Share classes of one issuer that share a CIK (distinct securities, not duplicates).
SHARE_CLASS_PAIRS = {("FOX", "FOXA"), ("GOOG", "GOOGL"), ("NWS", "NWSA"), ("UA", "UAA")}

#: The documented garbage row of the 2026 financials file (SOURCES.md §1).
PARA_GARBAGE_CAP = 4_616_249.0

#: Columns kept from the 2018 financials file, with their output names.
FIN_2018_COLUMNS = {
    "Price": "price_2018_02_08",
    "Price/Book": "price_to_book_2018",
    "Dividend Yield": "dividend_yield_2018",
    "Earnings/Share": "earnings_per_share_2018",
    "Price/Earnings": "price_to_earnings_2018",
}

PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "compression_level": 9}


# ---------------------------------------------------------------------------- utilities
class BuildError(RuntimeError):
    """An input violates an invariant the build relies on. Read the message, fix the source
    (or this script's documented assumption) and rerun; retrying unchanged will not help."""


def require(condition: bool, message: str) -> None:
    """Raise :class:`BuildError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise BuildError(message)


def sha256_of(path: Path) -> str:
    """Return the hex sha256 of a file."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def iso(value: Any) -> str | None:
    """Format a timestamp-like value as ``YYYY-MM-DD`` (``None`` for missing)."""
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).strftime("%Y-%m-%d")


def to_dates(values: pd.Series | pd.Index) -> Any:
    """Parse ISO date strings (blank = missing) to ``datetime64[ns]``."""
    return pd.to_datetime(values, format="%Y-%m-%d").astype("datetime64[ns]")


@dataclass
class Context:
    """Paths and the numbers collected for the data card."""

    source: Path
    out: Path
    stats: dict[str, Any]

    def src(self, key: str) -> Path:
        """Return the path of a source file, raising if it is absent."""
        path = self.source / SRC[key]
        require(path.is_file(), f"source file {path} is missing; point --source at the folder "
                                "that holds SOURCES.md and its sub-folders")
        return path


def write_parquet(df: pd.DataFrame, path: Path, *, index: bool = False) -> None:
    """Write ``df`` as zstd parquet; float columns skip dictionary encoding (smaller)."""
    table = pa.Table.from_pandas(df, preserve_index=index)
    dict_cols = [f.name for f in table.schema if not pa.types.is_floating(f.type)]
    pq.write_table(table, path, use_dictionary=dict_cols or False, **PARQUET_OPTIONS)


# ------------------------------------------------------------------------------ universe
def build_universe(ctx: Context) -> pd.DataFrame:
    """Build ``universe.parquet`` from the security master and the 2018 financials."""
    sm = pd.read_csv(ctx.src("security_master"), dtype=str, keep_default_na=False)
    require(len(sm) == 600 and sm.ticker.is_unique,
            f"security_master.csv should have 600 unique tickers, found {len(sm)}")
    sm = sm.replace("", np.nan)

    out = pd.DataFrame({"ticker": sm.ticker, "yahoo_ticker": sm.yahoo_ticker})
    out["name"] = sm.name_2026.fillna(sm.name_2021)
    out["cik"] = sm.cik
    require(out.cik.str.fullmatch(r"\d{1,10}").all(), "security_master.cik has non-digit values")
    for col in ("in_sp500_2021_04_25", "in_sp500_2026_08_08"):
        require(sm[col].isin(["0", "1"]).all(), f"security_master.{col} must be 0/1")
        out[col] = sm[col] == "1"

    levels = ("sector", "industry_group", "industry", "sub_industry", "sub_industry_code")
    has_2026 = sm.gics_sector_2026.notna()
    require((sm.loc[has_2026, [f"gics_{lv}_2026" for lv in levels]].notna().all(axis=None)),
            "a 2026 GICS row is incomplete")
    require(sm.loc[~has_2026, [f"gics_{lv}_2021" for lv in levels]].notna().all(axis=None),
            "a ticker has neither a complete 2026 nor a complete 2021 GICS classification")
    for lv in levels:
        out[f"gics_{lv}"] = sm[f"gics_{lv}_2026"].where(has_2026, sm[f"gics_{lv}_2021"])
    out["gics_vintage"] = np.where(has_2026, "2023-03-18 structure", "2018-09-29 structure")
    require(out.gics_sub_industry_code.str.fullmatch(r"\d{8}").all(),
            "gics_sub_industry_code must be 8 digits")

    # Market caps: the 2026 value as carried by the security master (2026-list names only).
    caps_2026 = pd.to_numeric(sm.market_cap_usd_2026_08_22)
    fin26 = pd.read_csv(ctx.src("fin_2026"))
    para = fin26.Symbol == "PARA"
    require(para.sum() == 1 and float(fin26.loc[para, "Market Cap"].iloc[0]) == PARA_GARBAGE_CAP,
            "the documented garbage PARA row of the 2026 financials file was not found as "
            "described; re-read SOURCES.md §1 and update PARA_GARBAGE_CAP")
    fin26.loc[para, ["Market Cap", "Price"]] = np.nan
    para_in_universe = bool((sm.ticker == "PARA").any())
    if para_in_universe:
        caps_2026 = caps_2026.where(sm.ticker != "PARA")
    fin26_caps = fin26.set_index("Symbol")["Market Cap"]
    members_26 = sm.in_sp500_2026_08_08 == "1"
    joined = sm.ticker[members_26].map(fin26_caps)
    require(np.allclose(joined.to_numpy(dtype=float), caps_2026[members_26].to_numpy(dtype=float),
                        equal_nan=True, rtol=0, atol=0.5),
            "security_master.market_cap_usd_2026_08_22 disagrees with the 2026 financials file")
    out["market_cap_usd_2018_02_08"] = pd.to_numeric(sm.market_cap_usd_2018_02_08).astype(float)
    out["market_cap_usd_2026_08_22"] = caps_2026.astype(float)

    fin18 = pd.read_csv(ctx.src("fin_2018"))
    require(fin18.Symbol.is_unique, "2018 financials has duplicate symbols")
    fin18 = fin18.set_index("Symbol")
    joined18 = sm.ticker.map(fin18["Market Cap"])
    require(np.allclose(joined18.to_numpy(dtype=float),
                        pd.to_numeric(sm.market_cap_usd_2018_02_08).to_numpy(dtype=float),
                        equal_nan=True, rtol=0, atol=0.5),
            "security_master.market_cap_usd_2018_02_08 disagrees with the 2018 financials file")
    for src_col, out_col in FIN_2018_COLUMNS.items():
        values = sm.ticker.map(fin18[src_col]).astype(float)
        if src_col == "Dividend Yield":
            values = values / 100.0  # the 2018 file is in percent; store a decimal fraction
        out[out_col] = values

    # Raw columns for traceability.
    out["name_2026"] = sm.name_2026
    out["name_2021"] = sm.name_2021
    out["date_added_2026_list"] = to_dates(sm.date_added_2026_list)
    for vintage in ("2026", "2021"):
        for lv in levels:
            out[f"gics_{lv}_{vintage}"] = sm[f"gics_{lv}_{vintage}"]
    for col in ("yahoo_2000_2024_first", "yahoo_2000_2024_last", "yahoo_ext_first",
                "yahoo_ext_last", "alphavantage_first", "alphavantage_last"):
        out[col] = to_dates(sm[col])
    out = out.sort_values("ticker", kind="stable").reset_index(drop=True)

    ctx.stats["universe"] = {
        "rows": len(out),
        "in_2021": int(out.in_sp500_2021_04_25.sum()),
        "in_2026": int(out.in_sp500_2026_08_08.sum()),
        "in_both": int((out.in_sp500_2021_04_25 & out.in_sp500_2026_08_08).sum()),
        "in_neither": int((~out.in_sp500_2021_04_25 & ~out.in_sp500_2026_08_08).sum()),
        "gics_2023": int((out.gics_vintage == "2023-03-18 structure").sum()),
        "gics_2018": int((out.gics_vintage == "2018-09-29 structure").sum()),
        "cap_2026": int(out.market_cap_usd_2026_08_22.notna().sum()),
        "cap_2026_members": int(out.market_cap_usd_2026_08_22[out.in_sp500_2026_08_08]
                                .notna().sum()),
        "cap_2018": int(out.market_cap_usd_2018_02_08.notna().sum()),
        "fin_2018": int(out.price_2018_02_08.notna().sum()),
        "para_in_universe": para_in_universe,
        "fin26_not_in_2026_list": int((~fin26.Symbol.isin(sm.ticker[members_26])).sum()),
        "sectors": int(out.gics_sector.nunique()),
        "sub_industries": int(out.gics_sub_industry_code.nunique()),
    }
    return out


# -------------------------------------------------------------------------------- prices
def read_long_prices(path: Path, value: str = "adj_close") -> pd.DataFrame:
    """Read a normalized long price file and pivot it to a wide float64 frame."""
    df = pd.read_csv(path, dtype={"ticker": str, value: float})
    require(not df.duplicated(["date", "ticker"]).any(), f"{path.name}: duplicate (date, ticker)")
    require(df[value].notna().all() and (df[value] > 0).all(),
            f"{path.name}: blank or non-positive prices")
    df["date"] = to_dates(df["date"])
    wide = df.pivot(index="date", columns="ticker", values=value).sort_index()
    wide = wide.reindex(columns=sorted(wide.columns)).astype("float64")
    wide.columns.name = None
    return wide


def market_days(frame: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """Flag market days and each ticker's live span.

    Returns
    -------
    tuple[pd.Series, pd.DataFrame]
        A boolean Series (date -> market day: at least ``MARKET_DAY_SHARE`` of the live
        tickers have a value) and the boolean live mask (first valid <= day <= last valid).
    """
    valid = frame.notna()
    live = valid.cummax() & valid.iloc[::-1].cummax().iloc[::-1]
    have = valid.sum(axis=1)
    n_live = live.sum(axis=1)
    return have >= MARKET_DAY_SHARE * n_live, live


def coverage_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per ticker first/last valid date, number of values and missing market days inside."""
    is_market, live = market_days(frame)
    inside_missing = live & frame.isna()
    return pd.DataFrame({
        "first_date": frame.apply(pd.Series.first_valid_index),
        "last_date": frame.apply(pd.Series.last_valid_index),
        "n_obs": frame.notna().sum().astype("int64"),
        "n_missing_inside": inside_missing[is_market].sum().astype("int64"),
        "n_missing_inside_any_day": inside_missing.sum().astype("int64"),
    }).rename_axis("ticker")


def build_prices(ctx: Context) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Chain the two Yahoo panels into one wide frame and its provenance table."""
    main = read_long_prices(ctx.src("yahoo_main"))
    ext = read_long_prices(ctx.src("yahoo_ext"))
    index = main.index.union(ext.index)
    main = main.reindex(index)
    ext = ext.reindex(index)

    both = sorted(set(main.columns) & set(ext.columns))
    only_ext = sorted(set(ext.columns) - set(main.columns))
    require(set(only_ext) == set(EXT_FULL_HISTORY),
            f"tickers only in the extension {only_ext} differ from the 18 documented "
            "full-history names; re-read SOURCES.md §2")

    columns: dict[str, pd.Series] = {}
    prov: list[dict[str, Any]] = []
    expected_values = 0
    n_main_dropped = 0
    for t in sorted(set(main.columns) | set(ext.columns)):
        if t in main.columns and t in ext.columns:
            m, e = main[t], ext[t]
            common = m.notna() & e.notna()
            require(bool(common.any()), f"{t}: the two panels never overlap; cannot chain")
            splice = common.idxmax()
            before = index < splice
            require(not bool(e[before].notna().any()),
                    f"{t}: the extension has data before the splice date {iso(splice)}; "
                    "chaining at the first common date would drop it")
            ratio = float(e[splice] / m[splice])
            series = pd.Series(np.where(before, m.to_numpy() * ratio, e.to_numpy()),
                               index=index, name=t)
            # Returns equal the extension's from the splice on, the main panel's before it.
            r_chain = series / series.shift(1) - 1
            r_ext = e / e.shift(1) - 1
            r_main = m / m.shift(1) - 1
            after = index > splice
            require(np.allclose(r_chain[after], r_ext[after], rtol=1e-12, atol=1e-13,
                                equal_nan=True)
                    and np.allclose(r_chain[~after], r_main[~after], rtol=1e-12, atol=1e-13,
                                    equal_nan=True),
                    f"{t}: chained returns do not reproduce the source returns")
            expected_values += int(m[before].notna().sum() + e[~before].notna().sum())
            n_main_dropped += int((m.notna() & e.isna() & ~before).sum())
            source, splice_date, scale = SOURCE_CHAINED, splice, ratio
        elif t in main.columns:
            series, source, splice_date, scale = main[t], SOURCE_MAIN, pd.NaT, np.nan
            expected_values += int(series.notna().sum())
        else:
            series, source, splice_date, scale = ext[t], SOURCE_EXT, pd.NaT, np.nan
            expected_values += int(series.notna().sum())
        columns[t] = series.astype("float64")
        prov.append({"ticker": t, "source": source, "splice_date": splice_date,
                     "scale_ratio": scale})

    prices = pd.DataFrame(columns, index=index)
    prices.index.name = "date"
    require(int(prices.notna().sum().sum()) == expected_values,
            "the chained frame has a different number of values than its sources")
    cov = coverage_table(prices)
    provenance = pd.DataFrame(prov).set_index("ticker").join(cov)
    for col in ("splice_date", "first_date", "last_date"):
        provenance[col] = provenance[col].astype("datetime64[ns]")

    is_market, _ = market_days(prices)
    gaps = provenance[provenance.n_missing_inside > 0]
    ctx.stats["prices"] = {
        "rows": len(prices), "tickers": prices.shape[1],
        "first": iso(index[0]), "last": iso(index[-1]),
        "n_main": main.shape[1], "n_ext": ext.shape[1],
        "n_chained": len(both), "n_main_only": int((provenance.source == SOURCE_MAIN).sum()),
        "n_ext_only": len(only_ext),
        "splice_dates": provenance.splice_date.dropna().map(iso).value_counts()
        .sort_index().to_dict(),
        "ratio_min": float(provenance.scale_ratio.min()),
        "ratio_max": float(provenance.scale_ratio.max()),
        "ratio_min_ticker": str(provenance.scale_ratio.idxmin()),
        "ratio_max_ticker": str(provenance.scale_ratio.idxmax()),
        "main_values_dropped_after_splice": n_main_dropped,
        "values": int(prices.notna().sum().sum()),
        "non_market_days": [iso(d) for d in is_market.index[~is_market]],
        "gaps": {t: int(n) for t, n in gaps.n_missing_inside.items()},
        "gap_dates": {t: [iso(d) for d in prices.index[
            prices[t].isna() & (prices.index > provenance.loc[t, "first_date"])
            & (prices.index < provenance.loc[t, "last_date"])]] for t in gaps.index},
        "ended_2024_03_08": sorted(provenance.index[provenance.last_date
                                                    == pd.Timestamp("2024-03-08")]),
        "tickers_on": {d: int(prices.loc[d].notna().sum()) for d in (
            "2000-01-03", "2008-01-02", "2009-03-09", "2020-03-23", "2024-03-08",
            "2026-08-03")},
    }
    provenance = provenance.drop(columns="n_missing_inside_any_day").reset_index()
    return prices, provenance


def build_etfs(ctx: Context) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Wide ETF closes and the ETF info table."""
    etf = read_long_prices(ctx.src("etf"))
    etf.index.name = "date"
    listed = [t for tickers in ETF_CATEGORIES.values() for t in tickers]
    require(len(listed) == len(set(listed)) == 71, "ETF_CATEGORIES must list 71 distinct funds")
    require(set(listed) == set(etf.columns),
            "ETF file tickers differ from SOURCES.md §3: "
            f"{sorted(set(listed) ^ set(etf.columns))}")
    cov = coverage_table(etf)
    rows = []
    for category, tickers in ETF_CATEGORIES.items():
        for t in tickers:
            rows.append({"ticker": t, "category": category,
                         "gics_sector": ETF_SECTORS.get(t), "note": ETF_NOTES.get(t)})
    info = pd.DataFrame(rows).set_index("ticker").join(cov).reset_index()
    info = info.sort_values("ticker", kind="stable").reset_index(drop=True)
    for col in ("first_date", "last_date"):
        info[col] = info[col].astype("datetime64[ns]")
    info = info.drop(columns="n_missing_inside_any_day")
    ctx.stats["etfs"] = {
        "rows": len(etf), "tickers": etf.shape[1], "first": iso(etf.index[0]),
        "last": iso(etf.index[-1]),
        "gaps": {r.ticker: int(r.n_missing_inside) for r in info.itertuples()
                 if r.n_missing_inside},
        "late_end": {r.ticker: iso(r.last_date) for r in info.itertuples()
                     if r.last_date != etf.index[-1]},
        "categories": {c: len(t) for c, t in ETF_CATEGORIES.items()},
    }
    return etf, info


# --------------------------------------------------------------------------------- index
def build_index(ctx: Context) -> pd.DataFrame:
    """S&P 500 daily price index: skfolio through 2022-12-28, FRED afterwards."""
    sk = pd.read_csv(ctx.src("sp500_skfolio"), dtype={"SP500": float})
    sk["date"] = to_dates(sk.Date)
    require(sk.SP500.notna().all() and sk.date.is_unique, "skfolio index has blanks/duplicates")
    fred = pd.read_csv(ctx.src("sp500_fred"), dtype={"SP500": float})
    fred["date"] = to_dates(fred.observation_date)
    require(fred.date.is_unique, "FRED index has duplicate dates")
    cut = sk.date.max()
    require(iso(cut) == "2022-12-28", f"skfolio index ends {iso(cut)}, expected 2022-12-28")
    on_cut = fred.loc[fred.date == cut, "SP500"]
    require(len(on_cut) == 1 and abs(float(on_cut.iloc[0]) - float(sk.SP500.iloc[-1])) < 0.05,
            "skfolio and FRED disagree on 2022-12-28; the series cannot be joined as levels")
    later = fred[fred.date > cut]
    blank = later.SP500.isna()
    require(bool((later.date[blank].dt.day_of_week < 5).all()),
            "a blank FRED row falls on a weekend; the holiday assumption fails")
    common = sk.merge(fred.dropna(), on="date")
    diff = (common.SP500_x - common.SP500_y).abs()
    out = pd.concat([
        pd.DataFrame({"date": sk.date, "close": sk.SP500, "source": "skfolio_1990_2022"}),
        pd.DataFrame({"date": later.date[~blank], "close": later.SP500[~blank],
                      "source": "fred_sp500"}),
    ], ignore_index=True)
    require(out.date.is_monotonic_increasing and out.date.is_unique, "index dates not sorted")
    ctx.stats["index"] = {
        "rows": len(out), "first": iso(out.date.iloc[0]), "last": iso(out.date.iloc[-1]),
        "n_skfolio": len(sk), "n_fred": int((~blank).sum()),
        "fred_blank_total": int(fred.SP500.isna().sum()),
        "fred_blank_dropped": int(blank.sum()),
        "fred_blank_dates": [iso(d) for d in later.date[blank]],
        "overlap_days": len(common), "overlap_within_0_02": int((diff <= 0.02).sum()),
        "overlap_max_diff": float(diff.max()),
    }
    return out


# ------------------------------------------------------------------------------ treasury
def build_treasury(ctx: Context) -> pd.DataFrame:
    """Daily par yield curve 1990-2025 in percent; not published -> NaN."""
    old = pd.read_csv(ctx.src("ust_1990"))
    old["date"] = to_dates(old.date)
    require(old.date.is_monotonic_increasing and old.date.is_unique, "1990 file not sorted")
    display = old.BC_30YEARDISPLAY
    display_nonzero = display != 0
    require(bool((display[display_nonzero] == old.BC_30YEAR[display_nonzero]).all()),
            "BC_30YEARDISPLAY differs from BC_30YEAR where published; it cannot be dropped")
    old = old.rename(columns=UST_1990_COLUMNS)[["date", *UST_1990_COLUMNS.values()]]
    old = old.set_index("date").astype(float)
    require(old.notna().all(axis=None), "1990 file has blank cells; expected 0.0 codes only")

    nan_counts: dict[str, int] = {}
    for tenor, start, end in UST_NOT_PUBLISHED:
        mask = (old.index >= start) & (old.index <= end)
        require(bool((old.loc[mask, tenor] == 0).all()),
                f"{tenor} has non-zero values inside its 'not published' range {start}..{end}")
        old.loc[mask, tenor] = np.nan
        nan_counts[tenor] = int(mask.sum())
    zeros = old == 0
    others = [c for c in old.columns if c not in UST_GENUINE_ZERO_TENORS]
    require(not bool(zeros[others].any(axis=None)),
            "0.0 found outside the documented ranges in a tenor other than 1M/3M; "
            "extend UST_NOT_PUBLISHED after checking the Treasury archive")
    genuine = {t: int(zeros[t].sum()) for t in UST_GENUINE_ZERO_TENORS}

    new = pd.read_csv(ctx.src("ust_2021"))
    new["date"] = to_dates(new.Date)
    require(new.date.is_monotonic_decreasing and new.date.is_unique,
            "2021-2025 file is expected newest first with unique dates")
    new = new.rename(columns=UST_2021_COLUMNS)[["date", *UST_2021_COLUMNS.values()]]
    new = new.sort_values("date").set_index("date").astype(float)

    overlap = old.index.intersection(new.index)
    common_tenors = list(UST_1990_COLUMNS.values())
    a = old.loc[overlap, common_tenors]
    b = new.loc[overlap, common_tenors]
    require(len(overlap) == 299 and a.equals(b),
            "the two Treasury files are not identical on their overlap "
            f"({len(overlap)} days); SOURCES.md §5 says they are")
    switch = pd.Timestamp(UST_SWITCH_DATE)
    require(old.index.max() < switch and new.index[new.index >= switch].min() == switch,
            f"the 2021-2025 file should take over on {UST_SWITCH_DATE}")
    curve = pd.concat([old.reindex(columns=list(TENORS)),
                       new.loc[new.index >= switch].reindex(columns=list(TENORS))])
    require(curve.index.is_unique and curve.index.is_monotonic_increasing,
            "curve dates not unique/sorted")
    curve = curve.reset_index()
    first_valid = {t: iso(curve.date[curve[t].notna()].min()) for t in TENORS}
    ctx.stats["treasury"] = {
        "rows": len(curve), "first": iso(curve.date.iloc[0]), "last": iso(curve.date.iloc[-1]),
        "n_1990_file": len(old), "n_2021_file": len(new), "overlap_days": len(overlap),
        "n_from_2021_file": int((curve.date >= switch).sum()),
        "nan_from_zero": nan_counts, "genuine_zero": genuine,
        "first_valid": first_valid,
        "nan_counts": {t: int(curve[t].isna().sum()) for t in TENORS},
        "zero_1m_2008_12": [iso(d) for d in curve.date[(curve["1M"] == 0)
                                                       & (curve.date.dt.year == 2008)]],
    }
    return curve


def build_irx_tnx(ctx: Context) -> pd.DataFrame:
    """^IRX and ^TNX daily yields in percent, one row per date."""
    df = pd.read_csv(ctx.src("irx_tnx"), dtype={"ticker": str, "yield_pct": float})
    require(not df.duplicated(["date", "ticker"]).any(), "IRX/TNX duplicate rows")
    df["date"] = to_dates(df.date)
    wide = df.pivot(index="date", columns="ticker", values="yield_pct").sort_index()
    require(set(wide.columns) == {"^IRX", "^TNX"}, "IRX/TNX file has other tickers")
    out = pd.DataFrame({"date": wide.index, "irx_pct": wide["^IRX"].to_numpy(),
                        "tnx_pct": wide["^TNX"].to_numpy()})
    ctx.stats["irx_tnx"] = {
        "rows": len(out), "first": iso(out.date.iloc[0]), "last": iso(out.date.iloc[-1]),
        "irx_nan": int(out.irx_pct.isna().sum()), "tnx_nan": int(out.tnx_pct.isna().sum()),
        "irx_nonpositive": int((out.irx_pct <= 0).sum()),
        "irx_min": float(out.irx_pct.min()),
        "irx_min_date": iso(out.date[out.irx_pct.idxmin()]),
    }
    return out


# ------------------------------------------------------------------------------- factors
def build_ff5_daily(ctx: Context) -> pd.DataFrame:
    """Fama-French 5 factors, daily, as decimals per day."""
    header: list[str] | None = None
    rows: list[list[str]] = []
    with gzip.open(ctx.src("ff5_daily"), "rt", newline="") as fh:
        for rec in csv.reader(fh):
            if not rec:
                continue
            first = rec[0].strip()
            if first == "" and len(rec) > 1 and header is None:
                header = [c.strip() for c in rec[1:]]
            elif re.fullmatch(r"\d{8}", first):
                rows.append([c.strip() for c in rec])
    require(header == ["Mkt-RF", "SMB", "HML", "RMW", "CMA", "RF"],
            f"unexpected FF5 header {header}")
    df = pd.DataFrame(rows, columns=["date", *header])
    df["date"] = pd.to_datetime(df.date, format="%Y%m%d").astype("datetime64[ns]")
    vals = df[header].astype(float)
    require(not bool((vals <= -99).any(axis=None)), "FF5 file has -99.99 missing codes")
    df[header] = vals / 100.0
    require(df.date.is_unique and df.date.is_monotonic_increasing, "FF5 dates not sorted")
    ctx.stats["ff5_daily"] = {"rows": len(df), "first": iso(df.date.iloc[0]),
                              "last": iso(df.date.iloc[-1])}
    return df


def build_ff_mom(ctx: Context) -> pd.DataFrame:
    """FF5 + momentum, monthly, as decimals per month."""
    df = pd.read_csv(ctx.src("ff_mom"))
    first = df.columns[0]
    cols = ["MKT_RF", "SMB", "HML", "RMW", "CMA", "Mom", "RF"]
    require(list(df.columns[1:]) == cols, f"unexpected monthly factor columns {list(df.columns)}")
    df = df.rename(columns={first: "date"})
    df["date"] = to_dates(df.date)
    require(bool(df.date.dt.is_month_end.all()), "monthly factor dates are not month ends")
    require(df[cols].notna().all(axis=None), "monthly factors have blanks")
    df[cols] = df[cols].astype(float) / 100.0
    ctx.stats["ff_mom"] = {"rows": len(df), "first": iso(df.date.iloc[0]),
                           "last": iso(df.date.iloc[-1])}
    return df


# ----------------------------------------------------------------------- smaller tables
def build_small_tables(ctx: Context) -> dict[str, pd.DataFrame]:
    """Corporate actions, QA flags, membership intervals and the GICS structures."""
    out: dict[str, pd.DataFrame] = {}
    ca = pd.read_csv(ctx.src("av_actions"), dtype={"ticker": str, "dividend": float,
                                                   "split_coefficient": float})
    ca["date"] = to_dates(ca.date)
    require(not ca.duplicated(["date", "ticker"]).any(), "corporate actions duplicate rows")
    out["corporate_actions"] = ca[["date", "ticker", "dividend", "split_coefficient"]]
    ctx.stats["corporate_actions"] = {
        "rows": len(ca), "first": iso(ca.date.min()), "last": iso(ca.date.max()),
        "tickers": int(ca.ticker.nunique()), "dividends": int((ca.dividend > 0).sum()),
        "splits": int((ca.split_coefficient != 1).sum()),
        "both": int(((ca.dividend > 0) & (ca.split_coefficient != 1)).sum()),
    }

    qa = pd.read_csv(ctx.src("qa_flags"), dtype={"ticker": str, "source_a": str,
                                                 "source_b": str})
    qa["date"] = to_dates(qa.date)
    out["price_qa_flags"] = qa
    ctx.stats["price_qa_flags"] = {
        "rows": len(qa), "first": iso(qa.date.min()), "last": iso(qa.date.max()),
        "pairs": qa.groupby(["source_a", "source_b"]).size().rename("n").reset_index()
        .to_dict("records"),
    }

    mem = pd.read_csv(ctx.src("membership"), dtype=str, keep_default_na=False)
    mem = mem.replace("", np.nan)
    mem["start_date"] = to_dates(mem.start_date)
    mem["end_date"] = to_dates(mem.end_date)
    require(bool((mem.end_date.isna() | (mem.end_date > mem.start_date)).all()),
            "a membership interval ends before it starts")
    s = mem.sort_values(["ticker", "start_date"])
    prev_end = s.groupby("ticker").end_date.shift()
    require(not bool((prev_end.notna() & (s.start_date < prev_end)).any()),
            "overlapping membership intervals for one ticker")
    out["membership_intervals"] = s.reset_index(drop=True)
    ctx.stats["membership_intervals"] = {
        "rows": len(mem), "tickers": int(mem.ticker.nunique()),
        "first": iso(mem.start_date.min()),
        "last": iso(max(mem.start_date.max(), mem.end_date.max())),
        "open": int(mem.end_date.isna().sum()),
        "members_on": {d: int(((mem.start_date <= d) & (mem.end_date.isna()
                                                         | (mem.end_date > d))).sum())
                       for d in ("2000-01-03", "2008-01-02", "2015-01-02", "2020-01-02")},
        "members_on_inclusive_end": {
            d: int(((mem.start_date <= d) & (mem.end_date.isna() | (mem.end_date >= d))).sum())
            for d in ("2000-01-03", "2008-01-02", "2015-01-02", "2020-01-02")},
    }

    for key, name in (("gics_2023", "gics_structure_2023"), ("gics_2018", "gics_structure_2018")):
        g = pd.read_csv(ctx.src(key), dtype=str)
        require(g.sub_industry_code.str.fullmatch(r"\d{8}").all()
                and g.sub_industry_code.is_unique, f"{name}: bad sub-industry codes")
        out[name] = g
        ctx.stats[name] = {"rows": len(g), "sectors": int(g.sector.nunique())}
    return out


# ------------------------------------------------------------------------- manifest etc
def describe(path: Path, df: pd.DataFrame, dates: pd.Series | pd.Index | None) -> dict[str, Any]:
    """Manifest entry for one written file (``dates``: what its coverage is measured on)."""
    meta = pq.ParquetFile(path).metadata
    index_name = df.index.name if isinstance(df.index, pd.DatetimeIndex) else None
    entry: dict[str, Any] = {
        "rows": int(meta.num_rows),
        "n_columns": int(df.shape[1]),
        "columns": [str(c) for c in df.columns],
        "index": index_name,
        "first_date": iso(dates.min()) if dates is not None else None,
        "last_date": iso(dates.max()) if dates is not None else None,
        "bytes": path.stat().st_size,
        "sha256": sha256_of(path),
    }
    require(entry["rows"] == len(df), f"{path.name}: row count changed on write")
    return entry


def build(source: Path, out: Path) -> dict[str, Any]:
    """Run the whole build and return the manifest."""
    require((source / "SOURCES.md").is_file(),
            f"{source} has no SOURCES.md; pass --source pointing at shared/data/market")
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(source=source, out=out, stats={})
    files: dict[str, Any] = {}

    def emit(name: str, df: pd.DataFrame, dates: pd.Series | pd.Index | None) -> None:
        path = out / name
        wide = isinstance(df.index, pd.DatetimeIndex)
        write_parquet(df, path, index=wide)
        files[name] = describe(path, df, dates)

    universe = build_universe(ctx)
    emit("universe.parquet", universe, None)
    prices, provenance = build_prices(ctx)
    require(set(prices.columns) <= set(universe.ticker), "price tickers missing from universe")
    ctx.stats["universe"]["without_prices"] = sorted(set(universe.ticker) - set(prices.columns))
    priced = universe[universe.ticker.isin(prices.columns)]
    same_cik = [sorted(g.ticker) for _, g in priced.groupby("cik") if len(g) > 1]
    ctx.stats["prices"]["same_cik_groups"] = sorted(same_cik)
    main_only = provenance.ticker[provenance.source == SOURCE_MAIN]
    ctx.stats["prices"]["main_only_in_2026_list"] = sorted(
        set(main_only) & set(universe.ticker[universe.in_sp500_2026_08_08]))
    emit("prices.parquet", prices, prices.index)
    emit("price_provenance.parquet", provenance, None)
    etf, etf_info = build_etfs(ctx)
    emit("etf_prices.parquet", etf, etf.index)
    emit("etf_info.parquet", etf_info, None)
    for name, df in (
        ("sp500_index.parquet", build_index(ctx)),
        ("treasury_par_curve.parquet", build_treasury(ctx)),
        ("tbill_10y_yahoo.parquet", build_irx_tnx(ctx)),
        ("ff5_daily.parquet", build_ff5_daily(ctx)),
        ("ff_mom_monthly.parquet", build_ff_mom(ctx)),
    ):
        emit(name, df, df["date"])
    small = build_small_tables(ctx)
    emit("corporate_actions.parquet", small["corporate_actions"],
         small["corporate_actions"]["date"])
    emit("price_qa_flags.parquet", small["price_qa_flags"], small["price_qa_flags"]["date"])
    mem = small["membership_intervals"]
    emit("membership_intervals.parquet", mem,
         pd.concat([mem.start_date, mem.end_date.dropna()]))
    emit("gics_structure_2023.parquet", small["gics_structure_2023"], None)
    emit("gics_structure_2018.parquet", small["gics_structure_2018"], None)

    manifest = {
        "format": 1,
        "generated_by": "scripts/build_market_data.py",
        "library_versions": {"pandas": pd.__version__, "pyarrow": pa.__version__,
                             "numpy": np.__version__},
        "sources": {key: {"path": rel, "sha256": sha256_of(source / rel)}
                    for key, rel in sorted(SRC.items())},
        "sources_md_sha256": sha256_of(source / "SOURCES.md"),
        "files": files,
        "stats": ctx.stats,
        "vintages": VINTAGES,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True,
                                                  default=str) + "\n")
    (out / "DATA_CARD.md").write_text(render_data_card(manifest))
    (out / "LICENSES.md").write_text(LICENSES_MD)
    return manifest


# ----------------------------------------------------------------------------- documents
LICENSES_MD = """\
# Licenses and vendor terms of the packaged market data

Generated by `scripts/build_market_data.py`; see `DATA_CARD.md` for the file-by-file detail
and `../../shared/data/market/SOURCES.md` (not shipped) for the collection notes.

Market prices and yields are facts, but the compilations they come from carry different
terms. An open license on a GitHub repository does **not** override the terms of the vendor
the data was originally downloaded from (Yahoo Finance, AlphaVantage, S&P Dow Jones Indices
via FRED). Treat every file below as **research and testing data**, not as data licensed for
redistribution in a commercial product, unless the row says otherwise.

* **ODC-PDDL-1.0** (Open Data Commons Public Domain Dedication and License):
  `datasets/s-and-p-500-companies` (2026 constituents, scraped from Wikipedia) and
  `datasets/s-and-p-500-companies-financials` (market caps and ratios; the values come from
  Yahoo Finance, so Yahoo's terms apply too). Files: `universe.parquet` (2026 names and
  GICS, market caps, 2018 ratios).
* **MIT:** `fja05680/sp500` (2021 constituents and membership intervals, scraped from
  Wikipedia, whose text is CC BY-SA); the `gics` PyPI package, (c) Dor Klein (GICS
  structure); `Pooksoft/PooksoftSP500EquityPriceDataSet`, (c) 2021 Jeffrey Varner
  (AlphaVantage corporate actions). Files: `universe.parquet`,
  `membership_intervals.parquet`, `gics_structure_2023.parquet`,
  `gics_structure_2018.parquet`, `corporate_actions.parquet`.
* **BSD-3-Clause:** the `skfolio` 1.12.2 wheel (S&P 500 daily price index 1990-2022).
  File: `sp500_index.parquet` (rows with source `skfolio_1990_2022`).
* **Unlicense** (public-domain dedication): `dieperdev/yfinance-stock-data` (Yahoo main
  panel 2000-2024). File: `prices.parquet` (values before each ticker's splice date, and the
  main-panel-only tickers).
* **Apache-2.0:** `deerfieldgreen/us-department-treasury` (Treasury curve 2021-2025).
  File: `treasury_par_curve.parquet` (rows from 2022-03-14).
* **No license stated** (research and tests only; be ready to drop them):
  `dsturdy/Factor_Attribution` (Yahoo extension 2023-2026, all ETFs, ^IRX/^TNX),
  `epogrebnyak/data-ust` (Treasury curve 1990-2022), `y437li/factor_investment_app` and
  `haribharadwaj/FamaFrench` (Fama-French files). Files: `prices.parquet` (values from each
  splice date, and the extension-only tickers), `etf_prices.parquet`,
  `tbill_10y_yahoo.parquet`, `treasury_par_curve.parquet`, `ff5_daily.parquet`,
  `ff_mom_monthly.parquet`.
* **US Government work, public domain:** the Daily Treasury Par Yield Curve Rates themselves,
  whatever repository carried them. File: `treasury_par_curve.parquet`.
* **Yahoo Finance terms of service:** every Yahoo-derived value. Files: `prices.parquet`,
  `etf_prices.parquet`, `tbill_10y_yahoo.parquet`, the market caps and ratios in
  `universe.parquet`.
* **AlphaVantage terms of service:** dividends and splits from `TIME_SERIES_DAILY_ADJUSTED`.
  Files: `corporate_actions.parquet`, the AlphaVantage side of `price_qa_flags.parquet`.
* **(c) S&P Dow Jones Indices** (FRED series SP500; the repository says PDDL, FRED marks it
  copyrighted): the S&P 500 level from 2022-12-29. File: `sp500_index.parquet` (rows with
  source `fred_sp500`); research use only.
* **Fama-French:** free of charge, (c) Eugene F. Fama and Kenneth R. French, no open license
  (Kenneth French Data Library). Files: `ff5_daily.parquet`, `ff_mom_monthly.parquet`.
* **GICS:** a trademark and structure of MSCI and S&P; only the public names and codes are
  included. Files: `gics_structure_2023.parquet`, `gics_structure_2018.parquet`, the GICS
  columns of `universe.parquet`.

`price_qa_flags.parquet` and `price_provenance.parquet` are derived by the collection's and
this build's scripts from the price files above and inherit their terms.

The cleanest-licensed items are the skfolio index (BSD-3), the Treasury yields (public
domain) and the GICS structure (MIT). Nothing here grants a license to S&P 500 index
constituent weights; none are included.
"""


def _fmt_int(n: Any) -> str:
    return f"{int(n):,}"


def render_data_card(manifest: dict[str, Any]) -> str:
    """Render ``DATA_CARD.md`` from the manifest (coverage numbers are computed, not typed)."""
    f = manifest["files"]
    s = manifest["stats"]
    u, p, e, ix, tr = s["universe"], s["prices"], s["etfs"], s["index"], s["treasury"]
    rx, f5, fm = s["irx_tnx"], s["ff5_daily"], s["ff_mom"]
    mi, g23, g18 = s["membership_intervals"], s["gics_structure_2023"], s["gics_structure_2018"]
    members_on = ", ".join(f"{n} on {d}" for d, n in mi["members_on"].items())
    members_incl = ", ".join(str(n) for n in mi["members_on_inclusive_end"].values())
    total = sum(v["bytes"] for v in f.values())

    def head(name: str) -> str:
        v = f[name]
        span = (f", {v['first_date']} → {v['last_date']}" if v.get("first_date") else "")
        return (f"## `{name}`\n\n*{_fmt_int(v['rows'])} rows × {v['n_columns']} columns"
                f"{span}; {v['bytes'] / 1e6:.2f} MB; sha256 `{v['sha256'][:16]}…`*\n")

    splice = ", ".join(f"{d} ({n})" for d, n in p["splice_dates"].items())
    gaps = "; ".join(f"{t}: {', '.join(p['gap_dates'][t])}" for t in p["gaps"]) or "none"
    tick_on = ", ".join(f"{d}: {n}" for d, n in p["tickers_on"].items())
    etf_gaps = ", ".join(f"{t} ({n})" for t, n in e["gaps"].items()) or "none"
    late = ", ".join(f"{t} ends {d}" for t, d in e["late_end"].items()) or "none"
    first_valid = ", ".join(f"{t} {d}" for t, d in tr["first_valid"].items())
    qa_pairs = "; ".join(f"{r['source_a']} vs {r['source_b']}: {r['n']}"
                         for r in s["price_qa_flags"]["pairs"])
    nan_zero = ", ".join(f"{t}: {n} days" for t, n in tr["nan_from_zero"].items())
    genuine = ", ".join(f"{t}: {n} days" for t, n in tr["genuine_zero"].items())
    non_market = ", ".join(p["non_market_days"]) or "none"
    classes = [g for g in p["same_cik_groups"] if tuple(g) in SHARE_CLASS_PAIRS]
    renamed = [g for g in p["same_cik_groups"] if tuple(g) not in SHARE_CLASS_PAIRS]
    classes_txt = ", ".join("/".join(g) for g in classes) or "none"
    renamed_txt = ", ".join("/".join(g) for g in renamed) or "none"

    return f"""\
# Data card: packaged market data (`data/samples/market`)

Generated by `scripts/build_market_data.py` from the shared collection documented in
`shared/data/market/SOURCES.md` (sha256 `{manifest['sources_md_sha256'][:16]}…`). Do not edit
by hand: change the script and rebuild. Every number below is computed by the build; the
same numbers, the sha256 of every file and of every source are in `manifest.json`, which
`tests/test_market.py` checks against the files. Licenses: see `LICENSES.md`.

Rebuild (from the repository root):

    python scripts/build_market_data.py --source ../shared/data/market \\
        --out data/samples/market

(pandas {manifest['library_versions']['pandas']}, pyarrow {manifest['library_versions']['pyarrow']};
the output is byte-identical for the same sources and library versions).
Load: `pma_lab.market.data.load_market()`.

Total size: {total / 1e6:.1f} MB in {len(f)} parquet files (zstd).

## Conventions (all files)

* Tickers use the S&P/Wikipedia dot form (`BRK.B`, `BF.B`); `universe.parquet` also keeps the
  Yahoo dash form.
* Dates are `datetime64[ns]` at midnight, naive (exchange-local calendar dates).
* Prices are split- and dividend-adjusted closes in USD (a total-return proxy). The adjustment
  base differs by panel; only returns are comparable across panels, never levels.
* **No value is filled, interpolated or smoothed.** A missing day stays NaN. Loaders must use
  "last valid close on or before the date, within a staleness limit" explicitly.
* Survivorship bias: every stock panel holds only names that were S&P 500 members at a
  snapshot date (2021-04 and/or 2026-08). Failed or acquired companies (Lehman, WaMu, SVB,
  First Republic, Twitter, ...) are absent. Use the prices for realistic paths, not for
  unbiased index replication.
* "Market day" (used for `n_missing_inside`): a date of the panel's calendar on which at least
  {MARKET_DAY_SHARE:.0%} of the tickers that are *live* that day (first valid date ≤ day ≤ last
  valid date) have a value. Using live tickers rather than all columns is deliberate: after
  2024-03-08 the tickers that only exist in the 2000-2024 panel are dead, so "90% of all
  columns" would never hold in 2024-2026.

{head('universe.parquet')}
* **Source:** `universe/security_master.csv` of the collection (a join of
  `datasets/s-and-p-500-companies` `data/constituents.csv` @
  `56509dd80619e4d8e1410c2260d68ddd3eab6068`
  (2026-08-08), `fja05680/sp500` `sp500.csv` @ `ed773918f7344a0214b0124f61fb4b54067415e6`
  (2021-04-25; VAR from @ `f56f97a09b3200fa01a2db659600021c42b9b59c`),
  `datasets/s-and-p-500-companies-financials` `data/constituents-financials.csv` @
  `44d0ca307550c1615663da85fae5e79efbc7b3a1` (2026-08-22) and @
  `c9f83a9cdf04f59b060538b8d510c108d565781e` (2018-02-08), the `gics` 0.2.1 PyPI package, and
  the price panels' coverage). The 2018 ratio columns are read from
  `universe/sp500_constituents_financials_2018-02-08.csv`.
* **License:** PDDL (2026 list, financials), MIT (2021 list, `gics`); content scraped from
  Wikipedia (CC BY-SA text); market caps and ratios come from Yahoo Finance (Yahoo ToS).
* **Coverage:** {u['rows']} tickers: {u['in_2021']} in the 2021-04-25 list, {u['in_2026']} in the
  2026-08-08 list, {u['in_both']} in both, {u['in_neither']} in neither (VAR). {u['sectors']}
  sectors, {u['sub_industries']} distinct sub-industry codes.
  {u['gics_2023']} rows take GICS from the 2026 list (2023-03-18 structure), {u['gics_2018']} from
  the 2021 list (2018-09-29 structure). 2026 market cap: {u['cap_2026']} rows
  ({u['cap_2026_members']} of {u['in_2026']} current members). 2018 market cap and ratios:
  {u['cap_2018']} rows. {len(u['without_prices'])} tickers have no series in `prices.parquet`
  (they exist only in the AlphaVantage panel, which is not packaged):
  {', '.join(u['without_prices'])}.
* **Columns:**
  * `ticker` (dot form, unique), `yahoo_ticker` (dash form), `name` (2026 name, else 2021 name),
    `cik` (SEC Central Index Key, digits as text, not zero-padded; it links renamed tickers,
    e.g. FB→META, ANTM→ELV).
  * `in_sp500_2021_04_25`, `in_sp500_2026_08_08` (bool).
  * `gics_sector`, `gics_industry_group`, `gics_industry`, `gics_sub_industry`,
    `gics_sub_industry_code` (text, 8 digits): from the `_2026` columns when the ticker is in
    the 2026 list, else from the `_2021` columns; `gics_vintage` says which
    (`"2023-03-18 structure"` or `"2018-09-29 structure"`). The two structures differ: in the
    2018 structure V and MA are Information Technology and "Internet & Direct Marketing
    Retail" exists. Mixing vintages across tickers is a known compromise.
  * `market_cap_usd_2018_02_08`, `market_cap_usd_2026_08_22` (float USD, NaN where blank).
  * `price_2018_02_08` (USD), `price_to_book_2018`, `dividend_yield_2018` (**decimal
    fraction**: the source is in percent and was divided by 100), `earnings_per_share_2018`
    (USD), `price_to_earnings_2018` — joined on ticker from the 2018 financials file.
  * Raw: `name_2026`, `name_2021`, `date_added_2026_list` (date), `gics_*_2026`,
    `gics_*_2021` (five levels each).
  * Price coverage (dates, NaT where absent): `yahoo_2000_2024_first/last`,
    `yahoo_ext_first/last` (extension file), `alphavantage_first/last` (not packaged). The build
    checked that the two Yahoo pairs equal the coverage of the packaged panels.
* **Known issues:**
  * Classifications are Wikipedia's, not an official S&P file. No open index weights exist;
    the caps are not float-adjusted.
  * The 2026 financials file is a mixed-date snapshot: its prices match Yahoo closes from
    about 2025-05 to 2026-07 depending on the ticker (e.g. TSLA ≈ 2025-05-27, MSFT ≈ 2025-11-26,
    AAPL ≈ 2026-07-31), so `market_cap_usd_2026_08_22` is not a point-in-time cross-section.
    Its symbol list is stale; {u['fin26_not_in_2026_list']} of its rows are not in the 2026-08-08
    list and their caps are not used. Its `Sector` column is really the sub-industry (not used).
  * In the 2018 financials file the `52 Week Low` and `52 Week High` columns are swapped on
    every row (not packaged), and `Dividend Yield` is in percent while the 2026 file uses a
    fraction.
  * Identity is by ticker: a 2018 or 2021 row joined by ticker is assumed to be the same
    company (spot-checked: all 2018 names joined match their 2021/2026 company).
* **What the build changed:** blanks → NaN/None; 0/1 → bool; dates parsed; the derived GICS
  and `name` columns added; 2018 dividend yield ÷ 100. **PARA:** the 2026 financials file's
  PARA row (market cap 4.6e6 USD, price 1.30) is garbage; the build sets both to NaN in its
  working copy of that file before any join and checks the row looks as documented. PARA is
  {'in' if u['para_in_universe'] else 'not in'} the universe (Paramount is `VIAC` in the 2021
  list and `PSKY` in the 2026 list), so no PARA value reaches this file.

{head('prices.parquet')}
* **Source:** `prices/sp500_yahoo_daily_adj_close_2000-2024.csv.gz` (`dieperdev/yfinance-stock-data`
  `data/<TICKER>.csv`, data commit `296de9891a69653e2f3038adfd237bbd58347ed5`, snapshot HEAD
  `a342efb774eb9ba994d553f735372ec04e944063`, downloaded from Yahoo on 2024-03-09) and
  `prices/sp500_yahoo_daily_adj_close_2023-2026_extension.csv.gz` (`dsturdy/Factor_Attribution`
  `data/<TICKER>.csv` @ `712ab00cb7d01c788507bc417162a4269e29bf69`, about 2026-08-03).
* **License:** Unlicense (main panel) and **no license stated** (extension); both are Yahoo
  Finance data (Yahoo ToS). Research and testing use.
* **Layout:** wide; index `date` (datetime64), one float64 column per ticker (sorted), values
  are adjusted closes in USD on the **2026-08 adjustment base** for chained and extension
  tickers and the 2024-03 base for tickers only in the main panel.
* **Coverage:** {_fmt_int(p['rows'])} trading days {p['first']} → {p['last']},
  {p['tickers']} tickers,
  {_fmt_int(p['values'])} non-missing values. Tickers with a value on: {tick_on}.
  {p['n_chained']} tickers are chained, {p['n_main_only']} come from the main panel only and end
  2024-03-08 (names no longer in the 2026-08-08 list or renamed since, plus
  {', '.join(p['main_only_in_2026_list'])}, which are in the 2026 list but missing upstream in
  the extension), {p['n_ext_only']} from the extension only (its full-history names:
  {', '.join(EXT_FULL_HISTORY)}).
* **Same company, two columns:** tickers sharing a CIK. Share classes, genuinely distinct
  securities of one issuer: {classes_txt}. One company under its old ticker (main panel, ends
  2024-03-08) and its new ticker (extension, full history, so the two overlap for 2000-2024):
  {renamed_txt}. Do not count both columns of a renamed pair in a universe or a backtest.
* **What the build changed — chaining:** for a ticker in both panels the splice date is the
  first date on which both have a value ({splice}). From the splice date on the series is the
  extension's levels; before it, the main panel's levels multiplied by
  `scale_ratio = ext / main` on the splice date (range {p['ratio_min']:.4f}
  ({p['ratio_min_ticker']}) to {p['ratio_max']:.4f} ({p['ratio_max_ticker']}); a ratio far from 1
  means a split between the two adjustment dates, e.g. CMG's 50:1 split of 2024-06, and a
  ratio above 1 a reverse split).
  Daily returns therefore equal the extension's from the splice date on and the main
  panel's before it (checked by the build to 1e-12 for every chained ticker). Levels were never
  spliced. Main-panel values dropped because the extension is blank after the splice:
  {p['main_values_dropped_after_splice']}. Extension rows are taken as given, so a day the
  two panels disagree on (e.g. FLEX 2024-01-03, a spin-off) follows the extension.
* **Gaps (NaN inside a series, kept as NaN):** {gaps}. Days of the calendar that are not market
  days: {non_market}.
* **Known issues (from SOURCES.md):** Yahoo attaches a successor's history to a ticker (JCI
  before 2016-09 is Tyco International, with an unadjusted −53% spin-off drop on 2007-07-02;
  DXC before 2017 is CSC; TKO before 2023 is WWE; COHR is II-VI); spin-offs are generally not
  adjusted (e.g. DD 2019-06-03); 121 daily moves beyond ±40% were spot-checked as genuine.
  See `price_qa_flags.parquet` for days where sources disagree.
* `price_provenance.parquet` ({f['price_provenance.parquet']['rows']} rows): `ticker`,
  `source` (`{SOURCE_MAIN}`, `{SOURCE_EXT}`, `{SOURCE_CHAINED}`), `splice_date` (NaT unless
  chained), `scale_ratio` (NaN unless chained), `first_date`, `last_date`, `n_obs`,
  `n_missing_inside` (market days between first and last valid date on which the ticker is
  NaN). Note: `{SOURCE_EXT}` names the extension *file*; for its 18 full-history tickers the
  data starts as early as 2000-01-03.

{head('etf_prices.parquet')}
* **Source:** `etf/etf_yahoo_daily_adj_close_1993-2026.csv.gz` (`dsturdy/Factor_Attribution`
  `data/<TICKER>.csv` @ `712ab00cb7d01c788507bc417162a4269e29bf69`).
* **License:** no license stated; Yahoo Finance data (Yahoo ToS).
* **Layout:** as `prices.parquet` (wide, index `date`, float64 adjusted closes in USD, a
  total-return proxy including the expense drag).
* **Coverage:** {e['tickers']} funds, {_fmt_int(e['rows'])} days {e['first']} → {e['last']}.
  Late ends:
  {late}. Gaps inside a series: {etf_gaps}.
* **What the build changed:** long → wide only.
* `etf_info.parquet` ({f['etf_info.parquet']['rows']} rows): `ticker`, `category`
  ({', '.join(f'{c} ({n})' for c, n in e['categories'].items())}), `gics_sector` (the GICS
  sector a sector fund tracks, else None), `note`, `first_date`, `last_date`, `n_obs`,
  `n_missing_inside`. `treasury_bond` includes the aggregate-bond funds AGG and BND (they hold
  MBS and corporates too). Categories come from SOURCES.md §3; SPLG was dropped upstream.
  Sector funds track different index families (Select Sector SPDRs: S&P 500 sub-indices;
  Vanguard: MSCI US IMI 25/50), so a SPDR/Vanguard pair is similar, not identical.

{head('sp500_index.parquet')}
* **Source:** through 2022-12-28, `index/sp500_daily_price_index_1990-2022_skfolio.csv.gz`
  (PyPI `skfolio` 1.12.2, `skfolio/datasets/data/sp500_index.csv.gz`, BSD-3-Clause); from
  2022-12-29, `index/sp500_daily_fred_2016-2026.csv` (`datasets/s-and-p-500`
  `archive/fred_sp500.csv` @ `f23898667d8764ea9e8a641b0b41487437e33b39`, FRED series SP500,
  © S&P Dow Jones Indices; research use only).
* **Columns:** `date`, `close` (S&P 500 price index level, no dividends), `source`
  (`skfolio_1990_2022` or `fred_sp500`).
* **Coverage:** {_fmt_int(ix['rows'])} days {ix['first']} → {ix['last']}
  ({_fmt_int(ix['n_skfolio'])}
  from skfolio, {_fmt_int(ix['n_fred'])} from FRED). The index **ends {ix['last']}** (the FRED
  file's end), before the stock prices end ({p['last']}).
* **What the build changed:** FRED's blank rows are market holidays, not trading days; they are
  not rows here. Dropped: {ix['fred_blank_dropped']} blank rows after 2022-12-28 (of
  {ix['fred_blank_total']} in the whole FRED file): {', '.join(ix['fred_blank_dates'])}.
  The build checked that both sources agree on 2022-12-28; on their {_fmt_int(ix['overlap_days'])}
  common days {_fmt_int(ix['overlap_within_0_02'])} agree within 0.02 points (max difference
  {ix['overlap_max_diff']:.2f}).
* **Known issues:** a price index; for a total-return benchmark use SPY or IVV from
  `etf_prices.parquet`. skfolio calls its copy "stale; for testing and examples".

{head('treasury_par_curve.parquet')}
* **Source:** `rates/ust_par_yield_curve_daily_1990-2022.csv` (`epogrebnyak/data-ust` `ust.csv` @
  `b4f36e2151e0ad63ff2d607d001ac62169f45a91`, no license stated) through 2022-03-11, then
  `rates/ust_par_yield_curve_daily_2021-2025.csv` (`deerfieldgreen/us-department-treasury`
  `data/daily-treasury-rates.csv` @ `e5688e50e84a2b90ae8ebc1038091f29e0285278`, Apache-2.0) from
  {UST_SWITCH_DATE}. The data is US Treasury data (public domain).
* **Columns:** `date`, then par yields in **percent** (CMT, bond-equivalent, annualised):
  {', '.join(f'`{t}`' for t in TENORS)}.
* **Coverage:** {_fmt_int(tr['rows'])} days {tr['first']} → {tr['last']}
  ({_fmt_int(tr['n_from_2021_file'])} from the 2021-2025 file). First published value per tenor:
  {first_valid}.
* **What the build changed:**
  * The 1990-2022 file writes "not published" as `0.0`. Only the documented ranges were set to
    NaN ({nan_zero}; the build checked every value in each range is 0.0 and that no other
    tenor has a 0.0 elsewhere). Genuine 0.00 prints are kept ({genuine}; e.g. 1M on
    {', '.join(tr['zero_1m_2008_12'])}). Never treat `== 0` as missing.
  * `BC_30YEARDISPLAY` was dropped (0 through 2010, equal to `BC_30YEAR` from 2011; checked).
  * The 2021-2025 file (newest first) was sorted; blanks are NaN (1.5M starts 2025-02-18,
    4M starts 2022-10-19). On the {tr['overlap_days']} days the files share (2021-01-04 →
    2022-03-11) every common tenor was checked identical; the second file is used from
    {UST_SWITCH_DATE}.
* **Known issues:** the 1990-2022 file has no 1.5M, 2M or 4M columns, so `2M` is NaN before
  {UST_SWITCH_DATE} although Treasury published a 2-month yield from 2018-10-16 (the 2021-2025
  file has it from 2021-01-04, but the overlap rows are taken from the first file). The curve
  ends 2025-07-11; for a later risk-free rate use `tbill_10y_yahoo.parquet`.

{head('tbill_10y_yahoo.parquet')}
* **Source:** `rates/yahoo_irx_tnx_daily_1976-2026.csv` (`dsturdy/Factor_Attribution`
  `data/^IRX.csv`, `data/^TNX.csv` @ `712ab00cb7d01c788507bc417162a4269e29bf69`); no license stated,
  Yahoo data (Yahoo ToS).
* **Columns:** `date`, `irx_pct` (^IRX, 13-week T-bill **discount** yield, percent), `tnx_pct`
  (^TNX, 10-year Treasury yield, percent).
* **Coverage:** {_fmt_int(rx['rows'])} days {rx['first']} → {rx['last']};
  NaN: {rx['irx_nan']} / {rx['tnx_nan']}.
* **Known issues:** {rx['irx_nonpositive']} ^IRX values are ≤ 0 (minimum
  {rx['irx_min']} % on {rx['irx_min_date']}); they are Yahoo's prints, kept as is.
  A discount yield is slightly below the bond-equivalent yield of the same bill.
* **What the build changed:** long → one row per date.

{head('ff5_daily.parquet')}
* **Source:** `factors/ff5_daily_1963-2024.csv.gz` (`y437li/factor_investment_app`
  `F-F_Research_Data_5_Factors_2x3_daily.CSV` @ `0be7c7b191fdb854bc11d45dc0c4fb02a8887326`; an
  unmodified Kenneth French Data Library file from the 202408 CRSP database).
* **License:** Fama-French data, free of charge, © Eugene F. Fama and Kenneth R. French; no
  repository license.
* **Columns:** `date`, `Mkt-RF`, `SMB`, `HML`, `RMW`, `CMA`, `RF` as **decimal returns per day**
  (source percent ÷ 100).
* **Coverage:** {_fmt_int(f5['rows'])} days {f5['first']} → {f5['last']}.
* **What the build changed:** header and copyright lines dropped (rows whose first field has
  8 digits are kept), `YYYYMMDD` parsed, ÷ 100. The FF3 daily file is not packaged (FF5 has the
  same market, SMB and HML definitions from 1963).

{head('ff_mom_monthly.parquet')}
* **Source:** `factors/us_ff5_mom_monthly_1963-2025.csv.gz` (`haribharadwaj/FamaFrench`
  `data/us_ff5_mom.csv.gz` @ `9423fafb0341559486f17c4ec9bb96c0bda90d2e`; harmonized Ken French
  FF5 and momentum). License as above (no repository license; © Fama & French).
* **Columns:** `date` (month end), `MKT_RF`, `SMB`, `HML`, `RMW`, `CMA`, `Mom`, `RF` as **decimal
  returns per month** (source percent ÷ 100).
* **Coverage:** {_fmt_int(fm['rows'])} months {fm['first']} → {fm['last']}.

{head('corporate_actions.parquet')}
* **Source:** `prices/sp500_alphavantage_corporate_actions_1999-2021.csv`
  (`Pooksoft/PooksoftSP500EquityPriceDataSet` `daily_adjusted/DA-<TICKER>-T-2021-04-21.csv` @
  `19a3f02fd0751beebae28e790ed55f0c443ad59a`; MIT © 2021 Jeffrey Varner; AlphaVantage ToS).
* **Columns:** `date` (ex-date), `ticker`, `dividend` (cash USD per share, 0 if none),
  `split_coefficient` (2.0 = 2-for-1; 1.0 if none).
* **Coverage:** {_fmt_int(s['corporate_actions']['rows'])} rows, {s['corporate_actions']['tickers']}
  tickers, {s['corporate_actions']['first']} → {s['corporate_actions']['last']}:
  {_fmt_int(s['corporate_actions']['dividends'])} dividends, {s['corporate_actions']['splits']}
  splits ({s['corporate_actions']['both']} rows have both).
* **Known issues:** AlphaVantage artefacts (a spin-off booked as a dividend, e.g. KSU
  2000-07-13 $181; phantom or missing splits, e.g. ANTM 2002-03-18, ZBRA 2003/2004). The
  AlphaVantage daily price panel (19 MB, raw and adjusted closes) is **not packaged**; use
  the shared collection when raw closes are needed.

{head('price_qa_flags.parquet')}
* **Source:** `prices/price_qa_flags.csv` (derived in the collection; inherits the price terms).
* **Columns:** `date`, `ticker`, `source_a`, `ret_a`, `source_b`, `ret_b`, `abs_diff` (daily simple
  returns as decimals). One row per (ticker, day) where two panels' returns differ by more than
  5 percentage points. Pairs: {qa_pairs}.

{head('membership_intervals.parquet')}
* **Source:** `universe/sp500_membership_intervals.csv` (`fja05680/sp500`
  `sp500_ticker_start_end.csv` @ `58490ec8ea42827b6df808ff1e68dff51144f09f`, 2025-11-16; MIT;
  built from A. Clenow's list 1996-2019 plus Wikipedia changes).
* **Columns:** `ticker`, `start_date`, `end_date` (datetime; NaT = still a member at 2025-11-16).
* **Coverage:** {mi['rows']} intervals, {mi['tickers']} tickers, {mi['first']} → {mi['last']};
  {mi['open']} open intervals.
* **Semantics:** `end_date` is the first day the ticker is no longer a member (VAR ends
  2021-04-20, the day PTC starts; AAL ends 2024-09-23, its removal date), so membership is
  `start_date <= day < end_date`. The build checked that no ticker's intervals overlap.
  Members by this rule: {members_on}. (SOURCES.md's counts, {members_incl}, include the
  ticker leaving on that day.)
* **Known issues:** identity by ticker only; tickers are reused (AAL 1996-97 was another
  company).

{head('gics_structure_2023.parquet')}
{head('gics_structure_2018.parquet')}
* **Source:** `universe/gics_structure_2023-03-18.csv` and `universe/gics_structure_2018-09-29.csv`,
  flattened from PyPI `gics` 0.2.1 (MIT, © Dor Klein) `gics/definitions/d_20230318.py` and
  `d_20180929.py`; whitespace runs collapsed upstream. GICS is a trademark of MSCI and S&P.
* **Columns:** `sector_code`, `sector`, `industry_group_code`, `industry_group`, `industry_code`,
  `industry`, `sub_industry_code`, `sub_industry` (codes as text).
* **Coverage:** {g23['rows']} sub-industries in {g23['sectors']} sectors (2023) and
  {g18['rows']} in {g18['sectors']} (2018).

## Not packaged

The AlphaVantage daily prices (19 MB), the Shiller monthly index, the FF3 daily file, the
skfolio factor-ETF and 20-stock files (the same funds/stocks are in the Yahoo panels) and the
raw constituent and financials CSVs. Still missing from any open source: official index
weights, a total-return S&P 500 index, municipal yield curves, ESG data, delisted-company
prices, intraday data.
"""


# ---------------------------------------------------------------------------------- main
def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True,
                        help="folder with SOURCES.md (shared/data/market)")
    parser.add_argument("--out", type=Path, required=True,
                        help="output folder (data/samples/market)")
    args = parser.parse_args(argv)
    try:
        manifest = build(args.source.resolve(), args.out)
    except BuildError as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1
    # the raw-price view is built on the files just written and adds its own manifest
    # entries (raw_events / raw_provenance with their sources)
    import build_raw_prices

    build_raw_prices.main(["--source", str(args.source), "--out", str(args.out)])
    manifest = json.loads((args.out / "manifest.json").read_text())
    total = 0
    print(f"wrote {args.out}:")
    for name, entry in manifest["files"].items():
        total += entry["bytes"]
        print(f"  {name:32s} {entry['bytes'] / 1e6:8.2f} MB  {entry['rows']:>9,} rows "
              f"x {entry['n_columns']:>3} cols  {entry['first_date'] or '':10s} .. "
              f"{entry['last_date'] or ''}")
    for extra in ("manifest.json", "DATA_CARD.md", "LICENSES.md"):
        size = (args.out / extra).stat().st_size
        total += size
        print(f"  {extra:32s} {size / 1e6:8.2f} MB")
    print(f"  {'total':32s} {total / 1e6:8.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
