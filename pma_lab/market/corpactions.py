"""Raw prices and corporate actions: the price view for tax work.

The packaged ``prices.parquet`` holds split- and dividend-adjusted closes on a recent base:
right for returns, wrong for tax lots (a 2020 AMZN close there is 1/20 of the exchange
close, and no dividend is ever paid). This module gives the raw view used by the backtest
(:mod:`pma_lab.plan.backtest`) and by anything valuing lots at a past date:

* **events** (``raw_events.parquet``, built by ``scripts/build_raw_prices.py``): one row per
  corporate action: cash ``dividend`` (USD per share on the ex-date), ``split`` (new shares
  per old share) and ``share_factor`` (a value-preserving share change: spin-offs and data
  repairs);
* **raw closes** = adjusted close x ``K(t)``, where ``K`` is a step function rebuilt from the
  events backwards from the series' last date (``K = 1`` there, where the adjusted close is
  the exchange close). Across an ex-date ``t`` with split ``s``, share factor ``f`` and cash
  ``d``: ``K(t-1) = K(t) * s * f * (1 + d / c(t))`` with ``c(t)`` the raw close. By
  construction a holder's total return ``s f (c(t) + d) / c(t-1)`` equals the adjusted
  return exactly, so shares, cash and value always agree with the packaged returns.

How exact it is (``raw_provenance.parquet`` has it per ticker): before 2021-04-21 the
events are AlphaVantage's (repaired where they contradict the returns) and the rebuilt raw
close is within ``raw_err_median`` (typically a few basis points) of the AlphaVantage
exchange close; after 2021-04-21 the splits come from the ratio raw/adjusted and their
dates from a curated list checked against that ratio (``split_dates`` column), else they
are **approximated** as one event on 2021-04-22; dividends after 2021-04-21 are
**approximated** (the year-before ex-dates repeated, sized so that together they make the
observed ratio). Names without AlphaVantage data (``raw_source == "adjusted_only"``) have
no events: their dividends stay inside the price (never paid, never taxed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pma_lab.errors import MarketDataError
from pma_lab.market.data import DateLike, MarketData, load_market, to_timestamp

__all__ = ["EVENT_COLUMNS", "EVENT_KINDS", "CorporateActions", "load_corporate_actions",
           "raw_factors"]

EVENT_COLUMNS = ["date", "ticker", "kind", "amount", "source", "note"]
"""Columns of ``raw_events.parquet``."""

EVENT_KINDS = ("dividend", "split", "share_factor")
"""Kinds of corporate action in the events table."""

RECENT_DAYS = 31
"""Approximated dividends (``source == "derived"``: the year-before ex-dates repeated) dated
within this many days of the prices' last date are not applied to valuations
(:meth:`CorporateActions.to_raw`): their ex-date may as well fall after the data ends, in
which case the packaged close before it already is the exchange close. Every other event
applies (a split there is dated and always applies)."""

EVENTS_FILE = "raw_events.parquet"
PROVENANCE_FILE = "raw_provenance.parquet"


def check_events(events: pd.DataFrame, where: str) -> pd.DataFrame:
    """Check an events table once at the boundary (columns, kinds, positive amounts).

    Raises
    ------
    MarketDataError
        Naming the file, the row and the column, and how to fix it.
    """
    missing = [c for c in EVENT_COLUMNS if c not in events.columns]
    if missing:
        raise MarketDataError(f"{where}: missing columns {missing}; rebuild it with "
                              "scripts/build_raw_prices.py")
    bad_kind = ~events["kind"].isin(EVENT_KINDS)
    if bad_kind.any():
        i = int(np.flatnonzero(bad_kind.to_numpy())[0])
        raise MarketDataError(f"{where}, row {i}, column 'kind': {events['kind'].iloc[i]!r} "
                              f"is not one of {EVENT_KINDS}; rebuild the file")
    amt = events["amount"].to_numpy(dtype=float)
    bad = ~np.isfinite(amt) | (amt <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise MarketDataError(f"{where}, row {i}, column 'amount': {amt[i]!r} must be a "
                              "positive number; rebuild the file")
    return events


def raw_factors(adjusted: pd.Series, events: pd.DataFrame) -> pd.Series:
    """The step function ``K = raw / adjusted`` of one ticker (see the module docs).

    Parameters
    ----------
    adjusted : pd.Series
        Adjusted closes (date index, NaN where not traded).
    events : pd.DataFrame
        The ticker's events (``date``, ``kind``, ``amount``).

    Returns
    -------
    pd.Series
        ``K`` on the same index (1 on and after the last event; NaN where no close).
    """
    px = adjusted.to_numpy(dtype=float)
    idx = adjusted.index
    k = np.ones(len(px))
    valid = np.isfinite(px)
    if not valid.any() or events.empty:
        return pd.Series(np.where(valid, k, np.nan), index=idx)
    pos = idx.searchsorted(events["date"].to_numpy())
    kinds = events["kind"].to_numpy()
    amounts = events["amount"].to_numpy(dtype=float)
    # group events by position, walk backwards
    order = np.argsort(-pos, kind="stable")
    cur = 1.0
    mult_at: dict[int, float] = {}
    i = 0
    n = len(order)
    while i < n:
        p = int(pos[order[i]])
        share, cash = 1.0, 0.0
        while i < n and int(pos[order[i]]) == p:
            j = order[i]
            if kinds[j] == "dividend":
                cash += amounts[j]
            else:
                share *= amounts[j]
            i += 1
        if p >= len(px) or p == 0:
            continue
        c = px[p] * cur if np.isfinite(px[p]) else np.nan
        m = share * (1.0 + cash / c) if cash and np.isfinite(c) and c > 0 else share
        cur *= m
        mult_at[p] = cur
    # K(t) for t < p is the cumulative product of every event after t
    steps = sorted(mult_at)
    for a, b in zip([0, *steps], [*steps, len(px)], strict=True):
        if b == len(px):
            k[a:b] = 1.0
        else:
            k[a:b] = mult_at[b]
    return pd.Series(np.where(valid, k, np.nan), index=idx)


@dataclass(frozen=True)
class CorporateActions:
    """Raw closes, corporate actions and their provenance (see the module docs).

    Attributes
    ----------
    events : pd.DataFrame
        ``date, ticker, kind, amount, source, note``.
    provenance : pd.DataFrame
        Per ticker: ``raw_source``, ``raw_err_median``, ``raw_err_max``, what was inferred.
    factors : pd.DataFrame
        Wide ``K = raw / adjusted`` (date x ticker).
    adjusted : pd.DataFrame
        The packaged adjusted closes the factors apply to.
    """

    events: pd.DataFrame
    provenance: pd.DataFrame
    factors: pd.DataFrame
    adjusted: pd.DataFrame = field(repr=False)
    valuation_factors: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    """``K`` without the approximated dividends of the data's last :data:`RECENT_DAYS`
    (only the tickers that have any; see :meth:`to_raw`)."""

    @property
    def raw(self) -> pd.DataFrame:
        """Raw (exchange) closes, wide: adjusted x K."""
        return self.adjusted * self.factors

    def raw_close(self, ticker: str, date: DateLike) -> float:
        """The raw close of ``ticker`` on ``date`` (a trading day with a close)."""
        day = to_timestamp(date, "date")
        if ticker not in self.adjusted.columns:
            raise MarketDataError(f"no prices for ticker '{ticker}'; check the spelling "
                                  "or run `pma-lab data`")
        try:
            v = float(self.adjusted.at[day, ticker] * self.factors.at[day, ticker])
        except KeyError:
            raise MarketDataError(f"{day:%Y-%m-%d} is not a trading day in the prices; "
                                  "use a trading day") from None
        if not np.isfinite(v):
            raise MarketDataError(f"{ticker} has no close on {day:%Y-%m-%d}")
        return v

    def to_raw(self, adjusted_prices: pd.Series, date: DateLike) -> pd.Series:
        """Convert adjusted closes as of ``date`` (ticker index) to raw closes.

        This is the price a client saw that day, for valuing lots, gains and whole-share
        quantities. Each ticker's close is taken to be its last close on or before
        ``date`` (what :meth:`pma_lab.market.data.PriceHistory.at` returns, also when that
        close is a few days stale), so it is scaled by the factor of that close's day.
        Approximated dividends of the data's last :data:`RECENT_DAYS` are left out
        (``valuation_factors``): on an as-of date near the end of the data the close is
        the packaged one. Tickers outside the stock prices (ETFs) have no events and keep
        their price.
        """
        day = to_timestamp(date, "date")
        cols = [t for t in adjusted_prices.index if t in self.factors.columns]
        if not cols:
            return adjusted_prices.copy()
        k = self.factors.loc[:day, cols]
        swap = [t for t in cols if t in self.valuation_factors.columns]
        if swap:
            k = k.copy()
            k[swap] = self.valuation_factors.loc[:day, swap]
        row = k.ffill().iloc[-1]
        return adjusted_prices * row.reindex(adjusted_prices.index).fillna(1.0)

    def events_between(self, start: DateLike, end: DateLike) -> pd.DataFrame:
        """Events with ``start < date <= end`` (ex-dates), in date order."""
        a, b = to_timestamp(start, "start"), to_timestamp(end, "end")
        ev = self.events
        return ev[(ev["date"] > a) & (ev["date"] <= b)]

    def source_of(self, ticker: str) -> str:
        """Where a ticker's raw view comes from (``alphavantage+derived``, ...)."""
        row = self.provenance[self.provenance["ticker"] == ticker]
        return str(row["raw_source"].iloc[0]) if len(row) else "adjusted_only"


