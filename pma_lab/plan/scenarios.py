"""Market scenarios for transition plans, and the rate cash earns.

The expected path, Monte Carlo paths from the factor risk model, historical replays:

* :func:`expected_path` -- every price grows at the expected return (a planning path; no
  dispersion, so no risk and no new losses).
* :func:`monte_carlo_paths` -- correlated price paths drawn from the client's factor risk
  model (:class:`~pma_lab.portfolio.risk.RiskModel`): each step's log return of stock ``i`` is
  ``m_i dt + (X f)_i + d_i e_i`` with factor returns ``f ~ N(0, F dt)`` and specific
  returns ``e_i ~ N(0, dt)``, so every name -- a concentrated position included -- carries
  its own specific risk as well as its factor risk. The drift ``m_i = ln(1 + mu) -
  sigma_i^2 / 2`` gives every name the same expected (arithmetic) return ``mu`` (no view on
  any stock), so a concentrated position differs from the index only by its risk: its
  median outcome is lower (volatility drag) and its spread wider. Funds held (S&P 500
  trackers, sector funds) move with the benchmark weights of what they track.
* :func:`historical_paths` -- each of today's names' own past returns from a start date
  applied to today's prices. **For research only**: it replays today's winners' history
  (hindsight and survivorship, :data:`HINDSIGHT_WARNING`) and never drives a
  recommendation.
* :func:`bill_rate` -- the cash rate, :func:`pma_lab.market.rates.cash_rate` (the 3-month
  Treasury bill par yield of the packaged Treasury curve): the rate cash earns and taxes
  are discounted at.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pma_lab.blas import one_thread
from pma_lab.errors import DataError
from pma_lab.market.data import MarketData
from pma_lab.market.rates import BillRate, cash_rate
from pma_lab.portfolio.tracking import TrackingVariance

__all__ = ["MarketPath", "MonteCarloPaths", "BillRate", "step_dates", "expected_path",
           "monte_carlo_paths", "historical_paths", "bill_rate", "HINDSIGHT_WARNING",
           "PATHS_CACHE_BYTES"]

HINDSIGHT_WARNING = (
    "Historical replays apply each of today's names' own past returns to today's "
    "portfolio: the names held today are the ones that survived and grew (hindsight and "
    "survivorship bias), so a replay flatters keeping today's winners. They are shown for "
    "research only and never drive a recommendation; the Monte Carlo paths do.")
"""Shown wherever historical replays are shown."""


@dataclass(frozen=True)
class MarketPath:
    """Prices at each step of one path.

    ``prices`` has one row per step date (the index) and one column per ticker; row 0 is
    today's prices. A historical replay (:func:`historical_paths`) also carries the
    trading day each step replays (``history``), the cash rate of each of those days
    (``cash_rates``: the 3-month bill par yield, :func:`bill_rate`; a step's cash earns the
    previous step's) and, once attached (:func:`pma_lab.plan.dividends.
    historical_dividend_yields`), each step's dividend yields (``dividends``: one
    :class:`pma_lab.plan.dividends.DividendYields` a step, the trailing yields of its
    day): no step reads data after its own day.
    """

    label: str
    prices: pd.DataFrame
    start: dt.date | None = None  # the historical start date (None: not historical)
    history: tuple[dt.date, ...] | None = None
    cash_rates: tuple[float, ...] | None = None
    dividends: tuple | None = field(default=None, repr=False)


@dataclass(frozen=True)
class MonteCarloPaths:
    """Simulated prices: ``prices[path, step, ticker]`` (USD), step 0 = today.

    Attributes
    ----------
    dates : tuple[datetime.date, ...]
        The step dates (``len(dates) == prices.shape[1]``).
    tickers : tuple[str, ...]
        Columns of ``prices`` (stocks and funds).
    prices : np.ndarray
        ``(paths, steps + 1, tickers)``, read-only.
    expected_return : float
        Annual expected arithmetic return of every name.
    seed : int
    """

    dates: tuple[dt.date, ...]
    tickers: tuple[str, ...]
    prices: np.ndarray = field(repr=False)
    expected_return: float
    seed: int

    @property
    def n_paths(self) -> int:
        """Number of paths."""
        return int(self.prices.shape[0])

    def column(self, ticker: str) -> int:
        """Column of ``ticker`` in :attr:`prices`."""
        return self.tickers.index(ticker)


def step_dates(as_of: dt.date, horizon_years: int, steps_per_year: int) -> list[dt.date]:
    """``horizon_years * steps_per_year + 1`` dates from ``as_of``, month-end aware."""
    if steps_per_year not in (1, 2, 3, 4, 6, 12):
        raise DataError(f"steps_per_year={steps_per_year}: use 1, 2, 3, 4, 6 or 12")
    months = 12 // steps_per_year
    out = []
    for k in range(horizon_years * steps_per_year + 1):
        y, m = divmod(as_of.month - 1 + months * k, 12)
        year = as_of.year + y
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        day = min(as_of.day, [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
                              31][m])
        out.append(dt.date(year, m + 1, day))
    return out


def _years(dates: Sequence[dt.date]) -> np.ndarray:
    return np.array([(d - dates[0]).days / 365.25 for d in dates])


def expected_path(prices: pd.Series, dates: Sequence[dt.date], expected_return: float
                  ) -> MarketPath:
    """Every price grows at ``expected_return`` a year (no dispersion: a planning path)."""
    growth = (1 + expected_return) ** _years(dates)
    return MarketPath("expected", pd.DataFrame(np.outer(growth, prices.to_numpy(float)),
                                               index=pd.Index(list(dates), name="date"),
                                               columns=prices.index))


def fund_composition(funds: Sequence[str], benchmark: pd.Series, sectors: pd.Series,
                     etf_info: pd.DataFrame) -> pd.DataFrame:
    """What each held fund tracks, as benchmark weights (one column per fund, sum one).

    S&P 500 trackers hold the benchmark; sector funds the benchmark's names of their GICS
    sector.

    Raises
    ------
    DataError
        For a fund that is neither (the account state refuses those too).
    """
    info = etf_info.set_index("ticker")
    cols = {}
    for f in funds:
        if f not in info.index:
            raise DataError(f"{f} is neither a stock of the risk model nor a packaged fund; "
                            "it cannot be simulated")
        cat = info.at[f, "category"]
        w = benchmark.copy()
        if cat in ("sector_spdr", "vanguard_sector") and pd.notna(info.at[f, "gics_sector"]):
            w = w.where(sectors.reindex(w.index) == info.at[f, "gics_sector"], 0.0)
        elif cat != "sp500_tracker":
            raise DataError(f"{f} ({cat}) cannot be simulated by the equity risk model")
        cols[f] = w / w.sum()
    return pd.DataFrame(cols, index=benchmark.index)


def monte_carlo_paths(risk, prices: pd.Series, dates: Sequence[dt.date], n_paths: int,
                      expected_return: float, seed: int, tickers: Sequence[str],
                      funds: pd.DataFrame | None = None) -> MonteCarloPaths:
    """Correlated price paths from the factor risk model (see the module docs).

    Parameters
    ----------
    risk : RiskModel
        Exposures ``X``, factor covariance ``F`` and specific variances ``d^2`` (annual).
    prices : pd.Series
        Today's prices of every ticker in ``tickers`` and of every stock in ``funds``.
    dates : Sequence[date]
        Step dates; ``dates[0]`` is today.
    n_paths : int
    expected_return : float
        Annual expected arithmetic return of every name.
    seed : int
        Seed of numpy's PCG64 generator (the same seed gives the same paths).
    tickers : Sequence[str]
        The stocks to keep prices for (risk-model names) and the funds (columns of
        ``funds``).
    funds : pd.DataFrame | None
        Fund compositions over risk-model tickers (:func:`fund_composition`).

    Raises
    ------
    DataError
        For a stock the risk model does not cover or a missing price.

    Notes
    -----
    The draws do not depend on the names kept (every step draws every model name's
    returns), so the last draw of every model name is kept in this process
    (:data:`PATHS_CACHE_BYTES`): a call with the same model, dates, path count, expected
    return and seed, whose names start from the same prices today, takes its columns
    from it, the same numbers to the bit, without drawing again.
    """
    if n_paths < 1:
        raise DataError(f"n_paths={n_paths}: simulate at least one path")
    funds = funds if funds is not None else pd.DataFrame()
    model = list(risk.tickers)
    idx = risk.index
    stocks = [t for t in tickers if t not in funds.columns]
    missing = [t for t in stocks if t not in idx]
    if missing:
        raise DataError(f"{', '.join(missing[:10])} are not covered by the risk model; they "
                        "cannot be simulated")
    p0 = prices.reindex(list(tickers)).astype(float)
    if p0.isna().any() or (p0 <= 0).any():
        bad = list(p0.index[p0.isna() | (p0 <= 0)])
        raise DataError(f"no positive price today for {', '.join(bad[:10])}")
    key = _draw_key(risk, dates, n_paths, expected_return, seed)
    fund_keys = [(comp_col.tobytes(), float(p0[f])) for f, comp_col in
                 ((f, funds[f].reindex(model).fillna(0.0).to_numpy()) for f in funds.columns)]
    cols = _cached_columns(key, [idx[t] for t in stocks], p0.reindex(stocks).to_numpy(),
                           fund_keys)
    if cols is None:
        all_p0 = prices.reindex(model).to_numpy(float)
        size = n_paths * len(dates) * len(model) * 8
        cache = size <= PATHS_CACHE_BYTES
        # the cache fill: every model name with a price (each column's arithmetic is the
        # same whichever columns are computed beside it), else only the names asked for
        keep = np.arange(len(model)) if cache else \
            np.array([idx[t] for t in stocks], dtype=int)
        kept = _release(key) if cache else {}  # not two draws in memory at once
        start = all_p0[keep] if cache else p0.reindex(stocks).to_numpy()
        comp = funds.reindex(model).fillna(0.0).to_numpy() if len(funds.columns) else None
        stock_part, fund_part = _simulate(risk, dates, n_paths, expected_return, seed, keep,
                                          start, comp,
                                          p0.reindex(list(funds.columns)).to_numpy())
        stock_part.flags.writeable = False
        if cache:
            # each fund's column copied out: kept with a later draw of the same key, it
            # must not hold this draw's fund prices in memory
            _store(key, all_p0, stock_part, kept | {f: np.array(fund_part[:, :, i])
                                                     for i, f in enumerate(fund_keys)})
            cols = _cached_columns(key, [idx[t] for t in stocks],
                                   p0.reindex(stocks).to_numpy(), fund_keys)
        else:
            cols = (stock_part, fund_part)
    stock_cols, fund_cols = cols
    if list(tickers) == stocks + list(funds.columns):  # the stocks first (one copy)
        out = np.concatenate((stock_cols, fund_cols), axis=2) if fund_cols.shape[2] \
            else stock_cols
    else:
        out = np.empty((n_paths, len(dates), len(tickers)))
        out[:, :, [list(tickers).index(t) for t in stocks]] = stock_cols
        out[:, :, [list(tickers).index(t) for t in funds.columns]] = fund_cols
    out.flags.writeable = False
    return MonteCarloPaths(tuple(dates), tuple(tickers), out, expected_return, seed)


PATHS_CACHE_BYTES = 128 * 2**20
"""The largest Monte Carlo draw kept in memory for the next call (bytes of its prices).

:func:`monte_carlo_paths` keeps the last draw's prices of every name of the risk model
(and of the funds asked for) while they fit: a batch worker's clients share the as-of
date, risk model, prices, step dates, path count, expected return and seed, so their paths
are the same numbers, and each client takes its names' columns instead of drawing them
again (the normal draws were ~0.17 of a client's ~0.25 CPU-s). The default comparison's
draw (1,000 paths, 21 dates, the packaged model's 496 names) is 83 MB; a larger one is
drawn for each call and not kept."""

_LOCK = threading.Lock()
_CACHE: dict[str, object] = {}  # "key", "p0" (model order), "prices", "funds": the last draw


def _draw_key(risk: object, dates: Sequence[dt.date], n_paths: int, expected_return: float,
              seed: int) -> str:
    """What a draw depends on besides today's prices: the model, the dates, the settings."""
    h = hashlib.sha256(repr((tuple(risk.tickers), tuple(dates), n_paths,
                             repr(float(expected_return)), seed)).encode())
    for a in (risk.exposures, risk.factor_cov, risk.specific_var):
        a = np.ascontiguousarray(a, dtype=float)
        h.update(repr(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _cached_columns(key: str, rows: Sequence[int], p0: np.ndarray,
                    fund_keys: Sequence[tuple[bytes, float]]
                    ) -> tuple[np.ndarray, np.ndarray] | None:
    """The stocks' (model ``rows``) and funds' prices from the last draw, or ``None``.

    ``None`` unless the last draw has the same ``key``, each stock's price today is the
    one it started from (``p0``, bit for bit) and each fund (its composition and price
    today, ``fund_keys``) was drawn with it.
    """
    with _LOCK:
        if _CACHE.get("key") != key:
            return None
        start, prices, funds = _CACHE["p0"], _CACHE["prices"], _CACHE["funds"]
    rows = np.asarray(rows, dtype=int)
    if not np.array_equal(start[rows], p0) or any(f not in funds for f in fund_keys):
        return None
    fund_cols = np.stack([funds[f] for f in fund_keys], axis=2) if fund_keys else \
        np.empty(prices.shape[:2] + (0,))
    return np.take(prices, rows, axis=2), fund_cols


def _release(key: str) -> dict[tuple[bytes, float], np.ndarray]:
    """Drop the last draw before drawing again; its funds when drawn with the same ``key``.

    The funds kept (at most :data:`_MAX_FUNDS` less one, the latest) are valid with the
    next draw of the same key: the same draws.
    """
    with _LOCK:
        funds = _CACHE.get("funds", {}) if _CACHE.get("key") == key else {}
        _CACHE.clear()
    return dict(list(funds.items())[-(_MAX_FUNDS - 1):])


def _store(key: str, p0: np.ndarray, prices: np.ndarray,
           funds: dict[tuple[bytes, float], np.ndarray]) -> None:
    """Keep a draw of every model name (``p0``: each one's price today) and its funds."""
    with _LOCK:
        _CACHE.clear()
        _CACHE.update(key=key, p0=p0, prices=prices, funds=funds)


_MAX_FUNDS = 16  # fund columns kept with a draw (each n_paths x dates floats)


def _simulate(risk: object, dates: Sequence[dt.date], n_paths: int, expected_return: float,
              seed: int, keep: np.ndarray, p0: np.ndarray, comp: np.ndarray | None,
              fund_p0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prices of the model names ``keep`` (from ``p0``), and of the funds (``comp``).

    ``(paths, dates, len(keep))`` and ``(paths, dates, funds)``; the draws are the same
    whichever names are kept.
    """
    tracking = TrackingVariance.of(risk)  # Sigma = X F X' + diag(d^2)
    X = np.asarray(tracking.exposures)
    drift = np.log1p(expected_return) - tracking.diagonal() / 2  # per year
    chol = tracking.chol(1e-14)
    n_factors = chol.shape[0]
    n_model = X.shape[0]
    rng = np.random.Generator(np.random.PCG64(seed))
    steps = len(dates) - 1
    out = np.empty((n_paths, steps + 1, len(keep)))
    out[:, 0, :] = p0
    fund_out = np.empty((n_paths, steps + 1, 0 if comp is None else comp.shape[1]))
    fund_out[:, 0, :] = fund_p0
    yrs = _years(dates)
    d = tracking.scale()
    # without a fund only the stocks kept need their returns: each element's arithmetic
    # on their columns alone is the same (the same operations on the same numbers), and
    # the exponential of the others is not taken
    drift_k, d_k = drift[keep], d[keep]
    # one OpenBLAS thread (:func:`pma_lab.blas.one_thread`): waking the others for each
    # step's factor product cost more CPU than the product on a busy machine (tech-exec
    # 0.61 against 0.23 CPU-s a call at load 12-15; the same values to the bit)
    with one_thread():
        for k in range(steps):
            dt_k = yrs[k + 1] - yrs[k]
            z = rng.standard_normal((n_paths, n_factors))
            e = rng.standard_normal((n_paths, n_model))
            factor = (z @ chol.T) @ X.T
            if comp is None:
                gross = np.exp(drift_k * dt_k + np.sqrt(dt_k) * (factor[:, keep]
                                                                 + e[:, keep] * d_k))
                out[:, k + 1, :] = out[:, k, :] * gross
                continue
            logr = drift * dt_k + np.sqrt(dt_k) * (factor + e * d)
            gross = np.exp(logr)
            out[:, k + 1, :] = out[:, k, :] * gross[:, keep]
            fund_out[:, k + 1, :] = fund_out[:, k, :] * (gross @ comp)
    return out, fund_out


def historical_paths(market: MarketData, prices: pd.Series, dates: Sequence[dt.date],
                     starts: Sequence[dt.date]) -> list[MarketPath]:
    """Paths from past start dates: each name's real total return since the start.

    For research only (:data:`HINDSIGHT_WARNING`). A name with no price at the start (not
    yet listed) follows SPY's return, and a gap later in the path keeps the name's last
    price; both are counted in the path label. Each path carries the trading days it
    replays and the cash rate of each (:attr:`MarketPath.cash_rates`: the bill par yield
    of the last Treasury curve on or before the day; the packaged curve ends 2025-07-11).

    Raises
    ------
    DataError
        When a path from a start date runs past the end of the price data.
    """
    m = market
    p0 = prices
    out = []
    offsets = [pd.DateOffset(days=(d - dates[0]).days) for d in dates]
    cal = m.prices.calendar
    for start in starts:
        d0 = pd.Timestamp(start)
        rows = [cal[min(int(cal.searchsorted(d0 + o)), len(cal) - 1)] for o in offsets]
        if rows[-1] < d0 + offsets[-1] - pd.Timedelta(days=7):
            years = (dates[-1] - dates[0]).days / 365.25
            raise DataError(f"the price data ends {cal[-1]:%Y-%m-%d}: a {years:.0f}-year "
                            f"path from {start} does not fit")
        stocks = [t for t in p0.index if t in m.prices]
        funds = [t for t in p0.index if t not in m.prices]
        hist = m.prices.window(rows[0], rows[-1], stocks).reindex(rows)
        spy = m.etfs.window(rows[0] - pd.Timedelta(days=10), rows[-1], ["SPY"])["SPY"]
        spy = spy.reindex(rows, method="ffill")
        rel_spy = (spy / spy.iloc[0]).to_numpy()
        no_start = hist.iloc[0].isna()
        rel = hist.ffill().div(hist.iloc[0])
        rel.loc[:, no_start] = np.tile(rel_spy[:, None], (1, int(no_start.sum())))
        gaps = int(hist.iloc[1:].isna().sum().sum())
        fund_rel = pd.DataFrame({f: rel_spy for f in funds}, index=rows)
        rel = pd.concat([rel, fund_rel], axis=1)[list(p0.index)]
        path_prices = rel.mul(p0, axis=1)
        path_prices.index = pd.Index(list(dates), name="date")
        days = tuple(pd.Timestamp(r).date() for r in rows)
        out.append(MarketPath(f"{start} ({int(no_start.sum())} names on SPY, {gaps} gaps)",
                              path_prices, start, days,
                              tuple(cash_rate(m, d).rate for d in days)))
    return out


bill_rate = cash_rate
"""The cash rate (:func:`pma_lab.market.rates.cash_rate`, its one home), kept under its
old name."""
