"""Transition analysis: moving a legacy portfolio to the target under different plans.

Plans (:class:`Plan`, parsed from text by :func:`parse_plan`):

* ``immediate`` — go to the target now (no tax aversion), then maintain it;
* ``<N>y`` (``3y``, ``5y``, any N) — a tracking-error glide path: the cap on TE to the
  target falls linearly from today's TE to zero over N years while taxes are minimised;
* ``budget:<USD>`` — each tax year, net realised gains at most the budget (zero allowed;
  ``budget:<total>:st=<USD>:lt=<USD>`` sets separate short- and long-term budgets),
  minimising tracking error; ``te=<cap>`` adds a TE ceiling (a hybrid);
* ``hold`` — the legacy portfolio held unchanged (the reference).

Options on every plan: ``gift=<USD>`` donates appreciated long-term lots each year (the
deduction follows the AGI limits of :func:`pma_lab.tax.charitable_deductions`),
``flow=<USD>`` adds (negative: withdraws) cash each year, and ``concentrated=keep|build|
sell`` decides the concentrated position's fate (keep: carved out and untouched; build:
held as is, the rest built around it; sell: sold down like any other name).

Simulation: each plan steps forward (quarterly by default) over the horizon on a market
path — the deterministic expected path (every price grows at the expected return) or
historical paths (each name's real returns from a past start date applied to today's
prices; a name without history then follows SPY). At every step the household ledger is
stepped to the date, the lot-level optimizer trades under the plan's constraint, the
trades are applied to the ledger (so holding periods age, wash-sale locks carry across
steps and losses carry forward), and the results are read back from the ledger.

Assumptions, stated on every result (:attr:`TransitionAnalysis.assumptions`): marginal tax
rates stay at today's; prices are total-return (dividends reinvested, their tax ignored);
the risk model and target are today's for the whole horizon (TE is ex-ante under it);
trading costs are the optimizer's spread; taxes are paid from outside the account, so
after-tax wealth subtracts each year's tax grown at the discount rate to the horizon and
the tax of liquidating everything at the horizon.
"""

from __future__ import annotations

import datetime as dt
import math
import multiprocessing as mp
import re
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from decimal import Decimal

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pma_lab.engine import ClientSetup, account_state_for, default_settings
from pma_lab.errors import DataError, InfeasibleError, OptimizationError
from pma_lab.ledger import Ledger, LotRelief
from pma_lab.rebalance import Budgets, RebalanceProblem, RebalanceResult, RebalanceSettings
from pma_lab.tax import charitable_deductions, yearly_netting

__all__ = ["Plan", "parse_plan", "TransitionSettings", "MarketPath", "expected_path",
           "historical_paths", "PlanRun", "TransitionAnalysis", "run_transition",
           "simulate", "replay_events", "client_plan", "first_trades", "DEFAULT_PLANS"]

_STEP_NAMES = {1: "annual", 2: "half-yearly", 4: "quarterly", 12: "monthly"}
DEFAULT_PLANS = ("immediate", "3y", "5y", "budget:0", "budget:25000")
_PLAN = re.compile(r"^(immediate|hold|(\d+)y|budget:(\d+(?:\.\d+)?))((?::[a-z]+=[^:]+)*)$")


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


def parse_plan(text: str, default_gift: float = 0.0, concentrated: str | None = None
               ) -> Plan:
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
    gift = num("gift")
    common = dict(te_cap=num("te"), gift=default_gift if gift is None else gift,
                  flow=num("flow") or 0.0, concentrated=conc)
    if m.group(1) == "immediate":
        return Plan(text, "immediate", **common)
    if m.group(1) == "hold":
        return Plan(text, "hold", **{**common, "gift": 0.0})
    if m.group(2):
        years = int(m.group(2))
        if not 1 <= years <= 30:
            raise DataError(f"plan {text!r}: the timeline must be 1 to 30 years")
        return Plan(text, "timeline", years=years, **common)
    budget = float(m.group(3))
    return Plan(text, "budget", budget=budget, st_budget=num("st"), lt_budget=num("lt"),
                **common)


