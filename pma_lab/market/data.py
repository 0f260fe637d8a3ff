"""Typed, read-only access to the packaged market data (``data/samples/market``).

The parquet files are built by ``scripts/build_market_data.py`` and documented in
``data/samples/market/DATA_CARD.md``. :func:`load_market` reads them once per folder and
returns a :class:`MarketData` whose parts are frozen dataclasses:

* :class:`Universe`: the 600-ticker security master (GICS, caps, S&P 500 membership);
* :class:`PriceHistory`: wide daily adjusted closes (stocks, and separately the ETFs);
* :class:`IndexSeries`: the S&P 500 price index;
* :class:`TreasuryCurve`: the daily Treasury par yield curve.

Conventions
-----------
* Every query takes an explicit date (``as_of``, ``start``, ``end``); nothing reads the
  clock. Dates may be a ``datetime.date``, a ``pandas.Timestamp``, a ``numpy.datetime64`` or
  an ISO string (``"2024-03-08"``); a time of day is ignored.
* No value is ever filled. A missing day stays NaN; :meth:`PriceHistory.at` returns the last
  valid close on or before the date and raises :class:`~pma_lab.errors.PriceDataError` when
  that close is older than the staleness limit.
* Frames and Series handed to callers are copies: changing them never changes the cached
  data.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from pma_lab.errors import DataError, MarketDataError, PriceDataError
from pma_lab.paths import market_dir

__all__ = ["known_tickers",
    "DateLike",
    "DEFAULT_MAX_STALENESS_DAYS",
    "MARKET_DAY_SHARE",
    "MARKET_FILES",
    "TENORS",
    "Vintages",
    "CapAnchor",
    "MarketData",
    "Universe",
    "PriceHistory",
    "IndexSeries",
    "TreasuryCurve",
    "load_market",
    "clear_market_cache",
    "to_timestamp",
]

DateLike: TypeAlias = "dt.date | pd.Timestamp | np.datetime64 | str"
"""A calendar date: ``datetime.date``/``datetime``, ``pd.Timestamp``, ``np.datetime64`` or ISO
string."""

DEFAULT_MAX_STALENESS_DAYS = 5
"""Default staleness limit, in calendar days, of a last-valid-close lookup."""

MARKET_DAY_SHARE = 0.90
"""A date is a market day of a panel when at least this share of the tickers live that day
(first valid date <= day <= last valid date) have a value (same rule as the build)."""

TENORS: tuple[str, ...] = ("1M", "1.5M", "2M", "3M", "4M", "6M", "1Y", "2Y", "3Y", "5Y", "7Y",
                           "10Y", "20Y", "30Y")
"""Treasury par-curve tenors, shortest first (column names of the curve)."""



@dataclass(frozen=True)
class CapAnchor:
    """One market-cap column of the universe and the date of the prices it is rolled from.

    Attributes
    ----------
    label : str
        How reports name the anchor (``"2018-02-08"``, ``"2026 snapshot"``).
    column : str
        The universe column with the caps (USD).
    price_date : pd.Timestamp
        The close the cap corresponds to: ``cap(t) = cap x price(t) / price(price_date)``.
    """

    label: str
    column: str
    price_date: pd.Timestamp


@dataclass(frozen=True)
class Vintages:
    """The dates of the snapshots in a market-data folder, read from its ``manifest.json``.

    Attributes
    ----------
    membership_snapshot : pd.Timestamp
        Date of the membership-intervals snapshot: an open interval means "still a member"
        then, and membership is unknown after it.
    constituents_date : pd.Timestamp
        Date of the current constituents list ...
    constituents_column : str
        ... and the universe column flagging its members.
    cap_anchors : tuple[CapAnchor, ...]
        Market-cap anchors, in order of preference.
    constituent_lists : tuple[tuple[pd.Timestamp, str], ...]
        Every S&P 500 constituents list in the universe, oldest first, as (date, universe
        column flagging its members); the last is the current list (``constituents_*``).
    gics_structures : tuple[tuple[str, str], ...]
        Every GICS structure in the data, oldest first, as (vintage, date of the
        structure): the vintage names its file (``gics_structure_<vintage>.parquet``,
        :meth:`MarketData.gics_structure`); the newest is :attr:`gics_structure`.
    """

    membership_snapshot: pd.Timestamp
    constituents_date: pd.Timestamp
    constituents_column: str
    cap_anchors: tuple[CapAnchor, ...]
    constituent_lists: tuple[tuple[pd.Timestamp, str], ...]
    gics_structures: tuple[tuple[str, str], ...]

    @property
    def gics_structure(self) -> str:
        """The date of the current (newest) GICS structure, ISO ``YYYY-MM-DD``."""
        return self.gics_structures[-1][1]

    def gics_structure_of(self, vintage: str) -> str:
        """The date of the GICS structure of ``vintage`` (e.g. ``"2018"``), ISO.

        Raises
        ------
        MarketDataError
            When the data has no structure of that vintage.
        """
        for v, date in self.gics_structures:
            if v == vintage:
                return date
        raise MarketDataError(f"the market data has no GICS structure {vintage!r} (it has "
                              f"{', '.join(v for v, _ in self.gics_structures) or 'none'}); "
                              f"{_REBUILD}")

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any], folder: Path) -> Vintages:
        """Parse the manifest's ``vintages`` section.

        Raises
        ------
        MarketDataError
            When the section is missing or malformed (data built by an older script).
        """
        try:
            v = manifest["vintages"]
            current = (pd.Timestamp(v["constituents"]["date"]), str(v["constituents"]["column"]))
            lists = tuple(sorted((pd.Timestamp(x["date"]), str(x["column"]))
                                 for x in v["constituent_lists"]))
            if not lists or lists[-1] != current:
                raise ValueError("the newest of 'constituent_lists' must be 'constituents' "
                                 f"({current[1]}), got {[c for _d, c in lists]}")
            gics = tuple(sorted(((str(x["vintage"]), pd.Timestamp(x["date"]).date()
                                  .isoformat()) for x in v["gics_structures"]),
                                key=lambda x: x[1]))
            if not gics:
                raise ValueError("'gics_structures' is empty")
            return cls(pd.Timestamp(v["membership_snapshot"]), *current,
                       tuple(CapAnchor(str(a["label"]), str(a["column"]),
                                       pd.Timestamp(a["price_date"]))
                             for a in v["cap_anchors"]), lists, gics)
        except (KeyError, TypeError, ValueError) as err:
            raise MarketDataError(f"{folder}/manifest.json has no valid 'vintages' section "
                                  f"({err!r}); {_REBUILD}") from None

MARKET_FILES: tuple[str, ...] = (
    "universe.parquet", "prices.parquet", "price_provenance.parquet", "etf_prices.parquet",
    "etf_info.parquet", "sp500_index.parquet", "treasury_par_curve.parquet",
    "tbill_10y_yahoo.parquet", "ff5_daily.parquet", "ff_mom_monthly.parquet",
    "corporate_actions.parquet", "price_qa_flags.parquet", "membership_intervals.parquet",
    "gics_structure_2023.parquet", "gics_structure_2018.parquet",
)
"""The parquet files of a complete market-data folder (besides ``manifest.json``)."""

_REBUILD = ("rebuild it with `python scripts/build_market_data.py --source "
            "../shared/data/market --out data/samples/market` or set PMA_LAB_DATA to a "
            "folder holding a complete copy")


# ------------------------------------------------------------------------------- dates
def to_timestamp(value: DateLike, name: str = "as_of") -> pd.Timestamp:
    """Convert a date-like value to a midnight, timezone-naive ``pd.Timestamp``.

    Parameters
    ----------
    value : DateLike
        A ``datetime.date`` (or ``datetime``), ``pd.Timestamp``, ``np.datetime64`` or an ISO
        string such as ``"2024-03-08"``. A time of day is dropped; a timezone-aware value
        keeps its local calendar date.
    name : str
        The argument name, used in error messages.

    Returns
    -------
    pd.Timestamp
        The calendar date at midnight.

    Raises
    ------
    TypeError
        If ``value`` is not one of the accepted types (e.g. ``None`` or a number).
    DataError
        If a string is not an ISO date, or the value is NaT.
    """
    if isinstance(value, str):
        try:
            ts = pd.Timestamp(dt.datetime.fromisoformat(value.strip()))
        except ValueError:
            raise DataError(f"{name}={value!r} is not an ISO date; write it as YYYY-MM-DD, "
                            "e.g. '2024-03-08'") from None
    elif isinstance(value, (pd.Timestamp, dt.date, np.datetime64)):
        ts = pd.Timestamp(value)
    else:
        raise TypeError(f"{name} must be a datetime.date, pandas.Timestamp or ISO string "
                        f"such as '2024-03-08', got {type(value).__name__} {value!r}")
    if pd.isna(ts):
        raise DataError(f"{name} is NaT (not a time); pass a real date such as '2024-03-08'")
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    return ts.normalize()


def _iso(ts: Any) -> str:
    """Format a timestamp as ``YYYY-MM-DD`` (``'none'`` when missing)."""
    return "none" if ts is None or pd.isna(ts) else pd.Timestamp(ts).strftime("%Y-%m-%d")


def _check_staleness(max_staleness_days: int) -> int:
    """Validate a staleness limit (a non-negative whole number of calendar days)."""
    if isinstance(max_staleness_days, bool) or not isinstance(max_staleness_days,
                                                               (int, np.integer)):
        raise TypeError("max_staleness_days must be a whole number of calendar days, got "
                        f"{max_staleness_days!r}")
    if max_staleness_days < 0:
        raise DataError(f"max_staleness_days must be >= 0, got {max_staleness_days}")
    return int(max_staleness_days)


def _check_span(start: pd.Timestamp, end: pd.Timestamp) -> None:
    """Raise unless ``start <= end``."""
    if start > end:
        raise DataError(f"start {_iso(start)} is after end {_iso(end)}; swap them")


def _read_only(arr: np.ndarray) -> np.ndarray:
    """Return ``arr`` with its write flag cleared."""
    arr.flags.writeable = False
    return arr


def _read_only_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a float64 copy of ``frame`` backed by one read-only 2-D array."""
    values = _read_only(frame.to_numpy(dtype="float64", copy=True))
    return pd.DataFrame(values, index=frame.index, columns=frame.columns, copy=False)


