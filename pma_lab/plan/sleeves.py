"""The bond sleeve of a mixed portfolio inside a transition plan (60/40, 70/30, a ladder).

A client whose profile holds a bond ladder (``[fixed_income]`` with an amount) has a mixed
portfolio: the equity account the plans transition, and the ladder beside it. Every plan
carries the ladder along its path (:class:`SleeveBook`, stepped by
:func:`pma_lab.plan.simulation.simulate`), so a plan's yearly tax, values and after-tax
wealth are those of the whole portfolio:

* **Coupons.** Each rung pays half its coupon every six months from the day it was bought
  and its face at maturity (:mod:`pma_lab.portfolio.ladder`: bought at par, coupon = yield).
  Interest is taxed in the calendar year it is paid (:meth:`SleeveBook.interest_income`),
  as ordinary income added to the profile's taxable income beneath the year's gains,
  through the federal brackets, the NIIT and the state rate
  (:func:`pma_lab.tax.liability.year_tax`: Treasuries federally taxed and state-exempt;
  in-state munis exempt from both; out-of-state munis state-taxed only), paid from outside
  the account at the end of the year like every other tax of the plan. The profile's
  taxable income is taken to exclude the ladder's interest.
* **Where the cash goes.** Coupons and maturing rungs wait in the sleeve until the next plan
  year starts (no interest meanwhile). Then, with a core allocation (``[core] allocation``),
  :func:`pma_lab.portfolio.allocation.plan_sleeves` decides: cash to the sleeve under its
  target, maturing rungs to equity when equity is under target and otherwise reinvested at
  the long end, and outside the band a sale back to the band's edge (a budget plan's
  limited to what its gains budget allows, :func:`pma_lab.plan.simulation.band_sale_limit`,
  the rest first in each later tax year's budget, :class:`pma_lab.plan.simulation.LaterSales`
  and :meth:`SleeveBook.band_sale`). A move to equity is a contribution to the equity
  account; a sale of equity is a withdrawal from it, which the plan's tax-aware rebalance
  raises lot by lot through the ledger (so its tax is the ledger's). Without a core
  allocation the ladder is held on its own: coupons and maturing rungs are reinvested at
  the long end.
* **Reinvestment.** Money moved into bonds buys one new rung at the long end of the ladder
  (maturing ``N`` years later, ``N`` the ladder's length) at the implied forward ``N``-year
  par yield of today's curve for that date
  (:meth:`pma_lab.portfolio.ladder.Ladder.reinvest_yield`, as
  :func:`pma_lab.portfolio.ladder.reinvestment_plan`; ``LadderSettings(reinvest="today")``:
  today's ``N``-year yield), in any face amount (no par increments). Bonds sold to move
  money to equity are the shortest rungs, at par.
* **Values.** The sleeve is worth the face of its rungs plus the cash it holds (bonds at
  par: no gain, so nothing to tax when they are sold or at the horizon).

Tracking error stays that of the equity account to its benchmark: the packaged data have
no bond returns to put the ladder in the risk model, so no blended benchmark's tracking
error is computed (every output that shows TE for a mixed client says so).
"""

from __future__ import annotations

import calendar
import datetime as dt
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from pma_lab.errors import DataError
from pma_lab.plan.montecarlo import PathOutcomes
from pma_lab.portfolio.allocation import (
    CORE_ALLOCATIONS,
    CoreAllocation,
    SleevePlan,
    plan_sleeves,
)
from pma_lab.portfolio.ladder import (
    Ladder,
    LadderKind,
    interest_tax_words,
    ladder_for_profile,
)
from pma_lab.tax.liability import InterestIncome, TaxProfile
from pma_lab.tax.rules import add_years, money

__all__ = ["BondSleeve", "SleeveBook", "bond_sleeve", "equity_value", "whole_years",
           "with_bonds", "YEAR_COLUMNS"]

YEAR_COLUMNS = ("interest", "tax_interest", "to_equity", "to_bonds", "equity_end",
                "bonds_end", "equity_share_end")
"""Columns :func:`whole_years` adds to a plan's yearly table (USD; the share a decimal)."""