@dataclass(frozen=True)
class TransitionSettings:
    """Simulation choices."""

    horizon_years: int = 5
    steps_per_year: int = 4  # 4 = quarterly, 1 = annual
    expected_return: float = 0.07  # deterministic path, per year
    discount_rate: float = 0.04  # present value of taxes; growth of taxes paid outside
    maintain_gamma_tax: float = 1.0  # tax aversion once the target is reached
    transition_gamma_tax: float = 2.0  # timeline plans: minimise tax under the TE cap
    budget_gamma_tax: float = 0.002  # budget plans: minimise TE within the budget
    workers: int = 2  # processes for historical paths


@dataclass(frozen=True)
class MarketPath:
    """Prices at each step.

    ``prices`` has one row per step date (the index) and one column per ticker; row 0 is
    today's prices.
    """

    label: str
    prices: pd.DataFrame
    start: dt.date | None = None  # the historical start date (None: expected path)


def _step_dates(as_of: dt.date, s: TransitionSettings) -> list[dt.date]:
    months = 12 // s.steps_per_year
    out = []
    for k in range(s.horizon_years * s.steps_per_year + 1):
        y, m = divmod(as_of.month - 1 + months * k, 12)
        day = min(as_of.day, [31, 29 if (as_of.year + y) % 4 == 0 else 28, 31, 30, 31, 30,
                              31, 31, 30, 31, 30, 31][m])
        out.append(dt.date(as_of.year + y, m + 1, day))
    return out


def expected_path(setup: ClientSetup, s: TransitionSettings) -> MarketPath:
    """Every price grows at the expected return (no dispersion: a planning path)."""
    dates = _step_dates(setup.as_of, s)
    p0 = setup.prices
    years = np.array([(d - dates[0]).days / 365.25 for d in dates])
    growth = (1 + s.expected_return) ** years
    return MarketPath("expected", pd.DataFrame(np.outer(growth, p0.to_numpy()),
                                               index=pd.Index(dates, name="date"),
                                               columns=p0.index))


def historical_paths(setup: ClientSetup, s: TransitionSettings, starts: Sequence[dt.date]
                     ) -> list[MarketPath]:
    """Paths from past start dates: each name's real total return since the start.

    A name with no price at the start (not yet listed) follows SPY's return, and a gap
    later in the path keeps the name's last price; both are counted in the path label.
    """
    m = setup.market
    p0 = setup.prices
    out = []
    for start in starts:
        d0 = pd.Timestamp(start)
        dates = _step_dates(setup.as_of, s)
        offsets = [pd.DateOffset(days=(d - dates[0]).days) for d in dates]
        cal = m.prices.calendar
        rows = [cal[min(int(cal.searchsorted(d0 + o)), len(cal) - 1)] for o in offsets]
        if rows[-1] < d0 + offsets[-1] - pd.Timedelta(days=7):
            raise DataError(f"the price data ends {cal[-1]:%Y-%m-%d}: a {s.horizon_years}-year"
                            f" path from {start} does not fit")
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
        prices = rel.mul(p0, axis=1)
        prices.index = pd.Index(dates, name="date")
        out.append(MarketPath(f"{start} ({int(no_start.sum())} names on SPY, {gaps} gaps)",
                              prices, start))
    return out


@dataclass(frozen=True)
class PlanRun:
    """One plan on one path: per-step and per-year tables, and the horizon wealth."""

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


