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

from pma_lab.formatting import fmt_pct
from pma_lab.market.corpactions import trailing_dividend_yield, trailing_dividend_yields
from pma_lab.optimize.household import stock_dividend_yields
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


def historical_dividend_yields(setup: object, days: Sequence[dt.date]
                               ) -> dict[dt.date, DividendYields]:
    """The plans' names' yields on past days, for historical replays (no look-ahead).

    On each day, as :func:`plan_dividend_yields` on the client's date: each name's
    trailing 12-month yield (cash dividends with an ex-date in the 12 months to that day
    over that day's close, :func:`pma_lab.market.corpactions.trailing_dividend_yields`),
    a name without dividend data that day (not yet listed, or no dividend records) its
    sector's median that day, the Real Estate names a REIT's.

    Returns
    -------
    dict
        Each day -> its :class:`DividendYields` (``source``: the day the yields are of).
    """
    _held, names = _plan_names(setup)
    market = setup.market  # type: ignore[attr-defined]
    got = trailing_dividend_yields(market, names, list(days))
    out = {}
    for day in days:
        dy = got[pd.Timestamp(day)]
        y, filled, reits = stock_dividend_yields(dy, names, setup.sectors)  # type: ignore
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
    reads them).
    """
    held, names = _plan_names(setup)
    dy = trailing_dividend_yield(setup.market, names, setup.as_of)  # type: ignore
    y, filled, reits = stock_dividend_yields(dy, names, setup.sectors)  # type: ignore
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
            + (f", {len(set(dy.missing) - set(filled))} without data or sector at 0"
               if set(dy.missing) - set(filled) else "")
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