def build_view(adjusted: pd.DataFrame, events: pd.DataFrame,
               provenance: pd.DataFrame) -> CorporateActions:
    """Assemble a :class:`CorporateActions` from adjusted closes and events."""
    cols: dict[str, pd.Series] = {}
    by = {t: g for t, g in events.groupby("ticker", sort=False)}
    empty = events.iloc[:0]
    for t in adjusted.columns:
        cols[t] = raw_factors(adjusted[t], by.get(t, empty))
    factors = pd.DataFrame(cols, index=adjusted.index)
    ev = events[events["ticker"].isin(adjusted.columns)].reset_index(drop=True)
    recent = (ev["date"] > adjusted.index[-1] - pd.Timedelta(days=RECENT_DAYS)) & \
        (ev["kind"] == "dividend") & (ev["source"] == "derived") if len(ev) else \
        pd.Series(False, index=ev.index)
    kept = ev[~recent]
    by_kept = {t: g for t, g in kept.groupby("ticker", sort=False)}
    valuation = pd.DataFrame({t: raw_factors(adjusted[t], by_kept.get(t, empty))
                              for t in sorted(set(ev.loc[recent, "ticker"]))},
                             index=adjusted.index)
    return CorporateActions(ev, provenance, factors, adjusted, valuation)


_CACHE: dict[str, CorporateActions] = {}


def load_corporate_actions(market: MarketData | None = None,
                           data_dir: Path | str | None = None) -> CorporateActions:
    """Read the raw-price view of the packaged market data (cached per folder).

    Raises
    ------
    MarketDataError
        If ``raw_events.parquet`` or ``raw_provenance.parquet`` is missing or malformed.
    """
    market = market or load_market(data_dir)
    key = str(market.data_dir)
    if key in _CACHE:
        return _CACHE[key]
    paths = [market.data_dir / EVENTS_FILE, market.data_dir / PROVENANCE_FILE]
    for p in paths:
        if not p.exists():
            raise MarketDataError(f"{p} is missing; build it with `python "
                                  "scripts/build_raw_prices.py` (needs ../shared/data/market)")
    events = check_events(pd.read_parquet(paths[0]), str(paths[0]))
    events["date"] = pd.to_datetime(events["date"])
    view = build_view(market.prices.frame(), events, pd.read_parquet(paths[1]))
    _CACHE[key] = view
    return view
