"""Transition analysis: moving a legacy portfolio to the target under different plans.

Plans (:class:`Plan`, parsed from text by :func:`parse_plan`):

* ``immediate`` -- go to the target now (no tax aversion, a token trading cost), then
  maintain it;
* ``<N>y`` (``3y``, ``5y``, any N) -- a tracking-error glide path: the cap on TE to the
  target falls linearly from today's TE to the target band over N years while taxes are
  minimised, then the plan maintains the target;
* ``budget:<USD>`` -- each tax year, net realised gains at most the budget (zero allowed;
  ``budget:<total>:st=<USD>:lt=<USD>`` sets separate short- and long-term budgets),
  minimising tracking error; once within the target band the plan maintains it within the
  budget; ``te=<cap>`` adds the client's own TE ceiling (never loosened);
* ``hold`` -- the reference: the legacy holdings are never sold; gifts and cash flows are
  the same as every plan's, cash (today's and any added) is invested in the target's names
  without selling (buy only, tracking error minimised) and withdrawals are raised by the
  sales of least tax.

The comparison is like-for-like: every plan, ``hold`` included, makes the same gifts
(``gift=<USD>`` a year of appreciated long-term lots, default the profile's
``[charity]``) and the same cash flows (``flow=<USD>`` a year, negative withdraws), each at
the start of every plan year; cash left in the account earns the Treasury bill rate
(:func:`pma_lab.plan.scenarios.bill_rate`). The client's own plan (:func:`client_plan`, from
``[transition]`` and ``[budgets]``) is always compared (``is_client_plan``), and so are the
diversified reference ``immediate`` and ``hold``.

Every plan ends in the same place: once its tracking error to the target is within the
target band (:attr:`TransitionSettings.te_band`) it enters a maintenance phase that keeps
TE within the band with tax-aware rebalancing (taxes minimised under the TE cap, the plan's
gain budget still binding); the comparison reports how many years each plan takes to
reach the band and the gain still embedded at the horizon (its liquidation tax is in the
after-tax wealth).

``concentrated=keep|build|sell`` decides the concentrated position's fate (keep: carved
out and untouched; build: held as is, the rest built around it; sell: sold down like any
other name). Restricted names already held follow the profile's ``[restrictions.held]``
(:class:`~pma_lab.io.profile.HeldAction`) in every plan except ``hold``.

Simulation: each plan steps forward (quarterly by default) on the expected path (every
price grows at the expected return): at every step the household ledger is stepped to the
date, the lot-level optimizer trades under the plan's constraint, the trades are applied
to the ledger (holding periods age, wash-sale locks carry across steps, losses carry
forward) and every tax figure is read back from the ledger through
:func:`pma_lab.tax.liability.yearly_netting`. The plan's decisions are recorded as a schedule
(:mod:`pma_lab.plan.montecarlo`) and replayed on Monte Carlo paths drawn from the factor risk
model (:func:`pma_lab.plan.scenarios.monte_carlo_paths`): after-tax wealth at the horizon as a
median, 10th and 90th percentile, and the probability of ending below the diversified plan
on the same path. Historical replays (``vintages``) remain for research, with
:data:`~pma_lab.plan.scenarios.HINDSIGHT_WARNING`; they never feed the comparison.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import multiprocessing as mp
import os
import re
import sys
import time
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from decimal import ROUND_FLOOR, Decimal

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pma_lab.errors import DataError, InfeasibleError, OptimizationError
from pma_lab.formatting import fmt_plan
from pma_lab.optimize.engine import ClientSetup, account_state_for, default_settings
from pma_lab.optimize.rebalance import (
    AccountState,
    Budgets,
    RebalanceProblem,
    RebalanceResult,
    RebalanceSettings,
)
from pma_lab.plan.montecarlo import (
    PathOutcomes,
    Schedule,
    ScheduleRecorder,
    TaxContext,
    carry_left_value,
    outcomes_table,
    revalue,
    tax_payment_date,
    wealth_at_horizon,
)
from pma_lab.plan.scenarios import (
    HINDSIGHT_WARNING,
    BillRate,
    MarketPath,
    MonteCarloPaths,
    bill_rate,
    expected_path,
    fund_composition,
    historical_paths,
    monte_carlo_paths,
    step_dates,
)
from pma_lab.tax.ledger import Ledger, LotRelief
from pma_lab.tax.liability import carryforward_value, charitable_deductions, yearly_netting
from pma_lab.tax.rules import Term
from pma_lab.validation import check_int, check_number

__all__ = ["Plan", "parse_plan", "plan_label", "TransitionSettings", "MarketPath", "PlanRun",
           "TransitionAnalysis", "run_transition", "simulate", "replay_events",
           "client_plan", "first_trades", "DEFAULT_PLANS", "DIVERSIFIED_PLAN",
           "HINDSIGHT_WARNING"]

_STEP_NAMES = {1: "annual", 2: "half-yearly", 4: "quarterly", 12: "monthly"}
DEFAULT_PLANS = ("immediate", "3y", "5y", "budget:0", "budget:25000")
DIVERSIFIED_PLAN = "immediate"
"""The diversified reference: Monte Carlo results say how often a plan ends below it."""
_PLAN = re.compile(r"^(immediate|hold|(\d+)y|budget:(\d+(?:\.\d+)?))((?::[a-z]+=[^:]+)*)$")
_REACHED_TOL = 1e-5  # TE within the band up to solver round-off


@dataclass(frozen=True)
class Plan:
    """A transition plan (see the module docs)."""

    name: str
    kind: str  # immediate | timeline | budget | hold
    years: int | None = None
    budget: float | None = None  # total net realised gain per tax year (USD)
    st_budget: float | None = None
    lt_budget: float | None = None
    te_cap: float | None = None
    gift: float = 0.0  # USD of appreciated lots donated per year
    flow: float = 0.0  # USD added per year (negative: withdrawn)
    concentrated: str | None = None  # keep | build | sell

    def same_as(self, other: Plan) -> bool:
        """Whether two plans do the same thing (their names may differ)."""
        return replace(self, name="") == replace(other, name="")

    def budgets(self) -> Budgets:
        """The plan's yearly gain budgets (none for plans without a budget)."""
        if self.kind != "budget":
            return Budgets()
        return Budgets(self.budget, self.st_budget, self.lt_budget)