@dataclass(frozen=True)
class BondSleeve:
    """A mixed portfolio's ladder and allocation, as every plan carries them.

    Attributes
    ----------
    ladder : Ladder
        The ladder bought today (its rungs' face, coupon and maturity in years).
    tax : TaxProfile
        The client's tax situation (:func:`bond_sleeve`: the profile's), for the notes;
        the plans tax the interest through the client's profile
        (:func:`pma_lab.plan.accounting._tax_context` with
        :meth:`SleeveBook.interest_income`).
    allocation : CoreAllocation | None
        The core allocation and band; ``None``: the ladder is held beside the equity with no
        rebalancing between them.
    """

    ladder: Ladder
    tax: TaxProfile
    allocation: CoreAllocation | None = None

    @property
    def interest_taxed(self) -> bool:
        """Whether any tax reaches the ladder's interest (not for in-state munis)."""
        probe = InterestIncome.of(self.ladder.issuer, 1)
        return bool(probe.federal or probe.state and self.tax.state_rate)

    def reinvest_yield(self, day: dt.date) -> float:
        """Yield of a new long rung bought on ``day`` (decimal).

        :meth:`pma_lab.portfolio.ladder.Ladder.reinvest_yield` at ``day``'s years from the
        ladder's date: by default the implied forward par yield of today's curve.
        """
        lad = self.ladder
        return lad.reinvest_yield((day - lad.as_of).days / 365.25)

    def book(self, start: dt.date) -> SleeveBook:
        """The ladder as bought on ``start`` (each rung ``rung`` years after it)."""
        rungs = [[add_years(start, int(r.rung)), float(r.amount), float(r.coupon), start]
                 for r in self.ladder.rungs.itertuples()]
        return SleeveBook(self, rungs, start, float(self.ladder.cash_left))

    def _reinvest_words(self) -> str:
        """At which yields new rungs are bought, with the first years' figures."""
        lad = self.ladder
        if lad.settings.reinvest == "today" or lad.discount is None:
            return f"at {lad.reinvest_yield(0.0):.2%} (today's curve, rates unchanged)"
        return (f"at the implied forward yields of today's curve ({lad.reinvest_yield(1.0):.2%}"
                f" a year from now, {lad.reinvest_yield(2.0):.2%} in two, "
                f"{lad.reinvest_yield(3.0):.2%} in three: rates that can be locked in today, "
                "not a forecast)")

    def notes(self) -> tuple[str, ...]:
        """What the plans assume about the bond sleeve (for the assumptions list)."""
        lad = self.ladder
        kind = "municipal bond" if lad.kind is LadderKind.MUNI else "Treasury"
        rule = (f"the {self.allocation.label} allocation with a "
                f"{self.allocation.band * 100:g}-point band decides where coupons and maturing "
                "rungs go (first to the sleeve under its target; maturing rungs otherwise "
                "reinvested at the long end) and, outside the band, sells back to its edge: "
                "an equity sale is a withdrawal the plan's tax-aware rebalance raises "
                "through the ledger" if self.allocation is not None else
                "coupons and maturing rungs are reinvested at the long end")
        taxed = (f"yearly tax includes the tax on its interest, {interest_tax_words(lad.issuer)}, "
                 "added to the profile's taxable income as ordinary income beneath the "
                 "year's gains (through the brackets, the NIIT threshold and the state "
                 "rate, so the gains are taxed on top of it)" if self.interest_taxed else
                 f"its interest is {interest_tax_words(lad.issuer)}, so it adds no tax")
        modelled = (f"; yields MODELLED as {lad.settings.muni_ratio:.0%} of the Treasury "
                    "yield" if lad.kind is LadderKind.MUNI else "")
        return (
            f"Every plan carries the 1-{lad.years} year {kind} ladder ($"
            f"{lad.invested:,.0f} at par{modelled}) beside the equity account: {taxed}; "
            f"values and after-tax wealth include the ladder at par; {rule}. New rungs are "
            f"bought at the long end {self._reinvest_words()}; coupons and "
            "maturing rungs wait in the sleeve without interest until the next plan year.",
            "Tracking error is the equity account's to its benchmark; the ladder is not in "
            "the risk model (no bond returns in the packaged data), so no blended "
            "benchmark's tracking error is computed. Monte Carlo paths replay the expected "
            "path's moves between the sleeves as fixed amounts.",
        )


