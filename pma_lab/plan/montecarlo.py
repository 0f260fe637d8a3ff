"""A plan's trades as a schedule, and its after-tax wealth on Monte Carlo paths.

Re-optimising every plan at every step of a thousand paths would take hours, so each plan
is optimised once, on the expected path (:func:`pma_lab.plan.simulation.simulate`, through the
lot ledger), and its decisions are recorded as a :class:`Schedule` that does not depend on
prices:

* at each step, the fraction of each lot's shares sold (its holding period, hence its
  character, depends only on dates), the dollars of each lot given to charity, the cash
  added or withdrawn, and the purchases as shares of the cash available after the sales
  above the account's minimum cash (the profile's ``min_cash``, kept in dollars on every
  path: a path whose sales raise more buys more);
* at each step the plan trades, the cash it keeps (:attr:`ScheduleStep.restore`): as the
  expected path's steps sell to raise the account's minimum cash
  (:func:`pma_lab.optimize.engine.with_min_cash`; hold raises only a negative balance, a
  withdrawal), a path whose cash is still below it after the scheduled sales (a
  withdrawal its lower prices do not cover) sells more, lot by lot in the ledger's
  min-tax relief order (:func:`restore_order`; wash sales honoured: a lot at a loss in
  a name the ledger's locks or the schedule's purchases within 30 days would wash is
  not sold for it, nor a name the step may not sell);
* a withdrawal a path cannot pay even after selling every lot it may sell (its prices
  fell too far): the step withdraws what there is and records the rest as the path's
  shortfall (:attr:`PathOutcomes.shortfall_by_year`, USD); its after-tax wealth counts the
  shortfall as owed, carried to the horizon at the cash rate, so plans still compare like
  with like (each delivers the same withdrawals or owes the difference), and
  :func:`outcomes_table` says on how many paths and by how much (:func:`shortfall_note`);
* a plan with a gain budget keeps it on every path: when a path's prices make the
  scheduled sales realise more net gain than the step's caps allow, the sales of gain
  lots the plan chose (not those the restrictions force) are scaled down on that path.
  The caps are those the expected path's step kept to (:attr:`ScheduleStep.budgets`):
  the year's budget less the room a step holds back for the tax year's later withdrawal
  (:func:`pma_lab.plan.simulation._reserve_budget`), or raised by a withdrawal's minimum
  trade (:mod:`pma_lab.plan.withdrawal`), so a path spends no more of the year's budget
  before its withdrawal than the expected path does;
* the sales a path makes to keep a step's cash (above: a withdrawal its scheduled sales,
  scaled to the budget, no longer cover, as on a path whose prices ended above the
  expected path's and whose lots hold more gain per dollar) are never scaled down: the
  withdrawal is paid, in the order of least tax, and when their gains take the tax year
  above the plan's gains budget the path is counted (:attr:`PathOutcomes.over_budget_by_year`;
  :func:`outcomes_table`'s ``paths_over_budget`` and ``over_budget_max``), and the plans
  compared say on how many paths and the worst year's gains (:func:`over_budget_note`).

:func:`revalue` replays a schedule on every path at once (numpy over paths) and nets every
path's gains year by year at once through :mod:`pma_lab.tax.vectorized` (Schedule D netting,
the $3,000 offset, carryforwards by character, the client's rates or brackets, the gifts'
deduction within the AGI limits, each year's gains stacked on the year's interest income
and that interest's own tax: the ladder's, :attr:`TaxContext.interest`, the same on every
path, and the interest the account's cash earned on the path, :data:`CASH_INTEREST`; on
top of it the dividends the path's holdings paid, :mod:`pma_lab.plan.dividends`, and their
own tax): the figures of
:mod:`pma_lab.tax.liability`'s Decimal
functions to the cent (``revalue(..., decimal=True)`` runs those, path by path), and
liquidates the account at the horizon. Replayed on the expected path's own prices it
reproduces the ledger's figures (tested), so the two views of a plan cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd

from pma_lab.blas import one_thread
from pma_lab.errors import PmaLabError
from pma_lab.formatting import fmt_usd
from pma_lab.plan.dividends import step_years, year_shares
from pma_lab.plan.scenarios import MonteCarloPaths
from pma_lab.tax.liability import (
    DividendIncome,
    InterestIncome,
    Netting,
    TaxProfile,
    carryforward_value,
    charitable_deductions,
    net_capital_gains,
    year_tax,
)
from pma_lab.tax.rules import (
    WASH_SALE_WINDOW_DAYS,
    BondIssuer,
    Term,
    interest_taxation,
    long_term_date,
    money,
    term_of,
)
from pma_lab.tax.vectorized import (
    DividendPaths,
    InterestPaths,
    carryforward_paths,
    cents,
    cents_of,
    charitable_paths,
    dividend_tax_paths,
    interest_tax_paths,
    net_paths,
    year_tax_paths,
)

__all__ = ["ScheduleStep", "Schedule", "ScheduleRecorder", "TaxContext", "PathOutcomes",
           "revalue", "wealth_at_horizon", "tax_payment_date", "outcomes_table", "year_taxes",
           "carry_left_value", "BELOW_TOLERANCE", "CASH_INTEREST", "cash_interest_income",
           "dividend_income", "restore_order", "RESTORE_TOLERANCE", "SHORTFALL_TOLERANCE",
           "shortfall_note", "over_budget_note", "BUDGET_TOLERANCE"]

RESTORE_TOLERANCE = 0.01
SHORTFALL_TOLERANCE = 0.01
"""USD of a withdrawal a path may leave unpaid (cash below zero after the step's sales)
before it counts as a shortfall: a cent, the expected path's own cash check."""
"""USD a path's cash may be below the cash a step keeps before the replay sells for it:
the expected path's own check (:class:`pma_lab.optimize.constraints.CashTarget`, a cent)."""
BUDGET_TOLERANCE = 1.0
"""USD of net gain a tax year may realise beyond its gains budget on a path before the path
counts as over it (:attr:`PathOutcomes.over_budget_by_year`): a dollar, the rounding of the
solver's and of whole shares the expected path itself allows."""

CASH_INTEREST = BondIssuer.TAXABLE
"""Who taxes the interest the account's cash earns: a brokerage sweep or money-market fund
pays taxable interest (federal ordinary rates, the NIIT and the state), earned at the cash
rate (:func:`pma_lab.market.rates.cash_rate`) and taxed in the calendar years of the days
it accrued over (pro rata by days, :func:`pma_lab.plan.dividends.year_shares`), beneath
the year's gains (:func:`pma_lab.tax.liability.year_tax`)."""


def cash_interest_income(usd: float | Decimal) -> InterestIncome:
    """A year's interest on cash (USD, rounded to the cent as the replay rounds it)."""
    return InterestIncome.of(CASH_INTEREST, _d(usd))


def dividend_income(qualified: float, reit: float) -> DividendIncome:
    """A year's dividends (USD, each rounded to the cent as the replay rounds them)."""
    return DividendIncome(_d(qualified), _d(reit))


@dataclass(frozen=True)
class ScheduleStep:
    """What a plan does at one step, independent of prices.

    Arrays are aligned: ``sell_lot[i]`` loses ``sell_frac[i]`` of its shares, realising a
    long-term result when ``sell_lt[i]``; ``sell_forced[i]`` marks sales a restriction
    forces. ``buy_lot[i]`` (a new lot) receives ``buy_frac[i]`` of the cash available after
    the sales above ``keep`` (USD: the account's minimum cash, the profile's ``min_cash``,
    the same dollars on every path; 0 without one). ``gift_lot[i]`` gives ``gift_usd[i]``
    dollars of its shares (long-term when ``gift_lt[i]``).

    ``restore``: the cash (USD) the step keeps by selling when a path's cash is below it
    after the scheduled sales (the expected path's minimum cash: ``min_cash`` for every
    plan but hold, 0 for hold, which sells only to raise a withdrawal); ``None``: the step
    does not trade (the last step, an account given away). ``no_sell``: names the step
    may not sell; ``no_loss_groups``: wash-sale identity groups whose lots the step may
    not sell at a loss (the ledger's locks at the step: shares bought in the 30 days
    before).
    """

    k: int
    date: dt.date
    cash_growth: float  # cash growth factor since the previous step
    flow: float  # USD added (negative: withdrawn) before trading
    gift_lot: np.ndarray
    gift_usd: np.ndarray
    gift_lt: np.ndarray
    sell_lot: np.ndarray
    sell_frac: np.ndarray
    sell_lt: np.ndarray
    sell_forced: np.ndarray
    buy_lot: np.ndarray
    buy_frac: np.ndarray
    # the year's gain caps the step's sales kept to on the expected path: total, ST, LT
    # (USD; the plan's budget less a later withdrawal's room, or raised by a withdrawal's
    # minimum trade); None: the plan has no gains budget
    budgets: tuple[float | None, float | None, float | None] | None
    keep: float = 0.0  # USD of cash the purchases leave (the account's min_cash)
    restore: float | None = None  # USD of cash a path's extra sales raise it to
    no_sell: frozenset[str] = frozenset()
    no_loss_groups: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Schedule:
    """A plan's decisions on the expected path (see the module docs).

    ``lot_*`` arrays describe every lot the account ever holds: today's (with their shares
    and basis) and those the plan buys (shares and basis 0 until bought). ``lot_yield``
    and ``lot_reit``: each lot's annual dividend yield and whether it pays a REIT's
    dividends (:meth:`pma_lab.plan.dividends.DividendYields.of_lots`; ``None``: no
    dividends). ``lot_lt_from``: the first day (date ordinal) a sale of each lot is
    long-term (``None``: every lot's term at a step is its term at the horizon,
    ``lot_lt_at_end``); ``lot_group``: each lot's wash-sale identity group (``None``: its
    ticker).
    """

    lot_ids: tuple[str, ...]
    lot_ticker: tuple[str, ...]
    lot_shares: np.ndarray
    lot_basis: np.ndarray
    lot_lt_at_end: np.ndarray  # long-term if sold the day after the horizon
    cash0: float
    steps: tuple[ScheduleStep, ...]
    lot_yield: np.ndarray | None = None
    lot_reit: np.ndarray | None = None
    lot_lt_from: np.ndarray | None = None
    lot_group: tuple[str, ...] | None = None


@dataclass
class ScheduleRecorder:
    """Collects a :class:`Schedule` while :func:`pma_lab.plan.simulation.simulate` runs.

    ``group_of``: a ticker's wash-sale identity group (the ledger's,
    :meth:`pma_lab.market.tickers.IdentityTable.group`; default: the ticker).
    """

    end: dt.date  # the day after the horizon (liquidation)
    cash0: float
    group_of: Callable[[str], str] | None = None
    _ids: list[str] = field(default_factory=list)
    _tick: list[str] = field(default_factory=list)
    _shares: list[float] = field(default_factory=list)
    _basis: list[float] = field(default_factory=list)
    _lt_end: list[bool] = field(default_factory=list)
    _lt_from: list[int] = field(default_factory=list)
    _group: list[str] = field(default_factory=list)
    _pos: dict[str, int] = field(default_factory=dict)
    _steps: list[ScheduleStep] = field(default_factory=list)
    _cur: dict = field(default_factory=dict)
    broken: str = ""  # why the schedule cannot be replayed ("" when it can)

    def add_lot(self, lot_id: str, ticker: str, shares: float, basis: float,
                holding_start: dt.date, inherited: bool = False) -> None:
        """Register a lot (today's, or one the plan buys, with zero shares)."""
        if lot_id in self._pos:
            raise PmaLabError(f"lot {lot_id} registered twice in the schedule; this is a bug")
        self._pos[lot_id] = len(self._ids)
        self._ids.append(lot_id)
        self._tick.append(ticker)
        self._shares.append(shares)
        self._basis.append(basis)
        self._lt_end.append(term_of(holding_start, self.end, inherited) is Term.LONG)
        self._lt_from.append(1 if inherited else long_term_date(holding_start).toordinal())
        self._group.append(self.group_of(ticker) if self.group_of is not None else ticker)

    def _lot(self, lot_id: str) -> int:
        if lot_id not in self._pos:
            # e.g. a piece split off a purchase by a wash sale: the replay cannot follow it
            self.broken = self.broken or f"lot {lot_id} is not in the schedule"
            return -1
        return self._pos[lot_id]

    def begin(self, k: int, day: dt.date, cash_growth: float, flow: float) -> None:
        """Start step ``k``."""
        self._cur = {"k": k, "date": day, "g": cash_growth, "flow": flow, "gift": [],
                     "sell": [], "buy": [], "cash_avail": None, "keep": 0.0,
                     "restore": None, "no_sell": frozenset(), "no_loss": frozenset()}

    def restores(self, usd: float, no_sell: Iterable[str], no_loss_sale: Iterable[str]
                 ) -> None:
        """The step trades and keeps ``usd`` of cash (see :attr:`ScheduleStep.restore`).

        ``no_sell``: names it may not sell; ``no_loss_sale``: names the ledger's wash-sale
        locks forbid selling at a loss (recorded as their identity groups).
        """
        g = self.group_of or (lambda t: t)
        self._cur.update(restore=usd, no_sell=frozenset(no_sell),
                         no_loss=frozenset(g(t) for t in no_loss_sale))

    def gift(self, lot_id: str, usd: float, long_term: bool) -> None:
        """``usd`` dollars of a lot given to charity."""
        if (j := self._lot(lot_id)) >= 0:
            self._cur["gift"].append((j, usd, long_term))

    def sell(self, lot_id: str, fraction: float, long_term: bool, forced: bool) -> None:
        """A fraction of a lot's shares sold."""
        if (j := self._lot(lot_id)) >= 0:
            self._cur["sell"].append((j, fraction, long_term, forced))

    def cash_available(self, usd: float, keep: float = 0.0) -> None:
        """Cash in the account after the sales, before the purchases (USD).

        ``keep``: the cash the purchases must leave (the account's minimum cash); the
        purchases are recorded as shares of the cash above it.
        """
        self._cur["cash_avail"] = usd - keep if keep else usd
        self._cur["keep"] = keep

    def buy(self, lot_id: str, ticker: str, usd: float, day: dt.date) -> None:
        """A new lot bought for ``usd`` dollars."""
        if lot_id in self._pos:
            self.broken = self.broken or f"lot {lot_id} bought twice"
            return
        self.add_lot(lot_id, ticker, 0.0, 0.0, day)
        avail = self._cur["cash_avail"]
        if not avail or avail <= 0:
            self.broken = self.broken or f"a purchase on {day} without cash available"
            return
        self._cur["buy"].append((self._lot(lot_id), usd / avail))

    def finish(self, budgets: tuple[float | None, float | None, float | None] | None
               ) -> None:
        """Close the step; ``budgets``: the gain caps its sales kept to (a budget plan's).

        The plan's yearly gain budgets, or those the step's solve used (see
        :attr:`ScheduleStep.budgets`); ``None`` for a plan without a gains budget.
        """
        c = self._cur

        def cols(rows: list, n: int, types: Sequence) -> list[np.ndarray]:
            return [np.array([r[i] for r in rows], dtype=t) for i, t in zip(range(n), types,
                                                                              strict=True)]

        gl, gu, glt = cols(c["gift"], 3, (int, float, bool))
        sl, sf, slt, sfo = cols(c["sell"], 4, (int, float, bool, bool))
        bl, bf = cols(c["buy"], 2, (int, float))
        self._steps.append(ScheduleStep(c["k"], c["date"], c["g"], c["flow"], gl, gu, glt,
                                        sl, sf, slt, sfo, bl, bf, budgets, c["keep"],
                                        c["restore"], c["no_sell"], c["no_loss"]))

    def schedule(self) -> Schedule | None:
        """The recorded schedule (``None`` when :attr:`broken`)."""
        if self.broken:
            return None
        return Schedule(tuple(self._ids), tuple(self._tick), np.array(self._shares),
                        np.array(self._basis), np.array(self._lt_end, dtype=bool),
                        self.cash0, tuple(self._steps),
                        lot_lt_from=np.array(self._lt_from, dtype=np.int64),
                        lot_group=tuple(self._group))


@dataclass(frozen=True)
class TaxContext:
    """What the yearly netting of a path needs besides the path's own gains.

    ``hist_st`` / ``hist_lt``: net gains realised earlier in the first year (before the
    plan); they share the year's netting and loss offset, and the plan's first-year tax is
    the year's tax with them minus without them (``hist_tax``); with a household's other
    accounts' sales today among them, ``own_st`` / ``own_lt`` are the earlier sales alone
    (:attr:`own`), which a later year's tax is measured from. ``interest``: the
    interest income of each year (one entry a year, or empty for none; a mixed
    portfolio's ladder, :mod:`pma_lab.plan.sleeves`), the same on every path: each year's
    tax includes its tax, and the gains are stacked on top of it. The interest the
    account's cash earns differs by path: :func:`revalue` adds each path's own
    (:data:`CASH_INTEREST`) to it; on the expected path
    (:func:`pma_lab.plan.simulation.simulate`) it is part of ``interest``. ``dividends``:
    the dividends of each year (one entry a year, or empty for none), on top of the
    interest and beneath the gains: the expected path's; on a Monte Carlo path
    :func:`revalue` adds the path's own holdings' dividends.
    """

    tax: TaxProfile
    years: tuple[int, ...]
    carryin_st: Decimal
    carryin_lt: Decimal
    hist_st: Decimal
    hist_lt: Decimal
    hist_tax: Decimal
    agi: Decimal
    interest: tuple[InterestIncome, ...] = ()
    dividends: tuple[DividendIncome, ...] = ()
    own_st: Decimal | None = None
    own_lt: Decimal | None = None

    @property
    def own(self) -> tuple[Decimal, Decimal]:
        """The first year's earlier sales alone, short- and long-term (USD).

        ``hist_st`` / ``hist_lt`` less a household's other accounts' sales today
        (:attr:`own_st` / :attr:`own_lt`; ``None``: there are none, the history's). A later
        year's tax is measured from them (their carried loss is the return's, as the
        carry-ins are; the other accounts' is theirs: :func:`pma_lab.plan.accounting.
        _baseline`).
        """
        return (self.hist_st if self.own_st is None else self.own_st,
                self.hist_lt if self.own_lt is None else self.own_lt)

    def dividends_in(self, i: int, own: DividendIncome | None = None
                     ) -> DividendIncome | None:
        """The dividends of the ``i``-th year (``None``: none), with a path's ``own``."""
        fixed = self.dividends[i] if self.dividends else None
        if own is None or not own.total:
            return fixed
        return own if fixed is None else fixed + own

    def interest_in(self, i: int, cash: Decimal | None = None) -> InterestIncome | None:
        """The interest income of the ``i``-th year (``None``: none).

        ``cash``: the interest the account's cash earned that year on a path (USD cents),
        added as :data:`CASH_INTEREST`.
        """
        fixed = self.interest[i] if self.interest else None
        if not cash:
            return fixed
        own = InterestIncome.of(CASH_INTEREST, cash)
        return own if fixed is None else fixed + own

    def history_tax(self, interest: InterestIncome | None,
                    dividends: DividendIncome | None = None) -> Decimal:
        """The first year's history tax on top of the first year's interest and dividends.

        The tax the gains realised earlier in the first year cause on their own
        (:attr:`hist_tax` is it on :attr:`interest` and :attr:`dividends`),
        as :func:`pma_lab.plan.accounting._tax_context` computes it: the first year's gains
        tax with the history (and the carry-ins) less without it.
        """
        if not (self.hist_st or self.hist_lt):
            return Decimal(0)
        if interest == self.interest_in(0) and dividends == self.dividends_in(0):
            return self.hist_tax
        limit = self.tax.loss_limit
        y0 = self.years[0]
        net = net_capital_gains([self.hist_st], [self.hist_lt], self.carryin_st,
                                self.carryin_lt, limit)
        none = net_capital_gains([], [], self.carryin_st, self.carryin_lt, limit)
        return (year_tax(net, self.tax, year=y0, interest=interest,
                         dividends=dividends).gains_tax
                - year_tax(none, self.tax, year=y0, interest=interest,
                           dividends=dividends).gains_tax)


@dataclass(frozen=True)
class PathOutcomes:
    """One plan on every path: arrays with one entry (row) per path."""

    value_end: np.ndarray  # account value at the horizon (USD)
    tax_by_year: np.ndarray  # (paths, years): interest + capital-gains tax + charity saving
    liquidation_tax: np.ndarray
    carryforward_end: np.ndarray  # ST + LT capital loss carried out of the last year
    carryforward_after_liquidation: np.ndarray  # its value (PV) enters the wealth
    gifts_by_year: np.ndarray  # (paths, years): FMV given
    wealth: np.ndarray  # after-tax wealth at the horizon
    seconds: float = 0.0  # replay time
    tax_seconds: float = 0.0  # of which: the yearly netting and tax of every path
    cpu_seconds: float = 0.0  # the replay's process CPU time
    # (paths, years): of ``tax_by_year``, the tax of the year's interest (the ladder's and
    # the path's cash's), beneath the gains
    interest_tax_by_year: np.ndarray | None = field(repr=False, default=None)
    # (paths, years): the dividends the path's holdings paid, and their tax (of
    # ``tax_by_year``, on top of the interest and beneath the gains)
    dividends_by_year: np.ndarray | None = field(repr=False, default=None)
    dividend_tax_by_year: np.ndarray | None = field(repr=False, default=None)
    # (paths, years): USD the path sold beyond the schedule to keep the step's cash
    # (:attr:`ScheduleStep.restore`)
    restored_by_year: np.ndarray | None = field(repr=False, default=None)
    # (paths, years): USD of the year's withdrawals the path could not pay, after selling
    # every lot it may sell (:func:`revalue`); ``wealth`` counts them as owed, carried to
    # the horizon at the cash rate (``shortfall_owed``, one entry a path)
    shortfall_by_year: np.ndarray | None = field(repr=False, default=None)
    shortfall_owed: np.ndarray | None = field(repr=False, default=None)
    # (paths, years): the net short- and long-term gain the plan's sales realised each
    # year on the path (USD; the scheduled sales, scaled to the step's gain caps, and those
    # a step's cash needed), before netting (the client's earlier gains not included)
    gains_st_by_year: np.ndarray | None = field(repr=False, default=None)
    gains_lt_by_year: np.ndarray | None = field(repr=False, default=None)
    # (paths, years): where the sales a step's cash needed (a withdrawal, never scaled
    # down) realised gains and took the tax year above the gains budget by more than
    # :data:`BUDGET_TOLERANCE`, the year's net gain counted by the cap exceeded most (the
    # first year's with the client's earlier gains, as the budget counts them); else 0
    over_budget_by_year: np.ndarray | None = field(repr=False, default=None)

    def over_budget_paths(self) -> np.ndarray:
        """Which paths paid a withdrawal with gains beyond the year's gains budget."""
        if self.over_budget_by_year is None:
            return np.zeros(len(self.wealth), dtype=bool)
        return (self.over_budget_by_year > 0).any(axis=1)

    def short_paths(self) -> np.ndarray:
        """Which paths could not pay every withdrawal (:data:`SHORTFALL_TOLERANCE`)."""
        if self.shortfall_by_year is None:
            return np.zeros(len(self.wealth), dtype=bool)
        return self.shortfall_by_year.sum(axis=1) > SHORTFALL_TOLERANCE


BELOW_TOLERANCE = 1e-4
"""A plan ends below the diversified plan on a path when it ends more than 0.01 % below."""


def _d(x: float) -> Decimal:
    return money(Decimal(repr(float(x))))


def tax_payment_date(year: int) -> dt.date:
    """When a year's tax is taken to be paid: December 31 of that year (estimated payments)."""
    return dt.date(year, 12, 31)


def wealth_at_horizon(value_end: np.ndarray | float, liquidation_tax: np.ndarray | float,
                      taxes_by_year: np.ndarray, years: Sequence[int], horizon: dt.date,
                      rate: float, carry_value: np.ndarray | float = 0.0
                      ) -> np.ndarray | float:
    """After-tax wealth: value - liquidation tax - each year's tax carried to the horizon.

    Taxes are paid from outside the account; a year's tax paid before the horizon is grown
    at the cash rate to the horizon (what the money would have earned), one due after it is
    discounted back. ``taxes_by_year`` has the years on its last axis. ``carry_value`` is
    the present value of the loss carryforward still left after the liquidation.
    """
    t = np.array([(horizon - tax_payment_date(y)).days / 365.25 for y in years])
    fv = np.asarray(taxes_by_year, dtype=float) @ (1 + rate) ** t
    return value_end - liquidation_tax - fv + carry_value


def carry_left_value(carry_st: Decimal, carry_lt: Decimal, ctx: TaxContext, rate: float,
                     interest: InterestIncome | None = None,
                     dividends: DividendIncome | None = None) -> float:
    """Present value at the horizon of a loss carryforward left after the liquidation.

    Valued by :func:`pma_lab.tax.liability.carryforward_value` (used against ordinary
    income, at most $3,000 a year, discounted at ``rate``), each year's offset on top of
    ``interest`` (the last year's interest income, assumed unchanged as the profile's
    income is) and ``dividends`` (the last year's), as every year's tax of the plan stacks
    its gains on them.
    """
    if carry_st + carry_lt <= 0:
        return 0.0
    return float(carryforward_value(carry_st, carry_lt, ctx.tax, discount_rate=rate,
                                    first_year=ctx.years[-1] + 1, interest=interest,
                                    dividends=dividends).value)


def year_taxes(nettings: Sequence[Netting], deductions: Sequence[Decimal], ctx: TaxContext,
               liquidated: Netting | None = None, cache: dict | None = None,
               cash_interest: Sequence[Decimal] | None = None,
               dividends: Sequence[DividendIncome | None] | None = None
               ) -> tuple[list[Decimal], Decimal]:
    """Each year's tax, and the liquidation tax.

    A year's tax is its interest's tax, its netting's tax and its charitable deduction's
    value (:func:`pma_lab.tax.liability.year_tax`, stacked through the brackets when the
    income is known),
    the first year less its history's own tax; the liquidation tax is the last year's tax
    with the liquidation's netting ``liquidated`` less without. ``cache`` (a dict kept
    across the paths of one replay, with one ``ctx``) memoises each year's tax on its exact
    inputs (the netting's Decimal cents, the deduction, the year): a year whose sales are
    the same on every path (the first year's trades are made at today's prices; a gain
    budget that binds) is computed once. ``cash_interest``: the interest the path's cash
    earned each year (USD cents; default none), taxed with the year's other interest
    (:meth:`TaxContext.interest_in`); the first year's history tax is then the one on top
    of it (:meth:`TaxContext.history_tax`). ``dividends``: the dividends the path's
    holdings paid each year (default none), added to the year's (:meth:`TaxContext.
    dividends_in`), on top of the interest.
    """
    out = []
    t = Decimal(0)
    cash = list(cash_interest) if cash_interest is not None else [None] * len(nettings)
    own = list(dividends) if dividends is not None else [None] * len(nettings)
    for i, (n, ded) in enumerate(zip(nettings, deductions, strict=True)):
        interest = ctx.interest_in(i, cash[i])
        divs = ctx.dividends_in(i, own[i])
        t = _total(n, ded, ctx, ctx.years[i], cache, interest, divs)
        out.append(t - _history_tax(ctx, interest, divs, cache) if i == 0 else t)
    liq = Decimal(0)
    if liquidated is not None:
        liq = _total(liquidated, deductions[-1], ctx, ctx.years[-1], cache, interest,
                     divs) - t
    return out, liq


def _history_tax(ctx: TaxContext, interest: InterestIncome | None,
                 dividends: DividendIncome | None, cache: dict | None) -> Decimal:
    """:meth:`TaxContext.history_tax` (memoised in ``cache`` when given)."""
    if cache is None:
        return ctx.history_tax(interest, dividends)
    key = ("history", interest, dividends)
    if key not in cache:
        cache[key] = ctx.history_tax(interest, dividends)
    return cache[key]


def _total(n: Netting, deduction: Decimal, ctx: TaxContext, year: int,
           cache: dict | None = None, interest: InterestIncome | None = None,
           dividends: DividendIncome | None = None) -> Decimal:
    """The total of :func:`pma_lab.tax.liability.year_tax` (memoised in ``cache`` when given).

    ``interest`` and ``dividends`` are the year's (:meth:`TaxContext.interest_in`,
    :meth:`TaxContext.dividends_in`). A year with nothing to tax (no taxable gain, no loss
    offset, no gift, no interest, no dividend) is 0 without the bracket arithmetic
    (``T(x) - T(x)``).
    """
    if not (n.taxable_st or n.taxable_lt or n.deduction or deduction or
            (interest is not None and interest.total) or
            (dividends is not None and dividends.total)):
        return Decimal(0)
    if cache is None:
        return year_tax(n, ctx.tax, deduction, year=year, interest=interest,
                        dividends=dividends).total
    key = (n, deduction, year, interest, dividends)
    if key not in cache:
        cache[key] = year_tax(n, ctx.tax, deduction, year=year, interest=interest,
                              dividends=dividends).total
    return cache[key]


def _net_years(st: np.ndarray, lt: np.ndarray, liq_st: float, liq_lt: float,
               deductions: Sequence[Decimal], ctx: TaxContext, cache: dict | None = None,
               cash_interest: Sequence[Decimal] | None = None,
               dividends: Sequence[DividendIncome] | None = None) -> tuple:
    """One path's nettings: yearly taxes, liquidation tax, carryouts before and after it.

    Each later year's tax is less the baseline's (the history alone less the earlier
    sales alone, carried through the years: :func:`pma_lab.plan.accounting._baseline`),
    and so is the carryout before the liquidation; the last two items are the baseline's
    carryouts out of the last year (short-, long-term: the history's, the earlier
    sales').
    """
    c_st, c_lt = ctx.carryin_st, ctx.carryin_lt
    limit = ctx.tax.loss_limit
    nets = []
    for i in range(len(ctx.years)):
        st_rows = [_d(st[i])] + ([ctx.hist_st] if i == 0 else [])
        lt_rows = [_d(lt[i])] + ([ctx.hist_lt] if i == 0 else [])
        nets.append(net_capital_gains(st_rows, lt_rows, c_st, c_lt, limit))
        c_st, c_lt = nets[-1].carryout_st, nets[-1].carryout_lt
    last = nets[-1]
    liq_rows_st = [_d(last.st_gains + last.st_losses), _d(liq_st)]
    liq_rows_lt = [_d(last.lt_gains + last.lt_losses), _d(liq_lt)]
    n_liq = net_capital_gains(liq_rows_st, liq_rows_lt, last.carryin_st, last.carryin_lt,
                              limit)
    taxes, liq = year_taxes(nets, deductions, ctx, n_liq, cache, cash_interest, dividends)
    # the baseline (accounting._baseline): the history and the earlier sales alone,
    # carried through the years; each later year's tax less the baseline's
    h_c = o_c = (ctx.carryin_st, ctx.carryin_lt)
    cash = list(cash_interest) if cash_interest is not None else [None] * len(nets)
    own = list(dividends) if dividends is not None else [None] * len(nets)
    mine = ctx.own
    for i, y in enumerate(ctx.years):
        first = i == 0
        h_n = net_capital_gains([ctx.hist_st] if first else [],
                                [ctx.hist_lt] if first else [], *h_c, limit)
        o_n = net_capital_gains([mine[0]] if first else [], [mine[1]] if first else [],
                                *o_c, limit)
        if not first and h_c != o_c:
            income = {"year": y, "interest": ctx.interest_in(i, cash[i]),
                      "dividends": ctx.dividends_in(i, own[i])}
            taxes[i] -= (year_tax(h_n, ctx.tax, **income).gains_tax
                         - year_tax(o_n, ctx.tax, **income).gains_tax)
        h_c = (h_n.carryout_st, h_n.carryout_lt)
        o_c = (o_n.carryout_st, o_n.carryout_lt)
    return (taxes, liq, c_st + c_lt - (sum(h_c) - sum(o_c)),
            (n_liq.carryout_st, n_liq.carryout_lt), h_c, o_c)


def revalue(schedule: Schedule, paths: MonteCarloPaths, ctx: TaxContext, horizon: dt.date,
            cash_rate: float, max_paths: int | None = None, decimal: bool = False
            ) -> PathOutcomes:
    """Replay ``schedule`` on every path (see the module docs).

    Parameters
    ----------
    schedule : Schedule
    paths : MonteCarloPaths
        Prices of every ticker the schedule trades, at the schedule's step dates.
    ctx : TaxContext
    horizon : datetime.date
        The last step's date (the account is liquidated the next day).
    cash_rate : float
        Annual rate taxes paid before the horizon are grown at.
    max_paths : int | None
        Use only the first paths (tests).
    decimal : bool
        Net each path with the Decimal functions of :mod:`pma_lab.tax.liability`, one
        path at a time (the previous implementation: the same figures to the cent, about
        a hundred times slower; for tests and benchmarks). By default every path is netted
        at once by :mod:`pma_lab.tax.vectorized`.

    Raises
    ------
    PmaLabError
        When the paths' dates differ from the schedule's.

    Notes
    -----
    Runs with one OpenBLAS thread (:func:`pma_lab.blas.one_thread`): each step's
    dividends are two matrix-vector products over every path and lot, which OpenBLAS
    splits over its threads, and waking them costs more CPU than the product on a busy
    machine (tech-exec's seven replays ~1.1 against ~0.5 CPU-s, the same values to the bit).
    """
    with one_thread():
        return _revalue(schedule, paths, ctx, horizon, cash_rate, max_paths, decimal)


def _revalue(schedule: Schedule, paths: MonteCarloPaths, ctx: TaxContext, horizon: dt.date,
             cash_rate: float, max_paths: int | None, decimal: bool) -> PathOutcomes:
    """:func:`revalue` (its arguments, under one BLAS thread)."""
    t0, cpu0 = time.perf_counter(), time.process_time()
    steps = schedule.steps
    if tuple(s.date for s in steps) != tuple(paths.dates[:len(steps)]):
        raise PmaLabError("the Monte Carlo paths' dates differ from the schedule's; build "
                          "them from the same step dates")
    P = paths.prices if max_paths is None else paths.prices[:max_paths]
    n_p = P.shape[0]
    # each lot's price column (a dict, not a search of the tickers per lot; a ticker not
    # in the paths raises as paths.column does)
    where = {t: i for i, t in enumerate(paths.tickers)}
    col = np.array([where[t] if t in where else paths.column(t)
                    for t in schedule.lot_ticker], dtype=int)
    sh = np.tile(schedule.lot_shares, (n_p, 1))
    basis = np.tile(schedule.lot_basis, (n_p, 1))
    cash = np.full(n_p, schedule.cash0)
    years = ctx.years
    y_of = {y: i for i, y in enumerate(years)}
    st = np.zeros((n_p, len(years)))
    lt = np.zeros((n_p, len(years)))
    gift_cg = np.zeros((n_p, len(years)))  # FMV of long-term lots given
    gift_od = np.zeros((n_p, len(years)))  # lesser of basis and FMV of short-term lots
    cash_int = np.zeros((n_p, len(years)))  # interest the cash earned (taxed), USD
    div_q = np.zeros((n_p, len(years)))  # dividends the holdings paid: qualified, USD
    div_r = np.zeros((n_p, len(years)))  # ... and a REIT's
    y_q = y_r = None
    if schedule.lot_yield is not None and schedule.lot_yield.any():
        reit = np.asarray(schedule.lot_reit, dtype=bool)
        y_q = np.where(reit, 0.0, schedule.lot_yield)
        y_r = np.where(reit, schedule.lot_yield, 0.0)
        # a kind of dividend no lot pays adds 0.0 on every path: its product is skipped
        # (an equity book has no REIT lot; each product is a BLAS matrix-vector product
        # over every path and lot, the dividends' whole cost)
        pays_q, pays_r = bool(y_q.any()), bool(y_r.any())
        held = np.empty((n_p, len(col)))  # each step's holdings' value, reused
    restore = _RestoreRules(schedule)
    restored = np.zeros((n_p, len(years)))  # sold to keep the steps' cash, USD
    restore_gain = np.zeros((n_p, len(years)))  # ... the net gain those sales realised
    short = np.zeros((n_p, len(years)))  # withdrawals the path could not pay, USD
    owed = np.zeros(n_p)  # ... carried at the cash rate to the step
    prev: dt.date | None = None
    for s in steps:
        px = P[:, s.k, :]
        yi = y_of[s.date.year]
        # the dividends and interest accrued since the last step, split between the
        # calendar years of their days (as plan.accounting books the expected path's)
        split = [(y_of[y], f) for y, f in year_shares(s.date, prev)] if prev is not None \
            else []
        if y_q is not None and prev is not None:
            # as simulate steps it: the holdings kept since the last step pay their
            # dividends at this step's prices (reinvested: no cash, no shares)
            # (``col`` holds valid columns: "clip" checks none and, unlike the default
            # "raise", does not gather through a temporary copy)
            np.take(px, col, axis=1, out=held, mode="clip")
            np.multiply(sh, held, out=held)
            t_y = step_years(s.date, prev)
            if pays_q:
                paid_q = (held @ y_q) * t_y
                for j, f in split:
                    div_q[:, j] += paid_q * f
            if pays_r:
                paid_r = (held @ y_r) * t_y
                for j, f in split:
                    div_r[:, j] += paid_r * f
        prev = s.date
        # as simulate steps it: interest on the cash since the last step, then the flow
        interest = cash * (s.cash_growth - 1)
        earned = np.maximum(interest, 0.0)
        for j, f in split:
            cash_int[:, j] += earned * f
        cash = cash + interest
        cash = cash + s.flow
        owed = owed * s.cash_growth
        for j, usd, is_lt in zip(s.gift_lot, s.gift_usd, s.gift_lt, strict=True):
            p = px[:, col[j]]
            given = np.minimum(usd / p, sh[:, j])
            frac = np.divide(given, sh[:, j], out=np.zeros(n_p), where=sh[:, j] > 0)
            b = basis[:, j] * frac
            if is_lt:
                gift_cg[:, yi] += given * p
            else:
                gift_od[:, yi] += np.minimum(b, given * p)
            sh[:, j] -= given
            basis[:, j] -= b
        if len(s.sell_lot):
            j = s.sell_lot
            p = px[:, col[j]]
            frac = np.tile(s.sell_frac, (n_p, 1))
            gain = frac * (sh[:, j] * p - basis[:, j])
            if s.budgets is not None:
                frac = _within_budget(frac, gain, s, st[:, yi], lt[:, yi],
                                      (ctx.hist_st, ctx.hist_lt) if yi == 0 else None)
                gain = frac * (sh[:, j] * p - basis[:, j])
            st[:, yi] += np.where(s.sell_lt, 0.0, gain).sum(axis=1)
            lt[:, yi] += np.where(s.sell_lt, gain, 0.0).sum(axis=1)
            cash += (frac * sh[:, j] * p).sum(axis=1)
            basis[:, j] -= frac * basis[:, j]  # one sale per lot and step: no repeats
            sh[:, j] -= frac * sh[:, j]
        if s.restore is not None:
            # as the expected path's step sells to keep the account's minimum cash, a
            # path whose cash is still below it sells more (min-tax order, wash sales
            # honoured); its realised gains count toward the year's budget like a
            # forced sale's (never scaled down)
            before = st[:, yi] + lt[:, yi]
            restore.apply(s, px, col, sh, basis, cash, st[:, yi], lt[:, yi],
                          restored[:, yi])
            restore_gain[:, yi] += st[:, yi] + lt[:, yi] - before
        # a withdrawal the path's lots cannot pay even sold in full: the step withdraws
        # what there is, and the rest is the path's shortfall, owed (at the cash rate)
        unpaid = np.where(cash < -SHORTFALL_TOLERANCE, -cash, 0.0)
        if unpaid.any():
            short[:, yi] += unpaid
            owed += unpaid
            cash = cash + unpaid
        if len(s.buy_lot):
            # the purchases spend their shares of the cash above the account's minimum
            # cash (the same dollars on every path): a path whose sales raised less buys
            # less, and none when its cash is at the floor
            spend = np.maximum(cash - s.keep if s.keep else cash, 0.0)[:, None] \
                * s.buy_frac[None, :]
            j = s.buy_lot
            sh[:, j] += spend / px[:, col[j]]
            basis[:, j] += spend
            cash -= spend.sum(axis=1)
    last = P[:, steps[-1].k, :][:, col]
    value_end = (sh * last).sum(axis=1) + cash
    gains_end = sh * last - basis
    liq_lt = np.where(schedule.lot_lt_at_end, gains_end, 0.0).sum(axis=1)
    liq_st = gains_end.sum(axis=1) - liq_lt
    t_tax = time.perf_counter()
    divs = (div_q, div_r) if y_q is not None else None
    if decimal:
        taxes, liq_tax, carry, carry_left = _path_taxes_decimal(
            st, lt, liq_st, liq_lt, gift_cg, gift_od, ctx, cash_rate, cash_int, divs)
        itax, dtax, dsum = _income_taxes(ctx, cash_int, div_q, div_r)
    else:
        taxes, liq_tax, carry, carry_left, (itax, dtax, dsum) = _path_taxes(
            st, lt, liq_st, liq_lt, gift_cg, gift_od, ctx, cash_rate, cash_int, divs)
    wealth = wealth_at_horizon(value_end, liq_tax, taxes, years, horizon, cash_rate,
                               carry_left) - owed
    over = _over_budget(steps, years, st, lt, restore_gain, ctx)
    t1 = time.perf_counter()
    return PathOutcomes(value_end, taxes, liq_tax, carry, carry_left, gift_cg + gift_od,
                        wealth, t1 - t0, t1 - t_tax, time.process_time() - cpu0, itax,
                        dsum, dtax, restored, short, owed, st, lt, over)


def _over_budget(steps: Sequence[ScheduleStep], years: Sequence[int], st: np.ndarray,
                 lt: np.ndarray, restore_gain: np.ndarray, ctx: TaxContext
                 ) -> np.ndarray | None:
    """:attr:`PathOutcomes.over_budget_by_year` (``None``: the plan has no gains budget).

    Each tax year's caps are the largest its steps kept to (:attr:`ScheduleStep.budgets`:
    the plan's, or raised by a withdrawal's minimum trade, never the lower caps a step
    holds for a later withdrawal); its net gains (``st``, ``lt``; the first year's with
    the client's earlier gains, ``ctx.hist_st``, ``hist_lt``) against each cap, as
    :func:`_within_budget` counts them. A path-year counts when the sales for the step's
    cash (``restore_gain``: a withdrawal, never scaled down) realised a net gain and the
    year exceeds a cap by more than :data:`BUDGET_TOLERANCE`.
    """
    caps: dict[int, list[float | None]] = {}
    for s in steps:
        if s.budgets is None:
            continue
        cur = caps.setdefault(s.date.year, [None, None, None])
        for i, c in enumerate(s.budgets):
            if c is not None:
                cur[i] = c if cur[i] is None else max(cur[i], c)
    if not caps:
        return None
    over = np.zeros_like(st)
    for yi, y in enumerate(years):
        if y not in caps:
            continue
        h_st, h_lt = (float(ctx.hist_st), float(ctx.hist_lt)) if yi == 0 else (0.0, 0.0)
        g_st, g_lt = st[:, yi] + h_st, lt[:, yi] + h_lt
        worst = np.zeros(len(st))  # the excess of the cap exceeded most
        gains = np.zeros(len(st))  # ... and the net gain it counts
        for cap, g in zip(caps[y], (g_st + g_lt, g_st, g_lt), strict=True):
            if cap is None:
                continue
            ex = g - cap
            more = ex > worst
            worst = np.where(more, ex, worst)
            gains = np.where(more, g, gains)
        hit = (worst > BUDGET_TOLERANCE) & (restore_gain[:, yi] > BUDGET_TOLERANCE)
        over[:, yi] = np.where(hit, gains, 0.0)
    return over


def _income_taxes(ctx: TaxContext, cash_int: np.ndarray, div_q: np.ndarray,
                  div_r: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each path's tax on its interest and on its dividends, and its dividends, by year.

    The interest (the context's and the path's on cash, ``cash_int``) and the dividends
    (the context's and the path's holdings', ``div_q``, ``div_r``), USD by year; the
    figures :func:`_path_taxes` adds to each year's tax, in float dollars, one row a path.
    """
    n_p, n_y = cash_int.shape
    itax, dtax, dsum = (np.zeros((n_p, n_y)) for _ in range(3))
    cash_c = cents(cash_int)
    q_c, r_c = cents(div_q), cents(div_r)
    for i, y in enumerate(ctx.years):
        ip = InterestPaths.of(ctx.interest_in(i)) + _cash_paths(cash_c[:, i])
        itax[:, i] = np.broadcast_to(interest_tax_paths(ip, ctx.tax, year=y), (n_p,)) / 100
        dp = DividendPaths.of(ctx.dividends_in(i)) + DividendPaths(q_c[:, i], r_c[:, i])
        dtax[:, i] = np.broadcast_to(dividend_tax_paths(dp, ctx.tax, interest=ip, year=y),
                                     (n_p,)) / 100
        dsum[:, i] = np.broadcast_to(dp.total, (n_p,)) / 100
    return itax, dtax, dsum


def _path_taxes(st: np.ndarray, lt: np.ndarray, liq_st: np.ndarray, liq_lt: np.ndarray,
                gift_cg: np.ndarray, gift_od: np.ndarray, ctx: TaxContext, cash_rate: float,
                cash_int: np.ndarray | None = None,
                dividends: tuple[np.ndarray, np.ndarray] | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                           tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Every path's yearly tax, liquidation tax and carryforwards, netted at once.

    The figures of :func:`_path_taxes_decimal` to the cent (:mod:`pma_lab.tax.vectorized`):
    each year's gains in cents, netted with the carry-ins (the first year with the gains
    realised before the plan), taxed with the year's charitable deduction on top of the
    year's interest (whose own tax is part of the year's: the ladder's and the path's own
    interest on cash, ``cash_int``, USD by year) and the year's dividends on top of the
    interest (the context's and the path's holdings', ``dividends``: qualified and REIT,
    USD by year); the liquidation nets with the last year; the carryforward left after it
    is valued as :func:`carry_left_value` values it.

    Returns
    -------
    (taxes by year, liquidation tax, carryforward out of the last year, value of the
    carryforward left after the liquidation, (each year's tax on interest, tax on
    dividends, dividends): :func:`_income_taxes`'s, taken from the year's tax), float
    dollars, one row a path.
    """
    n_p, n_y = st.shape
    years = ctx.years
    st_c, lt_c = cents(st), cents(lt)
    ded = (charitable_paths(cents(gift_cg), cents(gift_od), list(years), ctx.agi)
           if gift_cg.any() or gift_od.any() else np.zeros((n_p, n_y), dtype=np.int64))
    c_st = np.full(n_p, cents_of(ctx.carryin_st), dtype=np.int64)
    c_lt = np.full(n_p, cents_of(ctx.carryin_lt), dtype=np.int64)
    hist = (cents_of(ctx.hist_st), cents_of(ctx.hist_lt))
    limit = ctx.tax.loss_limit
    taxes = np.zeros((n_p, n_y), dtype=np.int64)
    itax, dtax, dsum = (np.zeros((n_p, n_y)) for _ in range(3))
    zeros = np.zeros((n_p, n_y), dtype=np.int64)
    cash_c = cents(cash_int) if cash_int is not None else zeros
    q_c, r_c = (cents(dividends[0]), cents(dividends[1])) if dividends is not None else \
        (zeros, zeros)
    # the baseline (accounting._baseline): the history and the earlier sales alone,
    # carried through the years; a later year's tax less the baseline's, once their carries
    # differ (a household's other accounts' sales left a loss, or used carry-ins up)
    h_c = [c_st.copy(), c_lt.copy()]
    o_c = [c_st.copy(), c_lt.copy()]
    mine = tuple(cents_of(v) for v in ctx.own)
    has_hist = mine != hist
    for i, y in enumerate(years):
        s_i = st_c[:, i] + (hist[0] if i == 0 else 0)
        l_i = lt_c[:, i] + (hist[1] if i == 0 else 0)
        cin = (c_st, c_lt)
        n = net_paths(s_i, l_i, c_st, c_lt, limit)
        interest = InterestPaths.of(ctx.interest_in(i))
        divs = DividendPaths.of(ctx.dividends_in(i))
        own_cash = cash_c[:, i].any()  # interest on cash, the path's own
        own_divs = q_c[:, i].any() or r_c[:, i].any()  # the path's holdings' dividends
        if own_cash:
            interest = interest + _cash_paths(cash_c[:, i])
        if own_divs:
            divs = divs + DividendPaths(q_c[:, i], r_c[:, i])
        total = sum(year_tax_paths(n, ctx.tax, ded[:, i], year=y, interest=interest,
                                   dividends=divs))
        i_tax = interest_tax_paths(interest, ctx.tax, year=y)
        d_tax = dividend_tax_paths(divs, ctx.tax, interest=interest, year=y)
        taxes[:, i] = total + i_tax + d_tax
        # the year's income and its taxes, as _income_taxes computes them (the path's own
        # cash interest and dividends added above only where some path has them: adding
        # zeros changes no cent)
        itax[:, i] = np.broadcast_to(i_tax, (n_p,)) / 100
        dtax[:, i] = np.broadcast_to(d_tax, (n_p,)) / 100
        dsum[:, i] = np.broadcast_to(divs.total, (n_p,)) / 100
        if i == 0:
            taxes[:, i] -= _history_paths(ctx, interest, divs, n_p) \
                if own_cash or own_divs else cents_of(ctx.hist_tax)
        if has_hist:
            zero = np.zeros(n_p, dtype=np.int64)
            h_n = net_paths(zero + (hist[0] if i == 0 else 0),
                            zero + (hist[1] if i == 0 else 0), *h_c, limit)
            o_n = net_paths(zero + (mine[0] if i == 0 else 0),
                            zero + (mine[1] if i == 0 else 0), *o_c, limit)
            if i and ((h_c[0] != o_c[0]).any() or (h_c[1] != o_c[1]).any()):
                taxes[:, i] -= (
                    year_tax_paths(h_n, ctx.tax, year=y, interest=interest,
                                   dividends=divs)[0]
                    - year_tax_paths(o_n, ctx.tax, year=y, interest=interest,
                                     dividends=divs)[0])
            h_c = [h_n.carryout_st, h_n.carryout_lt]
            o_c = [o_n.carryout_st, o_n.carryout_lt]
        c_st, c_lt = n.carryout_st, n.carryout_lt
    n_liq = net_paths(s_i + cents(liq_st), l_i + cents(liq_lt), *cin, limit)
    liq = sum(year_tax_paths(n_liq, ctx.tax, ded[:, -1], year=years[-1],
                             interest=interest, dividends=divs)) - total

    def valued(c: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        return carryforward_paths(*c, ctx.tax, discount_rate=cash_rate,
                                  first_year=years[-1] + 1, interest=interest,
                                  dividends=divs)

    left = valued((n_liq.carryout_st, n_liq.carryout_lt))
    base = h_c[0] + h_c[1] - o_c[0] - o_c[1]
    if (h_c[0] != o_c[0]).any() or (h_c[1] != o_c[1]).any():
        left = left - (valued((h_c[0], h_c[1])) - valued((o_c[0], o_c[1])))
    return (taxes / 100, liq / 100, (c_st + c_lt - base) / 100, left / 100,
            (itax, dtax, dsum))


def _cash_paths(cents_: np.ndarray) -> InterestPaths:
    """Each path's interest on cash (int64 cents) by who taxes it (:data:`CASH_INTEREST`)."""
    who = interest_taxation(CASH_INTEREST)
    zero = np.zeros_like(cents_)
    return InterestPaths(cents_ if who.federal else zero, cents_ if who.niit else zero,
                         cents_ if who.state else zero)


def _history_paths(ctx: TaxContext, interest: InterestPaths, dividends: DividendPaths,
                   n_p: int) -> np.ndarray:
    """Each path's :meth:`TaxContext.history_tax` on its first-year income (cents).

    The income is the path's first-year ``interest`` and ``dividends``.
    """
    if not (ctx.hist_st or ctx.hist_lt):
        return np.zeros(n_p, dtype=np.int64)
    limit = ctx.tax.loss_limit
    one = np.ones(n_p, dtype=np.int64)
    c_st, c_lt = one * cents_of(ctx.carryin_st), one * cents_of(ctx.carryin_lt)
    with_h = net_paths(one * cents_of(ctx.hist_st), one * cents_of(ctx.hist_lt), c_st, c_lt,
                       limit)
    without = net_paths(0 * one, 0 * one, c_st, c_lt, limit)
    y0 = ctx.years[0]
    return (year_tax_paths(with_h, ctx.tax, year=y0, interest=interest,
                           dividends=dividends)[0]
            - year_tax_paths(without, ctx.tax, year=y0, interest=interest,
                             dividends=dividends)[0])


def _path_taxes_decimal(st: np.ndarray, lt: np.ndarray, liq_st: np.ndarray,
                        liq_lt: np.ndarray, gift_cg: np.ndarray, gift_od: np.ndarray,
                        ctx: TaxContext, cash_rate: float, cash_int: np.ndarray | None = None,
                        dividends: tuple[np.ndarray, np.ndarray] | None = None
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_path_taxes` path by path with the Decimal functions (the reference)."""
    n_p, n_y = st.shape
    years = ctx.years
    taxes = np.zeros((n_p, n_y))
    liq_tax, carry, carry_left = np.zeros(n_p), np.zeros(n_p), np.zeros(n_p)
    giving = gift_cg.any() or gift_od.any()
    none = [Decimal(0)] * n_y
    memo: dict = {}  # a year's tax on its exact inputs
    for p in range(n_p):
        ded = none
        if giving:
            ded = [c.deducted for c in charitable_deductions(
                {y: (_d(gift_cg[p, i]), _d(gift_od[p, i])) for i, y in enumerate(years)},
                {y: ctx.agi for y in years})]
        cash = None if cash_int is None else [_d(v) for v in cash_int[p]]
        divs = None if dividends is None else [
            dividend_income(q, r) for q, r in zip(dividends[0][p], dividends[1][p],
                                                  strict=True)]
        yearly, liq, c_end, c_left, h_c, o_c = _net_years(
            st[p], lt[p], liq_st[p], liq_lt[p], ded, ctx, memo, cash, divs)
        taxes[p] = [float(t) for t in yearly]
        liq_tax[p] = float(liq)
        carry[p] = float(c_end)
        last = ctx.interest_in(n_y - 1, None if cash is None else cash[-1])
        last_d = ctx.dividends_in(n_y - 1, None if divs is None else divs[-1])
        carry_left[p] = carry_left_value(*c_left, ctx, cash_rate, last, last_d) - (
            carry_left_value(*h_c, ctx, cash_rate, last, last_d)
            - carry_left_value(*o_c, ctx, cash_rate, last, last_d) if h_c != o_c else 0.0)
    return taxes, liq_tax, carry, carry_left


def restore_order(value: np.ndarray, gain: np.ndarray, long_term: np.ndarray,
                  allowed: np.ndarray) -> np.ndarray:
    """The order a path's lots are sold in to raise its cash: the ledger's min-tax relief.

    :attr:`pma_lab.tax.ledger.LotRelief.MIN_TAX` across the account: short-term losses,
    then long-term losses, then long-term gains, then short-term gains, each the lowest
    gain per dollar first (the largest loss per dollar; ties: the lot registered first);
    lots not ``allowed`` last. For the lots of one name at one price this is the ledger's
    order (highest basis per share first in each bucket, tested against
    :meth:`pma_lab.tax.ledger.Ledger.sell`).

    Parameters
    ----------
    value, gain : np.ndarray
        ``(paths, lots)``: each lot's value and unrealised gain on each path (USD).
    long_term : np.ndarray
        ``(lots,)``: whether a sale of the lot today is long-term.
    allowed : np.ndarray
        ``(paths, lots)``: the lots that may be sold.

    Returns
    -------
    np.ndarray
        ``(paths, lots)`` column indices, each row in selling order.
    """
    per = np.divide(gain, value, out=np.zeros_like(value), where=value > 0)
    lt_ = np.broadcast_to(long_term, value.shape)
    bucket = np.where(gain < 0, np.where(lt_, 1, 0), np.where(lt_, 2, 3))
    bucket = np.where(allowed, bucket, 4)
    return np.lexsort((per, bucket), axis=-1)


class _RestoreRules:
    """What a schedule's steps may sell to keep their cash (:attr:`ScheduleStep.restore`).

    Per lot: its ticker, wash-sale group and first long-term day; per step: the groups
    the schedule buys at the steps of the next 30 days, whose lots a path may not sell at
    a loss then (a purchase that follows a loss sale within 30 days washes it), on top of
    the ledger's locks the step recorded (shares bought in the 30 days before). The
    step's own purchases do not count: a path that sells for cash buys nothing at that
    step (its cash is then the floor its purchases keep, ``keep >= restore``).
    """

    def __init__(self, schedule: Schedule) -> None:
        self.ticker = np.array(schedule.lot_ticker, dtype=object)
        group = schedule.lot_group or schedule.lot_ticker
        self.group = np.array(group, dtype=object)
        if schedule.lot_lt_from is not None:
            self.lt_from = np.asarray(schedule.lot_lt_from, dtype=np.int64)
        else:  # every lot's term at a step is its term at the horizon
            self.lt_from = np.where(schedule.lot_lt_at_end, 1, dt.date.max.toordinal())
        window = dt.timedelta(days=WASH_SALE_WINDOW_DAYS)
        self.bought_after: dict[int, frozenset[str]] = {}
        for i, s in enumerate(schedule.steps):
            if s.restore is None:
                continue
            later = [t for t in schedule.steps[i + 1:] if t.date - s.date <= window]
            self.bought_after[i] = frozenset(str(group[j]) for t in later
                                             for j in t.buy_lot)
        self._index = {s.k: i for i, s in enumerate(schedule.steps)}

    def apply(self, s: ScheduleStep, px: np.ndarray, col: np.ndarray, sh: np.ndarray,
              basis: np.ndarray, cash: np.ndarray, st_y: np.ndarray, lt_y: np.ndarray,
              raised: np.ndarray | None = None) -> None:
        """Sell on the paths whose cash is below ``s.restore`` (arrays updated in place).

        ``px``: ``(paths, tickers)`` prices at the step, ``col`` each lot's column in it
        (only the paths that sell are indexed); ``st_y``/``lt_y``: the
        year's short- and long-term gains of each path (the sales' gains are added);
        ``raised``: each path's USD sold for it (added). A path whose sellable lots are
        worth less than its shortfall sells them all and keeps the cash it then has.
        """
        need = s.restore - cash
        rows = np.flatnonzero(need > RESTORE_TOLERANCE)
        if not rows.size:
            return
        value = sh[rows] * px[rows][:, col]
        gain = value - basis[rows]
        no_loss = frozenset(s.no_loss_groups) | self.bought_after[self._index[s.k]]
        sellable = ~np.isin(self.ticker, list(s.no_sell)) if s.no_sell else \
            np.ones(len(self.ticker), dtype=bool)
        locked = np.isin(self.group, list(no_loss)) if no_loss else \
            np.zeros(len(self.ticker), dtype=bool)
        allowed = sellable[None, :] & (value > 0) & ~(locked[None, :] & (gain < 0))
        is_lt = self.lt_from <= s.date.toordinal()
        order = restore_order(value, gain, is_lt, allowed)
        v = np.where(allowed, value, 0.0)
        v_sorted = np.take_along_axis(v, order, axis=1)
        before = np.cumsum(v_sorted, axis=1) - v_sorted  # raised by the lots ahead
        take_sorted = np.clip(need[rows, None] - before, 0.0, v_sorted)
        take = np.zeros_like(v)
        np.put_along_axis(take, order, take_sorted, axis=1)
        frac = np.divide(take, value, out=np.zeros_like(take), where=take > 0)
        realised = frac * gain
        lt_y[rows] += np.where(is_lt, realised, 0.0).sum(axis=1)
        st_y[rows] += np.where(is_lt, 0.0, realised).sum(axis=1)
        got = take.sum(axis=1)
        cash[rows] += got
        if raised is not None:
            raised[rows] += got
        sub = sh[rows]
        sh[rows] = sub - frac * sub
        sub = basis[rows]
        basis[rows] = sub - frac * sub


def _within_budget(frac: np.ndarray, gain: np.ndarray, s: ScheduleStep, st_ytd: np.ndarray,
                   lt_ytd: np.ndarray, hist: tuple[Decimal, Decimal] | None) -> np.ndarray:
    """Scale the plan's own gain-lot sales on paths where they would break the budgets.

    Rows are the total, short-term and long-term budgets of the tax year; gains realised
    earlier in the year (the plan's, and in the first year the client's own) count.
    Restriction-forced sales are never scaled: they happen whatever the tax.
    """
    h_st, h_lt = (float(hist[0]), float(hist[1])) if hist is not None else (0.0, 0.0)
    lt_mask = s.sell_lt[None, :]
    free_gain = np.where(~s.sell_forced[None, :] & (gain > 0), gain, 0.0)
    fixed = gain - free_gain
    alpha = np.ones(gain.shape[0])
    for budget, mask, used in ((s.budgets[0], None, st_ytd + lt_ytd + h_st + h_lt),
                               (s.budgets[1], ~lt_mask, st_ytd + h_st),
                               (s.budgets[2], lt_mask, lt_ytd + h_lt)):
        if budget is None:
            continue
        m = np.ones_like(gain, dtype=bool) if mask is None else np.broadcast_to(mask,
                                                                                 gain.shape)
        free = np.where(m, free_gain, 0.0).sum(axis=1)
        room = budget - used - np.where(m, fixed, 0.0).sum(axis=1)
        a = np.divide(room, free, out=np.ones_like(room), where=free > 0)
        alpha = np.minimum(alpha, np.clip(a, 0.0, 1.0))
    scale = np.where(free_gain > 0, alpha[:, None], 1.0)
    return frac * scale


def outcomes_table(names: Sequence[str], outcomes: Sequence[PathOutcomes],
                   diversified: str | None) -> pd.DataFrame:
    """After-tax wealth per plan across paths, and how often it ends below the diversified.

    Median, 10th and 90th percentile, and the probability of ending below the diversified
    plan on the same path (common random numbers) by more than :data:`BELOW_TOLERANCE`
    of its wealth (so two plans that trade the same way do not count as "below" by a few
    dollars of rounding).
    """
    ref = None
    if diversified is not None and diversified in names:
        ref = outcomes[list(names).index(diversified)].wealth
    rows = []
    for name, o in zip(names, outcomes, strict=True):
        w = o.wealth
        rows.append({
            "plan": name, "paths": len(w),
            "after_tax_wealth_median": float(np.median(w)),
            "after_tax_wealth_p10": float(np.quantile(w, 0.10)),
            "after_tax_wealth_p90": float(np.quantile(w, 0.90)),
            "after_tax_wealth_mean": float(np.mean(w)),
            "prob_below_diversified": (float(np.mean(w < ref * (1 - BELOW_TOLERANCE)))
                                       if ref is not None else np.nan),
            "tax_total_median": float(np.median(o.tax_by_year.sum(axis=1))),
            "liquidation_tax_median": float(np.median(o.liquidation_tax)),
            **_shortfalls(o),
            **_over_budget_counts(o),
        })
    return pd.DataFrame(rows)


def _shortfalls(o: PathOutcomes) -> dict[str, float | int]:
    """``paths_short`` and, over those paths, the median and largest unpaid total (USD)."""
    short = o.short_paths()
    total = o.shortfall_by_year.sum(axis=1)[short] if short.any() else np.zeros(0)
    return {"paths_short": int(short.sum()),
            "shortfall_median": float(np.median(total)) if len(total) else 0.0,
            "shortfall_max": float(total.max()) if len(total) else 0.0}


def _over_budget_counts(o: PathOutcomes) -> dict[str, float | int]:
    """``paths_over_budget`` and the largest net gain of a year over the budget (USD)."""
    if o.over_budget_by_year is None:
        return {"paths_over_budget": 0, "over_budget_max": 0.0}
    return {"paths_over_budget": int(o.over_budget_paths().sum()),
            "over_budget_max": float(o.over_budget_by_year.max(initial=0.0))}


def over_budget_note(paths_over: int, paths: int, largest: float,
                     budgets: tuple[float | None, float | None, float | None]) -> str:
    """The sentence for a plan whose withdrawal some paths paid beyond the gains budget.

    ``paths_over`` of ``paths`` (:func:`outcomes_table`'s ``paths_over_budget``) realised,
    paying the withdrawal, more net gain in a tax year than the plan's gains budget
    ``budgets`` (total, short-term, long-term; USD a year, ``None`` uncapped) allows;
    ``largest``: the worst such year's net gain (``over_budget_max``). ``""``: none. The
    proposal's, the dashboard's and the command line's comparison say it in these words
    (the plans' notes).
    """
    if paths_over <= 0:
        return ""
    caps = [f"{fmt_usd(v)}{w}" for v, w in ((budgets[0], " a year"),
                                            (budgets[1], " short-term"),
                                            (budgets[2], " long-term")) if v is not None]
    many = "path" if paths == 1 else "paths"
    return (f"in {paths_over:,} of {paths:,} simulated {many} paying the withdrawal realised "
            f"more than the {', '.join(caps)} gains budget; worst {fmt_usd(largest)} of "
            "net gains in a year (the withdrawal is paid in full and the tax of those gains "
            "is in the after-tax values)")


def shortfall_note(paths_short: int, paths: int, median: float, largest: float) -> str:
    """The sentence for a plan whose withdrawals some paths could not pay (``""``: none).

    ``paths_short`` of ``paths`` fell short; ``median`` and ``largest``: the unpaid total
    (USD, over the horizon) of the middle and the worst of those paths.
    """
    if paths_short <= 0:
        return ""
    many = "path" if paths == 1 else "paths"
    return (f"on {paths_short:,} of {paths:,} Monte Carlo {many} the account could not pay "
            f"every withdrawal even after selling all it may sell: short by {fmt_usd(median)} "
            f"over the horizon on the middle of those paths, {fmt_usd(largest)} at most; "
            "each withdrew what there was, and its after-tax value counts the rest as owed "
            "at the cash rate")