def parse_plan(text: str, default_gift: float = 0.0, concentrated: str | None = None,
               default_flow: float = 0.0) -> Plan:
    """Parse ``immediate``, ``hold``, ``3y``, ``budget:25000:st=0:te=0.03:gift=50000`` ...

    Raises
    ------
    DataError
        With the accepted forms.
    """
    t = text.strip().lower()
    m = _PLAN.match(t)
    if not m:
        raise DataError(f"plan {text!r} is not understood; write immediate, hold, <N>y (e.g. "
                        "3y), or budget:<USD>, optionally followed by :st=<USD> :lt=<USD> "
                        ":te=<cap> :gift=<USD> :flow=<USD> :concentrated=keep|build|sell")
    opts: dict[str, str] = {}
    for part in filter(None, (m.group(4) or "").split(":")):
        k, v = part.split("=", 1)
        if k not in ("st", "lt", "te", "gift", "flow", "concentrated"):
            raise DataError(f"plan {text!r}: unknown option {k!r} (st, lt, te, gift, flow, "
                            "concentrated)")
        opts[k] = v

    def num(k: str) -> float | None:
        if k not in opts:
            return None
        try:
            return float(opts[k])
        except ValueError:
            raise DataError(f"plan {text!r}: {k}={opts[k]!r} is not a number") from None

    conc = opts.get("concentrated", concentrated)
    if conc not in (None, "keep", "build", "sell"):
        raise DataError(f"plan {text!r}: concentrated must be keep, build or sell")
    gift, flow = num("gift"), num("flow")
    if gift is not None and gift < 0:
        raise DataError(f"plan {text!r}: gift must be zero or positive")
    common = dict(te_cap=num("te"), gift=default_gift if gift is None else gift,
                  flow=default_flow if flow is None else flow, concentrated=conc)
    if m.group(1) == "immediate":
        return Plan(text, "immediate", **common)
    if m.group(1) == "hold":
        return Plan(text, "hold", **{**common, "te_cap": None})
    if m.group(2):
        years = int(m.group(2))
        if not 1 <= years <= 30:
            raise DataError(f"plan {text!r}: the timeline must be 1 to 30 years")
        return Plan(text, "timeline", years=years, **common)
    budget = float(m.group(3))
    return Plan(text, "budget", budget=budget, st_budget=num("st"), lt_budget=num("lt"),
                **common)


def plan_label(plan: Plan) -> str:
    """The plan in words a client reads, as :func:`pma_lab.formatting.fmt_plan` words it.

    One wording for the proposal, the dashboard and the CLI.
    """
    return fmt_plan(plan)


@dataclass(frozen=True)
class TransitionSettings:
    """Simulation choices.

    ``cash_rate``: the annual rate cash earns and taxes are carried at (``None``: the
    3-month Treasury bill from the packaged curve). ``te_band``: tracking error to the
    target within which a plan counts as at the target and is maintained. ``mc_paths``:
    Monte Carlo paths (0: none).
    """

    horizon_years: int = 5
    steps_per_year: int = 4  # 4 = quarterly, 1 = annual
    expected_return: float = 0.07  # per year, every name (expected path and Monte Carlo)
    cash_rate: float | None = None
    te_band: float = 0.005
    go_gamma_tc: float = 0.01  # immediate: trading-cost weight while going to the target
    maintain_gamma_tax: float = 1.0  # tax aversion within the band
    transition_gamma_tax: float = 2.0  # timeline plans: minimise tax under the TE cap
    budget_gamma_tax: float = 0.002  # budget plans: minimise TE within the budget
    mc_paths: int = 1000
    seed: int = 0
    workers: int = 2  # processes for plans and paths

    def __post_init__(self) -> None:
        check_int(self, "horizon_years", low=1, meaning="years simulated")
        check_int(self, "steps_per_year", low=1, meaning="4 = quarterly, 1 = annual")
        check_number(self, "expected_return", low=-1, low_open=True, high=1,
                     meaning="per year, e.g. 0.07 = 7 %")
        check_number(self, "cash_rate", low=-1, low_open=True, high=1, optional=True,
                     meaning="per year; None: the packaged 3-month bill")
        check_number(self, "te_band", low=0, high=1, meaning="tracking error, 0.005 = 0.5 %")
        for name in ("go_gamma_tc", "maintain_gamma_tax", "transition_gamma_tax",
                     "budget_gamma_tax"):
            check_number(self, name, low=0, meaning="an aversion")
        check_int(self, "mc_paths", low=0, meaning="Monte Carlo paths, 0 for none")
        check_int(self, "seed", low=0)
        check_int(self, "workers", low=1, meaning="processes")


@dataclass(frozen=True)
class PlanRun:
    """One plan on one path: per-step and per-year tables, and the horizon wealth.

    ``schedule`` (expected path only) records the plan's decisions for the Monte Carlo
    replay; ``mc`` holds the plan's outcomes on the Monte Carlo paths.
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
    carryforward_value: float = 0.0  # PV of the loss carryforward at the horizon


# ------------------------------------------------------------------------------ the plans
def client_plan(setup: ClientSetup) -> Plan:
    """The plan the client's profile asks for.

    From ``[transition]``; without one, the ``[budgets]``, or a $0 budget.
    """
    prof = setup.client.profile
    tr = prof.transition
    gift = prof.charity.annual_gift if prof.charity else 0.0
    b = prof.budgets
    if tr is None:
        # no [transition]: follow the gain budgets when the profile has them, else realise
        # no net gain (the most tax-averse plan)
        if b.total is None and b.long_term is None and b.short_term is None:
            return parse_plan("budget:0", gift)
        total = b.total if b.total is not None else (b.short_term or 0.0) + (b.long_term or 0.0)
        text = f"budget:{total:g}"
        text += f":st={b.short_term:g}" if b.short_term is not None else ""
        text += f":lt={b.long_term:g}" if b.long_term is not None else ""
        return parse_plan(text, gift)
    if tr.mode == "immediate":
        return parse_plan("immediate", gift)
    if tr.mode == "timeline":
        return parse_plan(f"{tr.years}y", gift)
    text = f"budget:{tr.annual_budget:g}"
    if b.short_term is not None:
        text += f":st={b.short_term:g}"
    if b.long_term is not None:
        text += f":lt={b.long_term:g}"
    return parse_plan(text, gift)


def _concentrated(setup: ClientSetup, plan: Plan) -> tuple[set[str], set[str]]:
    """The concentrated position's treatment: (names carved out, names not to sell)."""
    prof = setup.client.profile
    if prof.concentrated is None:
        return set(), set()
    mode = plan.concentrated or {"keep": "keep", "build_around": "build",
                                 "sell_down": "sell"}[prof.concentrated.strategy]
    t = prof.concentrated.ticker
    return ({t} if mode == "keep" else set()), ({t} if mode == "build" else set())


# ------------------------------------------------------------------------- one step
def _donate(led: Ledger, acc: str, day: dt.date, prices: pd.Series, amount: float,
            skip: set[str], events: list, rec: ScheduleRecorder | None) -> float:
    """Donate the most appreciated long-term lots (by gain per dollar) up to ``amount``.

    Gifts are in whole shares (a custodian transfers whole shares to a charity): a lot
    given in part gives the whole shares that fit in what is left of ``amount`` (rounded
    down; a lot of which not even one share fits is passed over for a cheaper one), so
    the gift may fall short of ``amount`` by less than one share's price. A lot that
    itself holds a fraction of a share is given only in its whole shares.
    """
    rows = []
    for lt in led.lots(account=acc):
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