# ------------------------------------------------------------------------- file reading
@functools.lru_cache(maxsize=64)
def _read_table(path: str) -> pd.DataFrame:
    """Read one parquet file (cached; callers must copy before handing it out)."""
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise MarketDataError(f"cannot read {path}: {exc}; {_REBUILD}") from exc


def _coverage(frame: pd.DataFrame) -> pd.DataFrame:
    """Per-column first/last valid date, value count and missing market days inside."""
    valid = frame.notna()
    live = valid.cummax() & valid.iloc[::-1].cummax().iloc[::-1]
    is_market = valid.sum(axis=1) >= MARKET_DAY_SHARE * live.sum(axis=1)
    out = pd.DataFrame({
        "first_date": frame.apply(pd.Series.first_valid_index).astype("datetime64[ns]"),
        "last_date": frame.apply(pd.Series.last_valid_index).astype("datetime64[ns]"),
        "n_obs": valid.sum().astype("int64"),
        "n_missing_inside": (live & ~valid)[is_market].sum().astype("int64"),
    })
    out.index.name = "ticker"
    return out


def _suggest(ticker: str, known: frozenset[str]) -> str:
    """A hint for an unknown ticker (dot form, upper case)."""
    for sep in ("-", "/", " ", "_"):
        if sep in ticker.strip():
            dotted = ticker.strip().upper().replace(sep, ".")
            if dotted in known:
                return f" (did you mean {dotted!r}? tickers use the dot form)"
    if ticker.strip().upper() in known and ticker not in known:
        return f" (did you mean {ticker.strip().upper()!r}?)"
    return ""


# ------------------------------------------------------------------------ schema checks
def _check_prices(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Check a wide price table (the schema of ``prices.parquet``) and return it as floats.

    One row per date (a sorted, unique ``DatetimeIndex`` or a ``date`` column), one column
    per ticker, adjusted closes that are positive and finite, NaN where there is no close.

    Raises
    ------
    DataError
        Naming ``source``, the row (date) and the column (ticker) and how to fix it.
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{source}: expected a pandas DataFrame (dates x tickers), got "
                        f"{type(frame).__name__}")
    if "date" in frame.columns:
        frame = frame.set_index("date")
    if len(frame) == 0 or frame.shape[1] == 0:
        raise DataError(f"{source}: the table is empty; give one row per trading day and one "
                        "column per ticker")
    try:
        idx = pd.DatetimeIndex(frame.index)
    except (TypeError, ValueError) as err:
        raise DataError(f"{source}: the row labels are not dates ({err}); index the table by "
                        "trading day (a DatetimeIndex or a 'date' column)") from None
    wrong = np.flatnonzero(idx.isna() | (idx != idx.normalize()))
    if len(wrong):
        bad_day = int(wrong[0])
        raise DataError(f"{source}: row {bad_day} has date {idx[bad_day]!r}; every row must be "
                        "one calendar day (midnight, no time of day, not NaT)")
    if idx.tz is not None:
        raise DataError(f"{source}: the dates carry a time zone ({idx.tz}); use naive "
                        "calendar dates")
    dup = idx[idx.duplicated()]
    if len(dup):
        raise DataError(f"{source}: row {_iso(dup[0])} appears more than once; keep one row "
                        "per date")
    if not idx.is_monotonic_increasing:
        pos = int(np.flatnonzero(np.diff(idx.asi8) < 0)[0]) + 1
        raise DataError(f"{source}: row {pos} ({_iso(idx[pos])}) comes after "
                        f"{_iso(idx[pos - 1])}; sort the rows by date (frame.sort_index())")
    cols = [str(c) for c in frame.columns]
    if len(set(cols)) != len(cols):
        twice = sorted({c for c in cols if cols.count(c) > 1})
        raise DataError(f"{source}: column(s) {', '.join(twice)} appear more than once; keep "
                        "one column per ticker")
    kinds = list(frame.dtypes)
    num = [j for j, k in enumerate(kinds)
           if pd.api.types.is_numeric_dtype(k) and not pd.api.types.is_bool_dtype(k)]
    values = np.empty(frame.shape, dtype="float64")
    if num:
        values[:, num] = frame.iloc[:, num].to_numpy(dtype="float64")
    for j in sorted(set(range(len(kinds))) - set(num)):
        raw = frame.iloc[:, j]
        col = (pd.Series(np.nan, index=raw.index) if pd.api.types.is_bool_dtype(kinds[j])
               else pd.to_numeric(raw, errors="coerce"))
        wrong = np.flatnonzero(col.isna().to_numpy() & raw.notna().to_numpy())
        if len(wrong):
            i = int(wrong[0])
            raise DataError(f"{source}: row {_iso(idx[i])}, column {cols[j]!r}: "
                            f"{raw.iloc[i]!r} is not a number; give adjusted closes as "
                            "numbers (NaN where there is no close)")
        values[:, j] = col.to_numpy(dtype="float64")
    bad = np.isinf(values) | (values <= 0)
    if bad.any():
        i, j = (int(k[0]) for k in np.nonzero(bad))
        raise DataError(f"{source}: row {_iso(idx[i])}, column {cols[j]!r}: close "
                        f"{float(values[i, j])!r} is not a positive finite price; fix the value or "
                        "leave it NaN (no close that day); prices are never filled or clipped")
    return pd.DataFrame(values, index=pd.DatetimeIndex(idx, name="date"), columns=cols)


