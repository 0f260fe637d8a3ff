"""One plan along one path: the step-by-step simulation through the household ledger.

Simulation: each plan steps forward (quarterly by default) on the expected path (every
price grows at the expected return): at every step the household ledger is stepped to the
date, the lot-level optimizer trades under the plan's constraint, the trades are applied
to the ledger (holding periods age, wash-sale locks carry across steps, losses carry
forward) and every tax figure is read back from the ledger through
:func:`pma_lab.tax.liability.yearly_netting`. The plan's decisions are recorded as a schedule
(:mod:`pma_lab.plan.montecarlo`) for the replay on Monte Carlo paths.

Each step steps the ledger to the date, makes the year's gifts, asks the lot-level optimizer
for the plan's trades under the phase's constraint (:func:`_phase_settings`) and applies them
to the ledger; :func:`first_trades` is step 0 of a plan, as the proposal and dashboard show it.
A later step holds without a solve where there is nothing to trade: a maintenance step
within the band (:func:`_nothing_to_maintain`, "within band"), a budget plan whose year's
budget cannot pay the smallest sale (:func:`_budget_spent`, "budget spent"), and any step
whose solve is certain to answer "no trade" by a first-order certificate that holding is
its optimum (:func:`_solve_trades_nothing`, "no trade": the same figures as the solve).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_FLOOR, Decimal
from typing import NoReturn

import numpy as np
import pandas as pd

from pma_lab.accounts import account_name
from pma_lab.blas import one_thread
from pma_lab.errors import (
    DataError,
    InfeasibleError,
    OptimizationError,
    SettingsError,
    WithdrawalBudgetError,
)
from pma_lab.formatting import fmt_pct, fmt_usd
from pma_lab.optimize.constraints import CLEAN, Additions
from pma_lab.optimize.engine import (
    ClientSetup,
    _HeldRules,
    account_state_for,
    default_settings,
    keep_names,
    managed_risk,
    with_min_cash,
)
from pma_lab.optimize.rebalance import (
    COMPILED_SETTINGS,
    RELAXATION_OPTIONS,
    AccountState,
    Budgets,
    RebalanceProblem,
    RebalanceResult,
    RebalanceSettings,
)
from pma_lab.optimize.result import ledger_checked, replaced, trade_columns, trade_lists
from pma_lab.optimize.settings import GO_GAMMA_TAX, GO_GAMMA_TC, go_to_target
from pma_lab.optimize.state import _same_state, _same_value, go_to_target_state, lookthrough_matrix
from pma_lab.optimize.terms import lot_rates
from pma_lab.plan import withdrawal
from pma_lab.plan.accounting import _dividends, _interest, _liquidation, _tax_context, _yearly
from pma_lab.plan.coremodel import CoreUpdate, core_updates
from pma_lab.plan.dividends import DividendYields, plan_dividend_yields, step_years
from pma_lab.plan.failure import StepFailure
from pma_lab.plan.household import (
    around_first_step,
    book_others,
    left_names_note,
    other_taxable,
    without_pairs,
)
from pma_lab.plan.montecarlo import (
    PathOutcomes,
    Schedule,
    ScheduleRecorder,
    wealth_at_horizon,
)
from pma_lab.plan.plans import Plan, _concentrated, client_plan, parse_plan
from pma_lab.plan.scenarios import BillRate, MarketPath, bill_rate, fund_composition, step_dates
from pma_lab.plan.sleeves import (
    BondSleeve,
    SleeveBook,
    bond_sleeve,
    equity_value,
    whole_years,
)
from pma_lab.portfolio.risk import RiskModel
from pma_lab.portfolio.tracking import TrackingVariance
from pma_lab.tax.ledger import Ledger, Lot, LotRelief
from pma_lab.tax.liability import InterestIncome
from pma_lab.tax.rules import Term
from pma_lab.validation import check_int, check_number

__all__ = ["TransitionSettings", "PlanRun", "StepProblems", "FirstStep", "simulate",
           "first_trades", "todays_flow", "todays_gift", "go_to_target_result", "replay_events"]

_REACHED_TOL = 1e-5  # TE within the band up to solver round-off


@dataclass(frozen=True)
class TransitionSettings:
    """Simulation choices.

    ``cash_rate``: the annual rate cash earns and taxes are carried at (``None``: the
    3-month Treasury bill from the packaged curve). ``te_band``: tracking error to the
    target within which a plan counts as at the target and is maintained. ``mc_paths``:
    Monte Carlo paths (0: none). ``reuse_problems``: plans whose account is the same at a
    step (every plan at step 0) solve one compiled problem with their own settings
    (:class:`StepProblems`; the same figures to the bit); ``False`` builds every step's
    problem anew (the previous path, kept to compare with). ``skip_no_trade``: a step
    whose solve is certain to answer "no trade" (:func:`_solve_trades_nothing`) holds
    without it (status "no trade"; the same figures to the bit); ``False`` solves it (the
    previous path, kept to compare with).
    """

    horizon_years: int = 5
    steps_per_year: int = 4  # 4 = quarterly, 1 = annual
    expected_return: float = 0.07  # per year, every name (expected path and Monte Carlo)
    cash_rate: float | None = None
    te_band: float = 0.005
    # immediate: the trading-cost weight and the tax tie-breaker while going to the target
    # (pma_lab.optimize.settings.go_to_target; the frontier's "Go to target" uses the same
    # defaults, so "Move now" today and "Go to target" are one trade with one tax)
    go_gamma_tc: float = GO_GAMMA_TC
    go_gamma_tax: float = GO_GAMMA_TAX
    maintain_gamma_tax: float = 1.0  # tax aversion within the band
    transition_gamma_tax: float = 2.0  # timeline plans: minimise tax under the TE cap
    budget_gamma_tax: float = 0.002  # budget plans: minimise TE within the budget
    mc_paths: int = 1000
    seed: int = 0
    workers: int = 2  # processes for plans and paths
    reuse_problems: bool = True  # share compiled step problems between plans
    skip_no_trade: bool = True  # hold without a solve where it certainly trades nothing

    def __post_init__(self) -> None:
        check_int(self, "horizon_years", low=1, meaning="years simulated")
        check_int(self, "steps_per_year", low=1, meaning="4 = quarterly, 1 = annual")
        check_number(self, "expected_return", low=-1, low_open=True, high=1,
                     meaning="per year, e.g. 0.07 = 7 %")
        check_number(self, "cash_rate", low=-1, low_open=True, high=1, optional=True,
                     meaning="per year; None: the packaged 3-month bill")
        check_number(self, "te_band", low=0, high=1, meaning="tracking error, 0.005 = 0.5 %")
        for name in ("go_gamma_tc", "go_gamma_tax", "maintain_gamma_tax",
                     "transition_gamma_tax", "budget_gamma_tax"):
            check_number(self, name, low=0, meaning="an aversion")
        check_int(self, "mc_paths", low=0, meaning="Monte Carlo paths, 0 for none")
        check_int(self, "seed", low=0)
        check_int(self, "workers", low=1, meaning="processes")
        for flag in ("reuse_problems", "skip_no_trade"):
            if not isinstance(getattr(self, flag), bool):
                raise SettingsError(f"TransitionSettings({flag}={getattr(self, flag)!r}): "
                                    f"{flag} must be True or False")


@dataclass(frozen=True)
class FirstStep:
    """A plan's step 0 as :func:`simulate` solved it, for :func:`first_trades` to reuse.

    ``result``: the step's rebalance, not replayed through the ledger (the simulation
    replays its steps through its own ledger); ``state``: the account as the optimizer
    saw it (the gifts of the first year made); ``prices``: the path's prices that day;
    ``te``: the account's tracking error to the target before the step, which chose its
    phase (``phase``); ``note``: the solve's note (a widened or lifted TE cap);
    ``gift``: the year's gift made before the step (USD); ``settings``: the simulation's;
    ``base``: the step's rebalance settings before its phase's (the client's, with the
    account's minimum cash); ``target``: the weights it traded toward; ``risk``: a digest
    of the risk model's numbers (:func:`_risk_digest`). The last three and ``state`` tie
    the step to the setup it was solved for: a setup prepared again after an edit (tax
    rates, restrictions, minimum cash, carryforwards, the model) does not reuse it.
    ``added``: the labels of the researcher's terms and constraints the step's problem
    carried (:attr:`pma_lab.optimize.constraints.Additions.labels`; ``()``: none).
    """

    result: RebalanceResult
    state: AccountState
    prices: pd.Series
    te: float
    phase: str
    note: str
    gift: float
    settings: TransitionSettings
    base: RebalanceSettings
    target: pd.Series
    risk: str
    added: tuple[str, ...] = ()  # the researcher's additions' labels (Additions.labels)


def _risk_digest(risk: RiskModel) -> str:
    """A digest of a risk model's tickers, factors and numbers (to the bit)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(repr((risk.as_of, risk.tickers, risk.factors)).encode())
    for a in (risk.exposures, risk.factor_cov, risk.specific_var):
        arr = np.ascontiguousarray(a, dtype=float)
        h.update(repr(arr.shape).encode())
        h.update(arr.tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class PlanRun:
    """One plan on one path: per-step and per-year tables, and the horizon wealth.

    ``schedule`` (expected path only) records the plan's decisions for the Monte Carlo
    replay; ``mc`` holds the plan's outcomes on the Monte Carlo paths.
    ``years_to_target``: years from today to the first step whose tracking error to the
    target is within the band (so, like every figure of the steps, as fine as their
    spacing: a lock that keeps "Move now" above the band for weeks reads 0.25 years with
    quarterly steps and 1 year with annual ones).
    """

    plan: Plan
    path: str
    steps: pd.DataFrame
    years: pd.DataFrame
    after_tax_wealth: float
    liquidation_tax: float
    dispositions: pd.DataFrame = field(repr=False)
    gifts: pd.DataFrame = field(repr=False)
    failed: str = ""
    events: tuple = field(repr=False, default=())
    te_initial: float = math.nan
    years_to_target: float = math.nan
    schedule: Schedule | None = field(repr=False, default=None)
    mc: PathOutcomes | None = field(repr=False, default=None)
    seconds: float = 0.0  # the simulation's wall time
    cpu_seconds: float = 0.0  # ... and its process CPU time (what a loaded machine hides)
    # value at the horizon of the loss the return carries out of the last year
    # (accounting.return_carryforward: a household's, every taxable account's)
    carryforward_value: float = 0.0
    bonds: pd.DataFrame | None = field(repr=False, default=None)  # the bond sleeve's moves
    # ... and its interest income by calendar year (taxed in ``years``; the MC replay too;
    # the interest on the account's cash is ``years.cash_interest``, taxed with it)
    interest: Mapping[int, InterestIncome] | None = field(repr=False, default=None)
    # step 0 as solved (a recorded run whose first step traded toward today's target;
    # None when it was skipped or failed): first_trades(..., run=) returns it
    first_step: FirstStep | None = field(repr=False, default=None)
    # the step that stopped a failed plan, for its reason in the client's words
    # (pma_lab.plan.failure.client_reason; ``failed`` is the service team's)
    failure: StepFailure | None = field(repr=False, default=None)
    # a household's other taxable accounts' sales today, traded around step 0 (Form 8949
    # rows, pma_lab.plan.household): on the plan's one return, counted like the year's
    # earlier sales (its budget, its netting); not in ``dispositions`` (the plan's own)
    others: pd.DataFrame | None = field(repr=False, default=None)
    # the names step 0 left as they are because the household's other accounts would trade
    # them the other way (pma_lab.plan.household.without_pairs; its note words them,
    # left_names_note): the proposal counts them from here, not from the note's words
    left_today: tuple[str, ...] = ()


# ------------------------------------------------------------------------- one step
def _donate(led: Ledger, acc: str, day: dt.date, prices: pd.Series, amount: float,
            skip: set[str], events: list, rec: ScheduleRecorder | None,
            lots: Sequence[Lot] | None = None) -> float:
    """Donate the most appreciated long-term lots (by gain per dollar) up to ``amount``.

    Gifts are in whole shares (a custodian transfers whole shares to a charity): a lot
    given in part gives the whole shares that fit in what is left of ``amount`` (rounded
    down; a lot of which not even one share fits is passed over for a cheaper one), so
    the gift may fall short of ``amount`` by less than one share's price. A lot that
    itself holds a fraction of a share is given only in its whole shares. ``lots``: the
    account's open lots as ``led.lots(account=acc)`` gives them now (default: read here).
    """
    rows = []
    for lt in led.lots(account=acc) if lots is None else lots:
        if lt.ticker in skip or lt.ticker not in prices.index:
            continue
        lto = lt.long_term_on()
        if lto is not None and day < lto:
            continue
        p = float(prices[lt.ticker])
        value = float(lt.shares) * p
        if value <= 0 or float(lt.basis) >= value:
            continue
        rows.append((1 - float(lt.basis) / value, lt, p, value))
    given = 0.0
    for _, lt, p, _value in sorted(rows, key=lambda r: -r[0]):
        if given >= amount - 1:
            break
        whole = lt.shares.to_integral_value(rounding=ROUND_FLOOR)
        fits = Decimal(math.floor((amount - given) / p + 1e-9))
        shares = min(whole, fits)
        if shares <= 0:
            continue
        args = (day, acc, lt.ticker, lt.shares if shares == lt.shares else shares,
                Decimal(repr(p)))
        led.donate(*args, method=LotRelief.SPECIFIC, lot_id=lt.lot_id)
        events.append(("donate", args, lt.lot_id))
        if rec is not None:
            rec.gift(lt.lot_id, float(args[3]) * p, lt.term_on(day) is Term.LONG)
        given += float(shares) * p
    return given


def _apply(led: Ledger, acc: str, day: dt.date, result: RebalanceResult,
           prices: pd.Series | Mapping[str, float], events: list,
           rec: ScheduleRecorder | None, cash: float, forced: frozenset[str],
           keep: float = 0.0, lots: Sequence[Lot] | None = None) -> float:
    """Apply a rebalance's trades to the ledger (and record them); returns the cash change.

    ``keep``: the cash (USD) the step keeps (:func:`_keep`); the schedule records the buys
    as shares of the cash above it, so the Monte Carlo replay keeps the same dollars.
    ``prices``: by ticker, a Series or (faster) a dict of the same values; ``lots``: the
    account's open lots as ``led.lots(account=acc)`` gives them now (default: read here).
    The trade lists are read as column lists, not row by row (``itertuples``, ~10 % of
    the bookkeeping of a transition step).
    """
    change = 0.0
    open_lots = {lt.lot_id: lt for lt in (led.lots(account=acc) if lots is None else lots)}
    # the trade lists' columns (trade_columns: the tables are not built for a step)
    cols = trade_columns(result)
    for lot_id, ticker, q, price, full in zip(
            *trade_lists(cols.lots, "lot_id", "ticker", "shares", "price", "full_lot"),
            strict=True):
        lot = open_lots[lot_id]
        shares = lot.shares if full else Decimal(repr(float(q)))
        args = (day, acc, ticker, shares, Decimal(repr(float(price))))
        led.sell(*args, method=LotRelief.SPECIFIC, lot_id=lot_id)
        events.append(("sell", args, lot_id))
        if rec is not None:
            rec.sell(lot_id, float(shares / lot.shares), lot.term_on(day) is Term.LONG,
                     ticker in forced)
        change += float(shares) * float(price)
    if rec is not None:
        rec.cash_available(cash + change, keep)
    for ticker, side, q in zip(*trade_lists(cols.names, "ticker", "side", "shares"),
                               strict=True):
        if side != "buy":
            continue
        sh = float(q)
        p = float(prices[ticker])
        if sh * p < 1.0:
            continue  # solver round-off dust (the optimizer keeps trades under $1 as noise)
        args = (day, acc, ticker, Decimal(repr(sh)), Decimal(repr(p)))
        lot_id = led.buy(*args)
        events.append(("buy", args, None))
        if rec is not None:
            rec.buy(lot_id, ticker, sh * p, day)
        change -= sh * p
    return change


class _Managed:
    """One account's risk pieces, kept across the steps of a simulation.

    The risk model restricted to the names a step can touch (held or in the target,
    :func:`~pma_lab.optimize.engine.managed_risk`) and its tracking-variance term depend
    only on the set of model names held, which seldom changes from one step to the next:
    each set's pieces are computed once.
    """

    def __init__(self, setup: ClientSetup, account_id: str) -> None:
        self.setup = setup
        self.rules = _HeldRules.of(setup, account_id)  # the restrictions' view of it
        self.model = frozenset(setup.risk.tickers)
        self.target = setup.target.weights
        self._in_target = frozenset(self.target.index)
        bw = setup.benchmark.weights
        self._in_benchmark = frozenset(bw.index[bw > 0])
        self._risk = _shared_pieces(setup)

    def _pieces(self, held: set[str]) -> tuple[RiskModel, TrackingVariance, np.ndarray]:
        # the managed names are the target's and the model names held outside it
        # (:func:`managed_risk`): those held outside it are the key, with the funds held
        # (a fund held keeps the benchmark's names, its look-through: they are then left
        # out of the key, which is the same for the names held and the state's names)
        held = frozenset(held)
        funds = held - self.model
        key = (held & self.model) - self._in_target
        if funds:
            key = (key - self._in_benchmark) | funds
        got = self._risk.get(key)
        if got is None:
            rm = managed_risk(self.setup, set(key))
            got = (rm, TrackingVariance.of(rm),
                   self.target.reindex(list(rm.tickers)).fillna(0.0).to_numpy())
            self._risk.put(key, got)
        return got

    def risk(self, held: set[str]) -> RiskModel:
        """The risk model of a step whose account holds ``held``."""
        return self._pieces(held)[0]

    def today(self, st: AccountState) -> _Today:
        """The account's weights and TE to the target before a step trades.

        The same arithmetic as :class:`~pma_lab.optimize.rebalance.RebalanceProblem`'s
        ``h`` and :meth:`~pma_lab.optimize.rebalance.RebalanceProblem.current_te` (to the
        last bit), without building the problem.
        """
        _, tracking, wt = self._pieces(set(st.assets))
        ticker, _, value, _ = _lot_fields(st)
        index = {t: i for i, t in enumerate(st.assets)}
        na = len(st.assets)
        rows = np.array([index[t] for t in ticker.tolist()], dtype=np.intp)
        # each asset's lots summed in lot order from 0.0, as the lot-to-asset matrix's
        # product sums them (to the bit)
        h = np.bincount(rows, weights=value / st.value, minlength=na)
        return _Today(h, index, tracking.te(_look(st, h) - wt))

    def pieces(self, st: AccountState) -> tuple[TrackingVariance, np.ndarray]:
        """The tracking-variance term and target weights of a step's problem on ``st``."""
        _, tracking, wt = self._pieces(set(st.assets))
        return tracking, wt


MANAGED_PIECES = 32
"""The :class:`_Managed` risk pieces kept per setup, the most recently used (a key is a set
of model names held outside the target: a 5-plan, 5-year comparison of the sample clients
uses 1-6, each a restricted risk model of up to the model's size)."""


class _PieceCache:
    """A small thread-safe LRU of :class:`_Managed`'s risk pieces (at most ``size``).

    Plans on threads share it: a lookup and an insertion are each under a lock, so two
    plans may at worst compute the same set's pieces twice (the later insertion wins;
    equal values).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._d: OrderedDict[frozenset[str], tuple] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._d)

    def get(self, key: frozenset[str]) -> tuple | None:
        """The pieces of ``key`` (now the most recently used), or ``None``."""
        with self._lock:
            got = self._d.get(key)
            if got is not None:
                self._d.move_to_end(key)
            return got

    def put(self, key: frozenset[str], value: tuple) -> None:
        """Keep ``value`` for ``key``, dropping the least recently used beyond ``size``."""
        with self._lock:
            self._d[key] = value
            self._d.move_to_end(key)
            while len(self._d) > self.size:
                self._d.popitem(last=False)


def _shared_pieces(setup: ClientSetup) -> _PieceCache:
    """The :class:`_Managed` risk pieces computed under ``setup``, shared by its plans.

    Kept with the setup (beside its frozen fields, as :mod:`pma_lab.optimize.state` keeps
    its alignment with a risk model): a comparison's plans hold the same names at many
    steps, and each plan computing the same restricted risk model again (and the state's
    alignment to it, kept with the model) was ~1.5 % of a comparison's CPU. At most
    :data:`MANAGED_PIECES` sets are kept (review 15 L6: a long-lived setup, e.g. the
    dashboard's, no longer grows without bound).
    """
    got = setup.__dict__.get("_managed_pieces")
    if got is None:
        with _PIECES_LOCK:
            got = setup.__dict__.get("_managed_pieces")
            if got is None:
                got = _PieceCache(MANAGED_PIECES)
                object.__setattr__(setup, "_managed_pieces", got)
    return got


_PIECES_LOCK = threading.Lock()
"""Guards the creation of a setup's :class:`_PieceCache` (plans on threads)."""


def _look(st: AccountState, h: np.ndarray) -> np.ndarray:
    """``st.lookthrough @ h`` as its sparse product sums it (to the bit).

    Without a fund held the look-through is the identity: each row's sum is 0.0 plus its
    own weight, the weight itself (building the sparse matrix of a 500 x 500 identity cost
    more than the rest of :meth:`_Managed.today`).
    """
    if len(st.assets) == st.n_model:
        return h + 0.0
    return lookthrough_matrix(st) @ h


@dataclass(frozen=True)
class _Today:
    """An account's weights per asset (in ``st.assets`` order) and TE before a step."""

    h: np.ndarray
    asset_index: dict[str, int]
    te: float

    def weights(self, names: object) -> dict[str, float]:
        """Today's weights (of the account) of ``names`` that the account can hold."""
        return {t: float(self.h[self.asset_index[t]]) for t in names
                if t in self.asset_index}


def _step_failure(e: OptimizationError, k: int, day: dt.date, year: int, withdrawal: float,
                  lots, px: Mapping[str, float], cash: float) -> StepFailure:
    """The failed step as :func:`pma_lab.plan.failure.client_reason` words it.

    ``cash`` is the account's after the step's withdrawal (``withdrawal``, USD, positive)
    and before a mixed portfolio's move between its sleeves that day, so the value before
    the withdrawal adds it back: the account's value as every table shows it (a
    $300,000 withdrawal from balanced-6040's equity read "an account then worth
    $1,328,311", the $8,654 the ladder moved in included, beside tables of $1,319,657).
    The conflicts are the diagnosis's
    (:func:`pma_lab.optimize.diagnose.diagnose`): ``single`` when relaxing one of them
    alone makes the step feasible.
    """
    value = float(sum(float(lt.shares) * float(px[lt.ticker]) for lt in lots)) + cash
    conflicts = tuple(getattr(e, "conflicts", ()))
    over = isinstance(e, WithdrawalBudgetError)  # the withdrawal's own gains, and the budget
    return StepFailure(k, day, year, float(withdrawal), value + float(withdrawal), conflicts,
                       single=isinstance(e, InfeasibleError) and ("becomes feasible when"
                                                                  in str(e) or over),
                       gains_needed=e.gains if over else 0.0,
                       gains_allowed=e.allowed if over else 0.0,
                       gains_spent=e.spent if over else 0.0,
                       gains_budget=e.budget if over else 0.0,
                       carried_in=e.carried if over else 0.0,
                       carried_st=e.carried_st if over else 0.0,
                       carried_lt=e.carried_lt if over else 0.0,
                       gains_offset=e.offset if over else 0.0,
                       gains_cap=e.cap if over else "",
                       gains_forced=e.forced if over else 0.0)


def _check_withdrawal(plan: Plan, acc: str, led: Ledger, day: dt.date, prices: pd.Series,
                      cash: float, year: int, path: str = "expected",
                      accounts: tuple = (), keep: frozenset[str] = frozenset()) -> None:
    """Refuse a plan year's withdrawal the account cannot pay, naming the plan and the fix.

    Called once the year's flow (and gift) is in ``cash``: when the cash is negative by
    more than the lots are worth at ``prices``, no sale can raise it. ``accounts``: the
    profile's ``[[accounts]]``, so that the account is named in the client's words
    (:func:`pma_lab.accounts.account_name`; its id alone without them). ``keep``: the
    client's keep list, never sold (:func:`pma_lab.optimize.engine.keep_names`): its lots
    do not count, and the message names it.

    Raises
    ------
    DataError
        Naming the plan, the step's date and plan year, the withdrawal, what the account
        held, and how to fix it (a smaller ``flow=``, fewer years).
    """
    if plan.flow >= 0 or cash >= 0:
        return
    held = led.lots(account=acc)
    lots = float(sum(float(lt.shares) * float(prices[lt.ticker])
                     for lt in held if lt.ticker not in keep))
    if cash + lots > 0:
        return
    kept = float(sum(float(lt.shares) * float(prices[lt.ticker])
                     for lt in held if lt.ticker in keep))
    before = cash - plan.flow
    on = "" if path == "expected" else f" on the {path} path"
    fix = ("; or fewer --years: the account pays "
           f"{year - 1} year{'' if year == 2 else 's'} of this withdrawal" if year > 1 else "")
    who = account_name(accounts, acc) if accounts else f"account {acc}"
    if kept > 0:
        names = sorted({lt.ticker for lt in held if lt.ticker in keep})
        listed = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8
                                         else "")
        raise DataError(
            f"plan {plan.name!r} withdraws {fmt_usd(-plan.flow)} (flow={plan.flow:.0f}, as "
            f"every plan compared) on {day}, the start of plan year {year}{on}: more than "
            f"the {who} can sell that day ({fmt_usd(lots)} in lots outside the keep list and "
            f"{fmt_usd(before)} in cash before the withdrawal; {fmt_usd(kept)} is on the "
            f"keep-but-do-not-add list, {listed}, which is never sold). Give the plans a "
            f"smaller withdrawal (flow= closer to 0){fix}, or take names off hold_no_add "
            "in the profile's [restrictions]")
    raise DataError(
        f"plan {plan.name!r} withdraws {fmt_usd(-plan.flow)} (flow={plan.flow:.0f}, as every "
        f"plan compared) on {day}, the start of plan year {year}{on}: more than the "
        f"{who} holds that day ({fmt_usd(lots)} in lots and {fmt_usd(before)} in cash before "
        f"the withdrawal), so no sale can raise it. Give the plans a smaller withdrawal, one "
        f"the account can pay every year of the horizon (flow= closer to 0){fix}")


def _state(setup: ClientSetup, plan: Plan, acc: str, led: Ledger, day: dt.date,
           prices: pd.Series, cash: float, k: int, s: TransitionSettings,
           managed: _Managed | None = None, lots: Sequence[Lot] | None = None
           ) -> AccountState:
    """The account as the optimizer sees it at step ``k`` of ``plan``.

    ``hold`` never sells (nor, with cash to invest, divests restricted names); a negative
    cash balance (a withdrawal) is raised by sales alone. ``managed``: the simulation's
    cached risk pieces (default: computed for this step); ``lots``: the account's open
    lots as ``led.lots(account=acc)`` gives them now (default: read here).
    """
    exclude, no_sell = _concentrated(setup, plan)
    if lots is None:
        lots = led.lots(account=acc)
    held_all = {lt.ticker for lt in lots}
    risk = managed.risk(held_all) if managed is not None else None
    rules = managed.rules if managed is not None else None
    if plan.kind == "hold":
        held = held_all - exclude
        st = account_state_for(setup, acc, ledger=led, as_of=day, prices=prices, cash=cash,
                               exclude=sorted(exclude), divest=False, risk=risk, rules=rules,
                               no_sell=sorted(held) if cash >= 0 else sorted(no_sell),
                               lots=lots)
        # hold is the comparison's baseline and never trades by choice: it is held to
        # no sector limit (legacy holdings may already break one, and buying with new
        # cash cannot mend it) nor to glide caps, so that it always runs
        if st.sector_limits or st.max_weight:
            st = replace(st, sector_limits={}, max_weight={})
        return replace(st, no_buy=frozenset(st.assets)) if cash < 0 else st
    st = account_state_for(setup, acc, ledger=led, as_of=day, prices=prices, cash=cash,
                           no_sell=sorted(no_sell), exclude=sorted(exclude), risk=risk,
                           rules=rules, glide_years=(k + 1) / s.steps_per_year, lots=lots)
    # "Move now" goes to the target today: a sell_within glide's names are sold in full
    # (go_to_target_state, as the frontier's "Go to target" point sells them), not kept
    # at the glide's line as a hedge (reviewer 1, session 24: chen kept 5 of 300 XOM)
    return go_to_target_state(st) if plan.kind == "immediate" and k == 0 else st


def _phase(plan: Plan, k: int, reached: bool, s: TransitionSettings) -> str:
    if plan.kind == "hold":
        return "hold"
    if plan.kind == "immediate":
        return "go" if k == 0 else "maintain"
    if reached:
        return "maintain"
    if plan.kind == "timeline":
        return "glide" if k < plan.years * s.steps_per_year else "maintain"
    return "approach"


def _phase_settings(plan: Plan, phase: str, k: int, te0: float, base: RebalanceSettings,
                    s: TransitionSettings) -> tuple[RebalanceSettings, RebalanceSettings | None]:
    """The rebalance settings of a phase, and what to fall back to if its TE cap binds."""
    bud = plan.budgets()
    approach = replace(base, gamma_tax=s.budget_gamma_tax, te_cap=plan.te_cap, budgets=bud)
    if phase == "hold":
        # the baseline: no TE cap, no budget, no cap on the number of names it holds
        return replace(base, gamma_tax=s.maintain_gamma_tax, te_cap=None,
                       budgets=Budgets(), max_names=None), None
    if phase == "go":
        return go_to_target(base, gamma_tax=s.go_gamma_tax, gamma_tc=s.go_gamma_tc,
                            te_cap=plan.te_cap), None
    if phase == "approach":
        return approach, None
    if phase == "glide":
        n = plan.years * s.steps_per_year
        cap = max(te0 * (1 - (k + 1) / n), s.te_band)
        if plan.te_cap is not None:
            cap = min(cap, plan.te_cap)
        # a ceiling of 100 % or more binds nothing (an account a withdrawal left mostly
        # in negative cash starts above it): no cap, not a SettingsError
        return replace(base, gamma_tax=s.transition_gamma_tax, budgets=Budgets(),
                       te_cap=cap if cap < 1 else None), None
    cap = s.te_band if plan.te_cap is None else min(s.te_band, plan.te_cap)
    maintain = replace(base, gamma_tax=s.maintain_gamma_tax, te_cap=cap, budgets=bud)
    # a budget plan keeps its budget: when the band cannot be held within it, the step
    # minimises TE within the budget instead (noted)
    return maintain, (approach if plan.kind == "budget" else None)


_LATER_STEP = {"maintain": "keeping close to the target", "glide": "on the glide path",
               "approach": "approaching the target", "go": "moving to the target"}
"""What a later step of a plan does, in the words its widened-limit note names it by."""


def _solve_step(prob: RebalanceProblem, plan: Plan, settings: RebalanceSettings,
                fallback: RebalanceSettings | None = None,
                later: str = "", carried: Callable[[], CarriedIn] | None = None
                ) -> tuple[RebalanceResult, str]:
    """Solve one step under ``settings``; return the result and a note ("" if none).

    When a plan's own TE cap (the glide path's or the maintenance band) cannot be met at
    this step (wash-sale locks, forced sales, a binding budget), a budget plan minimises
    TE within its budget (``fallback``); other plans double the cap up to four times,
    then lift it. Every such step is noted, in the words the client reads (the note is
    shown as is in the plan comparison of the proposal, the dashboard and the command
    line), before the solve's own (a minimum trade left to the rounding step:
    :data:`pma_lab.optimize.rebalance.MIN_TRADE_KEPT`). A client's own TE ceiling is never
    loosened: the InfeasibleError propagates, naming the conflicting constraints.

    ``later``: the phase of a step after today's (``maintain``, ``glide``, ...); its note
    says so and names the limit it widened ("at a later step (keeping close to the
    target), the tracking-error limit of 0.50% was widened to 1.00%"), so that it does not
    read as the limit of today's step beside today's tracking error (the plan's notes
    gather every step's). "": today's step. ``carried``: the capital loss carried into the
    step's tax year, short- and long-term, with its loss limit (:class:`CarriedIn`,
    :func:`_loss_carried_in`), asked only when a withdrawal needs
    gains beyond the budget (:func:`_withdrawal_over_budget`).
    """
    at = f"at a later step ({_LATER_STEP.get(later, later)}), the " if later else ""
    prob.update(settings)
    try:
        return _noted(_solve_within_forced(prob), "")
    except InfeasibleError as e:
        paid = _withdrawal_over_budget(prob, plan, settings, fallback, e, carried)
        if paid is not None:
            return paid
        own = plan.te_cap is not None and settings.te_cap is not None and \
            settings.te_cap >= plan.te_cap - 1e-12
        if settings.te_cap is None or own or "te_cap" not in e.conflicts:
            raise
    if fallback is not None:
        prob.update(fallback)
        return _noted(_solve_within_forced(prob), f"{at}tracking-error limit of "
                      f"{fmt_pct(settings.te_cap)} {'was ' if at else ''}not reachable "
                      "within the gains budget, so tracking error was kept as low as the "
                      "budget allows")
    cap = was = settings.te_cap
    for _ in range(4):
        cap *= 2
        if cap >= 1:  # 100 % or more binds nothing: the cap is lifted below
            break
        prob.update(replace(settings, te_cap=cap))
        try:
            return _noted(prob.solve(), f"{at}tracking-error limit of {fmt_pct(was)} "
                          f"{'was ' if at else ''}widened to {fmt_pct(cap)} so the plan "
                          "could be completed")
        except InfeasibleError:
            continue
    prob.update(replace(settings, te_cap=None))
    return _noted(prob.solve(), f"{at}tracking-error limit of {fmt_pct(was)} "
                  f"{'was ' if at else ''}removed so the plan could be completed")


def _solve_within_forced(prob: RebalanceProblem, rounds: int = 3) -> RebalanceResult:
    """Solve ``prob``; where the restrictions raised its gains budgets, spend no room.

    A budget below the gain of the sales the restrictions force is raised to that gain
    (:func:`pma_lab.optimize.limits.budget_limits`: the sales are made whatever the tax).
    The losses the step harvests then offset the forced gains; they must not make room
    for gains the step chooses to realise (review rev1: retiree's "Gains budget $0"
    realised $38,227 of other gains against the $38,227 of losses it harvested, $231,840
    of net gain where the 5-year glide realised $194,650). So when the step's sales
    realise gains beyond the forced sales' least gross gain (:func:`_discretionary`), each
    raised cap's raise is lowered to the step's net gain under that cap without them (the
    forced gains less the harvested losses the cap nets: the total every loss, a
    short-term cap the short-term losses, a long-term cap the long-term ones; never below
    the budget, ``Budgets.forced_offset``, ``forced_offset_st``, ``forced_offset_lt``)
    and the step solved again, at most ``rounds`` times. A solve that is then infeasible
    keeps the result before it. The problem is left under the settings of the result
    returned; the caps whose raise was lowered say so (``RaisedCap.offset``).
    """
    res = prob.solve()
    lowered: set[int] = set()
    for _ in range(rounds):
        offset = _discretionary(prob, res)
        if offset is None:
            break
        was = prob.settings
        b = was.budgets
        prob.update(replace(was, budgets=replace(
            b, forced_offset=b.forced_offset + float(offset[0]),
            forced_offset_st=b.forced_offset_st + float(offset[1]),
            forced_offset_lt=b.forced_offset_lt + float(offset[2]))))
        try:
            res = prob.solve()
        except InfeasibleError:
            prob.update(was)
            break
        lowered |= {k for k in range(3) if offset[k] > 0}
    caps = res.summary.raised_caps
    words = [_CAP_WORDS[k] for k in sorted(lowered)]
    if not any(c.cap in words for c in caps):
        return res
    # the raises as the notes quote them (pma_lab.report.labels.forced_sales_note)
    marked = tuple(replace(c, offset=True) if c.cap in words else c for c in caps)
    return replaced(res, summary=replace(res.summary, raised_caps=marked))


_CAP_WORDS = ("total", "short-term", "long-term")  # RaisedCap.cap of each budget row


def _discretionary(prob: RebalanceProblem, res: RebalanceResult) -> np.ndarray | None:
    """USD to lower each raised cap's raise by (total, ST, LT; None: nothing to lower).

    Only for a dollar budget the forced sales raised (``prob.budget_raise``): per cap, the
    step's sales' gross gain under it (every sale for the total, the short-term sales for
    a short-term cap, the long-term ones for a long-term cap) beyond the least gross gain
    of the forced sales under it (:func:`pma_lab.optimize.limits.forced_sales`, one share
    of a glide's round-up allowed) is gain the step chose; without it the step nets its
    net gain under the cap less that (the forced gains less the harvested losses the cap
    nets: a short-term loss offsets short-term gains first, as the cap's row counts it),
    which is what the raised cap is lowered to (never below the budget left).
    """
    b = prob.settings.budgets
    raise_ = getattr(prob, "budget_raise", None)
    lots = trade_columns(res).lots
    if str(b.unit) != "gain" or raise_ is None or not prob.nl or not len(lots["gain"]):
        return None
    V = prob.V
    s = res.summary
    st = prob.state
    gains = np.asarray(lots["gain"], dtype=float)
    short = np.asarray(lots["term"]) == "ST"
    mine = (np.ones(len(gains), dtype=bool), short, ~short)
    realised = (s.realized_st + s.realized_lt, s.realized_st, s.realized_lt)
    ytd = (st.ytd_st + st.ytd_lt, st.ytd_st, st.ytd_lt)
    out = np.zeros(3)
    for k, cap_usd in enumerate((b.total, b.short_term, b.long_term)):
        if cap_usd is None or raise_[k] <= 0.005:
            continue
        forced = float(np.maximum(prob.brows[k], 0.0) @ prob._forced_x) * V
        g = gains[mine[k]]
        chosen = float(g[g > 0].sum()) - forced
        tol = 1.0 + float(prob._forced_margin[k]) * V
        if chosen <= tol:
            continue
        room = float(cap_usd) - ytd[k]  # the budget left for the year
        cap = room + float(raise_[k])  # raised to the forced sales' gain
        target = max(float(realised[k]) - chosen, room)
        if cap - target > tol:
            out[k] = cap - target
    return out if out.any() else None


def _withdrawal_over_budget(prob: RebalanceProblem, plan: Plan, settings: RebalanceSettings,
                            fallback: RebalanceSettings | None, e: InfeasibleError,
                            carried: Callable[[], CarriedIn] | None = None
                            ) -> tuple[RebalanceResult, str] | None:
    """A withdrawal the gains budget cannot pay (:mod:`pma_lab.plan.withdrawal`).

    When the step must raise cash (the plan withdraws) and its gains budget is what makes
    it infeasible (``e``): if some mix of the withdrawal's sales (fractional shares, no
    minimum trade, :func:`~pma_lab.plan.withdrawal.least_overrun`) fits every cap of the
    budget and only whole shares and the minimum trade do not, the budgets are raised by
    the least gains the minimum trade realises
    (:func:`~pma_lab.plan.withdrawal.least_forced`) and the step solved again (under the
    budget plan's fallback when it has one), noted; otherwise
    :class:`~pma_lab.errors.WithdrawalBudgetError` is raised, with the gains of the mix
    that exceeds the caps least and what the cap it exceeds most leaves. ``None``: not
    such a step (``e`` is handled as before).

    A budget caps the year's **net** realised gain: the year's losses count, and so does
    the loss carried into the year (``carried``, :func:`_loss_carried_in`) for a
    withdrawal's own gains. When that loss offsets the gains the withdrawal needs beyond
    the budget with no tax (:func:`_offset_by_loss_in`: Schedule D's netting by character
    with them still nets the year to a loss of at least the year's loss limit, so the
    deduction against ordinary income is whole; the carryforward is smaller by as much)
    for its fractional sales, its whole-share and minimum-trade sales
    (:func:`~pma_lab.plan.withdrawal.least_forced`) and the trades the solve made, the
    withdrawal is paid as in the first case, the budgets raised by the least gains its
    sales realise, and the note says so (:data:`CARRIED_NOTE`); otherwise the error names
    the loss carried in and the gains it offsets with no tax (:meth:`CarriedIn.offset`).
    """
    need = withdrawal.cash_needed(prob.state, settings)
    if plan.flow >= 0 or need <= 0.005 or "budgets" not in e.conflicts or \
            "te_cap" in e.conflicts or not withdrawal.gain_budget(settings.budgets):
        return None
    st = prob.state
    use = fallback if fallback is not None and withdrawal.gain_budget(fallback.budgets) \
        else settings
    b = use.budgets
    # the withdrawal's own gains: its sales in fractional shares, no minimum trade, in the
    # mix that exceeds the caps least (separate short- and long-term caps: any mix)
    bare = withdrawal.least_overrun(st, need, settings, b)
    beyond = bare.overrun(b, st.ytd_st, st.ytd_lt)
    loss_in = carried() if beyond is not None and carried is not None else CarriedIn()
    if beyond is not None and _offset_by_loss_in(bare, b, st, loss_in):
        beyond = None  # the loss carried in offsets the withdrawal's gains beyond the budget
    else:
        loss_in = CarriedIn() if beyond is None else loss_in
    if beyond is not None:  # the withdrawal itself needs gains beyond the budget
        _refuse(plan, st, b, e, bare, loss_in)
    f_st, f_lt, f_usd = _forced_now(st)
    if f_st > 0.005 or f_lt > 0.005:
        # the restrictions' sales of the day are made whatever the tax (and pay part of
        # the withdrawal): with them the withdrawal's sales go beyond the budget (review
        # rev1: "would break the plan's gains budget and your restrictions", no amount)
        rest = need - f_usd
        more = withdrawal.least_overrun(st, rest, settings, b) if rest > 0.005 else \
            withdrawal.ForcedGains(0.0, 0.0, 0.0, 0.0)
        both = withdrawal.ForcedGains(need, more.st + f_st, more.lt + f_lt, more.sold + f_usd)
        if both.overrun(b, st.ytd_st, st.ytd_lt) is not None and not (
                loss_in.total > 0 and _offset_by_loss_in(both, b, st, loss_in)):
            _refuse(plan, st, b, e, both, loss_in, f_st + f_lt)
    forced = withdrawal.least_forced(st, need, settings, b)
    if loss_in.total > 0 and not _offset_by_loss_in(forced, b, st, loss_in):
        # the whole shares and minimum trades realise more than the loss offsets
        _refuse(plan, st, b, e, forced, loss_in)
    for cushion in (1.0, max(float(settings.min_trade), 1.0)):
        raised = forced.raise_budgets(b, st.ytd_st, st.ytd_lt, cushion)
        if raised == b:
            return None
        prob.update(replace(use, budgets=raised))
        try:
            res = prob.solve()
        except InfeasibleError:
            continue
        s = res.summary
        used = (st.ytd_st + st.ytd_lt + s.realized_st + s.realized_lt,
                st.ytd_st + s.realized_st, st.ytd_lt + s.realized_lt)
        over = max((u - cap for u, cap in zip(used, (b.total, b.short_term, b.long_term),
                                               strict=True) if cap is not None), default=0.0)
        kept = float(s.cash_after) - settings.cash_target * st.value
        if loss_in.total > 0:
            made = withdrawal.ForcedGains(need, float(s.realized_st), float(s.realized_lt),
                                          need)
            if not _offset_by_loss_in(made, b, st, loss_in):  # the trades made realise more
                prob.update(settings)
                _refuse(plan, st, b, e, made, loss_in)
            return _noted(res, CARRIED_NOTE.format(
                withdrawal=fmt_usd(-plan.flow), over=fmt_usd(max(over, 0.0)),
                budget=_caps_words(b), carried=fmt_usd(loss_in.total), year=st.as_of.year,
                limit=fmt_usd(loss_in.limit)))
        return _noted(res, withdrawal.min_trade_note(-plan.flow, b, over,
                                                     float(settings.min_trade), kept))
    prob.update(settings)
    return None


CARRIED_NOTE = ("the withdrawal of {withdrawal} realised {over} of gains beyond the gains "
                "budget ({budget}); the loss of {carried} carried into {year} offsets them, "
                "with the year's other gains, and still leaves the {limit} it offsets against "
                "ordinary income, so there is no tax on them (the loss carried forward is "
                "smaller by as much)")
"""The note of a step whose withdrawal needs gains beyond the budget that the loss carried
into the year offsets with no tax (:func:`_withdrawal_over_budget`)."""


@dataclass(frozen=True)
class CarriedIn:
    """The capital loss carried into a tax year (:func:`_loss_carried_in`).

    Attributes
    ----------
    st, lt : float
        The short- and long-term loss carried in (USD, positive; 0 when none).
    limit : float
        The year's limit on the net loss offset against ordinary income (USD: $3,000,
        $1,500 married filing separately; the profile's ``loss_limit``).
    """

    st: float = 0.0
    lt: float = 0.0
    limit: float = 0.0

    @property
    def total(self) -> float:
        """The loss carried in, short- and long-term (USD)."""
        return self.st + self.lt

    def offset(self, ytd: float) -> float:
        """USD of a withdrawal's net gain this loss offsets with no tax (0 when none).

        The loss carried in, less the year's loss limit against ordinary income (which the
        year keeps with no sale) and the year's other net gains ``ytd`` (USD): Schedule D's
        line 16 with the withdrawal's gains stays at or below minus the limit.
        """
        return max(self.total - self.limit - ytd, 0.0)


def _refuse(plan: Plan, st: AccountState, b: Budgets, e: InfeasibleError,
            g: withdrawal.ForcedGains, loss_in: CarriedIn, forced: float = 0.0) -> NoReturn:
    """Raise :class:`~pma_lab.errors.WithdrawalBudgetError` for a withdrawal beyond ``b``.

    ``g``: the withdrawal's sales and their gains; the error names the cap of ``b`` they
    exceed most (:meth:`~pma_lab.plan.withdrawal.ForcedGains.binding`: the total, the
    short- or the long-term cap), its value, what it leaves, the gains it counts and where
    it is set (the plan's text and, for the client's own plan, the profile's key:
    :data:`~pma_lab.plan.withdrawal.CAP_KEYS`). ``loss_in``: the loss carried into the
    year (none: :class:`CarriedIn`'s zeros), named with the gains it offsets with no tax.
    ``forced``: the part of ``g``'s gains the restrictions' sales of the step realise
    (:func:`_forced_now`; 0: none).
    """
    over = g.binding(b, st.ytd_st, st.ytd_lt)
    # within every cap (the whole shares' gains beyond what the loss carried in offsets)
    name, cap, spent, gains = (over.cap_name, over.cap, over.used, over.gains) \
        if over is not None else ("", 0.0, 0.0, 0.0)
    allowed = cap - spent
    words = withdrawal.CAP_WORDS.get(name, "gains budget")
    term = {"short_term": " short-term", "long_term": " long-term"}.get(name, "")
    earlier = (f" (the year's earlier sales realised ${spent:,.2f} of the ${cap:,.2f} "
               f"{words} before it)" if round(spent) > 0 else "")
    offset = loss_in.offset(st.ytd_st + st.ytd_lt)
    if round(loss_in.total) > 0:
        other = st.ytd_st + st.ytd_lt
        earlier += (f"; the loss of ${loss_in.total:,.2f} carried into {st.as_of.year} "
                    f"offsets only ${offset:,.2f} of them with no tax (less the "
                    f"${loss_in.limit:,.2f} it offsets against ordinary income"
                    + (f" and the year's other net gains of ${other:,.2f}"
                       if round(other) > 0 else "") + ")")
    fix = ""
    if name:
        option, key = withdrawal.CAP_KEYS[name]
        fix = (f": raise the {words} by at least ${max(gains - allowed, 0.0):,.2f} (plan "
               f"{plan.name!r} sets it with {option}; the client's own plan takes it from "
               f"the profile's {key}) or withdraw less")
    raise WithdrawalBudgetError(
        f"{e}; the withdrawal of ${-plan.flow:,.2f} needs at least ${gains:,.2f} of "
        f"realised{term} gain (the sales of least tax"
        + (f", with the ${forced:,.2f} the restrictions' sales of the day realise"
           if forced > 0.005 else "") + f") and the {words}"
        + (f" of ${cap:,.2f}" if name else "")
        # never a negative "leaves" (reviewer 2, session 20): what the year is over by
        + (f" leaves ${allowed:,.2f} for the year" if allowed >= -0.005 else
           f" leaves $0.00 for the year (${-allowed:,.2f} already over it)")
        + f"{earlier}{fix}", e.conflicts, -plan.flow, gains, allowed, st.as_of.year, spent,
        cap, loss_in.total, loss_in.st, loss_in.lt, offset, name, forced) from e


def _forced_now(st: AccountState) -> tuple[float, float, float]:
    """The restrictions' sales at ``st``: their least short-, long-term gains and USD.

    A must-sell name's lots all go; a glide name (``st.max_weight``) is sold down to its
    cap, the least gain per share first (as :func:`pma_lab.optimize.limits.forced_sales`
    takes them), fractional shares. Losses count (negative).
    """
    if not (st.must_sell or st.max_weight):
        return 0.0, 0.0, 0.0
    lots = st.lots
    if not len(lots):
        return 0.0, 0.0, 0.0
    short = long = raised = 0.0
    for t in sorted(set(lots.ticker) & (set(st.must_sell) | set(st.max_weight))):
        mine = lots[lots.ticker == t]
        value = mine.value.to_numpy(dtype=float)
        excess = float(value.sum()) if t in st.must_sell else \
            max(float(value.sum()) - st.max_weight[t] * st.value, 0.0)
        per = mine.gain.to_numpy(dtype=float) / np.where(value > 0, value, 1.0)
        lt = (mine.term == "LT").to_numpy()
        for i in np.argsort(per, kind="stable"):
            take = min(value[i], excess)
            if take <= CLEAN:
                break
            if lt[i]:
                long += per[i] * take
            else:
                short += per[i] * take
            excess -= take
            raised += take
    return short, long, raised


def _caps_words(b: Budgets) -> str:
    """A budget's caps in words: ``$0 a year``, ``$0 short-term, $150,000 long-term``."""
    return ", ".join(f"{fmt_usd(v)} {w}" for v, w in ((b.total, "a year"),
                                                     (b.short_term, "short-term"),
                                                     (b.long_term, "long-term"))
                     if v is not None)


def _offset_by_loss_in(g: withdrawal.ForcedGains, b: Budgets, st: AccountState,
                       loss_in: CarriedIn) -> bool:
    """Whether the loss carried in offsets a withdrawal's gains with no tax.

    The year's gains with the withdrawal's own (``g``: its sales' short- and long-term
    gain; the year's others, ``st.ytd_st`` and ``st.ytd_lt``) netted with the loss carried
    in by character as Schedule D does (:func:`pma_lab.tax.liability.net_capital_gains`:
    a long-term carryover first absorbs the year's long-term gains, only the rest reaches
    the short-term ones): the year still nets to a loss of at least the year's loss limit
    (``loss_in.limit``), so the deduction against ordinary income is whole and no gain is
    taxed (the tax of the year is the one with no sale; the loss carried forward is
    smaller by the gains), and the net gain of each character after the cross-offset is
    within its cap of ``b`` (total, short-, long-term).
    """
    from pma_lab.tax.liability import net_capital_gains

    if loss_in.total <= 0.005:
        return False
    n = net_capital_gains([Decimal(repr(float(st.ytd_st + g.st)))],
                          [Decimal(repr(float(st.ytd_lt + g.lt)))],
                          Decimal(repr(loss_in.st)), Decimal(repr(loss_in.lt)),
                          Decimal(repr(loss_in.limit)))
    if n.combined > -Decimal(repr(loss_in.limit)):
        return False
    rows = ((b.total, max(n.combined, Decimal(0))), (b.short_term, n.taxable_st),
            (b.long_term, n.taxable_lt))
    return all(float(net) <= cap + 0.005 for cap, net in rows if cap is not None)


def _loss_carried_in(setup: ClientSetup, led: Ledger, year: int) -> CarriedIn:
    """The capital loss carried into tax ``year``, short- and long-term, and its loss limit.

    The loss carried into the analysis date's year (:meth:`pma_lab.io.profile.
    ClientProfile.carryforward_into`, as the single-account engine and the plan's
    accounting take it), chained through each year's net realised gains in
    ``led`` (every taxable account's, the plan's steps and the household's other accounts'
    sales booked in it) by Schedule D netting with the full loss limit against ordinary
    income (:func:`pma_lab.tax.liability.net_capital_gains`). The limit is the profile's
    (``loss_limit``: $3,000, $1,500 married filing separately).
    """
    from pma_lab.tax.liability import net_capital_gains

    prof = setup.client.profile  # type: ignore[attr-defined]
    day = setup.as_of  # type: ignore[attr-defined]
    first = day.year
    c_st, c_lt = (Decimal(repr(c)) for c in
                  prof.carryforward_into(first, f"the analysis date {day}"))
    for y in range(first, year):
        g_st, g_lt = led.year_gains(y)
        n = net_capital_gains([Decimal(repr(g_st))], [Decimal(repr(g_lt))], c_st, c_lt,
                              prof.tax.loss_limit)
        c_st, c_lt = n.carryout_st, n.carryout_lt
    return CarriedIn(float(c_st), float(c_lt), float(prof.tax.loss_limit))


def _noted(res: RebalanceResult, note: str) -> tuple[RebalanceResult, str]:
    """``(res, note)`` with the solve's own note (``res.summary.note``) after ``note``."""
    return res, "; ".join(filter(None, (note, res.summary.note)))


def _lot_fields(st: AccountState) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The lots' tickers and terms (object arrays), values and gains (float) of ``st``.

    The columns :func:`~pma_lab.optimize.state.account_state` kept with the state
    (:func:`~pma_lab.optimize.state.lot_columns`: a step's rules read them without
    building the state's lots table, ~0.7 CPU-ms a state), else its table's.
    """
    cols = st.__dict__.get("_lot_columns")
    if cols is not None:
        return cols.ticker, cols.term, cols.value, cols.gain
    lots = st.lots
    return (lots.ticker.to_numpy(dtype=object), lots.term.to_numpy(dtype=object),
            lots.value.to_numpy(dtype=float), lots.gain.to_numpy(dtype=float))


def _nothing_to_maintain(today: _Today, st: AccountState, s: TransitionSettings,
                         base: RebalanceSettings, keep: float = 0.0) -> bool:
    """Whether a maintenance step may skip its solve and hold.

    It may when there is no cash to invest, no restriction forces a sale, and the best
    trade can improve on holding by at most band^2 of the account in the objective's
    units (a fraction of the account in tax at the maintenance tax aversion: $2.50 per
    $100,000 with a 0.5 % band). Holding scores TE^2; every other term of the objective
    is non-negative except the tax credit of selling a lot at a loss, which is at most
    the lot's rate times its loss (a loss a wash-sale lock disallows earns none). So the
    best trade improves on holding by at most ``TE^2 + aversion x credits / value``,
    and the solve is skipped when that is at most band^2: with no loss to harvest, any
    TE within the band (most maintenance steps of the expected path, where prices never
    fall); with losses, when they are too small to be worth a trade (e.g. a loss locked
    by a purchase in another account that shrank as prices rose). ``keep``: the
    account's minimum cash (USD, :func:`_keep`): only the cash above it is to invest,
    and cash below it (a withdrawal, even one smaller than the minimum trade) is to be
    raised by sales, so such a step always solves.
    """
    spare = st.cash + st.contribution - keep
    # cash below what the step keeps (a withdrawal, however small: below the minimum trade
    # too) is raised by a sale, never left negative
    if today.te > s.te_band or spare >= base.min_trade or spare < -0.01:
        return False
    ticker, term, _, gain = _lot_fields(st)
    harvest = (gain < 0) & ~np.isin(ticker, list(st.wash_no_loss_sale))
    if harvest.any():
        rate = lot_rates(term == "ST", st.tax.st_rate, st.tax.lt_rate)
        credit = float(np.sum(rate[harvest] * -gain[harvest]))
        if st.value <= 0 or (today.te ** 2 + s.maintain_gamma_tax * credit / st.value
                             > s.te_band ** 2):
            return False
    held = set(ticker.tolist())
    if held & st.must_sell:
        return False
    return not any(w > st.max_weight[t] + 1e-9
                   for t, w in today.weights(st.max_weight).items())


def _budget_spent(today: _Today, st: AccountState, plan: Plan,
                  base: RebalanceSettings, keep: float = 0.0) -> bool:
    """Whether a budget plan's approach step can trade nothing, so its solve is skipped.

    It can trade nothing when there is no cash to invest (less than the minimum trade,
    not negative), no restriction forces a sale, the plan's own TE cap (if any) already
    holds, every lot that may be sold is at a gain, and what is left of the year's gain
    budgets cannot pay for the smallest sale the rounding keeps in any name: the
    minimum trade, or the whole position or one whole lot if smaller (whole shares;
    with fractional shares nothing may be left of a budget). The gain of selling
    ``s`` dollars of a name is at least ``s`` times its lowest gain per dollar in each
    term, so the largest sale the budgets allow is a small knapsack (cheapest term
    first); when it is below that smallest sale for every name the optimizer's answer
    is no trade (the expected path's budget plans once a year's budget is used: about
    half of their steps). ``keep``: the account's minimum cash (USD, :func:`_keep`): the
    cash to invest is the cash above it (a cent below it, rounding, counts as none).
    """
    spare = st.cash + st.contribution - keep
    if plan.kind != "budget" or not (-0.01 if keep > 0 else 0.0) <= spare < base.min_trade:
        return False
    ticker, term, value, gain = _lot_fields(st)
    if not len(ticker) or set(ticker.tolist()) & st.must_sell:
        return False
    if any(w > st.max_weight[t] + 1e-9 for t, w in today.weights(st.max_weight).items()):
        return False
    if plan.te_cap is not None and today.te > plan.te_cap:
        return False
    sellable = ~np.isin(ticker, list(st.no_sell))
    if not sellable.any():
        return True
    ticker, term = ticker[sellable], term[sellable]
    gain, value = gain[sellable], value[sellable]
    if (gain <= 0).any() or (value <= 0).any():
        return False
    b = plan.budgets()
    big = math.inf
    ytd = st.ytd_st + st.ytd_lt
    left_total = big if b.total is None else max(b.total - ytd, 0.0)
    left = {"ST": big if b.short_term is None else max(b.short_term - st.ytd_st, 0.0),
            "LT": big if b.long_term is None else max(b.long_term - st.ytd_lt, 0.0)}
    # numpy per name and term (pandas' groupby cost ~5 ms a call): the same sums and
    # minima over the same values in the same order
    per = gain / value  # gain per dollar
    # names and terms in order of first appearance (pd.unique's order, without its
    # ~0.1 ms a call)
    for name in dict.fromkeys(ticker.tolist()):
        on = ticker == name
        legs = []  # (lowest gain per dollar, most value the term's own budget allows)
        for t in dict.fromkeys(term[on].tolist()):
            part = on & (term == t)
            g = float(per[part].min())
            legs.append((g, min(float(value[part].sum()), left[t] / g)))
        total, room = 0.0, left_total
        for g, most in sorted(legs):
            take = min(most, room / g)
            total += take
            room -= take * g
        smallest = min(base.min_trade, float(value[on].sum()), float(value[on].min())) \
            if base.whole_shares else 0.0
        if total >= smallest:
            return False
    return True


NO_TRADE_SLACK = 1e-7
"""How far above its optimum (objective units: TE^2 plus the weighted tax and costs, a
fraction of the account) :func:`_solve_trades_nothing` lets a solver's answer be, a few
dollars on a $1M account. A margin, not a solver guarantee (residual tolerances do not
bound an objective's gap): the bound needs an answer within it of the optimum of its own
sign pattern only, and the comparison trade (the spare cash into the name of least
gradient with no loss lot in its wash-sale group) is feasible in every sign pattern and in
the minimum trade's re-solve, so its score bounds every pattern's optimum (reviewer 2,
session 19)."""


def _solve_trades_nothing(today: _Today, st: AccountState, settings: RebalanceSettings,
                          tracking: TrackingVariance, wt: np.ndarray) -> bool:
    """Whether the step's solve under ``settings`` is certain to return no trade.

    A first-order certificate that holding is the step's optimum, checked from the state
    alone (no problem built), for steps that need no sale and have at most dust to
    invest (the glide's steps whose cap the account already keeps, a budget plan whose
    budget is not worth spending: a fifth of the solves of the sample clients' plans).

    The objective ``f = TE^2 + gamma_tax tax + gamma_tc spread (sum b + sum x) + penalty``
    is convex, so at any trade ``z = (x, b)`` (lot sales ``x``, buys ``b``, weights of
    the account ``V``) ``f(z) >= f(0) + g_b . b + c . x``, where ``g = 2 M' Sigma a`` is
    the gradient of TE^2 per asset at today's weights and ``c_j = -g_asset(j) +
    gamma_tax rate_j gain_j`` (tax is at least linear in the sales when every lot that may
    be sold is at a gain; cost and penalty are non-negative). The cash constraint makes
    ``sum b = X + s`` (``X``: the sales, ``s``: the cash above the target), so with
    ``beta`` the least ``g_i`` over the names that may be bought and ``delta = min c +
    beta > 0``: ``f(z) >= f(0) + beta s + delta X``. Buying ``s`` of the name ``i0`` of
    least ``g`` is feasible (checked: no budget, weight or TE cap binds) and scores
    ``f(0) + g_i0 s + s^2 Sigma_i0i0 + gamma_tc spread s``, so any answer within
    ``NO_TRADE_SLACK`` of the optimum sells at most ``X <= ((g_i0 - beta) s + s^2
    Sigma_ii + gamma_tc spread s + slack) / delta`` and trades at most ``X + s`` in any
    name. The same holds for the minimum trade's re-solve (:meth:`~pma_lab.optimize.
    rebalance.RebalanceProblem.solve`: the names trading more than $1 fixed, so ``beta``
    can only rise; ``g_i0`` is bounded by the largest ``g`` over the names that may be
    bought, and enough of them are left). When that is below the minimum trade (less
    $0.01) and below every lot's value, the rounding (:func:`~pma_lab.optimize.rounding.
    round_trades`) drops every sale (a gain sale below the minimum in a name not sold
    whole) and every buy, the cash stays above its target (no sale to fund it) and below
    the smallest first purchase, and TE is today's, within the cap: no trade, with no
    note, and the answer is the holdings as they are.

    Refused (``False``, the step solves) when a held name must be sold or is capped (a
    forced sale), a sector limit or name-count cap applies, a lot that may be sold is
    at a loss or no gain, a budget has nothing left, there is no minimum trade, or the
    cash is below its target or not below the minimum trade.

    Parameters
    ----------
    today : _Today
        The account's weights and TE before the step (:meth:`_Managed.today`).
    st : AccountState
    settings : RebalanceSettings
        The settings the step solves with (its phase's, the cash it keeps, the budget it
        holds back).
    tracking, wt : TrackingVariance, np.ndarray
        The tracking-variance term and the target's weights of the step's problem
        (:meth:`_Managed.pieces`).
    """
    V, mt = st.value, float(settings.min_trade)
    spare = st.cash + st.contribution - settings.cash_target * V
    if V <= 0 or mt <= 0 or not 0.0 <= spare < mt - 0.01 or settings.max_names is not None \
            or st.sector_limits:
        return False
    b = settings.budgets
    if any(v is not None for v in (b.total, b.short_term, b.long_term)):
        if b.unit != "gain":
            return False
        ytd = (st.ytd_st + st.ytd_lt, st.ytd_st, st.ytd_lt)
        if any(v is not None and v - u < 0 for v, u in
               zip((b.total, b.short_term, b.long_term), ytd, strict=True)):
            return False
    if settings.te_cap is not None and today.te >= settings.te_cap:
        return False
    ticker, term, value_all, gain_all = _lot_fields(st)
    forced = st.must_sell | set(st.max_weight)
    if forced and np.isin(ticker, list(forced)).any():
        return False
    sell = ~np.isin(ticker, list(st.no_sell)) if st.no_sell else np.ones(len(ticker), bool)
    if (gain_all[sell] <= 0).any() or (value_all[sell] <= 0).any():
        return False
    nm = st.n_model
    assets = st.assets
    closed = st.no_buy | st.must_sell | st.hold_no_add | frozenset(st.wash_no_buy)
    buy = np.array([t not in closed and (not settings.buy_only_target or wt[i] > 0)
                    for i, t in enumerate(assets[:nm])], dtype=bool)
    # where the spare cash may go in every answer: no weight cap, and both sides open
    # whatever the signs the solve fixes (no loss lot in the name's wash-sale group, even
    # one not to be sold: RebalanceProblem._loss_relevant)
    losing = {st.groups.get(t, t) for t in ticker[gain_all < 0].tolist()}
    room = buy & np.array([t not in st.max_weight and st.groups.get(t, t) not in losing
                           for t in assets[:nm]], dtype=bool)
    if not room.any():
        return False
    # the gradient of TE^2 per asset and each name's variance, in plain dense products
    # (a bound: not the problem's own sums to the bit, nor need they be)
    look = st.lookthrough
    funds = len(assets) > nm
    sig = tracking.sigma((look @ today.h if funds else today.h) - wt)
    grad = 2 * (look.T @ sig if funds else sig)
    beta = float(grad[:nm][buy].min())
    ranked = np.sort(grad[:nm][room])  # where the spare cash may go, least TE^2 first
    curve = float(np.max(tracking.diagonal()[:nm][room]))  # each name's variance
    s = spare / V
    cost = s * s * curve + settings.gamma_tc * settings.spread * s + NO_TRADE_SLACK
    X = 0.0  # the most sold (USD), by the solve and by the minimum trade's re-solve
    if sell.any():
        value, gain = value_all[sell], gain_all[sell]
        index = {t: i for i, t in enumerate(assets)}
        rows = np.array([index[t] for t in ticker[sell].tolist()])
        rate = lot_rates((term == "ST")[sell], st.tax.st_rate, st.tax.lt_rate)
        delta = float(np.min(-grad[rows] + settings.gamma_tax * rate * gain / value)) + beta
        if delta <= 0:
            return False
        first = ((ranked[0] - beta) * s + cost) / delta * V
        # the re-solve fixes the names the first answer trades more than $1 in (at most
        # its sales twice plus the cash invested): the best name left is at worst the
        # next in order
        fixed = int(2 * first + spare)
        if fixed >= len(ranked):
            return False
        X = max(first, ((ranked[fixed] - beta) * s + cost) / delta * V)
        # a sale within the solver's round-off of a lot's value is read as the whole lot
        # (RebalanceProblem._solution), which the minimum trade does not stop: the bound
        # must stay below every lot's value by that margin
        if X + max(CLEAN, settings.accuracy) * V >= float(value.min()):
            return False
    moved = 2 * X + spare  # USD traded in all, at most
    if moved >= mt - 0.01 or len(ranked) <= moved + 1:
        return False
    if settings.te_cap is not None:  # buying the spare cash anywhere keeps the cap
        u = (spare + X) / V
        if today.te ** 2 + max(float(ranked[-1]), 0.0) * u + u * u * curve >= \
                settings.te_cap ** 2:
            return False
    return True


def _keep(floor: float, cash: float, plan: Plan) -> float:
    """The cash (USD) a step keeps in the account: the profile's ``min_cash`` (``floor``).

    Every plan but hold keeps the floor at every step, selling to raise it when the cash
    is below it (:func:`pma_lab.optimize.engine.with_min_cash`, a cash target of
    ``floor`` / the step's account value). Hold never sells: it keeps what its cash covers
    of the floor and invests only the cash above it.
    """
    if floor <= 0:
        return 0.0
    return min(floor, max(cash, 0.0)) if plan.kind == "hold" else floor


def _with_keep(settings: RebalanceSettings, st: AccountState, keep: float
               ) -> RebalanceSettings:
    """``settings`` keeping ``keep`` USD of cash after the trades.

    Only when ``keep`` is more than their cash target keeps (:func:`_keep_for_withdrawal`);
    otherwise unchanged.
    """
    if st.value <= 0 or keep <= settings.cash_target * st.value + 0.005:
        return settings
    return replace(settings, cash_target=keep / st.value)


def _coming_withdrawal(plan: Plan, k: int, dates: Sequence[dt.date], per_year: int
                       ) -> tuple[float, dt.date | None]:
    """The plan's next withdrawal after step ``k``: ``(USD, its day)``; ``(0, None)``: none.

    A plan withdraws at the start of every plan year (every ``per_year``-th step) but the
    horizon's last step.
    """
    j = (k // per_year + 1) * per_year
    if plan.flow >= 0 or j >= len(dates) - 1:
        return 0.0, None
    return float(-plan.flow), dates[j]


def _keep_for_withdrawal(keep: float, floor: float, cash: float, plan: Plan,
                         coming: float) -> float:
    """The cash (USD) a budget or hold plan's step keeps for its next withdrawal.

    ``keep``: what the step keeps otherwise (:func:`_keep`); ``cash``: the cash it has
    (after this step's own flow); ``coming``: the next withdrawal (USD,
    :func:`_coming_withdrawal`). A plan that spends a gains budget (``budget``) or never
    sells but to pay a withdrawal (``hold``) keeps the cash the next withdrawal needs on top
    of the floor rather than investing it and selling again (realising gains) to pay it:
    at most the cash there is, so no sale is made to build it. Other plans invest it.
    """
    if coming <= 0 or plan.kind not in ("budget", "hold"):
        return keep
    return max(keep, min(floor + coming, cash))


@dataclass(frozen=True)
class LaterSales:
    """The sales of the next plan-year start a budget plan's step holds the gains back for.

    When the next plan-year start falls in the step's tax year, the step spends only what
    those sales leave of the year's gains budget (:func:`_reserve_budget`): the year's
    withdrawal (``withdrawal``: USD, less the cash kept for it, :meth:`need`) and the
    rebalance band's equity sale (``band``: USD, :meth:`SleeveBook.band_sale
    <pma_lab.plan.sleeves.SleeveBook.band_sale>` at the equity account's value grown
    to that day, the year's flow added), so that each tax year's budget goes first to the
    withdrawal, then to the move toward the band, and the rest to the trades toward the
    target. ``growth``: the prices' growth factor from the step to that day at the plan's
    expected return; ``floor``: the account's minimum cash (USD); ``day``: that plan-year
    start (the lots' terms are those of that day, :func:`_terms_on`).
    """

    plan: Plan
    withdrawal: float
    band: float
    growth: float
    floor: float
    day: dt.date | None = None

    def need(self, cash: float) -> float:
        """USD the sales will raise, for the step's cash ``cash`` (after its flow)."""
        kept = _keep_for_withdrawal(_keep(self.floor, cash, self.plan), self.floor, cash,
                                    self.plan, self.withdrawal)
        return self.withdrawal - max(kept - self.floor, 0.0) + self.band


def _later_sales(plan: Plan, k: int, dates: Sequence[dt.date], per_year: int,
                 s: TransitionSettings, floor: float, book: SleeveBook | None,
                 lots: Sequence[Lot], prices: pd.Series, cash: float) -> LaterSales | None:
    """What step ``k`` of a budget plan holds back for the next plan-year start, or None.

    None for other plans, when the next plan-year start is the horizon's last step (no
    trades) or in a later tax year, or when it neither withdraws nor sells equity to the
    band (``book``: the bond sleeve; ``lots``, ``prices`` and ``cash``: the equity
    account now, its cash after the step's flow).
    """
    j = (k // per_year + 1) * per_year
    if plan.kind != "budget" or j >= len(dates) - 1 or dates[j].year != dates[k].year:
        return None
    growth = (1 + s.expected_return) ** step_years(dates[j], dates[k])
    coming = float(-plan.flow) if plan.flow < 0 else 0.0
    band = book.band_sale(dates[j], equity_value(lots, prices, cash) * growth
                          + float(plan.flow)) if book is not None else 0.0
    if coming <= 0 and band <= 0.005:
        return None
    return LaterSales(plan, coming, band, growth, floor, dates[j])


def _terms_on(st: AccountState, day: dt.date | None) -> AccountState:
    """``st`` with each lot's term as a sale on ``day`` would have it (``None``: as is).

    A short-term lot held more than a year by ``day`` is long-term then: a later
    withdrawal's sales are of that day's terms. A short-term loss held back from a step
    for a withdrawal under ``st=0`` turned long-term by the withdrawal's day, so the
    short-term gains it was to offset stopped the plan (review rev1 F_flow).
    """
    if day is None or "long_term_on" not in st.lots or not len(st.lots):
        return st
    on = st.lots.long_term_on
    turns = on.notna().to_numpy() & np.array([d is not None and d == d and d <= day
                                              for d in on], dtype=bool)
    turns &= (st.lots.term == "ST").to_numpy()
    if not turns.any():
        return st
    lots = st.lots.copy()
    lots.loc[turns, "term"] = "LT"
    return replace(st, lots=lots)


def _reserve_budget(settings: RebalanceSettings, st: AccountState, need: float,
                    growth: float, day: dt.date | None = None) -> RebalanceSettings:
    """``settings`` with the gains a later withdrawal of the tax year needs held back.

    ``need``: USD the withdrawal will raise by sales (the withdrawal less the cash kept for
    it); ``growth``: the prices' growth factor from the step to the withdrawal's day at the
    plan's expected return. The gains of its sales that exceed the caps least
    (:func:`pma_lab.plan.withdrawal.least_overrun`, fractional shares, no minimum trade, at
    the step's prices grown by ``growth``: with separate short- and long-term caps, the mix
    within every cap, not the one order of sale of least tax) are taken off each gain
    budget's cap, never below what the year has used (nor zero): the step spends only what
    the withdrawal leaves. ``day``: the withdrawal's, whose terms the lots have
    (:func:`_terms_on`; ``None``: the step's).
    """
    b = settings.budgets
    if need <= 0.005 or not withdrawal.gain_budget(b):
        return settings
    g = withdrawal.least_overrun(_terms_on(st, day), need, settings, b, growth=growth)
    return _held_back(settings, st, g.st, g.lt)


def _held_back(settings: RebalanceSettings, st: AccountState, gain_st: float,
               gain_lt: float) -> RebalanceSettings:
    """``settings`` with gains (USD: short-, long-term) of the tax year's later sales held back.

    Each gain budget's cap is lowered by the gains it counts (a loss lowers none), never
    below what the year has used (nor zero): the step spends only what the later sales
    leave.
    """
    b = settings.budgets

    def less(cap: float | None, used: float, r: float) -> float | None:
        if cap is None or r <= 0:
            return cap
        return max(cap - r, min(cap, max(used, 0.0)), 0.0)

    return replace(settings, budgets=replace(
        b, total=less(b.total, st.ytd_st + st.ytd_lt, gain_st + gain_lt),
        short_term=less(b.short_term, st.ytd_st, gain_st),
        long_term=less(b.long_term, st.ytd_lt, gain_lt)))


@dataclass(frozen=True)
class LaterGlide:
    """The least gains (USD) of a glide's forced sales at the tax year's later steps.

    A ``sell_within:N`` name is sold along a straight line, a share of today's shares at
    every step (:func:`~pma_lab.optimize.engine.account_state_for`), whatever the tax: a
    budget plan's step that spent the year's gains budget before the year's later steps
    would see those steps' forced sales take the year over it (review rev1, rv-alex:
    $28,242 and $32,116 against $25,000). :func:`_later_glide` measures those sales
    (``short``, ``long``: their least short- and long-term gains; ``names``: the glide
    names sold) and the step holds them back (:func:`_held_back`), as it holds back a
    later withdrawal's (:class:`LaterSales`).
    """

    short: float
    long: float
    names: tuple[str, ...]


def _glide_left(n0: float, years: float, i: int, per_year: int) -> float:
    """Shares of a glide name (``n0`` today, sold within ``years``) left after step ``i``."""
    left = 1.0 - (i + 1) / per_year / years
    return n0 * left if left > 1e-9 else 0.0


def _glide_held_back(plan: Plan, settings: RebalanceSettings,
                     fallback: RebalanceSettings | None, rules: object, st: AccountState,
                     k: int, dates: Sequence[dt.date], s: TransitionSettings
                     ) -> tuple[RebalanceSettings, RebalanceSettings | None]:
    """A budget plan's step ``k`` settings with the year's later glide sales held back.

    The gains of the tax year's later glide sales (:func:`_later_glide`) are made whatever
    the tax, so they are not spent now (:func:`_held_back`). Other plans, and budgets of
    no gain cap, as given.
    """
    if plan.kind != "budget" or not withdrawal.gain_budget(settings.budgets):
        return settings, fallback
    glide = _later_glide(rules, st, k, dates, s.steps_per_year, s.expected_return)
    if glide is None:
        return settings, fallback
    return (_held_back(settings, st, glide.short, glide.long),
            None if fallback is None else _held_back(fallback, st, glide.short, glide.long))


def _later_glide(rules: object, st: AccountState, k: int, dates: Sequence[dt.date],
                 per_year: int, expected_return: float) -> LaterGlide | None:
    """The glide's forced sales at the steps after ``k`` in its tax year, or None.

    ``rules``: the account's restrictions (:class:`~pma_lab.optimize.engine._HeldRules`:
    each glide name's shares today and years). The steps after ``k`` that trade (not the
    horizon's last) and fall in step ``k``'s calendar year each sell a glide name down to
    its line; step ``k`` itself to its own. Each name's lots are taken as the restrictions'
    sales take them, the least gain per share first (the highest basis per share, at any
    price), step ``k``'s shares first, then each later step's at the prices grown to its
    day at ``expected_return`` and with the lots' terms on that day. None when no later
    step of the year sells a glide name.
    """
    today = getattr(rules, "today", {}) or {}
    years = getattr(rules, "glide", {}) or {}
    later = [j for j in range(k + 1, len(dates) - 1) if dates[j].year == dates[k].year]
    if not later or not today:
        return None
    lots = st.lots
    if not len(lots):
        return None
    short = long = 0.0
    names = []
    for t, n0 in today.items():
        mine = lots[lots.ticker == t]
        held = float(mine.shares.sum()) if len(mine) else 0.0
        if held <= CLEAN or t not in years:
            continue
        now = min(held, _glide_left(n0, years[t], k, per_year))  # after step k
        order = np.argsort(-(mine.basis.to_numpy(dtype=float)
                             / mine.shares.to_numpy(dtype=float)), kind="stable")
        shares = mine.shares.to_numpy(dtype=float)[order]
        basis = mine.basis.to_numpy(dtype=float)[order]
        price = mine.price.to_numpy(dtype=float)[order]
        lto = [mine.long_term_on.iloc[i] for i in order]
        done = held - now  # shares step k sells, the least-gain lots first
        sold_any = False
        for j in later:
            upto = held - min(now, _glide_left(n0, years[t], j, per_year))
            if upto <= done + 1e-9:
                continue
            growth = (1 + expected_return) ** step_years(dates[j], dates[k])
            start = np.concatenate([[0.0], np.cumsum(shares)[:-1]])
            take = np.clip(np.minimum(start + shares, upto) - np.maximum(start, done),
                           0.0, None)
            gain = take * (price * growth - basis / shares)
            lt = np.array([d is None or d != d or d <= dates[j] for d in lto], dtype=bool)
            short += float(gain[~lt].sum())
            long += float(gain[lt].sum())
            done = upto
            sold_any = sold_any or bool(take.any())
        if sold_any:
            names.append(t)
    return LaterGlide(short, long, tuple(names)) if names else None


def _step_problem(setup: ClientSetup, st: AccountState, base: RebalanceSettings,
                  ledger: Ledger | None, managed: _Managed | None = None,
                  additions: Additions | None = None) -> RebalanceProblem:
    risk = managed.risk(set(st.assets)) if managed is not None else \
        setup.risk.subset(list(st.assets[:st.n_model]))
    prob = RebalanceProblem(st, risk, setup.target.weights, base, ledger)
    # a step's TE cap is the glide path or the band: taxes are minimised under it, so it
    # binds by design, and a sign-fixed solve without it first (RebalanceProblem
    # .lift_te_cap) would be wasted (tech-exec serial: 17.1-17.4 vs 18.4-20.9 CPU-s)
    prob.lift_te_cap = False
    if additions:  # the researcher's terms and constraints, written for this step's problem
        additions.apply(prob, where=f"the plan's step on {st.as_of}")
    return prob


class StepProblems:
    """The compiled step problems of one comparison, shared by its plans (issue 16).

    Every plan starts from the same account, so at step 0 (and wherever two plans'
    trades leave the account the same) the plans' step problems differ only in their
    settings, which :meth:`~pma_lab.optimize.rebalance.RebalanceProblem.update` sets
    through Parameters: the problem is built and compiled by cvxpy once and solved by
    each plan (compiling is most of a solved step's cost: ~50 of ~100 CPU-ms on the
    sample clients' annual steps). A problem is found by its account state (every
    field the same, numbers to the bit), the setup it trades toward and the settings it
    is compiled for; one in use by a plan is taken out of the store until given back, so
    plans running on threads never share one at the same time. The store keeps ``size``
    problems, the earliest steps' (every plan's step 0 stays while a plan of 20 quarterly
    steps gives back its other 19). A reused problem starts its solves from new
    solver objects (:meth:`~pma_lab.optimize.rebalance.RebalanceProblem.forget_solvers`):
    its trades are a fresh build's to the bit (tested on the sample clients).

    Parameters
    ----------
    reuse : bool
        ``False``: every step builds its own problem (the previous path).
    size : int
        Problems kept for reuse.
    additions : Additions | None
        A researcher's objective terms and constraints added to every problem built
        (:attr:`pma_lab.optimize.rebalance.RebalanceProblem.additions`; a problem with
        them is reused only for the same state, never rebased).
    """

    def __init__(self, reuse: bool = True, size: int = 8,
                 additions: Additions | None = None) -> None:
        if not isinstance(reuse, bool):
            raise SettingsError(f"StepProblems(reuse={reuse!r}): reuse must be True or False")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise SettingsError(f"StepProblems(size={size!r}): size is the number of problems "
                                "kept for reuse, a whole number >= 1 (reuse=False builds "
                                "every step's problem)")
        if additions is not None and not isinstance(additions, Additions):
            raise SettingsError(f"StepProblems(additions=<{type(additions).__name__}>): pass "
                                "an Additions, e.g. problem.additions")
        self.reuse = reuse
        self.size = size
        self.additions = additions or Additions()
        self._store: list[tuple[tuple, ClientSetup, AccountState, RebalanceProblem]] = []
        self._taken: dict[int, tuple[tuple, ClientSetup, AccountState]] = {}
        self._lock = threading.Lock()
        self.built = 0  # problems built
        self.reused = 0  # steps that solved a problem built for another plan
        # of those, steps whose state differed in names not bought or not sold
        # (RebalanceProblem.rebase)
        self.rebased = 0

    @staticmethod
    def _key(st: AccountState, base: RebalanceSettings) -> tuple:
        return (st.as_of, st.assets, len(_lot_fields(st)[0]), np.float64(st.value).tobytes(),
                np.float64(st.cash).tobytes(), base.budgets.unit,
                *(getattr(base, f) for f in COMPILED_SETTINGS))

    def take(self, setup: ClientSetup, st: AccountState, base: RebalanceSettings,
             managed: _Managed | None = None) -> tuple[RebalanceProblem, bool]:
        """The step's problem, and whether it was built now (else reused).

        The caller sets its settings (:func:`_solve_step` does) and gives it back after a
        solve that succeeded (:meth:`give_back`).
        """
        if not self.reuse:
            self.built += 1
            return _step_problem(setup, st, base, None, managed, self.additions), True
        key = self._key(st, base)
        with self._lock:
            # the same state; else the same but for names not bought or not sold (a
            # household's first step solved again around its pairs): rebased
            at, rebase = self._find(key, setup, st), False
            if at is None:
                at, rebase = self._find(key, setup, st, RebalanceProblem.REBASE_FIELDS), True
            prob = None
            if at is not None:
                k, su, s0, prob = self._store.pop(at)
                self._taken[id(prob)] = (k, su, st if rebase else s0)
                self.reused += 1
                self.rebased += rebase
        if prob is not None:
            if rebase:
                prob.rebase(st)
            else:
                prob.forget_solvers()
            return prob, False
        prob = _step_problem(setup, st, base, None, managed, self.additions)
        with self._lock:
            self._taken[id(prob)] = (key, setup, st)
            self.built += 1
        return prob, True

    def _find(self, key: tuple, setup: ClientSetup, st: AccountState,
              but: tuple[str, ...] = ()) -> int | None:
        """The position in the store of a problem for ``st`` (``but``: fields that may differ)."""
        for i, (k, su, s0, prob) in enumerate(self._store):
            if k == key and su is setup and not (but and (prob._user or prob._terms)) and \
                    _same_state(s0, st, but):
                return i
        return None

    def give_back(self, prob: RebalanceProblem) -> None:
        """Return a problem taken with :meth:`take` for other plans to solve."""
        with self._lock:
            got = self._taken.pop(id(prob), None)
            if got is None:
                return
            self._store.append((*got, prob))
            while len(self._store) > self.size:
                # plans start together and drift apart: the latest date's problem is the
                # least likely to be met again (ties: the one given back first)
                last = max(range(len(self._store)), key=lambda i: self._store[i][2].as_of)
                del self._store[last]


def _additions(additions: object, where: str) -> Additions:
    """``additions`` checked (``None``: none), for the function named ``where``."""
    if additions is None:
        return Additions()
    if not isinstance(additions, Additions):
        raise SettingsError(f"{where}(additions=<{type(additions).__name__}>): pass an "
                            "Additions, e.g. problem.additions of a RebalanceProblem you "
                            "added objective terms or constraints to")
    return additions


def _step0_settings(s: TransitionSettings) -> tuple:
    """The settings a plan's first step depends on (all that :func:`first_trades` reads)."""
    return (s.steps_per_year, s.te_band, s.go_gamma_tc, s.go_gamma_tax,
            s.maintain_gamma_tax, s.transition_gamma_tax, s.budget_gamma_tax)


def _reusable(run: PlanRun, setup: ClientSetup, plan: Plan, s: TransitionSettings,
              gift: float, st: AccountState, base: RebalanceSettings,
              added: tuple[str, ...] = ()) -> FirstStep | None:
    """``run``'s step 0 if it is the step :func:`first_trades` would solve, else None.

    It is when it was solved (not skipped or failed) for the same plan, prices and gift,
    with the same step-0 settings (:func:`_step0_settings`), in the phase
    :func:`first_trades` chooses from the same tracking error, and for the same problem:
    the same account state ``st`` (every field to the bit: account, date, cash after the
    year's flow and a mixed portfolio's sleeve move, lots, tax profile, carry-ins,
    restrictions), base settings ``base``, target weights and risk model numbers — a run
    of a setup prepared before an edit is not reused. Then both solve the same problem
    (the simulation's cached risk pieces are the same subsets of the setup's model,
    :class:`_Managed`): only the ledger check is left.
    """
    if not isinstance(run, PlanRun):
        raise SettingsError(
            f"first_trades(run={type(run).__name__}): run must be one plan's PlanRun, e.g. "
            "next(r for r in analysis.runs if r.path == 'expected' and r.plan == plan) "
            "from the plan comparison, or None to solve the step")
    f = run.first_step
    if f is None or run.plan != plan:
        return None
    if (f.gift != gift or _step0_settings(f.settings) != _step0_settings(s)
            or not f.prices.equals(setup.prices) or f.added != added):
        return None  # another plan, gift or settings; other terms or constraints added
    if _phase(plan, 0, f.te <= s.te_band, s) != f.phase:
        return None
    if (f.base != base or not _same_state(f.state, st)
            or not f.target.equals(setup.target.weights)
            or f.risk != _risk_digest(setup.risk)):
        return None
    return f


def first_trades(setup: ClientSetup, plan: Plan | str | None = None,
                 settings: TransitionSettings | None = None,
                 account_id: str | None = None,
                 sleeve: BondSleeve | None = None,
                 run: PlanRun | None = None,
                 additions: Additions | None = None) -> RebalanceResult:
    """The trades a plan makes today (its first step), with the per-lot decision ledger.

    Returns the :class:`~pma_lab.optimize.rebalance.RebalanceResult` of step 0, checked against the
    ledger, exactly as :func:`simulate` makes it (gifts of the first year first; a mixed
    portfolio's move between the sleeves today, :mod:`pma_lab.plan.sleeves`, first of all).

    ``run``: the plan's expected-path run (e.g. from the plan comparison,
    :func:`pma_lab.plan.transition.run_transition`): when its step 0 is the step this
    would solve (:func:`_reusable`: same plan, prices, gift, step-0 settings and phase,
    and the same problem: account state, base settings, target and risk model), its
    result is replayed through the ledger
    (:func:`pma_lab.optimize.result.ledger_checked`) instead of solving it again, the
    same trades and figures; otherwise the step is solved.

    ``additions``: a researcher's objective terms and constraints
    (:attr:`pma_lab.optimize.rebalance.RebalanceProblem.additions`), added to the step's
    problem (a ``run`` is reused only when its step carried additions of the same names).
    """
    s = settings or TransitionSettings()
    additions = _additions(additions, "first_trades")
    if plan is None:
        plan = client_plan(setup)
    elif isinstance(plan, str):
        plan = parse_plan(plan)
    acc = account_id or setup.taxable_accounts()[0]
    cash = account_cash(setup, acc)
    flow, move = todays_flow(setup, plan, acc, sleeve)
    cash += flow + move
    led, gift = todays_gift(setup, plan, acc)
    _check_withdrawal(plan, acc, led, setup.as_of, setup.prices, cash, 1,
                      accounts=tuple(setup.client.profile.accounts), keep=keep_names(setup))
    st = _state(setup, plan, acc, led, setup.as_of, setup.prices, cash, 0, s)
    # today's trades keep the account's minimum cash (as simulate's step 0)
    base = with_min_cash(setup, acc, default_settings(setup), st,
                         can_sell=plan.kind != "hold")
    # ... and the cash the next withdrawal needs (a budget or hold plan), as simulate's
    floor = float(next(a for a in setup.client.profile.accounts
                       if a.account_id == acc).min_cash or 0.0)
    coming, _ = _coming_withdrawal(plan, 0, step_dates(setup.as_of, s.horizon_years,
                                                       s.steps_per_year), s.steps_per_year)
    base = _with_keep(base, st, _keep_for_withdrawal(
        _keep(floor, st.cash + st.contribution, plan), floor, st.cash + st.contribution, plan,
        coming))
    f = _reusable(run, setup, plan, s, gift, st, base, additions.labels) \
        if run is not None else None
    # ... unless a check fails at the ledger's gains: solved again, it raises as it should
    res = _checked_today(f.result, f.state, led, gift, note=f.note) if f is not None else None
    if res is not None:
        return _te_today(setup, acc, st, flow + move, res)
    prob = _step_problem(setup, st, base, led, additions=additions)
    te0 = prob.current_te()
    settings_0, fallback = _phase_settings(plan, _phase(plan, 0, te0 <= s.te_band, s), 0, te0,
                                           base, s)
    # the glide's later sales held back as simulate's step 0 holds them (reviewer 2,
    # session 20: without it the dashboard's trades differed from the proposal's)
    settings_0, fallback = _glide_held_back(
        plan, settings_0, fallback, _Managed(setup, acc).rules, st, 0,
        step_dates(setup.as_of, s.horizon_years, s.steps_per_year), s)
    try:
        res, note = _solve_step(prob, plan, settings_0, fallback,
                                carried=lambda: _loss_carried_in(setup, led, setup.as_of.year))
    except InfeasibleError as e:
        if move < 0 and "budgets" in e.conflicts and not isinstance(e, WithdrawalBudgetError):
            raise InfeasibleError(band_conflict(e, -move, plan), e.conflicts) from e
        raise
    if len(setup.client.profile.accounts) > 1:  # as simulate's step 0 (without_pairs)
        def again(nb: frozenset[str], ns: frozenset[str]) -> tuple[RebalanceResult, object]:
            st2 = replace(st, no_buy=st.no_buy | nb, no_sell=st.no_sell | ns)
            r2, _ = _solve_step(_step_problem(setup, st2, base, led, additions=additions),
                                plan, settings_0,
                                fallback, carried=lambda: _loss_carried_in(
                                    setup, led, setup.as_of.year))
            return r2, _with_gift(r2, led, gift)  # its problem has the ledger: checked

        res, _, _, note, _ = _without_pairs(setup, plan, res, _with_gift(res, led, gift),
                                            note, again, additions)
    return _te_today(setup, acc, st, flow + move, _with_gift(res, led, gift, note=note))


def _without_pairs(setup: ClientSetup, plan: Plan, res: RebalanceResult,
                   today: RebalanceResult | None, note: str,
                   again: Callable[[frozenset[str], frozenset[str]],
                                   tuple[RebalanceResult, RebalanceResult | None]],
                   additions: Additions | None = None
                   ) -> tuple[RebalanceResult, RebalanceResult | None, object, str,
                              tuple[str, ...]]:
    """Step 0 free of the names the household trades the other way around it.

    :func:`pma_lab.plan.household.without_pairs` around ``res`` (step 0's result;
    ``today``: it replayed through the ledger, as :func:`first_trades` hands it on, ``None``
    when a check fails there, then nothing is done; ``again`` solves the step with more
    names left as they are), the step's note saying which names it leaves and why. Returns
    the step kept, its ``today``, the household around it (``None``: not solved), the
    note and the names left as they are (sorted; ``PlanRun.left_today``). ``additions``:
    the researcher's terms and constraints, added to the household's problems too.
    """
    if today is None or not (len(today.trades) or len(today.lot_trades)):
        return res, today, None, note, ()  # no trade today, no pair
    first = res
    try:
        extra = {"additions": additions} if additions else {}  # the call as before without
        res, today, hh, kept = without_pairs(setup, plan, today, again, first=res, **extra)
    except OptimizationError:
        # the household around the step cannot be solved: the step stays as solved, and
        # what reads the household says why (simulate's failure, the frontier's words)
        return res, today, None, note, ()
    if kept:  # counted, with the largest by value, when many (left_names_note)
        words = left_names_note(kept, first, plan)
        note = f"{note}; {words}" if note else words
    return res, today, hh, note, tuple(sorted(kept))


def _te_today(setup: ClientSetup, acc: str, st: AccountState, flow: float,
              res: RebalanceResult) -> RebalanceResult:
    """``res`` with its "before" tracking error that of the account today, before ``flow``.

    Step 0's state holds today's cash flow (a withdrawal or addition, a mixed portfolio's
    move between the sleeves: ``flow``, USD) in its cash, so its problem's "before" weights
    are the holdings as a share of the account after it (a $20,000 withdrawal read 18.03%
    for holdings that read 16.98% without one). The trades' "before" is the holdings as a
    share of the account today (:meth:`_Managed.today` on the value before the flow), the
    same figure whatever the flow, as ``pma-lab rebalance`` reads it; the step's solve
    and its phase are unchanged.
    """
    today = st.value - flow
    if not flow or today <= 0:
        return res
    te = _Managed(setup, acc).today(replace(st, value=today)).te
    return replaced(res, summary=replace(res.summary, te_before=te))


def band_conflict(e: InfeasibleError, sale: float, plan: Plan) -> str:
    """An infeasible step's message when today's band move sells equity (USD ``sale``).

    Names the move, its size and the plan's gains budget, and the fixes the client makes:
    a larger ``[budgets] total`` in the profile, or a wider ``[core] band``.
    """
    b = plan.budgets()
    caps = ", ".join(f"{w} {fmt_usd(v)}" for w, v in (
        ("total", b.total), ("short-term", b.short_term), ("long-term", b.long_term))
        if v is not None)
    budget = f"the capital-gains budget ({caps} a year)" if caps else "the gains budgets"
    return (f"{e}. Today's trades include the rebalance band's sale of {fmt_usd(sale)} of "
            f"equity to the bond ladder (back to the band's edge), and {budget} cannot pay "
            "for the sales it needs with the rest of the step: raise [budgets] total in the "
            "profile, or widen [core] band (e.g. 0.10 for 10 points)")


def _checked_today(res: RebalanceResult, st: AccountState, led: Ledger, gift: float,
                   **summary: object) -> RebalanceResult | None:
    """Step 0's result as :func:`first_trades` hands it on, or None.

    Replayed through ``led`` (the ledger before the step's trades), the gift of the day in
    its summary (:func:`_with_gift`, with ``summary``'s other fields); None when a check
    fails at the ledger's gains (:func:`first_trades` then solves the step).
    """
    out = ledger_checked(res, st, led)
    if "ok" in out.checks and not out.checks.ok.all():
        return None
    return _with_gift(out, led, gift, **summary)


def _with_gift(res: RebalanceResult, led: Ledger, gift: float, **summary: object
               ) -> RebalanceResult:
    """``res`` with the day's gift in its summary (its value, ``led``'s gifts when any)."""
    return replaced(res, summary=replace(res.summary, gift_value=gift,
                                        gifts=led.gifts() if gift else None, **summary))


def account_cash(setup: ClientSetup, account_id: str) -> float:
    """The cash the profile gives the account ``account_id`` (USD)."""
    return next(a.cash for a in setup.client.profile.accounts if a.account_id == account_id)


def band_sale_limit(setup: ClientSetup, plan: Plan, acc: str, led: Ledger, day: dt.date,
                    prices: pd.Series, cash: float, lots: Sequence[Lot] | None = None,
                    later: LaterSales | None = None) -> Callable[[float], float] | None:
    """How much of a band's equity sale a budget plan's gains budget allows this year.

    A mixed portfolio above its band sells equity back to the band's edge
    (:func:`pma_lab.portfolio.allocation.plan_sleeves`). A budget plan's gains budget is
    the client's decision and is never broken for it: the sale is limited to the largest
    amount whose **sales of least tax** (:func:`pma_lab.plan.withdrawal.least_gains`:
    losses first, then the highest basis, in whole shares and at least the minimum trade
    a name), together with whatever else the step must raise in cash (the account's
    minimum cash, a withdrawal), realise no more than the budget leaves for the year,
    every cap (total, short-term, long-term) to the dollar; the rest of the move waits for
    the next years' budgets, and the move's reason says so
    (:data:`pma_lab.portfolio.allocation.BAND_MOVE_PART`). No cushion is kept below the
    budget: the step's whole-share rounding keeps every budget exactly, and where the
    solution's sales rounded down leave the cash short, it raises the rest by the sales
    of least gain (:func:`pma_lab.optimize.rounding.fund_cash`), which the limit has
    checked fit.

    ``later``: the sales of a later plan-year start in the same tax year whose gains the
    step holds back (:class:`LaterSales`): the budget the sale may use is what the step's
    solve keeps to, the caps less those gains (:func:`_reserve_budget`, on the account
    after the sale), so the step's solve can always raise the sale the limit allows.
    (Plan-year starts are a year apart, so a plan-year start's next one is in a later tax
    year and :func:`simulate` passes none today; the limit honours one all the same.)

    Returns the limit as a function of the band's sale (USD), for
    :meth:`pma_lab.plan.sleeves.SleeveBook.step`, or ``None`` for a plan without a gains
    budget (its band move is made whole). ``cash``: the account's cash before the move
    (after the plan's cash flow of the year).
    """
    b0 = plan.budgets()
    if plan.kind != "budget" or not withdrawal.gain_budget(b0):
        return None

    def limit(sale: float) -> float:
        st = _state(setup, plan, acc, led, day, prices, cash - sale, 0, TransitionSettings(),
                    lots=lots)
        settings = with_min_cash(setup, acc, default_settings(setup), st)
        other = withdrawal.cash_needed(st, settings) - sale  # raised besides the band's
        b = b0 if later is None else _reserve_budget(
            replace(settings, budgets=b0), st, later.need(cash - sale), later.growth,
            later.day).budgets

        def fits(x: float) -> bool:
            need = other + x
            if need <= 0.005:
                return True
            g = withdrawal.least_gains(st, need, settings)
            # each cap to the dollar (a $0 budget: the sales may net no gain)
            return all(cap is None or used + gain <= cap for cap, used, gain
                       in ((b.total, st.ytd_st + st.ytd_lt, g.st + g.lt),
                           (b.short_term, st.ytd_st, g.st), (b.long_term, st.ytd_lt, g.lt)))

        if fits(sale):
            return sale
        if not fits(0.0):
            return 0.0  # over budget without the band (a withdrawal): its error says why
        lo, hi = 0.0, float(sale)
        while hi - lo > 1.0:
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if fits(mid) else (lo, mid)
        return float(np.floor(lo))

    return limit


def todays_flow(setup: ClientSetup, plan: Plan, account_id: str | None = None,
                sleeve: BondSleeve | None = None) -> tuple[float, float]:
    """The cash the plan's first step adds to the account before its trades (USD).

    ``(flow, move)``: the plan's cash flow of the year (negative: a withdrawal) and a
    mixed portfolio's move between the sleeves today (``sleeve``, default the profile's
    :func:`pma_lab.plan.sleeves.bond_sleeve`: the band's move on the equity account's
    value after the flow; negative: equity sold to the bonds), as :func:`simulate`'s
    first step and :func:`first_trades` make them, so that every figure of today's
    account (the frontier's points among them) is on the account the plan trades.
    """
    acc = account_id or setup.taxable_accounts()[0]
    cash = account_cash(setup, acc)
    flow = float(plan.flow)
    sleeve = sleeve or bond_sleeve(setup)
    if sleeve is None:
        return flow, 0.0
    lots = setup.ledger.lots(account=acc)
    limit = band_sale_limit(setup, plan, acc, setup.ledger, setup.as_of, setup.prices,
                            cash + flow, lots)
    return flow, float(sleeve.book(setup.as_of).step(setup.as_of, equity_value(
        lots, setup.prices, cash + flow), limit))


def todays_gift(setup: ClientSetup, plan: Plan, account_id: str | None = None
                ) -> tuple[Ledger, float]:
    """The ledger after the gift of lots ``plan`` makes today, and the gift's value (USD).

    As :func:`first_trades` (and :func:`simulate`'s first step) make it: the most
    appreciated long-term lots of the account (default the first taxable one), in whole
    shares, the concentrated position as the plan treats it left out
    (:func:`_donate`), given on a fork of today's ledger. Without a gift: today's ledger
    and 0.
    """
    if plan.gift <= 0:
        return setup.ledger, 0.0
    acc = account_id or setup.taxable_accounts()[0]
    exclude, no_sell = _concentrated(setup, plan)
    led = setup.ledger.fork()
    return led, _donate(led, acc, setup.as_of, setup.prices, plan.gift, exclude | no_sell,
                        [], None)


def go_to_target_result(run: PlanRun, setup: ClientSetup, problem: RebalanceProblem
                        ) -> RebalanceResult | None:
    """The immediate plan's step 0 as ``problem``'s "Go to target" solve, else None.

    The efficient frontier's "Go to target" point solves ``problem`` (today's account,
    :func:`pma_lab.optimize.engine.problem_for_client`) at
    ``go_to_target(problem.settings)``, the settings "Move now" trades with: when ``run``
    (the immediate plan's expected-path run of the comparison) solved that step already,
    its result is that point, replayed through ``problem``'s ledger
    (:func:`pma_lab.optimize.result.ledger_checked`) as :func:`first_trades` does, and
    the frontier need not solve it again
    (:func:`pma_lab.optimize.frontier.efficient_frontier`'s ``target``).

    It is when the step was solved (not skipped or failed) in the ``go`` phase with no
    note (no TE cap widened or lifted), at the settings the point solves (the step's,
    ``go_to_target`` of its base settings with the run's aversions and the plan's TE cap,
    equal to ``go_to_target(problem.settings)`` in every field, with no TE cap), and for
    the same problem: the same account state as going to the target now sees it
    (:func:`~pma_lab.optimize.state.go_to_target_state` of ``problem``'s, whose glide
    names the point sells in full as the step does; every field to the bit, as
    :func:`_reusable` compares it: lots, prices, cash, tax profile, carry-ins,
    restrictions), prices, target weights (the run's and ``problem``'s) and risk model
    numbers (the run's, and ``problem``'s own: the setup's model restricted to the
    state's names, as :func:`first_trades` builds it), with no researcher's constraint
    or objective term added to ``problem`` (the step's problem has neither) and its
    solve options at their defaults. Otherwise None: the
    frontier solves the point (a gift, a cash flow or a bond sleeve's move before the
    step changes the account; a setup prepared again after an edit changes the problem).

    Raises
    ------
    SettingsError
        When ``run`` is not a PlanRun or ``problem`` not a RebalanceProblem.
    """
    if not isinstance(run, PlanRun):
        raise SettingsError(
            f"go_to_target_result(run={type(run).__name__}): run must be the immediate "
            "plan's PlanRun, e.g. next(r for r in analysis.runs if r.path == 'expected' "
            "and r.plan.kind == 'immediate') from the plan comparison")
    if not isinstance(problem, RebalanceProblem):
        raise SettingsError(f"go_to_target_result(problem={type(problem).__name__}): pass "
                            "the frontier's RebalanceProblem (problem_for_client(setup))")
    f = run.first_step
    if f is None or run.plan.kind != "immediate" or f.phase != "go" or f.note:
        return None
    go = go_to_target(problem.settings)
    step = _phase_settings(run.plan, "go", 0, f.te, f.base, f.settings)[0]
    if step != go or go.te_cap is not None:
        return None
    if (problem._user or problem.objective_terms or not problem.history_free
            or problem.history_free_relaxation or not problem.skip_proven_solves
            or problem.relaxation_options != RELAXATION_OPTIONS):
        return None  # a constraint or objective term added, or other solve options
    if not f.prices.equals(setup.prices) or not _same_state(
            f.state, go_to_target_state(problem.state)):
        return None
    if not f.target.equals(setup.target.weights) or f.risk != _risk_digest(setup.risk):
        return None
    wt = setup.target.weights.reindex(problem.model).fillna(0.0).to_numpy()
    own = setup.risk.subset(list(problem.state.assets[:problem.state.n_model]))
    if not _same_value(problem.wt, wt) or _risk_digest(problem.risk) != _risk_digest(own):
        return None  # a problem built for another target or risk model
    if problem.ledger is None:
        return f.result
    res = ledger_checked(f.result, f.state, problem.ledger)
    # a check the ledger's gains break: solved, the point fails as it should
    return res if "ok" not in res.checks or res.checks.ok.all() else None


def replay_events(setup: ClientSetup, run: PlanRun, until: dt.date | None = None) -> Ledger:
    """Replay a plan's recorded trades and gifts through a fresh copy of today's ledger.

    The transition's tables must agree exactly with the netting of this ledger (tested).
    With ``until``, only the events up to that date (inclusive) are replayed.
    """
    led = setup.ledger.fork()
    for kind, args, lot_id in run.events:
        if until is not None and args[0] > until:
            break
        if kind == "buy":
            led.buy(*args)
        elif kind == "sell":
            led.sell(*args, method=LotRelief.SPECIFIC, lot_id=lot_id)
        else:
            led.donate(*args, method=LotRelief.SPECIFIC, lot_id=lot_id)
    return led


def _lot_values(lots: Sequence, px: Mapping[str, float]) -> list[float]:
    """Each lot's value, ``float(shares) * price`` (the shares' Decimal read once a step)."""
    return [float(lt.shares) * px[lt.ticker] for lt in lots]


class _LookThrough:
    """The account's look-through weights and their tracking error, in numpy.

    Built once per simulation: model order, the target's and the benchmark's weights
    aligned to it, and the risk model's tracking-variance term
    (:class:`pma_lab.portfolio.tracking.TrackingVariance`, as
    :meth:`pma_lab.portfolio.risk.RiskModel.tracking_error` uses it, without pandas on every
    step). A fund is looked through as the optimiser's state does: an S&P 500 tracker as
    the benchmark's weights, a sector fund as the benchmark's names of its sector
    (:func:`~pma_lab.plan.scenarios.fund_composition`; it was the target's weights before
    session 17).
    """

    def __init__(self, setup: ClientSetup) -> None:
        r = setup.risk
        self.setup = setup
        self.pos = {t: i for i, t in enumerate(r.tickers)}
        self.tracking = r.tracking
        self.target = r.align(setup.target.weights)
        self.benchmark = r.align(setup.benchmark.weights)
        self._funds: dict[str, np.ndarray] = {}

    def fund(self, ticker: str) -> np.ndarray:
        """What fund ``ticker`` holds, in model order (sums to one; computed once)."""
        got = self._funds.get(ticker)
        if got is None:
            s = self.setup
            comp = fund_composition([ticker], s.benchmark.weights, s.sectors,
                                    s.market.etf_info())[ticker]
            got = self.setup.risk.align(comp)
            self._funds[ticker] = got
        return got

    def weights(self, lots: Sequence, prices: pd.Series | Mapping[str, float], cash: float,
                exclude: set[str], values: Sequence[float] | None = None
                ) -> tuple[np.ndarray, float]:
        """Look-through weights in model order and the value they are weights of.

        ``prices``: by ticker, a Series or (faster) a dict of the same values. ``values``:
        each lot's ``float(shares) * price`` when the caller has them (:func:`_lot_values`).
        """
        vals: dict[str, float] = {}
        if values is None:
            values = _lot_values(lots, prices if isinstance(prices, Mapping)
                                 else prices.to_dict())
        for lt, v in zip(lots, values, strict=True):
            if lt.ticker in exclude:
                continue
            vals[lt.ticker] = vals.get(lt.ticker, 0.0) + v
        total = sum(vals.values()) + cash
        w = np.zeros(len(self.pos))
        if total > 0:
            for t, v in vals.items():
                i = self.pos.get(t)
                if i is None:
                    w += self.fund(t) * (v / total)  # a fund: the names it holds
                else:
                    w[i] += v / total
        return w, total

    def te(self, w: np.ndarray, against: np.ndarray) -> float:
        """Ex-ante tracking error of ``w`` against ``against`` (annualised)."""
        return self.tracking.te(w - against)


# ------------------------------------------------------------------------ the simulation
def simulate(setup: ClientSetup, plan: Plan, path: MarketPath, s: TransitionSettings,
             account_id: str | None = None, rate: BillRate | None = None,
             record: bool = False, sleeve: BondSleeve | None = None,
             updates: Sequence[CoreUpdate] | None = None,
             dividends: DividendYields | None = None,
             problems: StepProblems | None = None,
             additions: Additions | None = None) -> PlanRun:
    """Run one plan along one path (see the module docs).

    Parameters
    ----------
    setup : ClientSetup
    plan : Plan
    path : MarketPath
    s : TransitionSettings
    account_id : str | None
        The taxable account (default: the first).
    rate : BillRate | None
        The rate cash earns (default: :func:`_cash_rate` of the settings).
    record : bool
        Record the plan's decisions as a :class:`~pma_lab.plan.montecarlo.Schedule` (for the
        Monte Carlo replay).
    sleeve : BondSleeve | None
        A mixed portfolio's bond sleeve (default: the profile's,
        :func:`pma_lab.plan.sleeves.bond_sleeve`); the plan's figures then cover the whole
        portfolio (:mod:`pma_lab.plan.sleeves`).
    updates : Sequence[CoreUpdate] | None
        An active + index core's model updates inside the horizon: from each update's step
        on, the plan trades toward its core (default: :func:`pma_lab.plan.coremodel.
        core_updates` at the path's dates; none for other clients).
    dividends : DividendYields | None
        The yields the holdings pay dividends at (default: :func:`pma_lab.plan.dividends.
        plan_dividend_yields`): each step credits the dividends of the holdings kept since
        the previous step (the steps' ``dividends_qualified`` and ``dividends_reit``),
        taxed each calendar year on top of the interest.
    problems : StepProblems | None
        Compiled step problems shared with the comparison's other plans (default: this
        plan's own, ``StepProblems(s.reuse_problems, additions=additions)``).
    additions : Additions | None
        A researcher's objective terms and constraints
        (:attr:`pma_lab.optimize.rebalance.RebalanceProblem.additions`), added to every
        step's problem (with ``problems``: its own, ``problems.additions``). Every step
        that trades is then solved: the skips proven for the built-in objective alone
        ("within band", "budget spent", "no trade") are not made.

    The plan runs with one OpenBLAS thread (:func:`pma_lab.blas.one_thread`): its
    products (the tracking variance of each rounding candidate, the states' and results'
    matrix-vector products) are small, and waking the other threads for each cost more
    CPU than the product on a busy machine (the same values to the bit).
    """
    with one_thread():
        return _simulate(setup, plan, path, s, account_id, rate, record, sleeve, updates,
                         dividends, problems, additions)


def _simulate(setup: ClientSetup, plan: Plan, path: MarketPath, s: TransitionSettings,
              account_id: str | None = None, rate: BillRate | None = None,
              record: bool = False, sleeve: BondSleeve | None = None,
              updates: Sequence[CoreUpdate] | None = None,
              dividends: DividendYields | None = None,
              problems: StepProblems | None = None,
              additions: Additions | None = None) -> PlanRun:
    """:func:`simulate`'s steps (its arguments, already under one BLAS thread)."""
    t_start, cpu_start = time.perf_counter(), time.process_time()
    additions = _additions(additions, "simulate")
    if problems is None:
        problems = StepProblems(s.reuse_problems, additions=additions)
    elif additions and problems.additions is not additions:
        raise SettingsError("simulate(problems=..., additions=...): the step problems carry "
                            "their own additions; build them with StepProblems(..., "
                            "additions=additions), or pass one of the two")
    added = problems.additions  # the researcher's terms and constraints: no skip below

    prof = setup.client.profile
    acc = account_id or setup.taxable_accounts()[0]
    r = (rate or _cash_rate(setup, s)).rate
    dy = dividends or plan_dividend_yields(setup)
    led = setup.ledger.fork()
    n_hist = led.disposition_count()
    n_gifts = led.gift_count()
    exclude, no_sell = _concentrated(setup, plan)
    spec = next(a for a in prof.accounts if a.account_id == acc)
    cash = spec.cash
    cash0 = cash
    floor = float(spec.min_cash or 0.0)  # kept in cash at every step (_keep)
    base = default_settings(setup)
    dates = list(path.prices.index)
    per_year = s.steps_per_year
    sleeve = sleeve or bond_sleeve(setup)
    book = sleeve.book(dates[0]) if sleeve is not None else None
    rec = ScheduleRecorder(dates[-1], cash0, led.identity.group) if record else None
    # the account's open lots, read again only after the ledger changes (a gift, a step's
    # trades): every read snapshots each lot (~10 % of a step's bookkeeping read at each use)
    lots = led.lots(account=acc)
    if rec is not None:
        for lt in lots:
            rec.add_lot(lt.lot_id, lt.ticker, float(lt.shares), float(lt.basis),
                        lt.holding_start, lt.inherited)
    te0 = None
    reached = False
    reached_at = math.nan
    rows = []
    failed = ""
    failure: StepFailure | None = None
    raised_years: set[int] = set()  # a step's budget raised by the restrictions' sales
    events: list = []
    look_through = _LookThrough(setup)
    managed = _Managed(setup, acc)
    if updates is None:
        updates = core_updates(setup, dates)
    retarget = {u.step_date: u for u in updates}
    core = setup  # the setup whose target the steps trade toward (a model update's)
    first: FirstStep | None = None
    # a household with other taxable accounts: they are traded around step 0 (today)
    household = bool(other_taxable(setup, acc)) and dates[0] == setup.as_of
    # several accounts: today's step is kept free of names the household would trade the
    # other way around it (household.without_pairs), as first_trades keeps it
    several = len(prof.accounts) > 1 and dates[0] == setup.as_of
    today0: RebalanceResult | None = None
    hh0 = None  # the household around today's step when solved for its pairs
    left0: tuple[str, ...] = ()  # the names it left as they are (PlanRun.left_today)
    te_initial = look_through.te(look_through.weights(lots, path.prices.iloc[0], cash0,
                                                      exclude)[0], look_through.benchmark)
    # each step's prices by ticker as plain floats (what Series.to_dict gives, ~10 x faster)
    px_tickers, px_rows = path.prices.columns.tolist(), path.prices.to_numpy().tolist()
    for k, day in enumerate(dates):
        t_step = time.perf_counter()
        build = solver = 0.0
        update = retarget.get(day)
        if update is not None:  # the manager's model changed: a new core from this step
            core = update.setup
            look_through, managed = _LookThrough(core), _Managed(core, acc)
        prices = path.prices.loc[day]
        px = dict(zip(px_tickers, px_rows[k], strict=True))  # prices.to_dict(), faster
        # a historical replay's cash earns the bill rate of the previous step's day, and
        # its holdings pay the trailing yields of this step's day (MarketPath)
        r_k = path.cash_rates[k - 1] if path.cash_rates is not None and k > 0 else r
        dy_k = path.dividends[k] if path.dividends is not None else dy
        growth = (1 + r_k) ** ((day - dates[k - 1]).days / 365.25) if k > 0 else 1.0
        # the dividends of the holdings kept since the last step (reinvested: prices are
        # total-return, so they move no cash), at this step's prices
        div_q, div_r = dy_k.paid(((lt.ticker, float(lt.shares)) for lt in lots), px,
                               step_years(day, dates[k - 1])) if k > 0 else (0.0, 0.0)
        interest = cash * (growth - 1)
        cash += interest
        year_start = k % per_year == 0 and k < len(dates) - 1
        flow = plan.flow if year_start else 0.0
        # the next plan-year start's sales, when in this tax year (a budget plan holds
        # their gains back): at a plan-year start, the sleeve's move now honours it too
        later = _later_sales(plan, k, dates, per_year, s, floor, book, lots, prices,
                             cash + flow)
        if book is not None:  # a mixed portfolio: coupons, maturities, the band's moves
            flow += book.step(day, equity_value(lots, prices, cash + flow)
                              if year_start else None,
                              band_sale_limit(core, plan, acc, led, day, prices, cash + flow,
                                              lots, later) if year_start else None)
        cash += flow
        if rec is not None:
            rec.begin(k, day, growth, flow)
        gift = 0.0
        if plan.gift > 0 and year_start:
            gift = _donate(led, acc, day, prices, plan.gift, exclude | no_sell, events, rec,
                           lots)
            lots = led.lots(account=acc)
        if year_start and flow < 0:
            _check_withdrawal(plan, acc, led, day, prices, cash, k // per_year + 1,
                              "expected" if path.start is None
                              else f"historical replay from {path.start}",
                              accounts=tuple(prof.accounts), keep=keep_names(setup))
        status, note, phase = "held", "", ""
        # the gain caps the step's sales kept to (recorded for the Monte Carlo replay):
        # the plan's, or those its solve used (a later withdrawal's room held back, a
        # withdrawal's minimum trade raised them)
        caps = plan.budgets()
        coming = _coming_withdrawal(plan, k, dates, per_year)[0]
        empty = abs(cash) < max(base.min_trade, 0.005) and not lots
        if empty:
            # gifts (or withdrawals) have used the whole account: nothing left to manage
            # (at most a remainder of cash smaller than the minimum trade)
            status, note = "empty", "account fully given away or withdrawn; no trades"
        elif k < len(dates) - 1 and plan.kind == "hold" and \
                0 <= cash - _keep_for_withdrawal(_keep(floor, cash, plan), floor, cash, plan,
                                                 coming) < base.min_trade:
            if rec is not None and flow < 0:
                # held here, but a path whose earlier sales raised less has less cash and
                # may be below zero after this withdrawal: it sells what hold sells to
                # raise one (its cash is the expected path's when not)
                st = _state(core, plan, acc, led, day, prices, -1.0, k, s, managed, lots)
                rec.restores(0.0, st.no_sell | exclude, st.wash_no_loss_sale)
        elif k < len(dates) - 1:
            try:
                # the step's problem is built only when it is solved: the TE and weights
                # the phase and the skips need come from the state (_Managed.today)
                st = _state(core, plan, acc, led, day, prices, cash, k, s, managed, lots)
                if rec is not None:  # the cash the step keeps: a path below it sells more
                    # (hold: a path below zero sells what hold sells to raise a
                    # withdrawal, even where the expected path's cash covers it)
                    rec.restores(floor if plan.kind != "hold" else 0.0,
                                 (st.no_sell if plan.kind != "hold" else
                                  frozenset(no_sell)) | exclude, st.wash_no_loss_sale)
                today = managed.today(st)
                if te0 is None:
                    te0 = today.te
                if not reached and plan.kind != "hold" and today.te <= \
                        s.te_band + _REACHED_TOL:
                    reached = True
                phase = _phase(plan, k, reached, s)
                keep = _keep_for_withdrawal(_keep(floor, st.cash + st.contribution, plan),
                                            floor, st.cash + st.contribution, plan, coming)
                if phase == "maintain" and not added and \
                        _nothing_to_maintain(today, st, s, base, keep):
                    status = "within band"
                    if rec is not None:
                        rec.cash_available(cash)
                elif phase == "approach" and not added and \
                        _budget_spent(today, st, plan, base, keep):
                    status = "budget spent"
                    if rec is not None:
                        rec.cash_available(cash)
                else:
                    # every step keeps the account's minimum cash (USD) after its trades,
                    # today's (step 0, the proposal's) and the later ones alike
                    base_k = with_min_cash(core, acc, base, st, can_sell=plan.kind != "hold")
                    base_k = _with_keep(base_k, st, keep)  # a coming withdrawal's cash
                    settings, fallback = _phase_settings(plan, phase, k, te0, base_k, s)
                    if later is not None:
                        # the gains the tax year's later withdrawal and band sale need are
                        # not spent now
                        need = later.need(st.cash + st.contribution)
                        settings = _reserve_budget(settings, st, need, later.growth,
                                                   later.day)
                        if fallback is not None:
                            fallback = _reserve_budget(fallback, st, need, later.growth,
                                                       later.day)
                    settings, fallback = _glide_held_back(plan, settings, fallback,
                                                          managed.rules, st, k, dates, s)
                    if k > 0 and s.skip_no_trade and plan.kind != "hold" and not added and \
                            _solve_trades_nothing(today, st, settings,
                                                  *managed.pieces(st)):
                        # the solve would answer "no trade" (no note): its bookkeeping
                        # without it (_apply of an empty result; TE after is today's)
                        status = "no trade"
                        caps = settings.budgets
                        if rec is not None:
                            rec.cash_available(cash + 0.0, keep)
                        if today.te <= s.te_band + _REACHED_TOL:
                            reached = True
                    else:
                        prob, built = problems.take(core, st, base_k, managed)
                        res, note = _solve_step(
                            prob, plan, settings, fallback, later=phase if k else "",
                            carried=lambda y=day.year: _loss_carried_in(setup, led, y))
                        caps = prob.settings.budgets  # the settings of the solve that answered
                        problems.give_back(prob)
                        if k == 0 and several:
                            # called at once, within this step (the defaults bind its values)
                            def again(nb, ns, st=st, base_k=base_k, settings=settings,
                                      fallback=fallback, core=core, managed=managed, year=day.year,
                                      gift=gift):
                                st2 = replace(st, no_buy=st.no_buy | nb, no_sell=st.no_sell | ns)
                                p2, _ = problems.take(core, st2, base_k, managed)
                                r2, _ = _solve_step(p2, plan, settings, fallback, carried=lambda:
                                                    _loss_carried_in(setup, led, year))
                                problems.give_back(p2)
                                return r2, _checked_today(r2, st2, led, gift)

                            res, today0, hh0, note, left0 = _without_pairs(
                                setup, plan, res, _checked_today(res, st, led, gift), note,
                                again, added)
                        if k == 0 and record and update is None:
                            first = FirstStep(res, st, prices, today.te, phase, note, gift, s,
                                              base_k, core.target.weights,
                                              _risk_digest(core.risk), added.labels)
                        build = prob.build_seconds if built else 0.0
                        solver = float(res.summary.solver_seconds)
                        forced = st.must_sell | frozenset(st.max_weight)
                        if k == 0 and household and today0 is None:  # traded around these
                            today0 = _checked_today(res, st, led, gift)
                        cash += _apply(led, acc, day, res, px, events, rec, cash, forced, keep,
                                       lots)
                        lots = led.lots(account=acc)
                        status = res.summary.status
                        if float(res.summary.budget_raised_by_restrictions) > 0.005 \
                                or (forced and _over_caps(res, st, caps)):
                            raised_years.add(day.year)  # the restrictions' sales raised it
                        te_after = float(res.summary.te_after)
                        if plan.kind != "hold" and te_after <= s.te_band + _REACHED_TOL:
                            reached = True
                        elif phase == "go" and not note:
                            note = (f"tracking error to the target {fmt_pct(te_after)} after "
                                    "moving to it: as close as wash-sale locks and the minimum "
                                    "trade allow today")
            except OptimizationError as e:
                failed = f"step {k} ({day}): {e}"
                status = type(e).__name__
                # the account's value as the tables show it: before the day's move
                # between a mixed portfolio's sleeves (flow less the plan's own)
                failure = _step_failure(e, k, day, k // per_year + 1,
                                        -plan.flow if year_start and plan.flow < 0 else 0.0,
                                        led.lots(account=acc), px,
                                        cash - (flow - (plan.flow if year_start else 0.0)))
        if k == 0 and household and not failed:
            # one return: the household's other accounts are traded around this step, as
            # the proposal's household section trades them, and their sales today count
            # against the budget at every later step and net with the plan's each year
            try:
                if today0 is None:  # step 0 not solved here (held, skipped): as today's
                    today0 = first_trades(setup, plan, s, acc, sleeve, additions=added)
                hh = hh0 if hh0 is not None else \
                    around_first_step(setup, today0, plan, added)
                if hh is not None:
                    book_others(led, hh, acc, day, setup.prices)
            except OptimizationError as e:
                failed = (f"step {k} ({day}): the household's other accounts around the "
                          f"plan's first step: {e}")
                status = type(e).__name__
        if update is not None and plan.kind != "hold":  # hold trades toward no target
            note = f"{update.note}; {note}" if note else update.note
        if rec is not None:
            rec.finish((caps.total, caps.short_term, caps.long_term)
                       if plan.kind == "budget" else None)
        # each lot's value computed once for the weights, the carve-out and the gain
        # (the same products, summed in the same order)
        values = _lot_values(lots, px)
        look, total = look_through.weights(lots, px, cash, exclude, values)
        conc_value = sum(v for lt, v in zip(lots, values, strict=True)
                         if lt.ticker in exclude)
        unreal = sum(v - float(lt.basis) for lt, v in zip(lots, values, strict=True))
        te_target = math.nan if empty else look_through.te(look, look_through.target)
        if plan.kind != "hold" and math.isnan(reached_at) and te_target <= \
                s.te_band + _REACHED_TOL:
            reached_at = (day - dates[0]).days / 365.25
        rows.append({
            "step": k, "date": day, "year": day.year, "phase": phase, "status": status,
            # an account with nothing left has no tracking error (not the cash's)
            "te_target": te_target,
            "te_benchmark": math.nan if empty else look_through.te(look,
                                                                   look_through.benchmark),
            "value": total + conc_value, "cash": cash, "interest": interest, "gift": gift,
            "flow": flow, "dividends_qualified": div_q, "dividends_reit": div_r,
            "embedded_gain": unreal, "names": len({lt.ticker for lt in lots}),
            "note": note, "seconds": time.perf_counter() - t_step, "build_seconds": build,
            "solver_seconds": solver,
        })
        if failed:
            break
    steps = pd.DataFrame(rows)
    disp = led.dispositions(as_decimal=True).iloc[n_hist:]
    # the other taxable accounts' sales today (household.book_others): the year's earlier
    # sales to the plan's accounting (one return), not the plan's own
    mine = (disp.account == acc).to_numpy(dtype=bool) if len(disp) else np.ones(0, bool)
    others = disp.loc[~mine]
    disp = disp.loc[mine] if len(others) else disp
    gifts = led.gifts().iloc[n_gifts:]
    horizon = dates[len(steps) - 1]
    interest = book.interest_income() if book is not None else None
    # every year's interest is taxed: the cash's (path-dependent: the Monte Carlo replay
    # computes each path's) and the ladder's (``interest``, the same on every path)
    # ... and so are the dividends of the holdings (path-dependent too), on top of it
    ctx = _tax_context(setup, sorted(steps.year.unique()), _interest(steps, interest),
                       _dividends(steps), others=others)
    liq_disp = _liquidation(led, acc, horizon, path.prices.loc[horizon])
    years, liq_tax, carry_left, cf_value = _yearly(setup, ctx, steps, disp, gifts,
                                                   liq_disp, r, others=others)
    if plan.kind == "budget" and raised_years:
        _note_forced_overrun(steps, years, plan, raised_years)
    if book is not None:
        years = whole_years(book, years)
    wealth = float(wealth_at_horizon(float(years.value_end.iloc[-1]), liq_tax,
                                     years.tax.to_numpy(), list(years.year), horizon, r,
                                     carry_left))
    # ``cf_value``: the return's carryforward out of the last year valued (at ``r``, on
    # the last year's income; accounting._yearly), the figure shown beside it
    schedule = rec.schedule() if rec is not None and not failed else None
    if schedule is not None:  # what each lot pays, for the replay (plan.dividends)
        schedule = replace(schedule, **dict(zip(("lot_yield", "lot_reit"),
                                                dy.of_lots(schedule.lot_ticker),
                                                strict=True)))
    if rec is not None and rec.broken:
        steps.loc[steps.index[-1], "note"] = f"no Monte Carlo replay: {rec.broken}"
    return PlanRun(plan, path.label, steps, years, wealth, liq_tax, disp, gifts, failed,
                   tuple(events), te_initial, reached_at, schedule,
                   seconds=time.perf_counter() - t_start, carryforward_value=cf_value,
                   cpu_seconds=time.process_time() - cpu_start,
                   bonds=book.moves_frame() if book is not None else None,
                   interest=interest, first_step=first, failure=failure,
                   others=others, left_today=left0)


def _over_caps(res: RebalanceResult, st: AccountState, b: Budgets) -> bool:
    """Whether a step's sales took the year over a gain cap it was solved under.

    Only a glide's forced sale rounded up to a whole share does (the whole-share step gives
    back every other share over a budget: ``rounding._trim_to_budgets``,
    ``_give_back_forced``; the budget check allows that one share), and it raises no cap
    in ``budget_raised_by_restrictions`` (the exact forced sale fitted): such a year is
    noted as the years the restrictions' sales raise (:func:`_note_forced_overrun`,
    reviewer 1, session 24: chen's 2027 went $51 over with no note).
    """
    if b.unit != "gain":
        return False
    s = res.summary
    used = (st.ytd_st + st.ytd_lt + float(s.realized_st) + float(s.realized_lt),
            st.ytd_st + float(s.realized_st), st.ytd_lt + float(s.realized_lt))
    return any(cap is not None and u > cap + 0.005 for cap, u in
               zip((b.total, b.short_term, b.long_term), used, strict=True))


def _note_forced_overrun(steps: pd.DataFrame, years: pd.DataFrame, plan: Plan,
                         raised: set[int]) -> None:
    """Say, on the first step of each such year, by how much a year went over the budget.

    A budget plan's year whose net gains exceed a cap of the plan's budget when a step of
    that year had the budget raised by the restrictions' sales (``raised``: those years):
    the forced sales (a must-sell name, a ``sell_within`` glide's share, made whatever the
    tax) alone realise more than the budget allows, net of the losses harvested (which
    make no room for other gains: :func:`_solve_within_forced`), since every step holds the year's
    later forced sales back (:func:`_later_glide`). The note gives the year, its net
    gain, the cap and the overrun; it joins the plan's notes (proposal, dashboard, CLI).
    ``steps`` is changed in place.
    """
    b = plan.budgets()
    y = years.set_index("year")
    told = False  # the why is said once, in the first such year (reviewer 1, session 22:
    # one 60-word sentence repeated every year filled a 40-line cell of the plan table)
    for year in sorted(raised):
        if year not in y.index:
            continue
        st_, lt_ = float(y.at[year, "st"]), float(y.at[year, "lt"])
        over = [(word, cap, used) for word, cap, used in
                (("gains budget", b.total, st_ + lt_),
                 ("short-term cap", b.short_term, st_), ("long-term cap", b.long_term, lt_))
                if cap is not None and used - cap > 0.5]
        if not over:
            continue
        said = " and ".join(f"{fmt_usd(used)} against the plan's {word} of {fmt_usd(cap)}, "
                            f"{fmt_usd(used - cap)} over" for word, cap, used in over)
        note = (f"{year}: net gains {said}: the sales your restrictions force that year "
                "(made whatever the tax) alone realise more than the budget allows, even "
                "with the losses harvested that year set against them, so they raise it "
                "and no other gain is realised" if not told else
                f"{year}: net gains {said}, for the same reason")
        told = True
        i = steps.index[steps.year == year][0]
        old = str(steps.at[i, "note"] or "")
        steps.at[i, "note"] = f"{old}; {note}" if old else note


def _cash_rate(setup: ClientSetup, s: TransitionSettings) -> BillRate:
    if s.cash_rate is not None:
        return BillRate(s.cash_rate, f"{s.cash_rate:.2%} a year (given)")
    return bill_rate(setup.market, setup.as_of)