def _apply(led: Ledger, acc: str, day: dt.date, result: RebalanceResult, prices: pd.Series,
           events: list, rec: ScheduleRecorder | None, cash: float,
           forced: frozenset[str]) -> float:
    """Apply a rebalance's trades to the ledger (and record them); returns the cash change."""
    change = 0.0
    open_lots = {lt.lot_id: lt for lt in led.lots(account=acc)}
    for r in result.lot_trades.itertuples():
        lot = open_lots[r.lot_id]
        shares = lot.shares if r.full_lot else Decimal(repr(float(r.shares)))
        args = (day, acc, r.ticker, shares, Decimal(repr(float(r.price))))
        led.sell(*args, method=LotRelief.SPECIFIC, lot_id=r.lot_id)
        events.append(("sell", args, r.lot_id))
        if rec is not None:
            rec.sell(r.lot_id, float(shares / lot.shares), lot.term_on(day) is Term.LONG,
                     r.ticker in forced)
        change += float(shares) * float(r.price)
    if rec is not None:
        rec.cash_available(cash + change)
    for r in result.trades[result.trades.side == "buy"].itertuples():
        sh = float(r.shares)
        if sh * float(prices[r.ticker]) < 1.0:
            continue  # solver round-off dust (the optimizer keeps trades under $1 as noise)
        args = (day, acc, r.ticker, Decimal(repr(sh)), Decimal(repr(float(prices[r.ticker]))))
        lot_id = led.buy(*args)
        events.append(("buy", args, None))
        if rec is not None:
            rec.buy(lot_id, r.ticker, sh * float(prices[r.ticker]), day)
        change -= sh * float(prices[r.ticker])
    return change


def _state(setup: ClientSetup, plan: Plan, acc: str, led: Ledger, day: dt.date,
           prices: pd.Series, cash: float, k: int, s: TransitionSettings) -> AccountState:
    """The account as the optimizer sees it at step ``k`` of ``plan``.

    ``hold`` never sells (nor, with cash to invest, divests restricted names); a negative
    cash balance (a withdrawal) is raised by sales alone.
    """
    exclude, no_sell = _concentrated(setup, plan)
    if plan.kind == "hold":
        held = {lt.ticker for lt in led.lots(account=acc)} - exclude
        st = account_state_for(setup, acc, ledger=led, as_of=day, prices=prices, cash=cash,
                               exclude=sorted(exclude), divest=False,
                               no_sell=sorted(held) if cash >= 0 else sorted(no_sell))
        return replace(st, no_buy=frozenset(st.assets)) if cash < 0 else st
    return account_state_for(setup, acc, ledger=led, as_of=day, prices=prices, cash=cash,
                             no_sell=sorted(no_sell), exclude=sorted(exclude),
                             glide_years=(k + 1) / s.steps_per_year)


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
        return replace(base, gamma_tax=s.maintain_gamma_tax, te_cap=None,
                       budgets=Budgets()), None
    if phase == "go":
        return replace(base, gamma_tax=0.0, gamma_tc=s.go_gamma_tc, budgets=Budgets(),
                       te_cap=plan.te_cap), None
    if phase == "approach":
        return approach, None
    if phase == "glide":
        n = plan.years * s.steps_per_year
        cap = max(te0 * (1 - (k + 1) / n), s.te_band)
        if plan.te_cap is not None:
            cap = min(cap, plan.te_cap)
        return replace(base, gamma_tax=s.transition_gamma_tax, budgets=Budgets(),
                       te_cap=cap), None
    cap = s.te_band if plan.te_cap is None else min(s.te_band, plan.te_cap)
    maintain = replace(base, gamma_tax=s.maintain_gamma_tax, te_cap=cap, budgets=bud)
    # a budget plan keeps its budget: when the band cannot be held within it, the step
    # minimises TE within the budget instead (noted)
    return maintain, (approach if plan.kind == "budget" else None)


def _solve_step(prob: RebalanceProblem, plan: Plan, settings: RebalanceSettings,
                fallback: RebalanceSettings | None = None) -> tuple[RebalanceResult, str]:
    """Solve one step under ``settings``; return the result and a note ("" if none).

    When a plan's own TE cap (the glide path's or the maintenance band) cannot be met at
    this step (wash-sale locks, forced sales, a binding budget), a budget plan minimises
    TE within its budget (``fallback``); other plans double the cap up to four times,
    then lift it. Every such step is noted. A client's own TE ceiling is never loosened:
    the InfeasibleError propagates, naming the conflicting constraints.
    """
    prob.update(settings)
    try:
        return prob.solve(), ""
    except InfeasibleError as e:
        own = plan.te_cap is not None and settings.te_cap is not None and \
            settings.te_cap >= plan.te_cap - 1e-12
        if settings.te_cap is None or own or "te_cap" not in e.conflicts:
            raise
    if fallback is not None:
        prob.update(fallback)
        return prob.solve(), f"TE cap {settings.te_cap:.2%} not met within the gain budget"
    cap = settings.te_cap
    for _ in range(4):
        cap *= 2
        prob.update(replace(settings, te_cap=cap))
        try:
            return prob.solve(), f"TE cap loosened to {cap:.2%}"
        except InfeasibleError:
            continue
    prob.update(replace(settings, te_cap=None))
    return prob.solve(), "TE cap lifted"


def _nothing_to_maintain(prob: RebalanceProblem, st: AccountState, s: TransitionSettings,
                         base: RebalanceSettings) -> bool:
    """Whether a maintenance step may skip its solve and hold.

    It may when TE is within the band, no lot can be sold at a loss, there is no cash to
    invest and no restriction forces a sale. Without losses every term of the objective
    but TE^2 is non-negative, and holding scores TE^2 <= band^2, so the best trade can
    improve on holding by at most band^2 of the account in the objective's units (tax
    dollars at the maintenance tax aversion of 1): $25 per $100,000 with a 0.5 % band.
    The solve is skipped then (most maintenance steps of the expected path, where prices
    never fall).
    """
    if prob.current_te() > s.te_band or st.cash + st.contribution >= base.min_trade:
        return False
    lots = st.lots
    harvest = (lots.gain < 0) & ~lots.ticker.isin(list(st.wash_no_loss_sale))
    if harvest.any():
        return False
    held = set(lots.ticker)
    if held & st.must_sell:
        return False
    w = prob.h
    return not any(w[prob.asset_index[t]] > cap + 1e-9 for t, cap in st.max_weight.items()
                   if t in prob.asset_index)


def _step_problem(setup: ClientSetup, st: AccountState, base: RebalanceSettings,
                  ledger: Ledger | None) -> RebalanceProblem:
    risk = setup.risk.subset(list(st.assets[:st.n_model]))
    return RebalanceProblem(st, risk, setup.target.weights, base, ledger)


def first_trades(setup: ClientSetup, plan: Plan | str | None = None,
                 settings: TransitionSettings | None = None,
                 account_id: str | None = None) -> RebalanceResult:
    """The trades a plan makes today (its first step), with the per-lot decision ledger.

    Returns the :class:`~pma_lab.optimize.rebalance.RebalanceResult` of step 0, checked against the
    ledger, exactly as :func:`simulate` makes it (gifts of the first year first).
    """
    s = settings or TransitionSettings()
    if plan is None:
        plan = client_plan(setup)
    elif isinstance(plan, str):
        plan = parse_plan(plan)
    acc = account_id or setup.taxable_accounts()[0]
    exclude, no_sell = _concentrated(setup, plan)
    led = setup.ledger
    cash = next(a.cash for a in setup.client.profile.accounts if a.account_id == acc)
    cash += plan.flow
    gift = 0.0
    if plan.gift > 0:
        led = setup.ledger.fork()
        gift = _donate(led, acc, setup.as_of, setup.prices, plan.gift, exclude | no_sell, [],
                       None)
    st = _state(setup, plan, acc, led, setup.as_of, setup.prices, cash, 0, s)
    base = default_settings(setup)
    prob = _step_problem(setup, st, base, led)
    te0 = prob.current_te()
    settings_0, fallback = _phase_settings(plan, _phase(plan, 0, te0 <= s.te_band, s), 0, te0,
                                           base, s)
    res, note = _solve_step(prob, plan, settings_0, fallback)
    res.summary["gift_value"] = gift
    res.summary["gifts"] = led.gifts() if gift else None
    res.summary["note"] = note
    return res


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


