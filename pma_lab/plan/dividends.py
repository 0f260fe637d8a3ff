"""The dividends a plan's holdings pay: yields by name, and each step's dividends.

Prices are total-return (dividends reinvested), so a dividend neither moves cash nor buys
shares in the simulation: it is income, taxed in the calendar year it is paid. Every name
pays its trailing 12-month dividend yield at the client's date (the yields asset location
and the proposal's dividend-yield characteristic use:
:func:`pma_lab.market.corpactions.trailing_dividend_yield`, a name without dividend data
given its sector's median, :func:`pma_lab.optimize.household.stock_dividend_yields`) on
the value held, accrued between steps: at each step the holdings kept since the previous
step pay ``value x yield x years elapsed`` at the step's prices, booked in the calendar
years of the days they accrued over, pro rata by days (:func:`year_shares`: a step from
Oct 31 to Jan 31 books 61 of its 92 days' dividends in the first year). A Real Estate name's
dividends are a REIT's ordinary dividends, every other name's qualified
(:class:`pma_lab.tax.liability.DividendIncome` says how each is taxed). The expected path
(:func:`pma_lab.plan.simulation.simulate`) and every Monte Carlo path
(:func:`pma_lab.plan.montecarlo.revalue`, from :meth:`DividendYields.of_lots`) compute them
alike.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from pma_lab.errors import DataError
from pma_lab.formatting import fmt_pct
from pma_lab.market.corpactions import (
    DividendYield,
    trailing_dividend_yield,
    trailing_dividend_yields,
)
from pma_lab.optimize.household import REAL_ESTATE, stock_dividend_yields
from pma_lab.tax.rules import REIT_DIVIDEND_DEDUCTION

__all__ = ["DividendYields", "plan_dividend_yields", "historical_dividend_yields",
           "with_historical_yields", "step_years", "year_shares"]


def step_years(day: dt.date, previous: dt.date) -> float:
    """Years between two steps (days / 365.25, as the cash's interest accrues)."""
    return (day - previous).days / 365.25


def year_shares(day: dt.date, previous: dt.date) -> tuple[tuple[int, float], ...]:
    """How a step's accrual splits between calendar years: (year, share of its days).

    The dividends and the cash's interest of the days after ``previous`` up to ``day``
    accrue evenly, day by day, so each calendar year gets its share of those days: a step
    from Oct 31, 2026 to Jan 31, 2027 (92 days) books 61/92 in 2026 and 31/92 in 2027.
    The shares add up to 1 (a step of no days books nothing).

    Examples
    --------
    >>> year_shares(dt.date(2027, 1, 31), dt.date(2026, 10, 31))
    ((2026, 0.6630434782608695), (2027, 0.33695652173913043))
    """
    days = (day - previous).days
    if days <= 0:
        return ()
    out = []
    for y in range(previous.year, day.year + 1):
        start = max(previous, dt.date(y - 1, 12, 31))
        end = min(day, dt.date(y, 12, 31))
        if end > start:
            out.append((y, (end - start).days / days))
    return tuple(out)


@dataclass(frozen=True)
class DividendYields:
    """Annual dividend yield of every name a plan can hold, and which pay a REIT's.

    Attributes
    ----------
    yields : pd.Series
        Annual yield by ticker (0.013 = 1.3 %); a ticker missing pays none.
    reits : frozenset[str]
        Tickers whose dividends are a REIT's ordinary dividends (Real Estate).
    source : str
        One sentence: where the yields come from (the plan's assumptions).
    """

    yields: pd.Series
    reits: frozenset[str] = frozenset()
    source: str = ""

    def of_lots(self, tickers: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Each ticker's yield and whether it pays a REIT's dividends (two arrays)."""
        y = self.yields.reindex(list(tickers)).fillna(0.0).to_numpy(float)
        return y, np.array([t in self.reits for t in tickers], dtype=bool)

    def paid(self, holdings: Iterable[tuple[str, float]], prices: Mapping[str, float],
             years: float) -> tuple[float, float]:
        """Dividends of ``holdings`` (ticker, shares) over ``years`` at ``prices``.

        Returns
        -------
        (qualified, REIT) dividends in USD
        """
        q = r = 0.0
        if years <= 0:
            return q, r
        paying = self._paying
        for t, shares in holdings:
            got = paying.get(t)
            if got is not None:
                v = shares * prices[t] * got[0]
                if got[1]:
                    r += v
                else:
                    q += v
        return q * years, r * years

    @functools.cached_property
    def _paying(self) -> dict[str, tuple[float, bool]]:
        """Ticker -> (yield, pays a REIT's), for the tickers that pay a dividend."""
        return {str(t): (float(v), t in self.reits) for t, v in self.yields.items() if v}


def _plan_names(setup: object) -> tuple[list[str], list[str]]:
    """The tickers held, and every name the plans can hold (held, targeted, modelled)."""
    held = [lt.ticker for lt in setup.ledger.lots()]  # type: ignore[attr-defined]
    names = list(dict.fromkeys([*setup.risk.tickers, *setup.target.weights.index,  # type: ignore
                                *held]))
    return held, names


def _held_funds(setup: object, held: Sequence[str]) -> list[str]:
    """The held names that are funds (not stocks of the risk model), once each."""
    model = set(setup.risk.tickers)  # type: ignore[attr-defined]
    return [t for t in dict.fromkeys(held) if t not in model and t != "CASH"]


def _fund_composition(setup: object, funds: Sequence[str]) -> pd.DataFrame:
    """What each held fund holds (benchmark weights), as the proposal looks through it.

    A fund the equity model cannot look through (not a packaged S&P 500 tracker or sector
    fund) has no column: its dividends are not modelled, and the assumptions say so.
    """
    from pma_lab.plan.scenarios import fund_composition

    info = setup.market.etf_info()  # type: ignore[attr-defined]
    cols = {}
    for f in funds:
        try:
            cols[f] = fund_composition([f], setup.benchmark.weights,  # type: ignore
                                       setup.sectors, info)[f]  # type: ignore
        except DataError:
            continue
    return pd.DataFrame(cols, index=setup.benchmark.weights.index)  # type: ignore


def _restricted(dy: DividendYield, names: Sequence[str]) -> DividendYield:
    """``dy`` for ``names`` only (each name's yield is its own: the others do not move it)."""
    keep = set(names)
    return replace(dy, yields=dy.yields[dy.yields.index.isin(keep)],
                   approximated=dy.approximated & keep, missing=dy.missing & keep,
                   uncertain=dy.uncertain & keep)


def _fund_yields(dy: DividendYield, comp: pd.DataFrame, sectors: pd.Series
                 ) -> tuple[dict[str, float], dict[str, float], list[str]]:
    """Each fund's look-through yield, the share of its weight with dividend data, REITs.

    A fund yields what the stocks it holds yield, weighted by its composition and over the
    stocks with dividend data (:meth:`DividendYield.of`: the proposal's characteristics
    table reads the same number); a Real Estate sector fund pays a REIT's dividends.
    """
    y, cov, reits = {}, {}, []
    for f in comp.columns:
        v, c = dy.of(comp[f])
        if v == v:
            y[f], cov[f] = v, c
        held = comp[f][comp[f] > 0].index
        if len(held) and (sectors.reindex(held) == REAL_ESTATE).all():
            reits.append(f)
    return y, cov, reits


def historical_dividend_yields(setup: object, days: Sequence[dt.date]
                               ) -> dict[dt.date, DividendYields]:
    """The plans' names' yields on past days, for historical replays (no look-ahead).

    On each day, as :func:`plan_dividend_yields` on the client's date: each name's
    trailing 12-month yield (cash dividends with an ex-date in the 12 months to that day
    over that day's close, :func:`pma_lab.market.corpactions.trailing_dividend_yields`),
    a name without dividend data that day (not yet listed, or no dividend records) its
    sector's median that day, the Real Estate names a REIT's, a held fund the yield of
    the stocks it holds that day (today's composition).

    Returns
    -------
    dict
        Each day -> its :class:`DividendYields` (``source``: the day the yields are of).
    """
    held, names = _plan_names(setup)
    market = setup.market  # type: ignore[attr-defined]
    funds = _held_funds(setup, held)
    comp = _fund_composition(setup, funds) if funds else None
    asked = names if comp is None else list(dict.fromkeys([*names, *comp.index]))
    got = trailing_dividend_yields(market, asked, list(days))
    out = {}
    for day in days:
        whole = got[pd.Timestamp(day)]
        dy = whole if comp is None else _restricted(whole, names)
        y, filled, reits = stock_dividend_yields(dy, names, setup.sectors)  # type: ignore
        if comp is not None:
            fy, _cov, freits = _fund_yields(whole, comp, setup.sectors)  # type: ignore
            for f, v in fy.items():
                y[f] = v
            reits = [*reits, *freits]
        out[day] = DividendYields(y.astype(float), frozenset(reits),
                                  f"trailing 12-month yields of {dy.as_of:%Y-%m-%d}")
    return out


def with_historical_yields(setup: object, paths: Sequence) -> list:
    """Historical replays with each step's dividend yields attached.

    The paths are :func:`pma_lab.plan.scenarios.historical_paths`'; each step's yields
    are those of the day it replays (:func:`historical_dividend_yields`, computed once
    for the days of every path).
    """
    days = list(dict.fromkeys(d for p in paths for d in p.history))
    by_day = historical_dividend_yields(setup, days) if days else {}
    return [replace(p, dividends=tuple(by_day[d] for d in p.history)) for p in paths]


def plan_dividend_yields(setup: object) -> DividendYields:
    """The yields of every name the client's plans can hold (held, targeted, modelled).

    Each name's trailing 12-month yield on the client's date; a name without dividend data
    gets its sector's median (0 without a sector), and the Real Estate names pay a REIT's
    dividends (:func:`pma_lab.optimize.household.stock_dividend_yields`, as asset location
    reads them). A held fund (an S&P 500 tracker or a sector fund: the data hold no fund
    distributions) yields what the stocks it holds yield, looked through as the proposal's
    characteristics table looks through it (the same trailing yields, weighted by the
    fund's composition over the stocks with dividend data), so the two read the same; a
    fund with no such stock pays none, and the assumptions name it.
    """
    held, names = _plan_names(setup)
    funds = _held_funds(setup, held)
    comp = _fund_composition(setup, funds) if funds else None
    asked = names if comp is None else list(dict.fromkeys([*names, *comp.index]))
    whole = trailing_dividend_yield(setup.market, asked, setup.as_of)  # type: ignore
    dy = whole if comp is None else _restricted(whole, names)
    y, filled, reits = stock_dividend_yields(dy, names, setup.sectors)  # type: ignore
    fy: dict[str, float] = {}
    cov: dict[str, float] = {}
    if comp is not None:
        fy, cov, freits = _fund_yields(whole, comp, setup.sectors)  # type: ignore
        for f, v in fy.items():
            y[f] = v
        reits = [*reits, *freits]
    unmodelled = [f for f in funds if f not in fy]
    no_data = set(dy.missing) - set(filled) - set(fy)
    px = setup.prices  # type: ignore[attr-defined]
    value = pd.Series(0.0, index=list(dict.fromkeys(held)))
    for lt in setup.ledger.lots():  # type: ignore[attr-defined]
        if lt.ticker in px.index:
            value[lt.ticker] += float(lt.shares) * float(px[lt.ticker])
    avg = float((value * y.reindex(value.index)).sum() / value.sum()) if value.sum() > 0 \
        else float("nan")
    text = (f"Dividends: every name pays its trailing 12-month dividend yield on "
            f"{dy.as_of:%Y-%m-%d} (cash dividends with an ex-date in the 12 months to that "
            f"day over that day's price) on the value held, {len(names) - len(dy.missing)} "
            f"of the {len(names)} names from their own dividends"
            + (f", {len(filled)} without dividend data at their sector's median yield"
               if filled else "")
            + "".join(f", {f} (a fund) at the yield of the stocks it holds, "
                      f"{fmt_pct(fy[f])} ({fmt_pct(cov[f], 0)} of its weight with "
                      "dividend data), as the characteristics table looks through it"
                      for f in funds if f in fy)
            + (f", {len(no_data)} without data or sector at 0" if no_data else "")
            + "".join(f" ({f} is a fund whose holdings have no dividend data: its "
                      "dividends are not modelled)" for f in unmodelled)
            + (f" (the holdings today yield {fmt_pct(avg)})" if avg == avg else "")
            + ". They accrue day by day between the steps, so each step's dividends are split "
            "between the calendar years of the days they cover, pro rata by days (the last "
            "year carries only its days up to the horizon). They are reinvested (prices are "
            "total-return, so they add no cash) and taxed each calendar year through the "
            "profile: qualified dividends as long-term gains, stacked on top of the year's "
            "ordinary income and interest and beneath the gains (NIIT above the threshold, "
            "the state as ordinary income)"
            + (f"; the {len(reits)} Real Estate names' dividends as a REIT's, ordinary "
               f"income less the {REIT_DIVIDEND_DEDUCTION:.0%} section 199A deduction"
               if reits else "")
            + ". Their tax is part of each year's tax, paid from outside the account like "
            "every tax of the plan, so after-tax wealth falls by it; every plan and every "
            "Monte Carlo path is taxed alike.")
    return DividendYields(y.astype(float), frozenset(reits), text)