def _check_universe(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Check a security master (the schema of ``universe.parquet``); return it by ticker.

    A ``ticker`` column (or index): unique, dot-form tickers (``BRK.B``); a ``gics_sector``
    column with one of the eleven GICS sector names for every ticker.

    Raises
    ------
    DataError
        Naming ``source``, the row and the column and how to fix it.
    """
    from pma_lab.market.tickers import normalize_ticker
    from pma_lab.schema import GICS_SECTORS

    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{source}: expected a pandas DataFrame (one row per ticker), got "
                        f"{type(frame).__name__}")
    u = frame if "ticker" in frame.columns else frame.reset_index()
    if "ticker" not in u.columns:
        raise DataError(f"{source}: no 'ticker' column (columns: {', '.join(map(str, u.columns))}"
                        "); name the ticker column or the index 'ticker'")
    if len(u) == 0:
        raise DataError(f"{source}: the table has no rows; give one row per ticker")
    for i, t in enumerate(u["ticker"]):
        sp = normalize_ticker(t)
        if not isinstance(t, str) or not sp.valid or sp.ticker != t:
            hint = f" (write it {sp.ticker!r})" if sp.valid else ""
            raise DataError(f"{source}: row {i}, column 'ticker': {t!r} is not a ticker in "
                            f"the dot form{hint}; e.g. AAPL, BRK.B")
    dup = u["ticker"][u["ticker"].duplicated()]
    if len(dup):
        i = int(dup.index[0]) if isinstance(dup.index[0], (int, np.integer)) else 0
        raise DataError(f"{source}: row {i}, column 'ticker': {dup.iloc[0]!r} appears more "
                        "than once; keep one row per ticker")
    if "gics_sector" not in u.columns:
        raise DataError(f"{source}: no 'gics_sector' column; give each ticker its GICS "
                        f"sector ({', '.join(GICS_SECTORS)})")
    for i, (t, sec) in enumerate(zip(u["ticker"], u["gics_sector"], strict=True)):
        if not isinstance(sec, str) or sec not in GICS_SECTORS:
            raise DataError(f"{source}: row {i} ({t}), column 'gics_sector': {sec!r} is not a "
                            f"GICS sector; use one of {', '.join(GICS_SECTORS)}")
    return u.set_index("ticker")


def _with_sectors(universe: pd.DataFrame, sectors: pd.Series) -> pd.DataFrame:
    """``universe`` with ``gics_sector`` from ``sectors`` (every ticker, no others)."""
    if not isinstance(sectors, pd.Series):
        raise DataError(f"sectors: expected a pandas Series (sector by ticker), got "
                        f"{type(sectors).__name__}")
    u = universe if "ticker" in universe.columns else universe.reset_index()
    if "ticker" not in u.columns:
        raise DataError("universe frame: no 'ticker' column; name the ticker column or the "
                        "index 'ticker'")
    known = set(u["ticker"])
    extra = [t for t in sectors.index if t not in known]
    if extra:
        raise DataError(f"sectors: row {extra[0]!r} is not a ticker of the universe frame; "
                        "give sectors for the universe's tickers only")
    if not sectors.index.is_unique:
        twice = sectors.index[sectors.index.duplicated()][0]
        raise DataError(f"sectors: row {twice!r} appears more than once; one sector per "
                        "ticker")
    lacking = [t for t in u["ticker"] if t not in sectors.index]
    if lacking:
        raise DataError(f"sectors: no sector for {lacking[0]!r} ({len(lacking)} ticker(s) of "
                        f"the universe frame: {', '.join(map(str, lacking[:10]))}); give "
                        "every ticker its GICS sector")
    return u.assign(gics_sector=u["ticker"].map(sectors).to_numpy())


def _frame_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's values, index and column names."""
    h = hashlib.sha256()
    h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    h.update(json.dumps([str(c) for c in frame.columns]).encode())
    return h.hexdigest()


# ------------------------------------------------------------------------------ universe
@dataclass(frozen=True, eq=False, repr=False)
class Universe:
    """The security master: 600 tickers with names, GICS, market caps and membership.

    Build it with :func:`load_market`; the constructor and the underscored fields (the
    security-master table indexed by ticker, and the membership intervals) are internal.
    Use :meth:`frame`, :meth:`row` and :meth:`members`, which hand out copies.
    """

    _table: pd.DataFrame
    _membership: pd.DataFrame
    _snapshot: pd.Timestamp  # membership_snapshot of the folder's Vintages

    @functools.cached_property
    def tickers(self) -> tuple[str, ...]:
        """All tickers of the universe, sorted (dot form, e.g. ``BRK.B``)."""
        return tuple(self._table.index)

    @functools.cached_property
    def _known(self) -> frozenset[str]:
        return frozenset(self._table.index)

    def __contains__(self, ticker: object) -> bool:
        """Return whether ``ticker`` (exact dot-form spelling) is in the universe."""
        return isinstance(ticker, str) and ticker in self._known

    def __len__(self) -> int:
        """Number of tickers (600)."""
        return len(self._table)

    def __repr__(self) -> str:
        return f"Universe({len(self)} tickers)"

    def _require(self, ticker: str) -> None:
        if ticker not in self:
            raise DataError(
                f"{ticker!r} is not in the universe of {len(self)} tickers"
                f"{_suggest(str(ticker), self._known)}; check the spelling (dot form, e.g. "
                "BRK.B) or see Universe.tickers")

    def row(self, ticker: str) -> pd.Series:
        """Return the security-master row of one ticker (a copy).

        Parameters
        ----------
        ticker : str
            Dot-form ticker, e.g. ``"BRK.B"``.

        Returns
        -------
        pd.Series
            Indexed by the columns of ``universe.parquet`` (``ticker`` is the Series name).

        Raises
        ------
        DataError
            If the ticker is not in the universe.
        """
        self._require(ticker)
        return self._table.loc[ticker].copy()

    def sector(self, ticker: str) -> str:
        """Return the GICS sector of ``ticker`` (2026 classification, else 2021).

        Raises
        ------
        DataError
            If the ticker is not in the universe.
        """
        self._require(ticker)
        return str(self._table.at[ticker, "gics_sector"])

    def members(self, as_of: DateLike) -> tuple[str, ...]:
        """Return the S&P 500 members on a date, from the membership intervals.

        A ticker is a member on ``day`` when ``start_date <= day < end_date`` (``end_date``
        is the first day it is no longer a member; NaT means still a member at the
        snapshot). Identity is by ticker only, so historical members may be absent from
        the universe and tickers may have been reused.

        Parameters
        ----------
        as_of : DateLike
            The date.

        Returns
        -------
        tuple[str, ...]
            Sorted tickers.

        Raises
        ------
        DataError
            If ``as_of`` is outside 1996-01-02 .. 2025-11-16, the span the intervals cover.
        """
        day = to_timestamp(as_of)
        mem = self._membership
        first = mem.start_date.min()
        if day < first or day > self._snapshot:
            raise DataError(
                f"S&P 500 membership is known from {_iso(first)} to {_iso(self._snapshot)}"
                f", not on {_iso(day)}; choose a date in that span, or for the current "
                "list use universe.frame() and its column named in MarketData.vintages")
        mask = (mem.start_date <= day) & (mem.end_date.isna() | (day < mem.end_date))
        return tuple(sorted(mem.ticker[mask]))

    def frame(self) -> pd.DataFrame:
        """Return the whole security master as a new DataFrame (``ticker`` as a column)."""
        return self._table.reset_index()

    def sectors(self) -> pd.Series:
        """GICS sector by ticker (a new Series)."""
        return self._table["gics_sector"].copy()

    def membership(self) -> pd.DataFrame:
        """Return the S&P 500 membership intervals as a new DataFrame.

        Returns
        -------
        pd.DataFrame
            Columns ``ticker``, ``start_date``, ``end_date`` (first day no longer a member;
            NaT = still a member at the snapshot, ``MarketData.vintages``).
        """
        return self._membership.copy()


# -------------------------------------------------------------------------------- prices
def last_valid_rows(values: np.ndarray, stop: int, cols: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Each column's last row before ``stop`` holding a number: ``(has, row)``.

    ``values`` is a dates x tickers array, ``cols`` the columns asked (positions). ``has``
    says whether the column has a number in rows ``[0, stop)``; ``row`` is the last such
    row (``stop - 1`` where there is none, and 0 when ``stop`` is 0). The last row is read
    first and only the columns without a number there are searched backwards: the same
    answer as scanning the columns' whole history up to ``stop`` (which copied
    ``stop x len(cols)`` numbers, ~26 MB for the model's ~500 names over 26 years: ~10 ms
    a lookup), for a read of one row when every name has a close that day.
    """
    cols = np.asarray(cols, dtype=np.intp)
    if not stop:
        return np.zeros(len(cols), dtype=bool), np.zeros(len(cols), dtype=np.intp)
    row = np.full(len(cols), stop - 1, dtype=np.intp)
    has = np.ones(len(cols), dtype=bool)
    for j in np.flatnonzero(np.isnan(values[stop - 1, cols])):
        ok = np.flatnonzero(~np.isnan(values[:stop, cols[j]]))
        if len(ok):
            row[j] = ok[-1]
        else:
            has[j] = False
    return has, row


@dataclass(frozen=True, eq=False, repr=False)
class PriceHistory:
    """Wide daily adjusted closes with explicit-date, no-fill accessors.

    Build it with :func:`load_market` (``market.prices`` for stocks, ``market.etfs`` for
    ETFs); derive look-ahead-free views with :meth:`as_of`. The underscored field (index
    ``date``, one float64 column per ticker, NaN where no close exists, backed by a read-only
    array) is internal; :meth:`window` and :meth:`frame` hand out copies.

    Attributes
    ----------
    name : str
        ``"stocks"`` or ``"etfs"`` (used in messages).
    cutoff : pd.Timestamp | None
        For an :meth:`as_of` view, the last date it may see; queries after it raise.
    """

    name: str
    _table: pd.DataFrame
    cutoff: pd.Timestamp | None = None

    def __post_init__(self) -> None:
        idx = self._table.index
        if not isinstance(idx, pd.DatetimeIndex) or not idx.is_monotonic_increasing \
                or not idx.is_unique or len(idx) == 0:
            raise MarketDataError(f"{self.name} prices need a sorted, unique, non-empty date "
                                  f"index; {_REBUILD}")

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, name: str = "custom") -> PriceHistory:
        """Wrap a wide price frame (e.g. synthetic prices in a test) as a history.

        Parameters
        ----------
        frame : pd.DataFrame
            Index of dates (sorted, unique), one numeric column per ticker, NaN for no close.
        name : str
            Label used in messages.

        Returns
        -------
        PriceHistory
            Backed by a read-only float64 copy of ``frame``.

        Raises
        ------
        MarketDataError
            If the index is not a sorted, unique, non-empty DatetimeIndex.
        """
        return cls(name=name, _table=_read_only_frame(frame))

    def __repr__(self) -> str:
        cut = f", cutoff={_iso(self.cutoff)}" if self.cutoff is not None else ""
        return (f"PriceHistory({self.name!r}, {len(self.tickers)} tickers, "
                f"{_iso(self.first_date)}..{_iso(self.last_date)}{cut})")

    # -- description
    @property
    def first_date(self) -> pd.Timestamp:
        """First date of the calendar."""
        return self._table.index[0]

    @property
    def last_date(self) -> pd.Timestamp:
        """Last date of the calendar (the cutoff's trading day for an :meth:`as_of` view)."""
        return self._table.index[-1]

    @property
    def calendar(self) -> pd.DatetimeIndex:
        """The trading dates (an immutable index)."""
        return self._table.index

    @functools.cached_property
    def tickers(self) -> tuple[str, ...]:
        """Tickers with a price column, sorted."""
        return tuple(self._table.columns)

    @functools.cached_property
    def _known(self) -> frozenset[str]:
        return frozenset(self._table.columns)

    @functools.cached_property
    def _values(self) -> np.ndarray:
        values = self._table.to_numpy(dtype="float64")
        return values if not values.flags.writeable else _read_only(values.copy())

    def __contains__(self, ticker: object) -> bool:
        """Return whether ``ticker`` has a price column."""
        return isinstance(ticker, str) and ticker in self._known

    # -- helpers
    def _select(self, tickers: str | Iterable[str] | None) -> list[str]:
        if tickers is None:
            return list(self.tickers)
        names = [tickers] if isinstance(tickers, str) else list(tickers)
        names = list(dict.fromkeys(names))
        unknown = [t for t in names if t not in self]
        if unknown:
            hints = "".join(f"\n  - {t!r}{_suggest(str(t), self._known)}" for t in unknown)
            raise PriceDataError(
                f"no {self.name} price series for {len(unknown)} ticker(s):{hints}\n"
                f"The {self.name} prices cover {len(self.tickers)} tickers; check the "
                "spelling (dot form, e.g. BRK.B), look in the other price history (stocks vs "
                "ETFs), or supply the price")
        return names

    def _date(self, value: DateLike, name: str) -> pd.Timestamp:
        day = to_timestamp(value, name)
        if self.cutoff is not None and day > self.cutoff:
            raise PriceDataError(
                f"{name}={_iso(day)} is after this view's cutoff {_iso(self.cutoff)} "
                "(an as_of view cannot see later prices); query the full history instead")
        return day

    # -- point lookups
    def last_valid(self, as_of: DateLike, tickers: str | Iterable[str] | None = None
                   ) -> pd.DataFrame:
        """Return each ticker's last valid close on or before ``as_of`` and its date.

        Never raises for stale or missing prices (see :meth:`at` for the checked version).

        Parameters
        ----------
        as_of : DateLike
            The date.
        tickers : str | Iterable[str] | None
            Tickers to look up (default: all).

        Returns
        -------
        pd.DataFrame
            Index ``ticker``; columns ``close`` (float, NaN if none), ``date`` (datetime,
            NaT if none) and ``staleness_days`` (float calendar days, NaN if none).

        Raises
        ------
        PriceDataError
            If a ticker has no price column, or ``as_of`` is after an :meth:`as_of` view's
            cutoff.
        """
        day = self._date(as_of, "as_of")
        names = self._select(tickers)
        cols = self._table.columns.get_indexer(names)
        stop = int(self._table.index.searchsorted(day, side="right"))
        has, last = last_valid_rows(self._values, stop, cols)
        close = np.where(has, self._values[last, cols] if stop else np.nan, np.nan)
        dates = pd.DatetimeIndex(np.where(has, self._table.index.values[last],
                                          np.datetime64("NaT", "ns")))
        out = pd.DataFrame({"close": close, "date": dates}, index=pd.Index(names, name="ticker"))
        out["staleness_days"] = (day - out["date"]).dt.days.astype("float64")
        return out

    def at(self, as_of: DateLike, tickers: str | Iterable[str] | None = None,
           max_staleness_days: int = DEFAULT_MAX_STALENESS_DAYS) -> pd.Series:
        """Return the last valid close on or before ``as_of`` for each ticker.

        Parameters
        ----------
        as_of : DateLike
            The valuation date (explicit; the clock is never read).
        tickers : str | Iterable[str] | None
            Tickers to price (default: all, in which case every column must have a recent
            close; use :meth:`last_valid` to see which do).
        max_staleness_days : int
            Largest accepted gap, in calendar days, between ``as_of`` and the close used.

        Returns
        -------
        pd.Series
            Closes indexed by ticker (in the order asked), named ``as_of``.

        Raises
        ------
        PriceDataError
            Naming every ticker without a close within the staleness window, with its last
            (or first) available date and how to fix the request; also for unknown tickers
            and dates after an :meth:`as_of` view's cutoff.
        """
        limit = _check_staleness(max_staleness_days)
        day = self._date(as_of, "as_of")
        table = self.last_valid(day, tickers)
        bad = table[table["close"].isna() | (table["staleness_days"] > limit)]
        if len(bad):
            lines = []
            for ticker, r in bad.iterrows():
                if pd.isna(r["date"]):
                    first = self._table[ticker].first_valid_index()
                    where = (f"first close is {_iso(first)}; choose an as_of on or after "
                             f"{_iso(first)}" if first is not None
                             else "this view has no close at all; use the full history")
                    lines.append(f"  - {ticker}: no close on or before {_iso(day)}; {where}, "
                                 "or supply a price")
                else:
                    upto = r["date"] + pd.Timedelta(days=limit)
                    lines.append(
                        f"  - {ticker}: last close {_iso(r['date'])}, "
                        f"{int(r['staleness_days'])} days before {_iso(day)}; choose an as_of "
                        f"on or before {_iso(r['date'])} (up to {_iso(upto)} within the "
                        f"staleness limit), raise max_staleness_days, or supply a price")
            raise PriceDataError(
                f"no usable {self.name} price at {_iso(day)} for {len(bad)} ticker(s) "
                f"(max_staleness_days={limit}):\n" + "\n".join(lines))
        out = table["close"].astype("float64").copy()
        out.name = day
        return out

    # -- ranges
    def window(self, start: DateLike, end: DateLike,
               tickers: str | Iterable[str] | None = None) -> pd.DataFrame:
        """Return closes for ``start <= date <= end`` (levels, NaN kept, a copy).

        Parameters
        ----------
        start, end : DateLike
            Inclusive bounds.
        tickers : str | Iterable[str] | None
            Columns to return (default: all).

        Returns
        -------
        pd.DataFrame
            Index ``date``, one column per ticker.

        Raises
        ------
        PriceDataError
            If no trading day falls in the window, a ticker is unknown, or ``end`` is after
            an :meth:`as_of` view's cutoff.
        DataError
            If ``start`` is after ``end``.
        """
        i0, i1, names = self._rows(start, end, tickers)
        return self._table.iloc[i0:i1][names].copy()

    def _rows(self, start: DateLike, end: DateLike,
              tickers: str | Iterable[str] | None) -> tuple[int, int, list[str]]:
        """Row positions ``[i0, i1)`` of the trading days in ``start..end`` and the columns."""
        lo, hi = self._date(start, "start"), self._date(end, "end")
        _check_span(lo, hi)
        names = self._select(tickers)
        i0 = int(self._table.index.searchsorted(lo, side="left"))
        i1 = int(self._table.index.searchsorted(hi, side="right"))
        if i0 >= i1:
            raise PriceDataError(
                f"no {self.name} trading day between {_iso(lo)} and {_iso(hi)}; the prices "
                f"cover {_iso(self.first_date)} to {_iso(self.last_date)}")
        return i0, i1, names

    def returns(self, start: DateLike, end: DateLike,
                tickers: str | Iterable[str] | None = None) -> pd.DataFrame:
        """Return simple daily returns for the trading days ``start <= date <= end``.

        The return on day *t* is ``close_t / close_{t-1} - 1`` where *t-1* is the previous
        date of the calendar (which may be before ``start``). It is NaN when either close is
        missing: gaps are never filled, so a gap costs two returns.

        Parameters
        ----------
        start, end : DateLike
            Inclusive bounds.
        tickers : str | Iterable[str] | None
            Columns to return (default: all).

        Returns
        -------
        pd.DataFrame
            Index ``date``, one column per ticker; the first calendar date has NaN returns.

        Raises
        ------
        PriceDataError
            As for :meth:`window`.
        DataError
            If ``start`` is after ``end``.
        """
        i0, i1, names = self._rows(start, end, tickers)
        first = max(i0 - 1, 0)
        levels = self._table.iloc[first:i1][names]
        rets = levels / levels.shift(1) - 1.0
        return rets.iloc[i0 - first:].copy()

    def coverage(self) -> pd.DataFrame:
        """Return per-ticker coverage of this history.

        Returns
        -------
        pd.DataFrame
            Index ``ticker``; columns ``first_date``, ``last_date``, ``n_obs`` and
            ``n_missing_inside`` (market days between the first and last valid date on which
            the ticker has no close; a market day is one on which at least 90% of the tickers
            live that day have a close).
        """
        return self._coverage_table.copy()

    @functools.cached_property
    def _coverage_table(self) -> pd.DataFrame:
        return _coverage(self._table)

    def as_of(self, date: DateLike) -> PriceHistory:
        """Return a view truncated at ``date`` so nothing later can be seen.

        Parameters
        ----------
        date : DateLike
            The last date the view may see (inclusive).

        Returns
        -------
        PriceHistory
            A history whose calendar ends on or before ``date`` and whose queries for later
            dates raise :class:`~pma_lab.errors.PriceDataError`.

        Raises
        ------
        PriceDataError
            If ``date`` is before the first date, or after this view's own cutoff.
        """
        day = self._date(date, "date")
        stop = int(self._table.index.searchsorted(day, side="right"))
        if stop == 0:
            raise PriceDataError(f"{self.name} prices start {_iso(self.first_date)}; an as_of "
                                 f"view at {_iso(day)} would be empty; choose a date on or after "
                                 f"{_iso(self.first_date)}")
        return PriceHistory(name=self.name, _table=self._table.iloc[:stop], cutoff=day)

    def frame(self) -> pd.DataFrame:
        """Return all closes as a new DataFrame (index ``date``, one column per ticker)."""
        return self._table.copy()


# --------------------------------------------------------------------------------- index
def _row_on_or_before(index: pd.DatetimeIndex, day: pd.Timestamp) -> int:
    """Position of the last index entry ``<= day`` (-1 if none)."""
    return int(index.searchsorted(day, side="right")) - 1


def _locate(index: pd.DatetimeIndex, as_of: DateLike, max_staleness_days: int, *,
            what: str, last: str, otherwise: str) -> int:
    """Row of the last entry on or before ``as_of`` within the staleness window.

    ``what`` names the series, ``last`` the verb of its dates ("close", "published")
    and ``otherwise`` the alternative offered when the data are too old.

    Raises
    ------
    PriceDataError
        If the series starts after ``as_of`` or its last entry is too stale.
    """
    limit = _check_staleness(max_staleness_days)
    day = to_timestamp(as_of)
    pos = _row_on_or_before(index, day)
    if pos < 0:
        raise PriceDataError(f"the {what} starts {_iso(index[0])}; choose an as_of on or "
                             f"after it (got {_iso(day)})")
    found = index[pos]
    if (day - found).days > limit:
        raise PriceDataError(
            f"{what[0].upper() + what[1:]}: last {last} {_iso(found)}, {(day - found).days} "
            f"days before {_iso(day)} (max_staleness_days={limit}); choose an as_of on or "
            f"before {_iso(found)}, or {otherwise}")
    return pos


@dataclass(frozen=True, eq=False, repr=False)
class IndexSeries:
    """The daily S&P 500 price index (no dividends).

    The underscored field (index ``date``; columns ``close`` and ``source``) is internal;
    :meth:`window` and :meth:`frame` hand out copies.
    """

    _table: pd.DataFrame

    def __repr__(self) -> str:
        return f"IndexSeries({_iso(self.first_date)}..{_iso(self.last_date)})"

    @property
    def first_date(self) -> pd.Timestamp:
        """First date of the series."""
        return self._table.index[0]

    @property
    def last_date(self) -> pd.Timestamp:
        """Last date of the series (2026-02-11 in the packaged data)."""
        return self._table.index[-1]

    def at(self, as_of: DateLike, max_staleness_days: int = DEFAULT_MAX_STALENESS_DAYS
           ) -> float:
        """Return the last index close on or before ``as_of``.

        Parameters
        ----------
        as_of : DateLike
            The date.
        max_staleness_days : int
            Largest accepted gap in calendar days between ``as_of`` and the close used.

        Returns
        -------
        float
            The index level.

        Raises
        ------
        PriceDataError
            If there is no close on or before ``as_of`` within the staleness window.
        """
        pos = _locate(self._table.index, as_of, max_staleness_days, what="S&P 500 index",
                      last="close", otherwise="use SPY/IVV from market.etfs as a proxy")
        return float(self._table["close"].iloc[pos])

    def window(self, start: DateLike, end: DateLike) -> pd.Series:
        """Return index closes for ``start <= date <= end`` (a copy).

        Raises
        ------
        DataError
            If ``start`` is after ``end``.
        """
        lo, hi = to_timestamp(start, "start"), to_timestamp(end, "end")
        _check_span(lo, hi)
        return self._table["close"].loc[lo:hi].copy()

    def frame(self) -> pd.DataFrame:
        """Return the whole series as a new DataFrame (index ``date``; close, source)."""
        return self._table.copy()


# ------------------------------------------------------------------------------ treasury
@dataclass(frozen=True, eq=False, repr=False)
class TreasuryCurve:
    """Daily Treasury par yield curve (percent, bond-equivalent, annualised).

    The underscored field (index ``date``; one float column per tenor in :data:`TENORS`,
    NaN where the tenor was not published) is internal; :meth:`at`, :meth:`window` and
    :meth:`frame` hand out copies.
    """

    _table: pd.DataFrame

    def __repr__(self) -> str:
        return f"TreasuryCurve({_iso(self.first_date)}..{_iso(self.last_date)})"

    @property
    def tenors(self) -> tuple[str, ...]:
        """Tenor labels, shortest first."""
        return tuple(self._table.columns)

    @property
    def first_date(self) -> pd.Timestamp:
        """First curve date."""
        return self._table.index[0]

    @property
    def last_date(self) -> pd.Timestamp:
        """Last curve date (2025-07-11 in the packaged data)."""
        return self._table.index[-1]

    def at(self, as_of: DateLike, max_staleness_days: int = DEFAULT_MAX_STALENESS_DAYS
           ) -> pd.Series:
        """Return the last published curve on or before ``as_of``.

        Parameters
        ----------
        as_of : DateLike
            The date.
        max_staleness_days : int
            Largest accepted gap in calendar days between ``as_of`` and the curve used.

        Returns
        -------
        pd.Series
            Yields in percent indexed by tenor (unpublished tenors are NaN), named by the
            curve's date.

        Raises
        ------
        PriceDataError
            If no curve was published on or before ``as_of`` within the staleness window.
        """
        pos = _locate(self._table.index, as_of, max_staleness_days, what="Treasury curve",
                      last="published", otherwise="for a later risk-free rate use "
                      "market.tbill_10y() (^IRX) or supply the rate")
        return self._table.iloc[pos].copy()

    def risk_free_rate(self, as_of: DateLike, tenor: str = "3M",
                       max_staleness_days: int = DEFAULT_MAX_STALENESS_DAYS) -> float:
        """Return the par yield of ``tenor`` (default 3 months) as an annual decimal.

        Parameters
        ----------
        as_of : DateLike
            The date.
        tenor : str
            One of :data:`TENORS`.
        max_staleness_days : int
            As for :meth:`at`.

        Returns
        -------
        float
            E.g. ``0.0441`` for 4.41 %.

        Raises
        ------
        DataError
            If ``tenor`` is not a known tenor.
        PriceDataError
            If no curve is available (see :meth:`at`) or the tenor was not published then.
        """
        if tenor not in self._table.columns:
            raise DataError(f"unknown tenor {tenor!r}; use one of {', '.join(self.tenors)}")
        curve = self.at(as_of, max_staleness_days)
        value = curve[tenor]
        if pd.isna(value):
            raise PriceDataError(f"the {tenor} yield was not published on {_iso(curve.name)}; "
                                 "choose another tenor or date")
        return float(value) / 100.0

    def window(self, start: DateLike, end: DateLike) -> pd.DataFrame:
        """Return curves for ``start <= date <= end`` (a copy).

        Raises
        ------
        DataError
            If ``start`` is after ``end``.
        """
        lo, hi = to_timestamp(start, "start"), to_timestamp(end, "end")
        _check_span(lo, hi)
        return self._table.loc[lo:hi].copy()

    def frame(self) -> pd.DataFrame:
        """Return the whole curve history as a new DataFrame (index ``date``)."""
        return self._table.copy()


# ----------------------------------------------------------------------------- container
@dataclass(frozen=True, eq=False, repr=False)
class MarketData:
    """All packaged market data, read once per folder by :func:`load_market`.

    Attributes
    ----------
    data_dir : Path
        The folder the files were read from.
    universe : Universe
        Security master and membership.
    prices : PriceHistory
        Stock adjusted closes (2000-01-03 .. 2026-08-03, chained Yahoo panels).
    etfs : PriceHistory
        ETF adjusted closes.
    index : IndexSeries
        S&P 500 price index.
    treasury : TreasuryCurve
        Treasury par yield curve.
    vintages : Vintages
        The dates of the snapshots in the data (from ``manifest.json``).
    frames : dict[str, str] | None
        For data built by :meth:`from_frames`: the SHA-256 of each frame given (``prices``,
        ``universe``, ``etfs``); they replace the files of the same name in
        :meth:`manifest`, so caches keyed by the manifest never mix the two. ``None`` for
        data read from a folder.
    """

    data_dir: Path
    universe: Universe
    prices: PriceHistory
    etfs: PriceHistory
    index: IndexSeries
    treasury: TreasuryCurve
    vintages: Vintages
    frames: dict[str, str] | None = None

    _FRAME_FILES = {"prices": "prices.parquet", "universe": "universe.parquet",
                    "etfs": "etf_prices.parquet"}

    @classmethod
    def from_frames(cls, prices: pd.DataFrame, universe: pd.DataFrame,
                    sectors: pd.Series | None = None, *, etfs: pd.DataFrame | None = None,
                    base: MarketData | None = None) -> MarketData:
        """Market data from a researcher's own prices and security master.

        The frames go through the same schema checks as the packaged files
        (``prices.parquet``, ``universe.parquet``); the result works wherever a
        :class:`MarketData` does, e.g. ``prepare(client, market=...)`` (pass your own
        ``risk`` and ``benchmark`` when the universe has no S&P 500 cap and membership
        columns). What is not given comes from ``base``: the ETF prices, the S&P 500 index,
        the Treasury curve, the membership intervals, the vintages and the files read on
        demand (factors, corporate actions).

        Parameters
        ----------
        prices : pd.DataFrame
            Adjusted closes: one row per trading day (a sorted ``DatetimeIndex`` or a
            ``date`` column), one column per ticker, positive and finite, NaN for no close.
            Every column must be a ticker of ``universe``.
        universe : pd.DataFrame
            One row per ticker: a ``ticker`` column (or index) in the dot form (``BRK.B``)
            and ``gics_sector`` (unless ``sectors`` is given); other columns (``name``,
            ``gics_industry``, ``gics_sub_industry_code``, ...) are kept for the screens.
        sectors : pd.Series | None
            GICS sector by ticker, for every ticker of ``universe`` (sets ``gics_sector``).
        etfs : pd.DataFrame | None
            ETF adjusted closes in the layout of ``prices`` (default: ``base``'s).
        base : MarketData | None
            Where the rest comes from (default: the packaged data, :func:`load_market`).

        Returns
        -------
        MarketData

        Raises
        ------
        DataError
            Naming the frame, the row and the column of the first problem and how to fix
            it (nothing is dropped, filled or clipped).
        """
        b = base or load_market()
        u = universe
        if sectors is not None:
            u = _with_sectors(universe, sectors)
        table = _check_universe(u, "universe frame")
        px = _check_prices(prices, "prices frame")
        outside = [c for c in px.columns if c not in table.index]
        if outside:
            raise DataError(f"prices frame: column {outside[0]!r} is not in the universe "
                            f"frame ({len(outside)} such column(s): "
                            f"{', '.join(outside[:10])}); add a row for each to the universe "
                            "or drop the column from the prices")
        etf = _check_prices(etfs, "etfs frame") if etfs is not None else b.etfs._table
        digests = {"prices": _frame_digest(px), "universe": _frame_digest(table),
                   "etfs": _frame_digest(etf) if etfs is not None else None}
        return cls(
            data_dir=b.data_dir, vintages=b.vintages, index=b.index, treasury=b.treasury,
            universe=Universe(_table=table, _membership=b.universe._membership,
                              _snapshot=b.vintages.membership_snapshot),
            prices=PriceHistory(name="stocks", _table=_read_only_frame(px)),
            etfs=(b.etfs if etfs is None else
                  PriceHistory(name="etfs", _table=_read_only_frame(etf))),
            frames={k: v for k, v in digests.items() if v is not None})

    def __repr__(self) -> str:
        return (f"MarketData({str(self.data_dir)!r}: {len(self.universe)} tickers, "
                f"{self.prices!r}, {self.etfs!r})")

    def _read(self, name: str) -> pd.DataFrame:
        return _read_table(str(self.data_dir / name)).copy()

    def manifest(self) -> dict[str, Any]:
        """Return ``manifest.json`` (a fresh dict: files, rows, dates, sha256, build stats).

        For :meth:`from_frames` data, the entries of the frames given carry their SHA-256
        and ``"source": "from_frames"`` instead of the folder's files.
        """
        manifest = _read_manifest(self.data_dir)
        for key, digest in (self.frames or {}).items():
            manifest.setdefault("files", {})[self._FRAME_FILES[key]] = {
                "sha256": digest, "source": "from_frames"}
        return manifest

    def verify(self) -> None:
        """Check every file against the sha256 and row count in ``manifest.json``.

        Raises
        ------
        MarketDataError
            Listing every file that is missing or differs from the manifest.
        """
        problems = []
        for name, entry in self.manifest()["files"].items():
            if entry.get("source") == "from_frames":
                continue  # checked when the frames were given
            path = self.data_dir / name
            if not path.is_file():
                problems.append(f"{name}: missing")
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != entry["sha256"]:
                problems.append(f"{name}: sha256 {digest[:12]}… != manifest "
                                f"{entry['sha256'][:12]}…")
        if problems:
            raise MarketDataError(f"market data in {self.data_dir} does not match its "
                                  "manifest:\n  " + "\n  ".join(problems) + f"\n{_REBUILD}")

    def price_provenance(self) -> pd.DataFrame:
        """Per stock ticker: source panel, splice date, scale ratio and coverage."""
        return self._read("price_provenance.parquet")

    def etf_info(self) -> pd.DataFrame:
        """Per ETF: category, tracked GICS sector (sector funds), note and coverage."""
        return self._read("etf_info.parquet")

    def tbill_10y(self) -> pd.DataFrame:
        """Daily ^IRX (13-week bill, discount yield) and ^TNX (10-year), in percent."""
        return self._read("tbill_10y_yahoo.parquet")

    def ff5_daily(self) -> pd.DataFrame:
        """Fama-French 5 factors, daily, decimal returns per day."""
        return self._read("ff5_daily.parquet")

    def ff_mom_monthly(self) -> pd.DataFrame:
        """Fama-French 5 factors plus momentum, monthly (month-end dates), decimals."""
        return self._read("ff_mom_monthly.parquet")

    def corporate_actions(self, tickers: str | Iterable[str] | None = None) -> pd.DataFrame:
        """AlphaVantage dividends and splits 1999-2021, optionally for some tickers only.

        Parameters
        ----------
        tickers : str | Iterable[str] | None
            Tickers to keep (default: all).

        Returns
        -------
        pd.DataFrame
            Columns ``date`` (ex-date), ``ticker``, ``dividend`` (USD per share) and
            ``split_coefficient`` (2.0 = 2-for-1).
        """
        table = self._read("corporate_actions.parquet")
        if tickers is None:
            return table
        names = [tickers] if isinstance(tickers, str) else list(tickers)
        return table[table.ticker.isin(names)].reset_index(drop=True)

    def membership(self) -> pd.DataFrame:
        """S&P 500 membership intervals (``ticker, start_date, end_date``; NaT = open)."""
        return self.universe.membership()

    def qa_flags(self) -> pd.DataFrame:
        """Days where two price panels' returns differ by more than 5 percentage points."""
        return self._read("price_qa_flags.parquet")

    def gics_structure(self, vintage: str = "2023") -> pd.DataFrame:
        """The GICS structure, one row per sub-industry.

        Parameters
        ----------
        vintage : str
            ``"2023"`` (2023-03-18 structure) or ``"2018"`` (2018-09-29 structure).

        Returns
        -------
        pd.DataFrame
            Codes (text) and names of sector, industry group, industry and sub-industry.

        Raises
        ------
        DataError
            For another vintage.
        """
        if vintage not in ("2023", "2018"):
            raise DataError(f"unknown GICS vintage {vintage!r}; use '2023' or '2018'")
        return self._read(f"gics_structure_{vintage}.parquet")


def _read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / "manifest.json"
    if not path.is_file():
        raise MarketDataError(f"no manifest.json in {folder}; {_REBUILD}")
    return json.loads(path.read_text())


@functools.lru_cache(maxsize=8)
def _load(folder: str) -> MarketData:
    root = Path(folder)
    if not root.is_dir():
        raise MarketDataError(f"market data folder {root} does not exist; {_REBUILD}")
    manifest = _read_manifest(root)
    missing = [n for n in MARKET_FILES if not (root / n).is_file()]
    unlisted = [n for n in MARKET_FILES if n not in manifest.get("files", {})]
    if missing or unlisted:
        raise MarketDataError(f"market data in {root} is incomplete (missing files: "
                              f"{missing or 'none'}; not in manifest: {unlisted or 'none'}); "
                              f"{_REBUILD}")

    def read(name: str) -> pd.DataFrame:
        return _read_table(str(root / name))

    try:
        universe = _check_universe(read("universe.parquet"), f"{root}/universe.parquet")
        stocks = _check_prices(read("prices.parquet"), f"{root}/prices.parquet")
        etfs = _check_prices(read("etf_prices.parquet"), f"{root}/etf_prices.parquet")
    except DataError as err:
        raise MarketDataError(f"{err}; {_REBUILD}") from None
    membership = read("membership_intervals.parquet")
    index = read("sp500_index.parquet").set_index("date")
    curve = read("treasury_par_curve.parquet").set_index("date")
    if tuple(curve.columns) != TENORS:
        raise MarketDataError(f"treasury_par_curve.parquet has columns {list(curve.columns)}, "
                              f"expected {list(TENORS)}; {_REBUILD}")
    vintages = Vintages.from_manifest(manifest, root)
    return MarketData(
        data_dir=root,
        vintages=vintages,
        universe=Universe(_table=universe, _membership=membership,
                          _snapshot=vintages.membership_snapshot),
        prices=PriceHistory(name="stocks", _table=_read_only_frame(stocks)),
        etfs=PriceHistory(name="etfs", _table=_read_only_frame(etfs)),
        index=IndexSeries(_table=index),
        treasury=TreasuryCurve(_table=curve),
    )


def load_market(data_dir: Path | str | None = None) -> MarketData:
    """Load the packaged market data (cached per resolved folder).

    Parameters
    ----------
    data_dir : Path | str | None
        Folder holding the parquet files and ``manifest.json``; default
        :func:`pma_lab.paths.market_dir` (``$PMA_LAB_DATA/market`` or
        ``<repo>/data/samples/market``).

    Returns
    -------
    MarketData
        The same object for the same folder until :func:`clear_market_cache` is called.

    Raises
    ------
    MarketDataError
        If the folder, its manifest or one of :data:`MARKET_FILES` is missing or unreadable.
    """
    folder = Path(data_dir) if data_dir is not None else market_dir()
    return _load(str(folder.resolve()))


def clear_market_cache() -> None:
    """Forget every loaded folder and file (e.g. after rebuilding the data in place)."""
    _load.cache_clear()
    _read_table.cache_clear()


def known_tickers() -> frozenset[str]:
    """Tickers pma_lab has data for: the stock universe plus the ETFs (packaged data)."""
    m = load_market()
    return frozenset(m.universe.tickers) | frozenset(m.etfs.tickers)