class _LookThrough:
    """The account's look-through weights and their tracking error, in numpy.

    Built once per simulation: model order, the target's and the benchmark's weights
    aligned to it, and the factor form of the risk model (``X F X' + diag(d^2)``, as
    :meth:`pma_lab.portfolio.risk.RiskModel.tracking_error` computes it, without pandas on every
    step). A fund is looked through as the target's weights (the names it tracks).
    """

    def __init__(self, setup: ClientSetup) -> None:
        r = setup.risk
        self.pos = {t: i for i, t in enumerate(r.tickers)}
        self.X = np.asarray(r.exposures, dtype=float)
        self.F = np.asarray(r.factor_cov, dtype=float)
        self.d2 = np.asarray(r.specific_var, dtype=float)
        self.target = r.align(setup.target.weights)
        self.benchmark = r.align(setup.benchmark.weights)

    def weights(self, lots: Sequence, prices: pd.Series, cash: float, exclude: set[str]
                ) -> tuple[np.ndarray, float]:
        """Look-through weights in model order and the value they are weights of."""
        vals: dict[str, float] = {}
        px = prices.to_dict()
        for lt in lots:
            if lt.ticker in exclude:
                continue
            vals[lt.ticker] = vals.get(lt.ticker, 0.0) + float(lt.shares) * px[lt.ticker]
        total = sum(vals.values()) + cash
        w = np.zeros(len(self.pos))
        if total > 0:
            for t, v in vals.items():
                i = self.pos.get(t)
                if i is None:
                    w += self.target * (v / total)  # a fund: the names it tracks
                else:
                    w[i] += v / total
        return w, total

    def te(self, w: np.ndarray, against: np.ndarray) -> float:
        """Ex-ante tracking error of ``w`` against ``against`` (annualised)."""
        a = w - against
        fx = self.X.T @ a
        return float(np.sqrt(fx @ self.F @ fx + a @ (self.d2 * a)))