def _settings_for(plan: Plan, k: int, steps: int, te0: float, base: RebalanceSettings,
                  s: TransitionSettings, reached: bool) -> RebalanceSettings:
    if plan.kind == "immediate":
        if k == 0:
            return replace(base, gamma_tax=0.0, budgets=Budgets(), te_cap=plan.te_cap)
        return replace(base, gamma_tax=s.maintain_gamma_tax, budgets=Budgets(),
                       te_cap=plan.te_cap)
    if plan.kind == "timeline":
        n = plan.years * s.steps_per_year
        if k >= n or reached:
            return replace(base, gamma_tax=s.maintain_gamma_tax, budgets=Budgets(),
                           te_cap=None)
        cap = te0 * (1 - (k + 1) / n)
        cap = max(cap, 0.0025)
        if plan.te_cap is not None:
            cap = min(cap, plan.te_cap)
        return replace(base, gamma_tax=s.transition_gamma_tax, budgets=Budgets(), te_cap=cap)
    return replace(base, gamma_tax=s.budget_gamma_tax, te_cap=plan.te_cap,
                   budgets=Budgets(plan.budget, plan.st_budget, plan.lt_budget))


def _concentrated(setup: ClientSetup, plan: Plan) -> tuple[set[str], set[str]]:
    """The concentrated position's treatment: (names carved out, names not to sell)."""
    prof = setup.client.profile
    if prof.concentrated is None:
        return set(), set()
    mode = plan.concentrated or {"keep": "keep", "build_around": "build",
                                 "sell_down": "sell"}[prof.concentrated.strategy]
    t = prof.concentrated.ticker
    return ({t} if mode == "keep" else set()), ({t} if mode == "build" else set())


def _donate(led: Ledger, acc: str, day: dt.date, prices: pd.Series, amount: float,
            skip: set[str], events: list) -> float:
    """Donate the most appreciated long-term lots (by gain per dollar) up to ``amount``."""
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
    for _, lt, p, value in sorted(rows, key=lambda r: -r[0]):
        if given >= amount - 1:
            break
        take = min(value, amount - given)
        shares = float(lt.shares) if take >= value - 1e-6 else take / p
        args = (day, acc, lt.ticker, lt.shares if shares == float(lt.shares) else
                Decimal(repr(shares)), Decimal(repr(p)))
        led.donate(*args, method=LotRelief.SPECIFIC, lot_id=lt.lot_id)
        events.append(("donate", args, lt.lot_id))
        given += shares * p
    return given


def _apply(led: Ledger, acc: str, day: dt.date, result, prices: pd.Series,
           events: list) -> float:
    """Apply a rebalance's trades to the ledger (and record them); returns the cash change."""
    cash = 0.0
    exact = {lt.lot_id: lt.shares for lt in led.lots(account=acc)}
    for r in result.lot_trades.itertuples():
        shares = exact[r.lot_id] if r.full_lot else Decimal(repr(float(r.shares)))
        args = (day, acc, r.ticker, shares, Decimal(repr(float(r.price))))
        led.sell(*args, method=LotRelief.SPECIFIC, lot_id=r.lot_id)
        events.append(("sell", args, r.lot_id))
        cash += float(shares) * float(r.price)
    for r in result.trades[result.trades.side == "buy"].itertuples():
        sh = float(r.shares)
        if sh <= 0:
            continue
        args = (day, acc, r.ticker, Decimal(repr(sh)), Decimal(repr(float(prices[r.ticker]))))
        led.buy(*args)
        events.append(("buy", args, None))
        cash -= sh * float(prices[r.ticker])
    return cash


def client_plan(setup: ClientSetup) -> Plan:
    """The plan the client's profile asks for (``[transition]``; default: a $0 budget)."""
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


