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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pma_lab.errors import MarketDataError
from pma_lab.market.data import DateLike, MarketData, load_market, to_timestamp

__all__ = ["EVENT_COLUMNS", "EVENT_KINDS", "CorporateActions", "DividendYield",
           "load_corporate_actions", "raw_factors", "trailing_dividend_yield",
           "trailing_dividend_yields"]

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
        row = self._factors_at(day, cols) if adjusted_prices.index.is_unique else None
        if row is not None:
            return adjusted_prices * row.reindex(adjusted_prices.index).fillna(1.0)
        k = self.factors.loc[:day, cols]
        swap = [t for t in cols if t in self.valuation_factors.columns]
        if swap:
            k = k.copy()
            k[swap] = self.valuation_factors.loc[:day, swap]
        row = k.ffill().iloc[-1]
        return adjusted_prices * row.reindex(adjusted_prices.index).fillna(1.0)

    def _factors_at(self, day: pd.Timestamp, cols: list[str]) -> pd.Series | None:
        """``K`` of each of ``cols`` on its last day with a factor on or before ``day``.

        What :meth:`to_raw` took from the factors' history up to ``day`` forward-filled
        (its last row), read from that row alone (:func:`~pma_lab.market.data.
        last_valid_rows`; the forward fill copied and filled the ~500 names' whole history,
        ~60 CPU-ms a call, three calls a proposal). ``valuation_factors`` in place of
        ``factors`` for the tickers it has. ``None`` when the frames are not what that
        needs (an unsorted index, no day on or before ``day``): :meth:`to_raw` then fills.
        """
        from pma_lab.market.data import last_valid_rows

        index = self.factors.index
        if not (index.is_monotonic_increasing and self.factors.columns.is_unique):
            return None
        stop = int(index.searchsorted(day, side="right"))
        if not stop:
            return None
        swap = set(self.valuation_factors.columns)
        out = np.empty(len(cols))
        for frame, mine in ((self.factors, [j for j, t in enumerate(cols) if t not in swap]),
                            (self.valuation_factors,
                             [j for j, t in enumerate(cols) if t in swap])):
            if not mine:
                continue
            if frame is not self.factors and not (frame.index.equals(index)
                                                  and frame.columns.is_unique):
                return None
            values = frame.to_numpy()
            if values.dtype != np.float64:
                return None
            at = frame.columns.get_indexer([cols[j] for j in mine])
            has, rows = last_valid_rows(values, stop, at)
            out[mine] = np.where(has, values[rows, at], np.nan)
        return pd.Series(out, index=pd.Index(cols, name=self.factors.columns.name),
                         name=index[stop - 1])

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
    events, provenance = _read_events(market)
    view = build_view(market.prices.frame(), events, provenance)
    _CACHE[key] = view
    return view


_EVENTS: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}


def _read_events(market: MarketData) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The checked events and the provenance of ``market``'s folder (cached per folder)."""
    key = str(market.data_dir)
    if key not in _EVENTS:
        paths = [market.data_dir / EVENTS_FILE, market.data_dir / PROVENANCE_FILE]
        for p in paths:
            if not p.exists():
                raise MarketDataError(f"{p} is missing; build it with `python scripts/"
                                      "build_raw_prices.py` (needs ../shared/data/market)")
        events = check_events(pd.read_parquet(paths[0]), str(paths[0]))
        events["date"] = pd.to_datetime(events["date"])
        _EVENTS[key] = (events, pd.read_parquet(paths[1]))
    return _EVENTS[key]