# ------------------------------------------------------------------------ the simulation
def simulate(setup: ClientSetup, plan: Plan, path: MarketPath, s: TransitionSettings,
             account_id: str | None = None, rate: BillRate | None = None,
             record: bool = False) -> PlanRun:
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
    """
    t_start, cpu_start = time.perf_counter(), time.process_time()
    prof = setup.client.profile
    acc = account_id or setup.taxable_accounts()[0]
    r = (rate or _cash_rate(setup, s)).rate
    led = setup.ledger.fork()
    n_hist = len(led.dispositions())
    n_gifts = len(led.gifts())
    exclude, no_sell = _concentrated(setup, plan)
    cash = next(a.cash for a in prof.accounts if a.account_id == acc)
    cash0 = cash
    base = default_settings(setup)
    dates = list(path.prices.index)
    per_year = s.steps_per_year
    rec = ScheduleRecorder(dates[-1], cash0) if record else None
    if rec is not None:
        for lt in led.lots(account=acc):
            rec.add_lot(lt.lot_id, lt.ticker, float(lt.shares), float(lt.basis),
                        lt.holding_start, lt.inherited)
    te0 = None
    reached = False
    reached_at = math.nan
    rows = []
    failed = ""
    events: list = []
    look_through = _LookThrough(setup)
    te_initial = look_through.te(look_through.weights(led.lots(account=acc),
                                                      path.prices.iloc[0], cash0, exclude)[0],
                                 look_through.benchmark)
    for k, day in enumerate(dates):
        t_step = time.perf_counter()
        build = solver = 0.0
        prices = path.prices.loc[day]
        growth = (1 + r) ** ((day - dates[k - 1]).days / 365.25) if k > 0 else 1.0
        interest = cash * (growth - 1)
        cash += interest
        year_start = k % per_year == 0 and k < len(dates) - 1
        flow = plan.flow if year_start else 0.0
        cash += flow
        if rec is not None:
            rec.begin(k, day, growth, flow)
        gift = 0.0
        if plan.gift > 0 and year_start:
            gift = _donate(led, acc, day, prices, plan.gift, exclude | no_sell, events, rec)
        status, note, phase = "held", "", ""
        empty = abs(cash) < max(base.min_trade, 0.005) and not led.lots(account=acc)
        if empty:
            # gifts (or withdrawals) have used the whole account: nothing left to manage
            # (at most a remainder of cash smaller than the minimum trade)
            status, note = "empty", "account fully given away or withdrawn; no trades"
        elif k < len(dates) - 1 and not (plan.kind == "hold" and
                                         0 <= cash < base.min_trade):
            try:
                st = _state(setup, plan, acc, led, day, prices, cash, k, s)
                prob = _step_problem(setup, st, base, None)
                if te0 is None:
                    te0 = prob.current_te()
                if not reached and plan.kind != "hold" and prob.current_te() <= \
                        s.te_band + _REACHED_TOL:
                    reached = True
                phase = _phase(plan, k, reached, s)
                if phase == "maintain" and _nothing_to_maintain(prob, st, s, base):
                    status = "within band"
                    if rec is not None:
                        rec.cash_available(cash)
                else:
                    settings, fallback = _phase_settings(plan, phase, k, te0, base, s)
                    res, note = _solve_step(prob, plan, settings, fallback)
                    build, solver = prob.build_seconds, float(res.summary.solver_seconds)
                    forced = st.must_sell | frozenset(st.max_weight)
                    cash += _apply(led, acc, day, res, prices, events, rec, cash, forced)
                    status = res.summary.status
                    te_after = float(res.summary.te_after)
                    if plan.kind != "hold" and te_after <= s.te_band + _REACHED_TOL:
                        reached = True
                    elif phase == "go" and not note:
                        note = (f"TE to the target {te_after:.2%} after going to it: as far "
                                "as wash-sale locks and the minimum trade allow today")
            except OptimizationError as e:
                failed = f"step {k} ({day}): {e}"
                status = type(e).__name__
        if rec is not None:
            b = plan.budgets()
            rec.finish((b.total, b.short_term, b.long_term) if plan.kind == "budget" else None)
        lots = led.lots(account=acc)
        look, total = look_through.weights(lots, prices, cash, exclude)
        px = prices.to_dict()
        conc_value = sum(float(lt.shares) * px[lt.ticker] for lt in lots
                         if lt.ticker in exclude)
        unreal = sum(float(lt.shares) * px[lt.ticker] - float(lt.basis) for lt in lots)
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
            "flow": flow,
            "embedded_gain": unreal, "names": len({lt.ticker for lt in lots}),
            "note": note, "seconds": time.perf_counter() - t_step, "build_seconds": build,
            "solver_seconds": solver,
        })
        if failed:
            break
    steps = pd.DataFrame(rows)
    disp = led.dispositions(as_decimal=True).iloc[n_hist:]
    gifts = led.gifts().iloc[n_gifts:]
    horizon = dates[len(steps) - 1]
    ctx = _tax_context(setup, sorted(steps.year.unique()))
    liq_disp = _liquidation(led, acc, horizon, path.prices.loc[horizon])
    years, liq_tax, carry_left = _yearly(setup, ctx, steps, disp, gifts, liq_disp, r)
    wealth = float(wealth_at_horizon(float(steps.value.iloc[-1]), liq_tax,
                                     years.tax.to_numpy(), list(years.year), horizon, r,
                                     carry_left))
    last = years.iloc[-1]
    cf_value = float(carryforward_value(
        last.carryforward_st, last.carryforward_lt, prof.tax, discount_rate=r,
        first_year=int(last.year) + 1).value)
    schedule = rec.schedule() if rec is not None and not failed else None
    if rec is not None and rec.broken:
        steps.loc[steps.index[-1], "note"] = f"no Monte Carlo replay: {rec.broken}"
    return PlanRun(plan, path.label, steps, years, wealth, liq_tax, disp, gifts, failed,
                   tuple(events), te_initial, reached_at, schedule,
                   seconds=time.perf_counter() - t_start, carryforward_value=cf_value,
                   cpu_seconds=time.process_time() - cpu_start)


def _cash_rate(setup: ClientSetup, s: TransitionSettings) -> BillRate:
    if s.cash_rate is not None:
        return BillRate(s.cash_rate, f"{s.cash_rate:.2%} a year (given)")
    return bill_rate(setup.market, setup.as_of)


def _tax_context(setup: ClientSetup, years: Sequence[int]) -> TaxContext:
    """The first year's earlier gains, carry-ins and AGI every plan's netting shares.

    ``hist_tax`` is the tax the gains realised earlier in the first year cause on their own
    (the year's tax with them less without them), which every plan's first year leaves out.
    """
    prof = setup.client.profile
    carry = (Decimal(str(prof.carryforward_st)), Decimal(str(prof.carryforward_lt)))
    hist = _history(setup, years[0])
    # the history's own tax: the first year's tax with it less without it (carry-ins are
    # used in both, so the plan keeps the carry-ins' offset)
    net = yearly_netting(hist, prof.tax, *carry, years=[years[0]])
    none = yearly_netting(hist.iloc[:0], prof.tax, *carry, years=[years[0]])
    st = sum((g for g, t in zip(hist.gain_loss, hist.term, strict=True) if t == "ST"),
             Decimal(0))
    lt = sum((g for g, t in zip(hist.gain_loss, hist.term, strict=True) if t == "LT"),
             Decimal(0))
    tax = prof.tax
    return TaxContext(tax, tuple(int(y) for y in years), *carry, st, lt,
                      Decimal(net.tax.iloc[0] - none.tax.iloc[0]), Decimal(str(tax.agi or 0)))


def _history(setup: ClientSetup, year: int) -> pd.DataFrame:
    """Gains realised earlier in ``year``, before the plan (the recent-trades history)."""
    hist = setup.ledger.dispositions(as_decimal=True)
    return hist.loc[np.array([d.year == year for d in hist.date_sold], dtype=bool)]


def _liquidation(led: Ledger, acc: str, day: dt.date, prices: pd.Series) -> pd.DataFrame:
    """The dispositions of selling every lot of the account at the horizon (a fork)."""
    fork = led.fork()
    n0 = len(fork.dispositions())
    for lt in fork.lots(account=acc):
        fork.sell(day, acc, lt.ticker, lt.shares, Decimal(repr(float(prices[lt.ticker]))),
                  method=LotRelief.SPECIFIC, lot_id=lt.lot_id)
    return fork.dispositions(as_decimal=True).iloc[n0:]


def _yearly(setup: ClientSetup, ctx: TaxContext, steps: pd.DataFrame, disp: pd.DataFrame,
            gifts: pd.DataFrame, liq: pd.DataFrame, rate: float
            ) -> tuple[pd.DataFrame, float, float]:
    """Per year, every tax figure from the ledger's dispositions through yearly_netting.

    A year's tax is the Schedule D tax of this account's sales that year (gains realised
    earlier in the first year net with the plan's; the plan's first-year tax is the year's
    tax less theirs) and the value of the year's charitable deduction on top of it, both
    from :func:`pma_lab.tax.liability.yearly_netting` (stacked through the brackets when the profile
    knows the income). The liquidation tax is the last year's tax with every lot sold at
    the horizon less without; the carryforward left after it is valued by
    :func:`pma_lab.tax.liability.carryforward_value`.

    Returns
    -------
    (yearly table, liquidation tax, value of the carryforward left after liquidation)
    """
    prof = setup.client.profile
    years = list(ctx.years)
    hist = _history(setup, years[0])
    both = pd.concat([hist, disp], ignore_index=True) if len(hist) else disp
    carry = (ctx.carryin_st, ctx.carryin_lt)
    net = yearly_netting(disp, prof.tax, years=years).set_index("year")  # the plan's own
    gift_by_year: dict[int, tuple[Decimal, Decimal]] = {}
    for g in gifts.itertuples():
        cg, od = gift_by_year.get(g.date.year, (Decimal(0), Decimal(0)))
        if g.term == "LT":
            cg += g.deduction_base
        else:
            od += g.deduction_base
        gift_by_year[g.date.year] = (cg, od)
    ded = {c.year: c.deducted for c in charitable_deductions(
        gift_by_year, {y: ctx.agi for y in years})} if gift_by_year else {}
    net_all = yearly_netting(both, prof.tax, *carry, years=years, charitable=ded)
    with_liq = yearly_netting(pd.concat([both, liq], ignore_index=True), prof.tax, *carry,
                              years=years, charitable=ded)

    def total(frame: pd.DataFrame) -> pd.Series:
        return frame.tax + (frame.charity_saving if "charity_saving" in frame else 0)

    liq_tax = float(total(with_liq).iloc[-1] - total(net_all).iloc[-1])
    left = with_liq.iloc[-1]
    carry_left = carry_left_value(left.carryout_st, left.carryout_lt, ctx, rate)
    net_all = net_all.set_index("year")
    taxes = total(net_all)
    out = []
    for i, y in enumerate(years):
        n = net.loc[y]
        first = ctx.hist_tax if i == 0 else Decimal(0)
        gains = float(net_all.tax.loc[y] - first)
        total_y = float(taxes.loc[y] - first)
        ye = steps[steps.year == y].iloc[-1]
        t_pay = (tax_payment_date(y) - steps.date.iloc[0]).days / 365.25
        out.append({
            "year": y, "st": float(n.st_gains + n.st_losses),
            "lt": float(n.lt_gains + n.lt_losses),
            "harvested_losses": float(n.st_losses + n.lt_losses),
            "tax_gains": gains, "charity_saving": total_y - gains, "tax": total_y,
            "charitable_deduction": float(ded.get(y, 0)),
            "pv_tax": total_y / (1 + rate) ** t_pay,
            "carryforward": float(net_all.carryout_st.loc[y] + net_all.carryout_lt.loc[y]),
            "carryforward_st": float(net_all.carryout_st.loc[y]),
            "carryforward_lt": float(net_all.carryout_lt.loc[y]),
            "te": float(ye.te_benchmark), "te_target": float(ye.te_target),
            "gifts": float(steps[steps.year == y].gift.sum()),
            "flows": float(steps[steps.year == y].flow.sum()),
            "embedded_gain_end": float(ye.embedded_gain), "names_end": int(ye.names),
            "value_end": float(ye.value), "cash_end": float(ye.cash),
        })
    return pd.DataFrame(out), liq_tax, carry_left


# ------------------------------------------------------------------------------ the result
@dataclass(frozen=True)
class TransitionAnalysis:
    """Every plan on the expected path (and Monte Carlo and historical paths).

    Attributes
    ----------
    runs : tuple[PlanRun, ...]
    comparison : pd.DataFrame
        One row per plan: ``plan, label, is_client_plan``, taxes (``tax_total``, ``pv_tax``,
        ``tax_year1``, ``liquidation_tax``), ``carryforward_end`` (USD) and
        ``carryforward_value_end`` (its present value), ``embedded_gain_end``,
        ``gifts_total``, ``flows_total``, after-tax wealth on the expected path and its
        difference to ``hold`` and ``immediate``, the Monte Carlo after-tax wealth
        (``after_tax_wealth_median``, ``_p10``, ``_p90``) and ``prob_below_diversified``,
        tracking error (``te_start``, ``te_end`` to the benchmark, ``te_target_end``,
        ``te_year<k>``), ``years_to_target``, ``notes`` and ``failed``.
    vintages : pd.DataFrame
        Historical replays per plan (research only: see ``HINDSIGHT_WARNING``, repeated in
        the table's ``warning`` column).
    assumptions : tuple[str, ...]
    seconds : float
    timings : dict
        Where the time went (seconds): paths, expected-path simulations, Monte Carlo.
    settings : TransitionSettings or None
        The settings the plans were simulated with (``first_trades`` of a plan with them
        is exactly the plan's first step).
    """

    runs: tuple[PlanRun, ...]
    comparison: pd.DataFrame
    vintages: pd.DataFrame
    assumptions: tuple[str, ...]
    seconds: float
    timings: dict = field(default_factory=dict)
    settings: TransitionSettings | None = None  # what run_transition simulated with

    def yearly(self, path: str = "expected") -> pd.DataFrame:
        """Per plan and year (the expected path by default), long format."""
        frames = [r.years.assign(plan=r.plan.name) for r in self.runs if r.path == path]
        if not frames:
            return pd.DataFrame()
        y = pd.concat(frames, ignore_index=True)
        return y[["plan"] + [c for c in y.columns if c != "plan"]]

    def tax_figure(self) -> go.Figure:
        """Tax per year, one group per plan: capital-gains tax and the charity saving."""
        y = self.yearly()
        fig = go.Figure()
        for col, name, color in (("tax_gains", "capital-gains tax", "#1f4e79"),
                                 ("charity_saving", "charitable deduction", "#6aa84f")):
            if col in y and y[col].abs().sum() > 0:
                fig.add_trace(go.Bar(name=name, x=[y.plan, y.year], y=y[col],
                                     marker_color=color))
        fig.update_layout(barmode="relative", title="Tax per year by plan (expected path)",
                          yaxis_title="USD", height=460, margin={"t": 90, "b": 110},
                          legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0})
        return fig

    def te_figure(self) -> go.Figure:
        """Tracking-error glide paths (to the benchmark), one line per plan."""
        fig = go.Figure()
        for r in self.runs:
            if r.path == "expected":
                fig.add_trace(go.Scatter(x=r.steps.date, y=100 * r.steps.te_benchmark,
                                         mode="lines+markers", name=r.plan.name))
        fig.update_layout(title="Tracking error to the S&P 500 proxy along each plan",
                          yaxis_title="ex-ante TE (%)", height=440, margin={"t": 90},
                          legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0})
        return fig

    def risk_figure(self) -> go.Figure:
        """After-tax wealth at the horizon across the Monte Carlo paths (box per plan)."""
        fig = go.Figure()
        for r in self.runs:
            if r.path == "expected" and r.mc is not None:
                fig.add_trace(go.Box(y=r.mc.wealth, name=r.plan.name, boxpoints=False))
        fig.update_layout(title="After-tax wealth at the horizon, Monte Carlo paths "
                                "(factor risk model)", yaxis_title="USD", height=440,
                          showlegend=False)
        return fig

    def wealth_figure(self) -> go.Figure:
        """After-tax wealth across historical replays (research only, with the warning)."""
        fig = go.Figure()
        for r_name in dict.fromkeys(r.plan.name for r in self.runs):
            vals = [r.after_tax_wealth for r in self.runs
                    if r.plan.name == r_name and r.path != "expected" and not r.failed]
            if vals:
                fig.add_trace(go.Box(y=vals, name=r_name, boxmean=True))
        fig.update_layout(title="Historical replays (research only: hindsight and "
                                "survivorship bias; not a recommendation)",
                          yaxis_title="USD", height=420, showlegend=False,
                          annotations=[{"text": HINDSIGHT_WARNING, "xref": "paper",
                                        "yref": "paper", "x": 0, "y": -0.25,
                                        "showarrow": False, "align": "left",
                                        "font": {"size": 10}}],
                          margin={"b": 140})
        return fig


@dataclass(frozen=True)
class _Jobs:
    """What every plan's job needs: the setup, the (plan, path) pairs, the shared paths."""

    setup: ClientSetup
    jobs: tuple[tuple[Plan, MarketPath], ...]
    s: TransitionSettings
    acc: str
    rate: BillRate
    mc: MonteCarloPaths | None


def _run_job(ctx: _Jobs, i: int) -> PlanRun:
    """Simulate job ``i`` (and replay an expected-path plan on the Monte Carlo paths)."""
    plan, path = ctx.jobs[i]
    expected = path.label == "expected"
    run = simulate(ctx.setup, plan, path, ctx.s, ctx.acc, ctx.rate, record=expected)
    if expected and ctx.mc is not None and run.schedule is not None:
        tctx = _tax_context(ctx.setup, list(run.years.year))
        out = revalue(run.schedule, ctx.mc, tctx, run.steps.date.iloc[-1], ctx.rate.rate)
        run = replace(run, mc=out)
    return run


_FORKED: list[_Jobs] = []  # in a forked worker of _forked_pool only: its inherited jobs


def _adopt(ctx: _Jobs, parent: int) -> None:
    """Pool initializer: keep the jobs the worker inherited by fork (nothing is pickled).

    On Linux the worker also asks to be killed when its parent dies: a parent killed
    mid-comparison (a batch worker's kernel replaced, Ctrl-C on a CLI run) would otherwise
    leave its pool waiting on a queue nobody writes to, forever.
    """
    _FORKED[:] = [ctx]
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)


def _run_forked(i: int) -> PlanRun:
    return _run_job(_FORKED[0], i)


def _run_jobs(ctx: _Jobs, executor: Executor | None) -> list[PlanRun]:
    """Run every job: serially, on the caller's executor, or on a forked process pool.

    A caller's executor receives ``_run_job(ctx, i)`` calls; it must be a thread pool,
    which shares the setup (a process-based executor would have to pickle it, and a
    ClientSetup holds the market data and does not pickle), else it is refused with what
    to use instead. Without
    an executor and with ``settings.workers > 1`` the plans run in a process pool forked
    for this call, which inherits the setup and the Monte Carlo prices (copy-on-write).
    """
    n = len(ctx.jobs)
    if executor is not None:
        if not isinstance(executor, ThreadPoolExecutor):
            raise DataError("run_transition(executor=...) needs an executor that shares memory "
                            "(a concurrent.futures.ThreadPoolExecutor): the client's setup "
                            "is not sent to other processes; for processes leave executor "
                            "unset and set TransitionSettings(workers=N)")
        return [f.result() for f in [executor.submit(_run_job, ctx, i) for i in range(n)]]
    if ctx.s.workers > 1 and n > 1:
        # plans and paths are independent: forked processes share the setup and the Monte
        # Carlo prices copy-on-write (the initializer's argument is inherited, not pickled)
        with ProcessPoolExecutor(min(ctx.s.workers, n), mp_context=mp.get_context("fork"),
                                 initializer=_adopt, initargs=(ctx, os.getpid())) as ex:
            return list(ex.map(_run_forked, range(n)))
    return [_run_job(ctx, i) for i in range(n)]


def _reference_plans(setup: ClientSetup, parsed: list[Plan]) -> tuple[list[Plan], int]:
    """Add the client's plan, the diversified plan and hold.

    Returns the plans and the position of the client's plan among them.
    """
    gifts = {p.gift for p in parsed}
    flows = {p.flow for p in parsed}
    if len(gifts) > 1 or len(flows) > 1:
        raise DataError("the plans make different gifts or cash flows, so their results are "
                        "not comparable; give every plan the same gift= and flow= (or none, "
                        "for the profile's gift), or run them separately")
    gift, flow = gifts.pop(), flows.pop()
    mine = replace(client_plan(setup), gift=gift, flow=flow)
    out = list(parsed)
    at = next((i for i, p in enumerate(out) if p.same_as(mine)), None)
    if at is None:
        out.append(mine)
        at = len(out) - 1
    for ref in (DIVERSIFIED_PLAN, "hold"):
        p = parse_plan(ref, gift, default_flow=flow)
        if not any(q.same_as(p) for q in out):
            out.append(p)
    return out, at


def run_transition(setup: ClientSetup, plans: Sequence[str | Plan] = DEFAULT_PLANS,
                   settings: TransitionSettings | None = None,
                   vintages: Sequence[dt.date] = (), account_id: str | None = None,
                   executor: Executor | None = None) -> TransitionAnalysis:
    """Compare plans: the expected path, Monte Carlo paths and (research) replays.

    Every plan is simulated on the expected path, its decisions are replayed on the Monte
    Carlo paths, and, for research, it is simulated on historical paths.

    Parameters
    ----------
    setup : ClientSetup
    plans : Sequence[str | Plan]
        Plans as text (see :func:`parse_plan`) or objects. The client's own plan, the
        diversified plan (``immediate``) and ``hold`` are always added; all share one
        gift and cash flow.
    settings : TransitionSettings
    vintages : Sequence[date]
        Start dates of historical replays (research only).
    account_id : str | None
        The taxable account (default: the first).
    executor : concurrent.futures.Executor | None
        Where the plans run: the caller's thread pool (kept across calls, e.g. by a
        dashboard); by default a process pool of ``settings.workers`` forked for this call
        (``workers=1``: in this process, e.g. inside a batch worker that is already one of
        many).

    Raises
    ------
    DataError
        For malformed plans, plans with different gifts or flows, no taxable account, or
        a process-based executor.
    """
    t0 = time.perf_counter()
    s = settings or TransitionSettings()
    prof = setup.client.profile
    gift = prof.charity.annual_gift if prof.charity else 0.0
    parsed = [p if isinstance(p, Plan) else parse_plan(p, gift) for p in plans]
    if not parsed:
        raise DataError("no plan to compare; give at least one, e.g. \"immediate\"")
    parsed, mine = _reference_plans(setup, parsed)
    if any(p.gift > 0 for p in parsed) and not prof.tax.agi:
        raise DataError("gifts of stock need the client's AGI (the deduction is limited to "
                        "30 % of AGI); add agi = ... to [tax] in the profile")
    acc = account_id or (setup.taxable_accounts() or [None])[0]
    if acc is None:
        raise DataError(f"client {setup.client.client_id} has no taxable account")
    rate = _cash_rate(setup, s)
    dates = step_dates(setup.as_of, s.horizon_years, s.steps_per_year)
    exp = expected_path(setup.prices, dates, s.expected_return)
    t1 = time.perf_counter()
    mc = _mc_paths(setup, acc, dates, s) if s.mc_paths > 0 else None
    t_paths = time.perf_counter() - t1
    jobs = [(p, exp) for p in parsed]
    if vintages:
        jobs += [(p, path) for path in historical_paths(setup.market, setup.prices, dates,
                                                         vintages) for p in parsed]
    t2 = time.perf_counter()
    runs = _run_jobs(_Jobs(setup, tuple(jobs), s, acc, rate, mc), executor)
    t_jobs = time.perf_counter() - t2
    expected_runs = [r for r in runs if r.path == "expected"]
    comparison = _compare(expected_runs, parsed[mine].name)
    vint = _vintage_table([r for r in runs if r.path != "expected"])
    timings = _timings(runs, t_paths, t_jobs, s)
    return TransitionAnalysis(tuple(runs), comparison, vint,
                              _assumptions(setup, s, vintages, rate, mc),
                              time.perf_counter() - t0, timings, s)


def _timings(runs: Sequence[PlanRun], t_paths: float, t_jobs: float,
             s: TransitionSettings) -> dict:
    """Where the time went: wall times, and CPU-side sums over plans (in the workers)."""
    sim = [r for r in runs if r.path == "expected"]
    steps = pd.concat([r.steps for r in sim]) if sim else pd.DataFrame()

    def total(col: str) -> float:
        return round(float(steps[col].sum()), 2) if col in steps else 0.0

    return {
        "workers": s.workers, "plans": len(sim), "steps_per_plan": s.horizon_years *
        s.steps_per_year, "monte_carlo_paths": s.mc_paths,
        "paths_seconds": round(t_paths, 2), "plans_wall_seconds": round(t_jobs, 2),
        "simulate_seconds_sum": round(sum(r.seconds for r in sim), 2),
        "simulate_cpu_seconds_sum": round(sum(r.cpu_seconds for r in sim), 2),
        "problem_build_seconds_sum": total("build_seconds"),
        "solver_seconds_sum": total("solver_seconds"),
        "steps_seconds_sum": total("seconds"),
        "monte_carlo_replay_seconds_sum": round(sum(r.mc.seconds for r in sim
                                                    if r.mc is not None), 2),
        "monte_carlo_tax_seconds_sum": round(sum(r.mc.tax_seconds for r in sim
                                                 if r.mc is not None), 2),
        "monte_carlo_replay_cpu_seconds_sum": round(sum(r.mc.cpu_seconds for r in sim
                                                        if r.mc is not None), 2),
        "historical_runs": sum(1 for r in runs if r.path != "expected"),
    }


def _mc_paths(setup: ClientSetup, acc: str, dates: Sequence[dt.date],
              s: TransitionSettings) -> MonteCarloPaths:
    """Monte Carlo prices of every name the account holds or the target may buy."""
    held = {lt.ticker for lt in setup.ledger.lots(account=acc)}
    model = set(setup.risk.tickers)
    funds = sorted(held - model)
    stocks = sorted((held & model) | set(setup.target.weights.index))
    comp = fund_composition(funds, setup.benchmark.weights, setup.sectors,
                            setup.market.etf_info()) if funds else None
    return monte_carlo_paths(setup.risk, setup.prices, dates, s.mc_paths, s.expected_return,
                             s.seed, stocks + funds, comp)


def _compare(runs: list[PlanRun], client: str) -> pd.DataFrame:
    by = {r.plan.name: r for r in runs}
    hold = next((r.after_tax_wealth for r in runs if r.plan.kind == "hold"), math.nan)
    imm = next((r for r in runs if r.plan.kind == "immediate" and r.plan.te_cap is None),
               None)
    imm_w = imm.after_tax_wealth if imm is not None else math.nan
    mc_rows = [r for r in runs if r.mc is not None]
    mc = outcomes_table([r.plan.name for r in mc_rows], [r.mc for r in mc_rows],
                        imm.plan.name if imm is not None else None).set_index("plan") \
        if mc_rows else pd.DataFrame()
    rows = []
    for name, r in by.items():
        y = r.years
        m = mc.loc[name] if name in mc.index else None
        row = {"plan": name, "label": ("Client plan: " if name == client else "")
               + plan_label(r.plan),
               "is_client_plan": name == client,
               "tax_total": float(y.tax.sum()), "pv_tax": float(y.pv_tax.sum()),
               "tax_year1": float(y.tax.iloc[0]) if len(y) else math.nan,
               "realized_st": float(y["st"].sum()), "realized_lt": float(y["lt"].sum()),
               "liquidation_tax": r.liquidation_tax,
               "carryforward_end": float(y.carryforward.iloc[-1]) if len(y) else math.nan,
               "carryforward_value_end": r.carryforward_value,
               "embedded_gain_end": float(r.steps.embedded_gain.iloc[-1]),
               "gifts_total": float(r.steps.gift.sum()),
               "flows_total": float(r.steps.flow.sum()),
               "after_tax_wealth": r.after_tax_wealth,
               "vs_hold": r.after_tax_wealth - hold, "vs_immediate": r.after_tax_wealth - imm_w,
               "after_tax_wealth_median": m.after_tax_wealth_median if m is not None
               else math.nan,
               "after_tax_wealth_p10": m.after_tax_wealth_p10 if m is not None else math.nan,
               "after_tax_wealth_p90": m.after_tax_wealth_p90 if m is not None else math.nan,
               "prob_below_diversified": m.prob_below_diversified if m is not None
               else math.nan,
               "te_start": r.te_initial,
               "te_end": float(r.steps.te_benchmark.iloc[-1]),
               "te_target_end": float(r.steps.te_target.iloc[-1]),
               "years_to_target": r.years_to_target,
               "notes": "; ".join(dict.fromkeys(n for n in r.steps.note if n)),
               "failed": r.failed}
        for i, v in enumerate(y.te):
            row[f"te_year{i + 1}"] = float(v)
        rows.append(row)
    return pd.DataFrame(rows)


def _vintage_table(runs: list[PlanRun]) -> pd.DataFrame:
    if not runs:
        return pd.DataFrame()
    rows = []
    for name in dict.fromkeys(r.plan.name for r in runs):
        rs = [r for r in runs if r.plan.name == name and not r.failed]
        w = np.array([r.after_tax_wealth for r in rs])
        tx = np.array([float(r.years.tax.sum()) for r in rs])
        rows.append({"plan": name, "paths": len(rs),
                     "failed": sum(1 for r in runs if r.plan.name == name and r.failed),
                     "wealth_median": float(np.median(w)) if len(w) else math.nan,
                     "wealth_p10": float(np.quantile(w, 0.1)) if len(w) else math.nan,
                     "wealth_p90": float(np.quantile(w, 0.9)) if len(w) else math.nan,
                     "tax_median": float(np.median(tx)) if len(tx) else math.nan,
                     "tax_min": float(tx.min()) if len(tx) else math.nan,
                     "tax_max": float(tx.max()) if len(tx) else math.nan,
                     "warning": HINDSIGHT_WARNING})
    return pd.DataFrame(rows)


def _assumptions(setup: ClientSetup, s: TransitionSettings, vintages: Sequence,
                 rate: BillRate, mc: MonteCarloPaths | None) -> tuple[str, ...]:
    prof = setup.client.profile
    out = [
        f"Horizon {s.horizon_years} years from {setup.as_of}, "
        f"{_STEP_NAMES.get(s.steps_per_year, f'{s.steps_per_year}-per-year')} steps.",
        "Like for like: every plan, hold included, makes the same gifts and cash flows at "
        "the start of each plan year. Hold never sells the legacy holdings: cash (today's "
        "and any added) is invested in the target's names without selling, withdrawals are "
        "raised by the sales of least tax, and restricted names are kept.",
        f"Cash earns {rate.rate:.2%} a year: the {rate.source}.",
        f"Every plan maintains the target once its tracking error to the target is within "
        f"{s.te_band:.2%} (tax-aware rebalancing under that cap; a budget plan keeps its "
        "gain budget); years to target is when a plan first gets there.",
        f"Expected path: every price grows {s.expected_return:.1%} a year (no dispersion).",
        (f"Monte Carlo: {mc.n_paths:,} paths from the factor risk model of {setup.as_of} "
         f"(normal factor and specific returns, seed {mc.seed}); every name has the same "
         f"expected return ({s.expected_return:.1%}), so a concentrated position differs "
         "only by its risk. Each plan's decisions on the expected path (the share of each "
         "lot sold or given, purchases in proportion to the cash available) are replayed "
         "on every path, with the plan's gain budget kept on each path; probability below "
         "the diversified plan compares with 'immediate' on the same path."
         if mc is not None else "No Monte Carlo paths were run."),
        (HINDSIGHT_WARNING if vintages else "No historical replays were run."),
        "Tax per year: Schedule D netting of this account's sales with carryforwards and "
        "the value of the year's charitable deduction (pma_lab.tax.liability): "
        + ("stacked through the year's brackets on the profile's income, NIIT and state "
           "included (income assumed unchanged; years after the last tabulated one use its "
           "brackets)" if prof.tax.stacked else
           f"at the profile's all-in rates ({prof.tax.st_rate:.2%} short-term, "
           f"{prof.tax.lt_rate:.2%} long-term)")
        + ". The first year's gains realised before the plan net with it, and their own "
        "tax is left out. Gifts of appreciated long-term lots are deducted within the AGI "
        "limits (and, from 2026, above the 0.5 % floor). A loss carryforward is valued as "
        "used at $3,000 a year against ordinary income, discounted at the cash rate.",
        "Prices are total-return (dividends reinvested); dividend taxes and the tax on "
        "interest earned by cash are ignored.",
        "The risk model and target are today's for the whole horizon; tracking error is "
        "ex-ante under that model.",
        f"Taxes are paid from outside the account at the end of each calendar year; "
        f"after-tax wealth = horizon value - the tax of selling everything at the horizon "
        f"- each year's tax carried to the horizon at {rate.rate:.2%}; present values "
        f"discount at {rate.rate:.2%}.",
        "Trading costs: the optimizer's spread; no market impact.",
    ]
    r = prof.restrictions
    if r.categories or r.never_hold or r.exclude_sectors or r.exclude_industries:
        acts = "; ".join(f"{k}: {setup.eligibility.held_actions.get(k, 'sell')}"
                         for k in setup.eligibility.held_actions
                         if k not in ("no_buy", "hold_no_add"))
        out.append(f"Restricted names already held follow the profile in every plan but "
                   f"hold ({acts}).")
    return tuple(out)