def first_trades(setup: ClientSetup, plan: Plan | str | None = None,
                 settings: TransitionSettings | None = None,
                 account_id: str | None = None):
    """The trades a plan makes today (its first step), with the per-lot decision ledger.

    Returns the :class:`~pma_lab.rebalance.RebalanceResult` of step 0, checked against the
    ledger, exactly as :func:`simulate` would make it.
    """
    s = settings or TransitionSettings()
    if plan is None:
        plan = client_plan(setup)
    elif isinstance(plan, str):
        plan = parse_plan(plan)
    acc = account_id or setup.taxable_accounts()[0]
    exclude, no_sell = _concentrated(setup, plan)
    led = setup.ledger
    gift = 0.0
    if plan.gift > 0:
        # the plan gives its first year's lots before trading, as simulate() does
        led = setup.ledger.fork()
        gift = _donate(led, acc, setup.as_of, setup.prices, plan.gift, exclude | no_sell, [])
    st = account_state_for(setup, acc, ledger=led, no_sell=sorted(no_sell),
                           exclude=sorted(exclude), glide_years=1 / s.steps_per_year)
    risk = setup.risk.subset(list(st.assets[:st.n_model]))
    base = default_settings(setup)
    prob = RebalanceProblem(st, risk, setup.target.weights, base, led)
    prob.update(_settings_for(plan, 0, 1, prob.current_te(), base, s, False))
    res = prob.solve()
    res.summary["gift_value"] = gift
    res.summary["gifts"] = led.gifts() if gift else None
    return res


def replay_events(setup: ClientSetup, run: PlanRun) -> Ledger:
    """Replay a plan's recorded trades and gifts through a fresh copy of today's ledger.

    The transition's tables must agree exactly with the netting of this ledger (tested).
    """
    led = setup.ledger.fork()
    for kind, args, lot_id in run.events:
        if kind == "buy":
            led.buy(*args)
        elif kind == "sell":
            led.sell(*args, method=LotRelief.SPECIFIC, lot_id=lot_id)
        else:
            led.donate(*args, method=LotRelief.SPECIFIC, lot_id=lot_id)
    return led


def _te_to(setup: ClientSetup, weights: pd.Series, against: pd.Series) -> float:
    return setup.risk.tracking_error(weights.reindex(setup.risk.tickers).fillna(0.0),
                                     against)


def _lookthrough_weights(setup: ClientSetup, led: Ledger, acc: str, prices: pd.Series,
                         cash: float, exclude: set[str]) -> tuple[pd.Series, float]:
    vals: dict[str, float] = {}
    for lt in led.lots(account=acc):
        if lt.ticker in exclude:
            continue
        vals[lt.ticker] = vals.get(lt.ticker, 0.0) + float(lt.shares) * float(prices[lt.ticker])
    total = sum(vals.values()) + cash
    w = pd.Series(vals) / total if total > 0 else pd.Series(dtype=float)
    model = set(setup.risk.tickers)
    look = w[w.index.isin(model)].copy()
    for f in w.index[~w.index.isin(model)]:
        look = look.add(setup.target.weights * w[f], fill_value=0.0)
    return look, total


def _solve_step(prob: RebalanceProblem, plan: Plan, settings: RebalanceSettings
                ) -> tuple[RebalanceResult, str]:
    """Solve one step under ``settings``; return the result and a note ("" if none).

    When the glide path's own TE cap cannot be met at this step (wash-sale locks,
    must-sells), the cap is doubled up to four times, then lifted, and the note says so.
    A client's own TE ceiling is never loosened: the InfeasibleError propagates, naming
    the conflicting constraints.
    """
    prob.update(settings)
    try:
        return prob.solve(), ""
    except InfeasibleError as e:
        if (plan.kind != "timeline" or plan.te_cap is not None or settings.te_cap is None
                or "te_cap" not in e.conflicts):
            raise
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