_SLEEVES: list[tuple[Any, Any, BondSleeve]] = []
"""The last :data:`_SLEEVES_KEPT` bond sleeves built: (client, market) by weak reference."""
_SLEEVES_KEPT = 4


def bond_sleeve(setup: Any) -> BondSleeve | None:  # noqa: ANN401 - a ClientSetup
    """The bond sleeve of a client whose profile holds a ladder; ``None`` otherwise.

    It depends on the setup's client (frozen: its profile and as-of date) and market data
    (frozen) only, and a proposal asks for it ~13 times (each plan's simulation, the first
    step's and the frontier's flows, the assumptions, the sleeves section): the last few
    are kept (weakly, so none outlives its client or market data) and the same frozen
    sleeve is returned, not its ladder built again from the Treasury curve (~0.014 CPU-s
    a time).

    Raises
    ------
    DataError
        As :func:`pma_lab.portfolio.ladder.ladder_for_profile`, or for an unknown core
        allocation.
    """
    prof = setup.client.profile
    fi = getattr(prof, "fixed_income", None)
    if fi is None or fi.amount is None:
        return None
    client, market = setup.client, getattr(setup, "market", None)
    for c, m, kept in _SLEEVES:
        if c() is client and (m() if m is not None else None) is market:
            return kept
    out = _bond_sleeve(prof, client.as_of, market)
    _SLEEVES[:] = [(weakref.ref(client), None if market is None else weakref.ref(market),
                    out), *_SLEEVES[:_SLEEVES_KEPT - 1]]
    return out


def _bond_sleeve(prof: Any, as_of: dt.date, market: Any) -> BondSleeve:  # noqa: ANN401
    lad = ladder_for_profile(prof, as_of, market)
    core = getattr(prof, "core", None)
    alloc = None
    if core is not None and core.allocation is not None:
        if core.allocation not in CORE_ALLOCATIONS:
            raise DataError(f"[core] allocation {core.allocation!r} is not offered; use "
                            + " or ".join(CORE_ALLOCATIONS))
        alloc = replace(CORE_ALLOCATIONS[core.allocation], band=core.band)
    return BondSleeve(lad, prof.tax, alloc)


def _add_months(d: dt.date, months: int) -> dt.date:
    """The same day ``months`` later, or the month's last day when it is shorter."""
    y, m = divmod(d.month - 1 + months, 12)
    year = d.year + y
    return dt.date(year, m + 1, min(d.day, calendar.monthrange(year, m + 1)[1]))


def equity_value(lots: Any, prices: pd.Series, cash: float) -> float:  # noqa: ANN401
    """The equity account's value: its lots at ``prices`` plus its cash (USD)."""
    px = prices.to_dict()
    return float(sum(float(lt.shares) * px[lt.ticker] for lt in lots)) + float(cash)