@dataclass(frozen=True)
class DividendYield:
    """Trailing 12-month dividend yields (see :func:`trailing_dividend_yield`).

    Attributes
    ----------
    yields : pd.Series
        Per ticker with dividend data: cash dividends with an ex-date in
        ``(start, as_of]`` divided by the raw close on ``as_of`` (decimal; 0 for a name
        that paid none).
    as_of : pd.Timestamp
        The trading day the closes are from (the last one on or before the date asked).
    start : pd.Timestamp
        One year before ``as_of``.
    approximated : frozenset[str]
        Tickers whose window holds dividends derived from the adjusted prices (after
        2021-04-21: the year-before ex-dates repeated, sized to the observed ratio).
    missing : frozenset[str]
        Tickers asked for without dividend data (``adjusted_only``: their dividends are
        only inside the adjusted price) or without a close on ``as_of``.
    uncertain : frozenset[str]
        Approximated tickers whose price adjustment after 2021-04-21 also holds an undated
        share event that is not a whole-number split (a spin-off the data cannot tell from
        dividends): their estimate assumes the 2021 dividend rate went on, which a spin-off
        often changes (AT&T halved its dividend with the WarnerMedia spin-off; the build
        now uses its published dividends, see ``scripts/build_raw_prices.py``).
    """

    yields: pd.Series
    as_of: pd.Timestamp
    start: pd.Timestamp
    approximated: frozenset[str]
    missing: frozenset[str]
    uncertain: frozenset[str] = frozenset()

    def caveat(self, tickers) -> str:
        """A sentence naming the :attr:`uncertain` names among ``tickers`` ("" if none)."""
        names = sorted(self.uncertain & set(tickers))
        if not names:
            return ""
        shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8
                                        else "")
        return (f"The estimate for {shown} may be off: after April 2021 the data hold a "
                "spin-off or split of unknown date for them, which cannot be told apart "
                "from dividends, and the estimate assumes their 2021 dividend went on.")

    def of(self, weights: pd.Series) -> tuple[float, float]:
        """The yield of a portfolio and the share of its weight the yield covers.

        The yield is that of the covered names (``sum(w y) / sum(w)`` over the tickers in
        :attr:`yields`); NaN when none is covered.
        """
        w = weights[weights > 0]
        have = self.yields.index
        # a hash lookup, not pandas' isin over the ~500 names (its cost is per name asked)
        covered = w[have.get_indexer(w.index) >= 0 if have.is_unique else w.index.isin(have)]
        total, part = float(w.sum()), float(covered.sum())
        if part <= 0:
            return float("nan"), 0.0
        y = float((covered * self.yields.reindex(covered.index)).sum()) / part
        return y, part / total if total > 0 else 0.0


def trailing_dividend_yield(market: MarketData, tickers, date: DateLike) -> DividendYield:
    """Trailing 12-month dividend yields of ``tickers`` on ``date`` from the packaged events.

    The raw close on ``as_of`` is the adjusted close times ``K(as_of)``, which depends only
    on the events after ``as_of`` (none when ``as_of`` is the last close), so only those
    are rebuilt: fast enough for a proposal, unlike the full raw view of
    :func:`load_corporate_actions`.

    Raises
    ------
    MarketDataError
        If the event files are missing or ``date`` is before the first close.
    """
    events, provenance = _read_events(market)
    prices = market.prices  # its calendar and tickers: the closes are copied on a miss only
    as_of = _close_day(prices.calendar, date)
    names, ok = _names_with_data(provenance, prices, tickers)
    close = _raw_closes(market, events, prices.frame, as_of, ok)
    return _yield_of(events, provenance, as_of, names, close)


def trailing_dividend_yields(market: MarketData, tickers, dates: Sequence[DateLike]
                             ) -> dict[pd.Timestamp, DividendYield]:
    """:func:`trailing_dividend_yield` on each of ``dates`` (for many past dates at once).

    The raw closes come from the full raw view (:func:`load_corporate_actions`, built
    once per folder: a few seconds), so each further date costs milliseconds instead of
    the seconds :func:`trailing_dividend_yield` takes to rebuild a past date's closes.
    Only the dividends with an ex-date on or before each date count (no look-ahead).

    Returns
    -------
    dict
        The date asked -> its :class:`DividendYield` (as of the last close on or before
        it).

    Raises
    ------
    MarketDataError
        If the event files are missing or a date is before the first close.
    """
    events, provenance = _read_events(market)
    view = load_corporate_actions(market)
    adjusted = view.adjusted
    names, ok = _names_with_data(provenance, adjusted.columns, tickers)
    out: dict[pd.Timestamp, DividendYield] = {}
    for date in dates:
        day = to_timestamp(date, "date")
        if day in out:
            continue
        as_of = _close_day(adjusted.index, day)
        close = (adjusted.loc[as_of, ok] * view.factors.loc[as_of, ok]).astype(float)
        out[day] = _yield_of(events, provenance, as_of, names, close)
    return out