def simulate(setup: ClientSetup, plan: Plan, path: MarketPath, s: TransitionSettings,
             account_id: str | None = None) -> PlanRun:
    """Run one plan along one path (see the module docs)."""
    prof = setup.client.profile
    acc = account_id or setup.taxable_accounts()[0]
    led = setup.ledger.fork()
    n_hist = len(led.dispositions())
    n_gifts = len(led.gifts())
    exclude, no_sell = _concentrated(setup, plan)
    cash = next(a.cash for a in prof.accounts if a.account_id == acc)
    cash0 = cash
    base = default_settings(setup)
    dates = list(path.prices.index)
    per_year = s.steps_per_year
    te0 = None
    reached = False
    rows = []
    failed = ""
    events: list = []
    for k, day in enumerate(dates):
        prices = path.prices.loc[day]
        if k > 0 and plan.flow and (k % per_year == 0):
            cash += plan.flow
        gift = 0.0
        if plan.gift > 0 and (k % per_year == 0):
            gift = _donate(led, acc, day, prices, plan.gift, exclude | no_sell, events)
        status, te_after, note = "held", None, ""
        empty = cash <= 0.005 and not led.lots(account=acc)
        if empty:
            # gifts (or withdrawals) have used the whole account: nothing left to manage
            status, note = "empty", "account fully given away or withdrawn; no trades"
        elif plan.kind != "hold" and k < len(dates) - 1:
            try:
                st = account_state_for(setup, acc, ledger=led, as_of=day, prices=prices,
                                       cash=cash, no_sell=sorted(no_sell),
                                       exclude=sorted(exclude),
                                       glide_years=(k + 1) / s.steps_per_year)
                risk = setup.risk.subset(list(st.assets[:st.n_model]))
                prob = RebalanceProblem(st, risk, setup.target.weights, base, None)
                if te0 is None:
                    te0 = prob.current_te()
                step_settings = _settings_for(plan, k, len(dates), te0, base, s, reached)
                res, note = _solve_step(prob, plan, step_settings)
                cash += _apply(led, acc, day, res, prices, events)
                status = res.summary.status
                te_after = float(res.summary.te_after)
                if plan.kind == "timeline" and te_after <= 0.0026:
                    reached = True
            except OptimizationError as e:
                failed = f"step {k} ({day}): {e}"
                status = type(e).__name__
        look, total = _lookthrough_weights(setup, led, acc, prices, cash, exclude)
        conc_value = 0.0
        if exclude:
            conc_value = sum(float(lt.shares) * float(prices[lt.ticker])
                             for lt in led.lots(account=acc) if lt.ticker in exclude)
        lots = led.lots(account=acc)
        unreal = sum(float(lt.shares) * float(prices[lt.ticker]) - float(lt.basis)
                     for lt in lots)
        rows.append({
            "step": k, "date": day, "year": day.year, "status": status,
            # an account with nothing left has no tracking error (not the cash's)
            "te_target": math.nan if empty else _te_to(setup, look, setup.target.weights),
            "te_benchmark": math.nan if empty else _te_to(setup, look, setup.benchmark.weights),
            "value": total + conc_value, "cash": cash, "gift": gift,
            "embedded_gain": unreal, "names": len({lt.ticker for lt in lots}),
            "note": note,
        })
        if failed:
            break
    steps = pd.DataFrame(rows)
    disp = led.dispositions(as_decimal=True).iloc[n_hist:]
    gifts = led.gifts().iloc[n_gifts:]
    years = _yearly(setup, steps, disp, gifts, s)
    liq_tax = _liquidation_tax(setup, led, acc, dates[len(steps) - 1],
                               path.prices.loc[dates[len(steps) - 1]], years)
    horizon_years = (steps.date.iloc[-1] - dates[0]).days / 365.25
    taxes_fv = float(sum(t * (1 + s.discount_rate) ** max(horizon_years - (y - dates[0].year
                                                                          + 1), 0.0)
                         for y, t in zip(years.year, years.total_tax, strict=True)))
    wealth = float(steps.value.iloc[-1]) - liq_tax - taxes_fv
    te_initial = _te_to(setup, _lookthrough_weights(setup, setup.ledger, acc,
                                                    path.prices.iloc[0], cash0,
                                                    exclude)[0], setup.benchmark.weights)
    return PlanRun(plan, path.label, steps, years, wealth, liq_tax, disp, gifts, failed,
                   tuple(events), te_initial)