@dataclass
class SleeveBook:
    """The bond sleeve along one plan's path (mutable: the simulation steps it).

    ``rungs`` holds ``[maturity, face, coupon, bought]`` per rung (USD, decimal coupon);
    ``cash`` the coupons and principal received and not yet invested (USD).
    """

    sleeve: BondSleeve
    rungs: list[list[Any]]
    collected_to: dt.date
    cash: float = 0.0
    matured: float = 0.0  # of ``cash``: principal repaid since the last plan-year start
    interest: dict[int, float] = field(default_factory=dict)  # paid, by calendar year
    moves: list[dict[str, Any]] = field(default_factory=list)
    marks: list[tuple[dt.date, float, float]] = field(default_factory=list)

    @property
    def value(self) -> float:
        """Face of the rungs held plus the sleeve's cash (USD)."""
        return float(sum(r[1] for r in self.rungs)) + self.cash

    def interest_income(self) -> dict[int, InterestIncome]:
        """The interest paid each calendar year so far, to the cent, by who taxes it."""
        issuer = self.sleeve.ladder.issuer
        return {y: InterestIncome.of(issuer, money(Decimal(repr(float(v)))))
                for y, v in sorted(self.interest.items())}

    def collect(self, day: dt.date) -> None:
        """Receive every coupon and principal paid after the last collection, up to ``day``."""
        keep = []
        for mat, face, cpn, bought in self.rungs:
            j = 1
            while (pay := _add_months(bought, 6 * j)) <= min(day, mat):
                if pay > self.collected_to:
                    amount = face * cpn / 2.0
                    self.interest[pay.year] = self.interest.get(pay.year, 0.0) + amount
                    self.cash += amount
                j += 1
            if mat <= day:
                self.cash += face
                self.matured += face
            else:
                keep.append([mat, face, cpn, bought])
        self.rungs = keep
        self.collected_to = max(self.collected_to, day)

    def _buy(self, day: dt.date, amount: float) -> None:
        if amount > 0.005:
            n = self.sleeve.ladder.years
            self.rungs.append([add_years(day, n), amount, self.sleeve.reinvest_yield(day),
                               day])
            self.cash -= amount

    def _sell(self, amount: float) -> None:
        """Sell ``amount`` of face, shortest rungs first, at par."""
        left = amount
        for r in sorted(self.rungs, key=lambda r: r[0]):
            take = min(r[1], left)
            r[1] -= take
            left -= take
            if left <= 1e-9:
                break
        self.rungs = [r for r in self.rungs if r[1] > 1e-9]

    def step(self, day: dt.date, equity: float | None,
             limit: Callable[[float], float] | None = None) -> float:
        """Collect up to ``day``; at a plan-year start (``equity`` given) move the cash.

        Parameters
        ----------
        day : datetime.date
        equity : float | None
            The equity account's value (USD) when a plan year starts on ``day``; ``None``
            on other steps (the cash then waits in the sleeve).
        limit : Callable[[float], float] | None
            Given the band's equity sale (USD), the most of it that may be sold now (a
            budget plan's gains budget, :func:`pma_lab.plan.simulation.band_sale_limit`);
            called only when equity is above the band. ``None``: the whole sale.

        Returns
        -------
        float
            USD moved into the equity account (negative: to be raised by selling equity).
        """
        self.collect(day)
        flow = 0.0
        if equity is not None:
            flow = self._rebalance(day, equity, limit)
        self.marks.append((day, self.value, flow))
        return flow

    def band_sale(self, day: dt.date, equity: float) -> float:
        """The equity sale (USD) the band would ask on the plan-year start ``day``.

        As :meth:`step` would plan it at ``day`` with the equity account worth ``equity``
        (USD), the coupons and rungs maturing until then collected, without a limit; the
        book itself is left unchanged. 0 without a core allocation or inside the band.
        A budget plan holds back the gains of this sale in the steps before ``day`` of
        the same tax year (:func:`pma_lab.plan.simulation.simulate`), so that each
        year's budget goes first to the move toward the band.
        """
        if self.sleeve.allocation is None:
            return 0.0
        ahead = SleeveBook(self.sleeve, [list(r) for r in self.rungs], self.collected_to,
                           self.cash, self.matured)
        ahead.collect(day)
        return float(ahead._plan(equity).sell_equity)

    def _plan(self, equity: float, most: float | None = None) -> SleevePlan:
        """The sleeves' moves for the equity account worth ``equity`` (USD).

        ``most``: the most equity (USD) sold toward the band (``None``: no limit).
        """
        face = float(sum(r[1] for r in self.rungs))
        return plan_sleeves(self.sleeve.allocation, max(equity, 0.0), face + self.matured,
                            self.cash - self.matured, self.matured, max_sell_equity=most)

    def _rebalance(self, day: dt.date, equity: float,
                   limit: Callable[[float], float] | None = None) -> float:
        cash = self.cash
        alloc = self.sleeve.allocation
        if alloc is None:
            self._record(day, equity, "sleeve cash", "bonds", cash,
                         "coupons and maturing rungs reinvested at the long end")
            self._buy(day, cash)
            self.matured = 0.0
            return 0.0
        plan = self._plan(equity)
        if plan.sell_equity > 0 and limit is not None:
            most = float(limit(plan.sell_equity))
            if most < plan.sell_equity - 0.005:
                plan = self._plan(equity, most)
        flow = to_bonds = 0.0
        for m in plan.moves.itertuples():
            self._record(day, equity, m.source, m.destination, float(m.amount), m.reason)
            if m.destination == "equity":
                flow += float(m.amount)
            else:
                to_bonds += float(m.amount)
        if plan.sell_bonds > 0:
            self._sell(plan.sell_bonds)
            self.cash += plan.sell_bonds
        self.cash -= flow  # cash and maturing rungs sent to equity, bond sales included
        if plan.sell_equity > 0:
            flow -= plan.sell_equity
            self.cash += plan.sell_equity
        self._buy(day, self.cash)
        self.matured = 0.0
        return flow

    def _record(self, day: dt.date, equity: float, source: str, destination: str,
                amount: float, reason: str) -> None:
        self.moves.append({"date": day, "equity_value": equity, "source": source,
                           "destination": destination, "amount": amount, "reason": reason})

    def moves_frame(self) -> pd.DataFrame:
        """Every move of the sleeve: date, equity value seen, from, to, USD, why."""
        return pd.DataFrame(self.moves, columns=["date", "equity_value", "source",
                                                 "destination", "amount", "reason"])