def _close_day(dates: pd.Index, date: DateLike) -> pd.Timestamp:
    """The last trading day of ``dates`` (the prices' calendar) on or before ``date``."""
    day = to_timestamp(date, "date")
    at = dates[dates <= day]
    if not len(at):
        raise MarketDataError(f"{day:%Y-%m-%d} is before the first close in the prices; "
                              "use a later date")
    return at[-1]


def _names_with_data(provenance: pd.DataFrame, priced, tickers
                     ) -> tuple[list[str], list[str]]:
    """The tickers asked (once each) and those with dividend data and prices.

    ``priced`` answers ``ticker in priced`` for the tickers with prices (the price
    history, or its frame's columns).
    """
    no_data = _no_dividend_data(provenance)
    names = [t for t in dict.fromkeys(tickers)]
    return names, [t for t in names if t not in no_data and t in priced]


_BY_PROVENANCE: dict[int, tuple[pd.DataFrame, dict[str, object]]] = {}
"""What :func:`_no_dividend_data` and :func:`_undated_share_events` read from a folder's
provenance, by the frame's ``id`` (the frame kept with it, so the id is never reused):
the provenance is read once per folder (:func:`_read_events`), and a proposal asks twice
(its plans' dividends and its characteristics table)."""


def _from_provenance(provenance: pd.DataFrame, what: str, make) -> object:
    """``make(provenance)``, kept for this provenance frame (:data:`_BY_PROVENANCE`)."""
    kept = _BY_PROVENANCE.get(id(provenance))
    if kept is None or kept[0] is not provenance:
        while len(_BY_PROVENANCE) >= 8:
            _BY_PROVENANCE.pop(next(iter(_BY_PROVENANCE)))
        kept = _BY_PROVENANCE[id(provenance)] = (provenance, {})
    if what not in kept[1]:
        kept[1][what] = make(provenance)
    return kept[1][what]


def _no_dividend_data(provenance: pd.DataFrame) -> frozenset[str]:
    """Tickers whose dividends are only inside the adjusted price (``adjusted_only``)."""
    return _from_provenance(provenance, "no_data", lambda p: frozenset(
        p.ticker[p.raw_source == "adjusted_only"]))


_DIVIDENDS: dict[int, tuple[pd.DataFrame, pd.DataFrame, np.ndarray]] = {}
"""A folder's cash dividends (the events' ``dividend`` rows, in order) and their ex-dates,
by the events frame's ``id`` (the frame kept with them, as :data:`_BY_PROVENANCE`)."""