def _yearly(setup: ClientSetup, steps: pd.DataFrame, disp: pd.DataFrame, gifts: pd.DataFrame,
            s: TransitionSettings) -> pd.DataFrame:
    prof = setup.client.profile
    years = sorted(steps.year.unique())
    carry = (Decimal(str(prof.carryforward_st)), Decimal(str(prof.carryforward_lt)))
    # gains and losses realised earlier this year (the recent-trades history) share the
    # year's netting and $3,000 offset with the plan's: the plan's tax is the difference
    # between the year netted with and without the plan's own sales
    hist = setup.ledger.dispositions(as_decimal=True)
    hist = hist.loc[np.array([d.year == years[0] for d in hist.date_sold], dtype=bool)]
    both = pd.concat([hist, disp], ignore_index=True) if len(hist) else disp
    net_all = yearly_netting(both, prof.tax, *carry, years=years).set_index("year")
    net_hist = yearly_netting(hist, prof.tax, *carry, years=years).set_index("year")
    net = yearly_netting(disp, prof.tax, years=years).set_index("year")  # the plan's own
    st_rate, lt_rate = prof.tax.st_rate, prof.tax.lt_rate
    out = []
    gift_by_year = {}
    for g in gifts.itertuples():
        cg, od = gift_by_year.get(g.date.year, (Decimal(0), Decimal(0)))
        if g.term == "LT":
            cg += g.deduction_base
        else:
            od += g.deduction_base
        gift_by_year[g.date.year] = (cg, od)
    agi = Decimal(str(prof.tax.agi or 0))
    charity = {c.year: c for c in charitable_deductions(
        gift_by_year, {y: agi for y in years})} if gift_by_year and agi > 0 else {}
    def st_lt(n: pd.Series) -> tuple[float, float]:
        return (float(n.taxable_st) * st_rate - float(n.deduction) * st_rate,
                float(n.taxable_lt) * lt_rate)

    for i, y in enumerate(years):
        n = net.loc[y]
        (st_a, lt_a), (st_h, lt_h) = st_lt(net_all.loc[y]), st_lt(net_hist.loc[y])
        st_tax, lt_tax = st_a - st_h, lt_a - lt_h
        deduction = float(charity[y].deducted) if y in charity else 0.0
        charity_saving = -deduction * st_rate
        total = st_tax + lt_tax + charity_saving
        ye = steps[steps.year == y].iloc[-1]
        out.append({
            "year": y, "st_tax": st_tax, "lt_tax": lt_tax, "charity_saving": charity_saving,
            "total_tax": total, "pv_tax": total / (1 + s.discount_rate) ** (i + 1),
            "realized_st": float(n.st_gains + n.st_losses),
            "realized_lt": float(n.lt_gains + n.lt_losses),
            "harvested_losses": float(n.st_losses + n.lt_losses),
            "carryforward": float(net_all.loc[y].carryout_st + net_all.loc[y].carryout_lt),
            "te_target_end": float(ye.te_target), "te_benchmark_end": float(ye.te_benchmark),
            "embedded_gain_end": float(ye.embedded_gain), "names_end": int(ye.names),
            "value_end": float(ye.value), "gifts": float(steps[steps.year == y].gift.sum()),
        })
    return pd.DataFrame(out)


def _liquidation_tax(setup: ClientSetup, led: Ledger, acc: str, day: dt.date,
                     prices: pd.Series, years: pd.DataFrame) -> float:
    """Tax of selling every lot of the account at the horizon (carry-ins included)."""
    fork = led.fork()
    n0 = len(fork.dispositions())
    when = day + dt.timedelta(days=1)
    for lt in fork.lots(account=acc):
        fork.sell(when, acc, lt.ticker, lt.shares, Decimal(repr(float(prices[lt.ticker]))),
                  method=LotRelief.SPECIFIC, lot_id=lt.lot_id)
    disp = fork.dispositions(as_decimal=True).iloc[n0:]
    prof = setup.client.profile
    carry = (Decimal(0), Decimal(0))
    if len(years):
        last = yearly_netting(fork.dispositions(as_decimal=True).iloc[:n0], prof.tax,
                              Decimal(str(prof.carryforward_st)),
                              Decimal(str(prof.carryforward_lt)),
                              years=range(int(years.year.min()), when.year))
        if len(last):
            carry = (last.carryout_st.iloc[-1], last.carryout_lt.iloc[-1])
    net = yearly_netting(disp, prof.tax, *carry, years=[when.year])
    return float(net.tax.iloc[0])


