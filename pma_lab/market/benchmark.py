"""The S&P 500 proxy benchmark: cap weights rolled with prices, as of any date.

No official S&P 500 weights or share counts are available under an open license
(SOURCES.md §8), so the proxy is built from what is:

* **Members** at the date: the membership intervals (1996-2025-11) or, after their last
  snapshot, the 2026-08-08 constituent list; only names with a price on the date can be
  held, and members without one are listed in :attr:`Benchmark.missing` (survivorship:
  the price panels hold only names that survived to their snapshot).
* **Weights**: market cap at the date = an anchor cap x price(date) / price(anchor), i.e.
  shares held constant since the anchor. The anchor is the 2018-02-08 cap where the
  name has one (and a price that day); otherwise the 2026 snapshot's cap, anchored at
  2026-07-31 (that file's prices are from mixed dates in 2025-26: an approximation).
  Renamed companies use their predecessor ticker's 2018 cap (same SEC CIK). Share classes
  of one company (GOOG/GOOGL, FOX/FOXA, NWS/NWSA) each carry the whole company's cap in
  the snapshots, so the company cap is split equally between them. These are full caps,
  not float-adjusted index weights.

A user-supplied weights file (``ticker, weight`` and optionally ``date``) can replace the
proxy (:func:`benchmark_from_file`; the profile's ``target.benchmark_file``); it is
validated like every input (every problem with file, row, column and fix) and never
renormalised silently.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from pma_lab.errors import BenchmarkFileError, DataError, Issue, PriceDataError, Severity
from pma_lab.market.data import MarketData, load_market, to_timestamp
from pma_lab.market.tickers import TickerSuggester, normalize_ticker
from pma_lab.schema import Field
from pma_lab.tables import header_names, map_columns, read_table

__all__ = ["Benchmark", "sp500_proxy", "benchmark_from_file", "read_benchmark_weights",
           "client_benchmark", "BENCHMARK_FIELDS", "proxy_tracking_report"]

MIN_NAMES = 200
PROXY_NAME = "S&P 500 proxy"


@dataclass(frozen=True)
class Benchmark:
    """Benchmark weights at a date.

    Attributes
    ----------
    as_of : datetime.date
    weights : pd.Series
        Weights by ticker, summing to 1 (read-only copy).
    caps : pd.Series
        The market caps behind the weights (USD), same index.
    anchor : pd.Series
        Which anchor each cap comes from (``"2018-02-08"`` / ``"2026 snapshot"`` / ``"file"``).
    missing : pd.DataFrame
        Members left out and why (no price on the date, no cap anchor).
    name : str
    """

    as_of: dt.date | None
    weights: pd.Series
    caps: pd.Series
    anchor: pd.Series
    missing: pd.DataFrame
    name: str = PROXY_NAME

    @property
    def label(self) -> str:
        """The benchmark's name in client words: ``S&P 500`` for the proxy, else its name.

        What the proposal, the dashboard and the command line call the benchmark
        (through :func:`pma_lab.report.labels.benchmark_label`).
        """
        return "S&P 500" if self.name == PROXY_NAME else self.name

    @property
    def tickers(self) -> list[str]:
        """Constituents in weight order (largest first)."""
        return list(self.weights.index)

    def restricted_to(self, tickers) -> Benchmark:
        """The benchmark over the given tickers only, rescaled to one.

        Used to restrict the proxy to the names a risk model covers; the names left out are
        added to :attr:`missing` with the reason (the rescaling is therefore visible).
        """
        keep = [t for t in self.weights.index if t in set(tickers)]
        out = [t for t in self.weights.index if t not in set(keep)]
        w = self.weights.reindex(keep)
        miss = pd.concat([self.missing, pd.DataFrame(
            {"ticker": out, "reason": "not covered (no price history for the risk model)"})],
            ignore_index=True) if out else self.missing
        return Benchmark(self.as_of, w / w.sum(), self.caps.reindex(keep),
                         self.anchor.reindex(keep), miss, self.name)

    @classmethod
    def from_weights(cls, frame: pd.DataFrame | pd.Series | Mapping[str, float], *,
                     as_of: dt.date | str | None = None, name: str = "custom",
                     known: set[str] | None = None, tolerance: float = 1e-6,
                     source: str = "benchmark weights") -> Benchmark:
        """A researcher's own benchmark from weights.

        Parameters
        ----------
        frame : pd.DataFrame | pd.Series | Mapping[str, float]
            Columns ``ticker`` and ``weight`` (or a Series or dict of weights by ticker). Weights
            are numbers (not text such as ``"0.6"``) >= 0 and sum to 1 within
            ``tolerance``: they are never rescaled.
        as_of : datetime.date | str | None
            The date of the weights; ``None``: undated (:func:`pma_lab.optimize.engine.prepare`
            then takes them as of the client's date).
        name : str
            Shown in reports.
        known : set[str] | None
            Tickers accepted (default: the packaged universe).
        tolerance : float
            How far from 1 the weights may sum.
        source : str
            Named in error messages (a file name, for example).

        Returns
        -------
        Benchmark

        Raises
        ------
        DataError
            Naming each bad row (spreadsheet numbering: header = row 1) and the fix.
        """
        return _from_weights(cls, frame, as_of=as_of, name=name, known=known,
                             tolerance=tolerance, source=source)

    def top(self, n: int) -> pd.Series:
        """The ``n`` largest names by weight, rescaled to sum to one (the naive portfolio)."""
        w = self.weights.nlargest(n)
        return w / w.sum()


def _members(m: MarketData, day: pd.Timestamp) -> list[str]:
    v = m.vintages
    if day <= v.membership_snapshot:
        return list(m.universe.members(day))
    f = m.universe.frame()
    col = f[v.constituents_column].astype(bool)
    return sorted(f.index[col] if "ticker" not in f else f.ticker[col])



def sp500_proxy(as_of: dt.date | str, market: MarketData | None = None) -> Benchmark:
    """The S&P 500 proxy benchmark at ``as_of`` (see the module docs).

    Built once per date and data folder and then served from a cache (the Benchmark is
    frozen and its Series are copies, so callers cannot corrupt it).

    Raises
    ------
    PriceDataError
        When fewer than 200 members can be priced and weighted at the date.
    """
    m = market or load_market()
    if m.frames is not None:  # a researcher's own frames: never the folder's cached proxy
        return _build_proxy(to_timestamp(as_of), m)
    b = _proxy_cached(to_timestamp(as_of), str(m.data_dir))
    return replace(b, weights=b.weights.copy(), caps=b.caps.copy(), anchor=b.anchor.copy(),
                   missing=b.missing.copy())


@functools.lru_cache(maxsize=64)
def _proxy_cached(day: pd.Timestamp, data_dir: str) -> Benchmark:
    return _build_proxy(day, load_market(data_dir))


def _build_proxy(as_of: pd.Timestamp, market: MarketData) -> Benchmark:
    """Build the S&P 500 proxy benchmark at ``as_of`` (see the module docs).

    Raises
    ------
    PriceDataError
        When fewer than 200 members can be priced and weighted at the date.
    """
    m = market or load_market()
    day = to_timestamp(as_of)
    members = _members(m, day)
    uni = m.universe.frame()
    if "ticker" in uni:
        uni = uni.set_index("ticker")
    priced_members = [t for t in members if t in m.prices]
    last = m.prices.last_valid(day, priced_members)
    fresh = last[last.staleness_days <= 5]
    # the data's cap anchors (manifest vintages): the first preferred, with renamed
    # companies' caps found under their old ticker by CIK; the second as a fallback
    first, second = m.vintages.cap_anchors[:2]
    p18 = m.prices.last_valid(first.price_date, priced_members)
    p26 = m.prices.last_valid(second.price_date, priced_members)
    cap18 = uni[first.column]
    cap26 = uni[second.column]
    by_cik18 = {c: v for c, v in zip(uni.cik, cap18, strict=True) if pd.notna(v) and
                pd.notna(c)}
    rows: dict[str, tuple[str, float]] = {}
    missing: list[tuple[str, str]] = []
    for t in members:
        if t not in fresh.index:
            if t not in m.prices:
                why = "no price series (the packaged panels hold survivors only)"
            elif pd.notna(last.loc[t, "date"]):
                why = f"last price {last.loc[t, 'date']:%Y-%m-%d}, stale on the date"
            else:
                why = "no price on or before the date"
            missing.append((t, why))
            continue
        p_now = float(fresh.loc[t, "close"])
        cik = uni.at[t, "cik"] if t in uni.index else None
        c18 = cap18.get(t, np.nan)
        src = first.label
        if pd.isna(c18) and cik in by_cik18:
            c18, src = by_cik18[cik], f"{first.label} (predecessor ticker, same CIK)"
        anchor = None
        if pd.notna(c18) and t in p18.index and p18.staleness_days.get(t, 99) <= 5:
            anchor = (src, float(c18) * p_now / float(p18.close[t]))
        elif (pd.notna(cap26.get(t, np.nan)) and p26 is not None and t in p26.index
              and p26.staleness_days.get(t, 99) <= 5):
            # rolled back (or forward) from the 2026 snapshot: the further from 2026, the
            # rougher; listed in .anchor so it can be audited
            anchor = (second.label, float(cap26[t]) * p_now / float(p26.close[t]))
        if anchor is None:
            missing.append((t, f"no market cap anchor (not in the {first.label} or "
                               f"{second.label} caps)"))
            continue
        rows[t] = anchor
    # share classes (one CIK, several tickers): the snapshots give each class the whole
    # company's cap, so split it equally between the classes held in the index
    ciks: dict[object, list[str]] = {}
    for t in rows:
        ciks.setdefault(uni.at[t, "cik"], []).append(t)
    for group in ciks.values():
        if len(group) > 1:
            company = float(np.mean([rows[t][1] for t in group]))
            for t in group:
                rows[t] = (rows[t][0] + f"; split 1/{len(group)} across share classes",
                           company / len(group))
    if len(rows) < MIN_NAMES:
        first_day, last_day = m.prices.first_date, m.prices.last_date
        if day > last_day:
            advice = f"choose a date on or before {last_day:%Y-%m-%d}"
        else:
            advice = "choose a later date"
        raise PriceDataError(
            f"only {len(rows)} S&P 500 members can be priced and weighted on "
            f"{day:%Y-%m-%d} (the packaged prices cover {first_day:%Y-%m-%d} to "
            f"{last_day:%Y-%m-%d} and hold survivors only); {advice} or "
            "supply benchmark weights from a file")
    caps = pd.Series({t: c for t, (_, c) in rows.items()}, dtype=float)
    anchors = pd.Series({t: a for t, (a, _) in rows.items()})
    caps = caps.sort_values(ascending=False)
    w = caps / caps.sum()
    miss = pd.DataFrame(missing, columns=["ticker", "reason"])
    return Benchmark(day.date(), w, caps, anchors.reindex(caps.index), miss)


BENCHMARK_FIELDS: tuple[Field, ...] = (
    Field("ticker", True, ("symbol", "ticker symbol", "security symbol"),
          "exchange ticker, e.g. AAPL or BRK.B"),
    Field("weight", True, ("index weight", "benchmark weight"),
          "weight as a fraction (0.0123 for 1.23 %); each date's weights sum to 1"),
    Field("date", False, ("as of", "as_of", "effective date", "rebalance date"),
          "date the weights take effect (YYYY-MM-DD); optional for a single set"),
)
"""Columns of a benchmark weights file (header aliases as in :mod:`pma_lab.schema`)."""

_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _weights_issue(file: str, code: str, message: str, fix: str, row: int | None = None,
                   column: str | None = None, value: object = None) -> Issue:
    return Issue(file, row, column, None if value is None else str(value)[:40], message, fix,
                 Severity.ERROR, code)


def read_benchmark_weights(path: str | Path, known: Collection[str] | None = None,
                           tolerance: float = 1e-6) -> pd.DataFrame:
    """Read and validate a benchmark weights file (``ticker, weight[, date]``).

    The file is read as strictly as a lots file (:func:`pma_lab.tables.read_table`:
    encoding, delimiter, formulas, hidden content). Each row needs a known ticker and a
    weight between 0 and 1 (a fraction, not percent); the optional ``date`` column
    (YYYY-MM-DD, 1900-2100) lets one file hold the weights of several dates (the model
    portfolio's updates). A ticker appears once per date and each date's weights sum to 1
    within ``tolerance``: weights are never rescaled.

    Returns
    -------
    pd.DataFrame
        Columns ``date`` (Timestamp, NaT without a date column), ``ticker``, ``weight``,
        ``row`` (the spreadsheet row); ``attrs["columns"]``: each column's header in the
        file (for messages naming it).

    Raises
    ------
    BenchmarkFileError
        Listing every problem with its row, column, value and fix.
    """
    file = str(path)
    table, issues = read_table(path, BENCHMARK_FIELDS)
    errors = [i for i in issues if i.severity is Severity.ERROR]
    if table is None or errors:
        raise BenchmarkFileError(file, issues)
    cols, more = map_columns(table, BENCHMARK_FIELDS)
    issues += more
    for f in BENCHMARK_FIELDS:
        if f.required and f.name not in cols:
            issues.append(_weights_issue(
                file, "missing_column", f"no '{f.name}' column (has "
                f"{header_names(list(table.header), BENCHMARK_FIELDS)})",
                f"add a '{f.name}' column: {f.help}", row=table.header_row))
    if any(i.severity is Severity.ERROR for i in issues):
        raise BenchmarkFileError(file, issues)
    if known is None:
        from pma_lab.market.data import known_tickers

        known = known_tickers()
    head = table.header
    rows = []
    for cells, num in zip(table.rows, table.row_numbers, strict=True):
        raw_t = cells[cols["ticker"]]
        sp = normalize_ticker(raw_t)
        tcol = head[cols["ticker"]]
        ticker = None
        if not raw_t:
            issues.append(_weights_issue(file, "missing_value", "the ticker is blank",
                                         "fill in the ticker or delete the row", num, tcol))
        elif not sp.valid:
            issues.append(_weights_issue(file, "invalid_ticker", f"{raw_t!r} is not a ticker",
                                         "write the exchange ticker", num, tcol, raw_t))
        elif sp.ticker not in known:
            issues.append(_weights_issue(file, "unknown_ticker",
                                         f"unknown ticker {sp.ticker!r}",
                                         "check the symbol; pma_lab has prices for S&P 500 "
                                         "stocks and the packaged ETFs only", num, tcol,
                                         raw_t))
        else:
            ticker = sp.ticker
        raw_w = cells[cols["weight"]]
        wcol = head[cols["weight"]]
        weight = None
        try:
            w = float(raw_w)
        except ValueError:
            issues.append(_weights_issue(file, "not_a_number", "the weight is not a number",
                                         "write the weight as a decimal fraction, e.g. "
                                         "0.0123", num, wcol, raw_w))
        else:
            if not math.isfinite(w) or w < 0:
                issues.append(_weights_issue(file, "invalid_weight",
                                             f"weight {raw_w!r} must be a number >= 0",
                                             "write a fraction between 0 and 1", num, wcol,
                                             raw_w))
            elif w > 1:
                issues.append(_weights_issue(file, "weight_above_one",
                                             f"weight {raw_w!r} is above 1",
                                             "weights are fractions: write 1.5 % as 0.015",
                                             num, wcol, raw_w))
            else:
                weight = w
        day = pd.NaT
        if "date" in cols:
            raw_d = cells[cols["date"]]
            dcol = head[cols["date"]]
            try:
                if not _ISO_DAY.match(raw_d):
                    raise ValueError
                d = dt.date.fromisoformat(raw_d)
                if not 1900 <= d.year <= 2100:
                    raise ValueError
                day = pd.Timestamp(d)
            except ValueError:
                issues.append(_weights_issue(file, "invalid_date",
                                             f"{raw_d!r} is not a date between 1900 and "
                                             "2100", "write the date as YYYY-MM-DD", num,
                                             dcol, raw_d))
                day = None
        if ticker is not None and weight is not None and day is not None:
            rows.append((day, ticker, weight, num))
    df = pd.DataFrame(rows, columns=["date", "ticker", "weight", "row"])
    day_text = pd.to_datetime(df.date).dt.strftime("%Y-%m-%d").fillna("")  # "": no date
    key = day_text + "|" + df.ticker
    for _, g in df[key.duplicated(keep=False)].groupby(key[key.duplicated(keep=False)]):
        issues.append(_weights_issue(
            file, "duplicate_ticker", f"duplicate tickers: {g.ticker.iat[0]} appears on rows "
            f"{', '.join(map(str, g.row))}" + (f" for {g.date.iat[0]:%Y-%m-%d}"
                                              if pd.notna(g.date.iat[0]) else ""),
            "keep one row per ticker and date", int(g.row.iat[1]),
            head[cols["ticker"]], g.ticker.iat[0]))
    if not any(i.severity is Severity.ERROR for i in issues):
        for day, g in df.groupby(day_text, sort=True):
            total = float(g.weight.sum())
            if abs(total - 1.0) > tolerance:
                when = f" on {day}" if day else ""
                issues.append(_weights_issue(
                    file, "weights_do_not_sum_to_one",
                    f"weights{when} sum to {total:.6g}, not 1 (rows {int(g.row.min())}-"
                    f"{int(g.row.max())})",
                    f"make them sum to 1 ({'short' if total < 1 else 'over'} by "
                    f"{abs(1 - total):.6g}; pma_lab does not rescale benchmark weights)",
                    column=head[cols["weight"]]))
    if any(i.severity is Severity.ERROR for i in issues):
        raise BenchmarkFileError(file, issues)
    df.attrs["columns"] = {k: head[j] for k, j in cols.items()}  # the file's own headers
    return df


def benchmark_from_file(path: str | Path, as_of: dt.date | str,
                        known: Collection[str] | None = None, tolerance: float = 1e-6
                        ) -> Benchmark:
    """The benchmark in a weights file (``ticker, weight[, date]``) at ``as_of``.

    With a ``date`` column the weights of the latest date on or before ``as_of`` are used
    (a model updated on dates); see :func:`read_benchmark_weights` for the checks.

    Raises
    ------
    BenchmarkFileError
        For any problem in the file (every one listed), or when every date in it is after
        ``as_of``.
    """
    df = read_benchmark_weights(path, known, tolerance)
    day = to_timestamp(as_of)
    name = Path(path).stem
    if df.date.notna().any():
        dates = sorted(df.date.unique())
        use = [d for d in dates if d <= day]
        if not use:
            raise BenchmarkFileError(str(path), [_weights_issue(
                str(path), "no_weights_at_date", f"the first date in the file is "
                f"{dates[0]:%Y-%m-%d}, after {day:%Y-%m-%d}",
                "add the weights in force on that date, or choose a later as_of")])
        pick = use[-1]
        df = df[df.date == pick]
        name = f"{name} ({pick:%Y-%m-%d})"
    w = df.set_index("ticker").weight.astype(float).sort_values(ascending=False)
    return Benchmark(day.date(), w, w.copy(), pd.Series("file", index=w.index),
                     pd.DataFrame(columns=["ticker", "reason"]), name=name)


def client_benchmark(profile: object, as_of: dt.date | str,
                     market: MarketData | None = None) -> Benchmark:
    """The client's benchmark: the profile's ``target.benchmark_file``, else the proxy."""
    path = getattr(getattr(profile, "target", None), "benchmark_file", None)
    if path is not None:
        return benchmark_from_file(path, as_of)
    return sp500_proxy(as_of, market)


def _from_weights(cls: type[Benchmark], frame: pd.DataFrame | pd.Series | Mapping[str, float],
                  *,
                  as_of: dt.date | str | None = None, name: str = "custom",
                  known: set[str] | None = None, tolerance: float = 1e-6,
                  source: str = "benchmark weights") -> Benchmark:
    """Benchmark weights given by the user (see :meth:`Benchmark.from_weights`)."""
    if isinstance(frame, Mapping):  # {ticker: weight}, as prepare(target=...) takes
        frame = pd.Series(dict(frame), dtype=object)
    if not isinstance(frame, (pd.Series, pd.DataFrame)):
        raise DataError(f"{source}: weights must be a DataFrame with columns 'ticker' and "
                        f"'weight', a Series or a dict of weights by ticker, not "
                        f"{type(frame).__name__}")
    if isinstance(frame, pd.Series):
        frame = pd.DataFrame({"ticker": frame.index.astype(str), "weight": frame.to_numpy()})
    df = frame.reset_index(drop=True)
    if {"ticker", "weight"} - set(df.columns):
        raise DataError(f"{source}: needs columns 'ticker' and 'weight' (has "
                        f"{list(df.columns)})")
    problems = []
    known = known if known is not None else set(load_market().universe.tickers)
    weight = pd.to_numeric(df.weight, errors="coerce")
    suggest = TickerSuggester(known, n=3)
    for i, (t, w, raw) in enumerate(zip(df.ticker, weight, df.weight, strict=True)):
        row = i + 2  # as a spreadsheet shows it (header = row 1)
        if t not in known:
            # the canonical spelling (aapl, BRK-B -> BRK.B) when that is known, else the
            # closest known ticker; the weights are never re-keyed silently
            canon = normalize_ticker(t).ticker
            near = (canon,) if canon in known else suggest(canon or str(t))
            hint = f" (did you mean {' or '.join(map(repr, near))}?)" if near else ""
            problems.append(f"row {row}: unknown ticker {t!r}{hint}")
        if isinstance(raw, (str, bytes, bool, np.bool_)):  # was read as a number silently
            problems.append(f"row {row}: weight {raw!r} is a {type(raw).__name__}, not a "
                            "number; give weights as numbers (0.05 for 5 %): read a CSV "
                            "column with pd.to_numeric(column) or dtype=float")
        elif not np.isfinite(w) or w < 0:
            problems.append(f"row {row}: weight {raw!r} must be a number >= 0")
    if df.ticker.duplicated().any():
        problems.append("duplicate tickers: " + ", ".join(df.ticker[df.ticker.duplicated()]))
    total = float(weight.sum())
    if abs(total - 1.0) > tolerance:
        problems.append(f"weights sum to {total:.6g}, not 1; make them sum to 1 "
                        f"({'short' if total < 1 else 'over'} by {abs(1 - total):.6g}; "
                        "pma_lab does not rescale benchmark weights)")
    if any("unknown ticker" in p for p in problems):
        problems.append("an unknown ticker is not in the packaged universe (pma-lab data) "
                        "or the risk model: correct it, or for names of your own pass "
                        "known=<your tickers> (e.g. known=set(my_risk.tickers))")
    if problems:
        raise DataError(f"{source}: " + "; ".join(problems))
    w = pd.Series(weight.to_numpy(dtype=float), index=df.ticker.astype(str).to_numpy(),
                  name="weight").sort_values(ascending=False, kind="stable")
    day = to_timestamp(as_of).date() if as_of is not None else None
    return cls(day, w, w.copy(), pd.Series("file", index=w.index),
               pd.DataFrame(columns=["ticker", "reason"]), name=name)


def proxy_tracking_report(start: str, end: str, rebalance: str = "QS",
                          market: MarketData | None = None) -> pd.DataFrame:
    """How well the proxy tracks the S&P 500: yearly return and tracking error.

    The proxy is rebuilt at each rebalance date and held in between (drifting with prices).
    It is compared with SPY's adjusted close (a total-return series with a small expense
    drag) and with the S&P 500 price index (which excludes dividends, so the difference
    includes the dividend yield).

    Returns
    -------
    pd.DataFrame
        One row per calendar year: proxy, SPY and index returns, and annualised tracking
        error of the proxy against SPY and against the index.
    """
    m = market or load_market()
    days = m.prices.window(start, end).index
    rebal = pd.date_range(start, end, freq=rebalance)
    proxy_ret = pd.Series(np.nan, index=days)
    for i, r0 in enumerate(rebal):
        r1 = rebal[i + 1] if i + 1 < len(rebal) else pd.Timestamp(end)
        b = sp500_proxy(r0, m)
        px = m.prices.window(r0, r1, list(b.weights.index))
        rets = px.pct_change(fill_method=None).iloc[1:]
        held = (px.iloc[:-1].div(px.iloc[0]) * b.weights).fillna(0.0)
        wts = held.div(held.sum(axis=1), axis=0)
        pr = (wts.to_numpy() * rets.fillna(0.0).to_numpy()).sum(axis=1)
        proxy_ret.loc[rets.index] = pr
    spy = m.etfs.window(start, end, ["SPY"])["SPY"].pct_change(fill_method=None)
    idx = m.index.window(start, end).pct_change(fill_method=None)
    df = pd.DataFrame({"proxy": proxy_ret, "spy": spy, "index": idx}).dropna()
    out = []
    for y, g in df.groupby(df.index.year):
        out.append({
            "year": y,
            "proxy_return": float((1 + g.proxy).prod() - 1),
            "spy_return": float((1 + g.spy).prod() - 1),
            "index_return": float((1 + g["index"]).prod() - 1),
            "te_vs_spy": float((g.proxy - g.spy).std() * np.sqrt(252)),
            "te_vs_index": float((g.proxy - g["index"]).std() * np.sqrt(252)),
            "days": len(g),
        })
    return pd.DataFrame(out)