def _dividends(events: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The ``dividend`` rows of ``events`` (in their order) and their dates as an array."""
    kept = _DIVIDENDS.get(id(events))
    if kept is None or kept[0] is not events:
        while len(_DIVIDENDS) >= 8:
            _DIVIDENDS.pop(next(iter(_DIVIDENDS)))
        div = events[events["kind"] == "dividend"]
        kept = _DIVIDENDS[id(events)] = (events, div, div["date"].to_numpy())
    return kept[1], kept[2]


def _yield_of(events: pd.DataFrame, provenance: pd.DataFrame, as_of: pd.Timestamp,
              names: list[str], close: pd.Series) -> DividendYield:
    """Cash dividends with an ex-date in the year to ``as_of`` over ``close``.

    The rows are those of ``events`` of kind ``dividend``, ex-date in ``(start, as_of]``
    and a ticker of ``close``, in their order (the year's window of the folder's dividends,
    kept per folder, then its tickers by a hash lookup: the string comparisons over the
    ~36,000 events and pandas' ``isin`` over ~500 names cost ~10 ms a call).
    """
    start = as_of - pd.DateOffset(years=1)
    close = close[np.isfinite(close) & (close > 0)]
    div, dates = _dividends(events)
    div = div[(dates > start.to_datetime64()) & (dates <= as_of.to_datetime64())]
    if close.index.is_unique:
        div = div[close.index.get_indexer(div["ticker"]) >= 0]
    else:
        div = div[div["ticker"].isin(close.index)]
    paid = div.groupby("ticker")["amount"].sum().reindex(close.index).fillna(0.0)
    yields = (paid / close).astype(float)
    approx = set(div["ticker"][div["source"] != "alphavantage"])
    missing = set(names) - set(yields.index)
    return DividendYield(yields, as_of, start, frozenset(approx), frozenset(missing),
                         frozenset(approx & _undated_share_events(provenance)))


_RAW_CLOSES: dict[tuple[str, pd.Timestamp], pd.Series] = {}
_RAW_CLOSES_DATES = 16
"""How many (folder, date) entries :func:`_raw_closes` keeps (the oldest is dropped)."""


def _raw_closes(market: MarketData, events: pd.DataFrame,
                adjusted: pd.DataFrame | Callable[[], pd.DataFrame],
                as_of: pd.Timestamp, tickers: list[str]) -> pd.Series:
    """Raw closes of ``tickers`` on the trading day ``as_of``, cached per folder and day.

    The raw close is the adjusted close times ``K(as_of)``, which is 1 unless the ticker
    has events after ``as_of``; rebuilding ``K`` for those is what makes a historical date
    slow (hundreds of tickers with later splits and dividends), so each (folder, day)
    keeps the closes already rebuilt and only tickers not asked for before are computed.
    The cache holds the last :data:`_RAW_CLOSES_DATES` days. ``adjusted`` is the adjusted
    closes, or a function returning them (called only when a ticker is not kept).
    """
    key = (str(market.data_dir), as_of)
    have = _RAW_CLOSES.get(key)
    need = tickers if have is None else [t for t in tickers if t not in have.index]
    if need:
        adjusted = adjusted() if callable(adjusted) else adjusted
        close = adjusted.loc[as_of].reindex(need).astype(float)
        # K(as_of) = 1 unless the ticker has events after as_of (then rebuilt from as_of on)
        later = events[(events["date"] > as_of) & events["ticker"].isin(need)]
        for t, g in later.groupby("ticker", sort=False):
            px = adjusted[t].loc[as_of:]
            close[t] = float(px.iloc[0] * raw_factors(px, g).iloc[0])
        have = close if have is None else pd.concat([have, close])
        _RAW_CLOSES.pop(key, None)
        _RAW_CLOSES[key] = have
        while len(_RAW_CLOSES) > _RAW_CLOSES_DATES:
            _RAW_CLOSES.pop(next(iter(_RAW_CLOSES)))
    return have.reindex(tickers)


def _undated_share_events(provenance: pd.DataFrame) -> set[str]:
    """Tickers with an undated post-2021 share event that is not a whole-number split.

    From the provenance of ``scripts/build_raw_prices.py``: a share factor other than 1,
    not dated from the curated lists (``split_dates``), and either no split ratio or a
    ratio that is neither ``k`` nor ``1/k`` (5/4, 4/3: more often a spin-off than a
    split), unless the dividends are the published ones (``schedule`` says so).
    """
    return set(_from_provenance(provenance, "undated", _undated_events))


def _undated_events(p: pd.DataFrame) -> frozenset[str]:
    """:func:`_undated_share_events` of the provenance ``p`` (not kept)."""
    need = {"share_factor_after", "split_after", "split_dates", "schedule"}
    if not need <= set(p.columns):
        return frozenset()
    ratio = p["split_after"].fillna("").astype(str)
    whole = ratio.str.fullmatch(r"(1/)?[1-9]\d*")  # 3 or 1/5: a split or a reverse split
    undated = ~p["split_dates"].fillna("").astype(str).str.startswith("dated")
    shares = (p["share_factor_after"].astype(float) - 1.0).abs() > 1e-9
    published = p["schedule"].fillna("").astype(str).str.contains("published")
    return frozenset(p.ticker[shares & undated & ~whole & ~published])