@dataclass(frozen=True)
class TransitionAnalysis:
    """Every plan on every path, with the comparison tables and charts.

    Attributes
    ----------
    runs : tuple[PlanRun, ...]
    comparison : pd.DataFrame
        One row per plan on the expected path: total and PV of taxes, tax in year 1,
        TE at the end of each year, after-tax wealth at the horizon and its difference to
        holding the legacy portfolio and to the immediate transition.
    vintages : pd.DataFrame
        One row per plan with the median and range of after-tax wealth and taxes across
        historical paths (empty when none were run).
    assumptions : tuple[str, ...]
    """

    runs: tuple[PlanRun, ...]
    comparison: pd.DataFrame
    vintages: pd.DataFrame
    assumptions: tuple[str, ...]
    seconds: float

    def yearly(self, path: str = "expected") -> pd.DataFrame:
        """Per plan and year (the expected path by default), long format."""
        frames = [r.years.assign(plan=r.plan.name) for r in self.runs if r.path == path]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def tax_figure(self) -> go.Figure:
        """Tax per year, stacked short- and long-term, one group per plan."""
        y = self.yearly()
        fig = go.Figure()
        for col, name, color in (("st_tax", "short-term", "#e3a21a"),
                                 ("lt_tax", "long-term", "#1f4e79"),
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

    def wealth_figure(self) -> go.Figure:
        """After-tax wealth at the horizon across historical paths (box per plan)."""
        fig = go.Figure()
        for r_name in dict.fromkeys(r.plan.name for r in self.runs):
            vals = [r.after_tax_wealth for r in self.runs
                    if r.plan.name == r_name and r.path != "expected" and not r.failed]
            if vals:
                fig.add_trace(go.Box(y=vals, name=r_name, boxmean=True))
        fig.update_layout(title="After-tax wealth at the horizon across historical starts",
                          yaxis_title="USD", height=420, showlegend=False)
        return fig


_SHARED: dict = {}


def _run_shared(i: int) -> PlanRun:
    setup, jobs, s, acc = _SHARED["setup"], _SHARED["jobs"], _SHARED["s"], _SHARED["acc"]
    plan, path = jobs[i]
    return simulate(setup, plan, path, s, acc)


def run_transition(setup: ClientSetup, plans: Sequence[str | Plan] = DEFAULT_PLANS,
                   settings: TransitionSettings | None = None,
                   vintages: Sequence[dt.date] = (), account_id: str | None = None
                   ) -> TransitionAnalysis:
    """Simulate every plan on the expected path (and on historical paths when given).

    Parameters
    ----------
    setup : ClientSetup
    plans : Sequence[str | Plan]
        Plans as text (see :func:`parse_plan`) or objects; ``hold`` is always added.
    settings : TransitionSettings
    vintages : Sequence[date]
        Start dates of historical paths (run in ``settings.workers`` processes).
    account_id : str | None
        The taxable account (default: the first).
    """
    t0 = time.perf_counter()
    s = settings or TransitionSettings()
    prof = setup.client.profile
    gift = prof.charity.annual_gift if prof.charity else 0.0
    parsed = [p if isinstance(p, Plan) else parse_plan(p, gift) for p in plans]
    if not any(p.kind == "hold" for p in parsed):
        parsed.append(parse_plan("hold"))
    acc = account_id or (setup.taxable_accounts() or [None])[0]
    if acc is None:
        raise DataError(f"client {setup.client.client_id} has no taxable account")
    exp = expected_path(setup, s)
    jobs = [(p, exp) for p in parsed]
    if vintages:
        jobs += [(p, path) for path in historical_paths(setup, s, vintages) for p in parsed]
    if s.workers > 1 and len(jobs) > 1:
        # plans and paths are independent: run them in forked processes that share the
        # setup (copy-on-write; nothing large is pickled on the way in)
        _SHARED.update(setup=setup, jobs=jobs, s=s, acc=acc)
        try:
            with ProcessPoolExecutor(min(s.workers, len(jobs)),
                                     mp_context=mp.get_context("fork")) as ex:
                runs = list(ex.map(_run_shared, range(len(jobs))))
        finally:
            _SHARED.clear()
    else:
        runs = [simulate(setup, p, path, s, acc) for p, path in jobs]
    comparison = _compare([r for r in runs if r.path == "expected"])
    vint = _vintage_table([r for r in runs if r.path != "expected"])
    return TransitionAnalysis(tuple(runs), comparison, vint, _assumptions(setup, s, vintages),
                              time.perf_counter() - t0)


def _compare(runs: list[PlanRun]) -> pd.DataFrame:
    hold = next((r.after_tax_wealth for r in runs if r.plan.kind == "hold"), math.nan)
    imm = next((r.after_tax_wealth for r in runs if r.plan.kind == "immediate"), math.nan)
    rows = []
    for r in runs:
        y = r.years
        row = {"plan": r.plan.name, "total_tax": float(y.total_tax.sum()),
               "pv_tax": float(y.pv_tax.sum()),
               "tax_year1": float(y.total_tax.iloc[0]) if len(y) else math.nan,
               "realized_st": float(y.realized_st.sum()),
               "realized_lt": float(y.realized_lt.sum()),
               "liquidation_tax": r.liquidation_tax,
               "after_tax_wealth": r.after_tax_wealth,
               "vs_hold": r.after_tax_wealth - hold, "vs_immediate": r.after_tax_wealth - imm,
               "te_start": r.te_initial,
               "notes": "; ".join(dict.fromkeys(n for n in r.steps.note if n)),
               "te_end": float(r.steps.te_benchmark.iloc[-1]),
               "failed": r.failed}
        for i, v in enumerate(y.te_benchmark_end):
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
        tx = np.array([float(r.years.total_tax.sum()) for r in rs])
        rows.append({"plan": name, "paths": len(rs),
                     "failed": sum(1 for r in runs if r.plan.name == name and r.failed),
                     "wealth_median": float(np.median(w)) if len(w) else math.nan,
                     "wealth_p10": float(np.quantile(w, 0.1)) if len(w) else math.nan,
                     "wealth_p90": float(np.quantile(w, 0.9)) if len(w) else math.nan,
                     "tax_median": float(np.median(tx)) if len(tx) else math.nan,
                     "tax_min": float(tx.min()) if len(tx) else math.nan,
                     "tax_max": float(tx.max()) if len(tx) else math.nan})
    return pd.DataFrame(rows)


def _assumptions(setup: ClientSetup, s: TransitionSettings, vintages: Sequence) -> tuple:
    prof = setup.client.profile
    return (
        f"Horizon {s.horizon_years} years from {setup.as_of}, "
        f"{_STEP_NAMES.get(s.steps_per_year, f'{s.steps_per_year}-per-year')} steps.",
        f"Expected path: every price grows {s.expected_return:.1%} a year (no dispersion, "
        "so no new losses to harvest).",
        (f"Historical paths: {len(vintages)} start dates; each name's real total return "
         "from the start date is applied to today's price (names without history follow "
         "SPY)." if vintages else "No historical paths were run."),
        f"Tax rates stay at today's marginal rates: {prof.tax.st_rate:.1%} short-term, "
        f"{prof.tax.lt_rate:.1%} long-term; $3,000 loss offset, carryforwards kept.",
        "Prices are total-return (dividends reinvested); dividend taxes are ignored.",
        "The risk model and target are today's for the whole horizon; tracking error is "
        "ex-ante under that model.",
        f"Taxes are paid from outside the account; after-tax wealth = horizon value - "
        f"liquidation tax - each year's tax grown at {s.discount_rate:.1%} to the horizon; "
        f"present values discount at {s.discount_rate:.1%}.",
        "Trading costs: the optimizer's spread; no market impact.",
    )