def whole_years(book: SleeveBook, years: pd.DataFrame) -> pd.DataFrame:
    """A plan's yearly table for the whole portfolio (the equity table plus the sleeve).

    Adds :data:`YEAR_COLUMNS`: the ladder's ``interest`` paid in the year and its
    ``tax_interest`` (already in ``years``: :func:`pma_lab.plan.accounting._yearly` taxes
    the book's :meth:`SleeveBook.interest_income`; moved beside ``interest``);
    ``to_equity`` (USD moved into the equity account: coupons, maturing rungs, bond sales)
    and ``to_bonds`` (USD of equity sold to buy bonds); ``equity_end`` (the equity
    account's value, the old ``value_end``), ``bonds_end`` and
    ``equity_share_end``. ``value_end`` becomes the whole portfolio's; ``tax`` and
    ``pv_tax`` include the interest tax (``tax_gains`` and ``charity_saving`` stay the
    ledger's).
    """
    y = years.copy()
    tax_i = y.pop("tax_interest") if "tax_interest" in y else None
    if tax_i is None and any(book.interest.values()):
        raise DataError("the yearly table has no tax_interest column: net the years with "
                        "the book's interest_income() (plan.accounting._tax_context)")
    marks = pd.DataFrame(book.marks, columns=["date", "bonds", "flow"])
    marks["year"] = [d.year for d in marks.date]
    moves = book.moves_frame()
    myear = np.array([d.year for d in moves.date], dtype=int)
    rows = []
    for yr in y.year.astype(int):
        interest = book.interest.get(yr, 0.0)
        at = moves[myear == yr]
        into_eq = at[at.destination == "equity"].amount.sum()
        into_bd = at[(at.destination == "bonds") & (at.source == "equity")].amount.sum()
        rows.append((interest, float(into_eq), float(into_bd),
                     float(marks.bonds[marks.year == yr].iloc[-1])))
    extra = pd.DataFrame(rows, columns=["interest", "to_equity", "to_bonds", "bonds_end"],
                         index=y.index)
    y["interest"] = extra.interest
    y["tax_interest"] = 0.0 if tax_i is None else tax_i
    y["to_equity"] = extra.to_equity
    y["to_bonds"] = extra.to_bonds
    y["equity_end"] = y.value_end
    y["bonds_end"] = extra.bonds_end
    y["value_end"] = y.equity_end + y.bonds_end
    y["equity_share_end"] = y.equity_end / y.value_end
    return y


def with_bonds(out: PathOutcomes, years: pd.DataFrame) -> PathOutcomes:
    """Monte Carlo outcomes of the whole portfolio (the equity replay plus the sleeve).

    The sleeve is the expected path's on every path (its moves are replayed as fixed
    amounts and bond prices do not move): each path's value and wealth gain the sleeve's
    horizon value. The interest's tax is already in ``out`` (the replay's
    :class:`~pma_lab.plan.montecarlo.TaxContext` carries the year's interest, and each
    path's gains are stacked on it).
    """
    bonds = float(years.bonds_end.iloc[-1])
    return replace(out, value_end=out.value_end + bonds, wealth=out.wealth + bonds)
