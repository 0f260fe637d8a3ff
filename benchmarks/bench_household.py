"""Benchmark: one household rebalance across 3 accounts, 500 names, ~5,000 lots.

The household is synthetic but built from real data (2024-06-28): 494 names, every stock
the risk model covers at that date (456 in the S&P 500 proxy, 38 legacy holdings outside
it with a zero target; the packaged data has no 500th), spread over a taxable account (~60 %), a
traditional IRA (~25 %) and a Roth (~15 %), each name held in several lots bought on
random trading days 2015-2024 at that day's real close (about 5,000 lots in all), drifted
from the target. Wash-sale history across accounts: loss sales in the taxable account 10
days before (no buy anywhere), IRA purchases 8 days before (no taxable loss sale).

Asset location uses each stock's trailing 12-month dividend yield on that date (a stock
without dividend data: its sector's median; Real Estate taxed as REIT dividends), as
:func:`pma_lab.optimize.household.household_for_client` does
(:func:`pma_lab.market.corpactions.trailing_dividend_yield`, cached per as-of date: the
proposal's characteristics table looks the same date up first, so the household's lookup
is warm). The lookup is timed cold (the first at that date in the process) and warm.

Measured: the lookup, build (compile once), first solve (wash-sale fixing, whole shares,
the ledger replay) and a re-solve after a parameter change. Goal (issue 14): lookup (warm)
+ build + solve <= 3 s on 2 cores. Also the household as the proposal solves it, around
the plan's first step: the first solve's taxable trades stand for that step
(:class:`~pma_lab.optimize.household.FixedTrades`, kept as they are) and a new problem trades
the IRA and the Roth around them (build + solve, ``around_plan_*``), then around other
trades (every other sale and purchase of those): the same problem re-solved through its
Parameters (:meth:`~pma_lab.optimize.household.HouseholdProblem.refix`, as a plan's first
step solved again without pairs is) against a new problem, and whether both answer alike
(``around_other_trades_*``). Prints JSON; the
``*_cpu_seconds`` are the same spans' CPU seconds (``time.process_time``, every thread of
this process), the figure to read on a shared machine.

``--proposal [--clients household,young-pro] [--passes 2]``: what the household sample's
proposal costs beyond a single-account client, in one process (CPU seconds,
``time.process_time``; the notebook's defaults, plans compared in this process as a batch
worker's kernel does). Per client and pass (the first fills the caches a warm kernel has,
as the first client of a warm kernel pays them): the notebook's stages (``report.load``,
``prepare``, the plan comparison, today's trades) and the household section's parts
(:func:`pma_lab.report.shelf.household`: the problem's build and its solve,
:func:`~pma_lab.report.shelf.household_year_tax`, :func:`~pma_lab.report.shelf.household_view`
and its HTML and text, as the kernel formats them); per plan of the comparison (expected
path) its steps solved, those of them that traded nothing (no sale, purchase or gift in the
plan's schedule) and the steps skipped (``within band``, ``budget spent``), with the solve
seconds the steps recorded (wall); and the household's part of the plan comparison
(:class:`HouseholdPaths`: CPU seconds in ``without_pairs``, ``around_first_step``,
``solve_for_client``, the problem's ``solve`` and its ``_result``, their calls, and the
distinct fixed trades asked for). Findings in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from decimal import Decimal

import numpy as np
import pandas as pd

from pma_lab.market.benchmark import sp500_proxy
from pma_lab.market.corpactions import trailing_dividend_yield
from pma_lab.market.data import load_market
from pma_lab.optimize.household import (
    AccountKind,
    FixedTrades,
    HouseholdAccount,
    HouseholdProblem,
    HouseholdSettings,
    LocationInputs,
)
from pma_lab.portfolio.risk import estimate_risk_model
from pma_lab.tax.ledger import Account, AccountType, Ledger
from pma_lab.tax.liability import TaxProfile

AS_OF = dt.date(2024, 6, 28)
VALUE = 10_000_000
SHARES = {"taxable": 0.60, "ira": 0.25, "roth": 0.15}
LOTS_PER_ACCOUNT = {"taxable": 6, "ira": 2, "roth": 2}  # 10 a name (+1 every 8th): ~5,000


def build_household(seed: int = 7):
    m = load_market()
    rm = estimate_risk_model(AS_OF, market=m)
    bench = sp500_proxy(AS_OF, m)
    rng = np.random.default_rng(seed)
    in_bench = [t for t in bench.weights.index if t in set(rm.tickers)][:500]
    # legacy holdings outside the benchmark (zero target) make up the 500 names
    others = [t for t in rm.tickers if t not in set(in_bench)]
    extra = list(rng.choice(others, min(len(others), max(0, 500 - len(in_bench))),
                            replace=False))
    names = in_bench + [str(t) for t in extra]
    target = bench.weights.reindex(in_bench)
    target = target / target.sum()
    px_hist = m.prices.window("2015-01-02", "2024-05-01", names)
    px_now = m.prices.at(AS_OF, names)
    led = Ledger([Account("taxable"), Account("ira", AccountType.IRA),
                  Account("roth", AccountType.IRA)])
    days = px_hist.index
    n_lots = 0
    for acc, share in SHARES.items():
        tilt = rng.lognormal(0.0, 0.5, len(names))
        value = target.reindex(names).fillna(0.0002).to_numpy() * tilt
        value = value / value.sum() * VALUE * share * 0.99
        for i, t in enumerate(names):
            k = LOTS_PER_ACCOUNT[acc] + (acc == "taxable" and i % 8 == 0)
            valid = np.flatnonzero(np.isfinite(px_hist[t].to_numpy()))
            picks = np.sort(rng.choice(valid, k, replace=False))
            split = rng.dirichlet(np.ones(k)) * value[i] / px_now[t]
            for j, di in enumerate(picks):
                p = px_hist[t].iat[di]
                sh = Decimal(str(round(float(split[j]), 4)))
                if sh <= 0:
                    continue
                led.add_lot(acc, t, sh, Decimal(str(round(float(sh) * float(p), 2))),
                            days[di].date())
                n_lots += 1
    for t in names[40:45]:  # taxable loss sales 10 days ago: no buy in any account
        led.buy(dt.date(2024, 5, 1), "taxable", t, Decimal(10),
                Decimal(str(round(px_now[t] * 1.3, 2))))
    for t in names[40:45]:
        led.sell(dt.date(2024, 6, 18), "taxable", t, Decimal(10),
                 Decimal(str(round(px_now[t], 2))))
    for t in names[50:55]:  # IRA buys 8 days ago: no taxable loss sale
        led.buy(dt.date(2024, 6, 20), "ira", t, Decimal(5), Decimal(str(round(px_now[t], 2))))
    prices = m.prices.at(AS_OF, list(rm.tickers))
    return rm, target, led, names, n_lots, prices, m


def main() -> None:
    rm, target, led, names, n_lots, prices, m = build_household()
    risk = rm.subset(names)
    accounts = [HouseholdAccount("taxable", AccountKind.TAXABLE, cash=50_000.0,
                                 min_cash=10_000.0),
                HouseholdAccount("ira", AccountKind.TRADITIONAL, cash=20_000.0,
                                 no_buy=frozenset(names[10:15])),
                HouseholdAccount("roth", AccountKind.ROTH, cash=10_000.0)]
    tax = TaxProfile.from_rates(0.408, 0.238)
    tc = time.perf_counter()
    trailing_dividend_yield(m, risk.tickers, AS_OF)  # the first lookup at this date
    cold = time.perf_counter() - tc
    t0, c0 = time.perf_counter(), time.process_time()
    dy = trailing_dividend_yield(m, risk.tickers, AS_OF)
    location = LocationInputs.from_dividends(dy, risk.tickers, tax,
                                             sectors=m.universe.sectors())
    lookup = time.perf_counter() - t0
    prob = HouseholdProblem(led, accounts, AS_OF, prices, risk, target, tax,
                            HouseholdSettings(gamma_tax=0.5, gain_budget=100_000.0),
                            location=location, no_buy=names[:5])
    build = time.perf_counter() - t0 - lookup
    r = prob.solve()
    first, first_cpu = time.perf_counter() - t0, time.process_time() - c0
    t1, c1 = time.perf_counter(), time.process_time()
    prob.update(gamma_tax=1.0)
    r2 = prob.solve()
    resolve, resolve_cpu = time.perf_counter() - t1, time.process_time() - c1
    # the household around a plan's first step: the first solve's taxable trades, fixed
    full = {(lt.lot_id): float(lt.shares) for lt in led.lots(account="taxable")}
    ts = r.lot_sales[r.lot_sales.account == "taxable"]
    sales = pd.DataFrame({"lot_id": ts.lot_id, "ticker": ts.ticker, "shares": ts.shares,
                          "price": ts.proceeds / ts.shares,
                          "full_lot": [q >= full[i] for i, q in zip(ts.lot_id, ts.shares,
                                                                     strict=True)]})
    tb = r.trades[(r.trades.account == "taxable") & (r.trades.side == "buy")]
    fixed = FixedTrades("taxable", sales.reset_index(drop=True),
                        tb[["ticker", "shares", "price"]].reset_index(drop=True))
    t2, c2 = time.perf_counter(), time.process_time()
    around = HouseholdProblem(led, accounts, AS_OF, prices, risk, target, tax,
                              HouseholdSettings(gamma_tax=0.5, gain_budget=100_000.0),
                              location=location, no_buy=names[:5], fixed=fixed)
    t3 = time.perf_counter()
    r3 = around.solve()
    around_s, around_cpu = time.perf_counter() - t2, time.process_time() - c2
    # the same household around other trades (every other sale and purchase of the
    # first): the problem kept and re-solved through its Parameters (refix), as a plan's
    # first step solved again without pairs does, against a new problem around them
    other = FixedTrades("taxable", fixed.lot_sales.iloc[::2].reset_index(drop=True),
                        fixed.buys.iloc[::2].reset_index(drop=True))
    c4 = time.process_time()
    around.refix(other)
    r4 = around.solve()
    refix_cpu = time.process_time() - c4
    c5 = time.process_time()
    r5 = HouseholdProblem(led, accounts, AS_OF, prices, risk, target, tax,
                          HouseholdSettings(gamma_tax=0.5, gain_budget=100_000.0),
                          location=location, no_buy=names[:5], fixed=other).solve()
    new_cpu = time.process_time() - c5
    same = (r4.trades.equals(r5.trades) and r4.lot_sales.equals(r5.lot_sales)
            and r4.notes == r5.notes and r4.tax_this_year == r5.tax_this_year)
    print(json.dumps({
        "benchmark": "household_rebalance",
        "accounts": len(accounts), "names": len(names), "lots": n_lots,
        "value_usd": round(prob.value),
        "dividend_lookup_cold_seconds": round(cold, 3),
        "dividend_lookup_warm_seconds": round(lookup, 3),
        "dividend_yields_known": int(dy.yields.reindex(risk.tickers).notna().sum()),
        "build_seconds": round(build, 3),
        "build_and_solve_seconds": round(first - lookup, 3),
        "lookup_build_and_solve_seconds": round(first, 3),
        "resolve_seconds": round(resolve, 3),
        "solver_seconds_first": round(r.solver_seconds, 3),
        "wash_sale_groups_decided": int(len(r.blocked_groups)),
        "orders": len(r.trades), "lots_sold": len(r.lot_sales),
        "te_before": round(r.te_before, 5), "te_after": round(r.te_after, 5),
        "te_after_resolve": round(r2.te_after, 5),
        "around_plan_build_seconds": round(t3 - t2, 3),
        "around_plan_build_and_solve_seconds": round(around_s, 3),
        "around_plan_orders_outside_taxable": int((r3.trades.account != "taxable").sum()),
        "around_plan_blocked_loss_names": len(r3.fixed_loss_names),
        "around_plan_te_after": round(r3.te_after, 5),
        # CPU seconds of the same spans (this process, every thread): on a shared
        # machine the wall figures above wait for a core
        "lookup_build_and_solve_cpu_seconds": round(first_cpu, 3),
        "resolve_cpu_seconds": round(resolve_cpu, 3),
        "around_plan_build_and_solve_cpu_seconds": round(around_cpu, 3),
        "around_other_trades_refix_and_solve_cpu_seconds": round(refix_cpu, 3),
        "around_other_trades_new_build_and_solve_cpu_seconds": round(new_cpu, 3),
        "around_other_trades_refix_same_as_new": bool(same),
        "goal_seconds": 3.0, "goal_met": first <= 3.0,
        "cold_lookup_build_and_solve_seconds": round(cold + first, 3),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }, indent=2))


SKIPPED = ("within band", "budget spent")
"""Statuses of a plan step that skipped its solve (:func:`pma_lab.plan.simulation.simulate`)."""
NOT_SOLVED = (*SKIPPED, "held", "empty")


def plan_steps(analysis) -> dict[str, dict]:  # noqa: ANN001
    """Per plan (expected path): steps solved, solved with no trade, skipped, solve seconds."""
    out = {}
    for run in analysis.runs:
        if run.path != "expected":
            continue
        st = run.steps
        solved = ~st.status.isin(NOT_SOLVED)
        idle = [not (len(s.sell_lot) or len(s.buy_lot) or len(s.gift_lot))
                for s in run.schedule.steps] if run.schedule is not None else [False] * len(st)
        out[str(run.plan.name)] = {
            "steps_solved": int(solved.sum()),
            "steps_solved_no_trade": int(sum(bool(a) and b for a, b in
                                             zip(solved, idle, strict=False))),
            "steps_skipped": int(st.status.isin(SKIPPED).sum()),
            "step_seconds_wall": round(float(st.seconds.sum()), 2)}
    return out


class HouseholdPaths:
    """The household's part of the plan comparison: CPU seconds and calls, while entered.

    Wraps, for the ``with`` block only, the functions the plan comparison reaches the
    household through (:func:`pma_lab.plan.household.without_pairs` as
    :mod:`pma_lab.plan.simulation` calls it, :func:`~pma_lab.plan.household.around_first_step`,
    :func:`~pma_lab.optimize.household.solve_for_client` and
    :meth:`~pma_lab.optimize.household.HouseholdProblem.solve`): the CPU seconds of their
    outermost calls (``time.process_time``; nested calls counted once), the calls, and the
    distinct fixed trades the household was asked to trade around (:func:`solve_for_client`'s
    keys: the solves a kept result can spare are the calls beyond them).
    """

    def __init__(self) -> None:
        import pma_lab.optimize.household as oh
        import pma_lab.plan.household as ph
        import pma_lab.plan.simulation as sim

        self.oh = oh
        self.targets = [(sim, "without_pairs"), (ph, "around_first_step"),
                        (ph, "solve_for_client"), (oh.HouseholdProblem, "solve"),
                        (oh.HouseholdProblem, "_result")]
        self.cpu: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.keys: set = set()
        self.saved: list = []

    def _wrap(self, owner: object, name: str):  # noqa: ANN202
        f = getattr(owner, name)
        depth = [0]

        def wrapped(*a, **kw):  # noqa: ANN002, ANN003, ANN202
            if name == "solve_for_client":
                fixed = kw.get("fixed", a[2] if len(a) > 2 else None)
                self.keys.add(self.oh._fixed_key(fixed))
            depth[0] += 1
            c0 = time.process_time()
            try:
                return f(*a, **kw)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - c0
                self.calls[name] = self.calls.get(name, 0) + 1

        return wrapped

    def __enter__(self) -> HouseholdPaths:
        for owner, name in self.targets:
            self.saved.append((owner, name, getattr(owner, name)))
            setattr(owner, name, self._wrap(owner, name))
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, f in reversed(self.saved):
            setattr(owner, name, f)
        self.saved.clear()

    def figures(self) -> dict:
        return {"cpu_seconds": {k: round(v, 3) for k, v in self.cpu.items()},
                "calls": dict(self.calls), "distinct_fixed_trades": len(self.keys)}


def proposal_pass(name: str) -> dict:
    """One client's proposal stages and household section, CPU seconds each."""
    from pma_lab.optimize.engine import prepare
    from pma_lab.optimize.household import FixedTrades, household_for_client
    from pma_lab.paths import clients_dir
    from pma_lab.report import proposal as report
    from pma_lab.report import shelf

    params = {k: v["default"] for k, v in report.notebook_parameters().items()}
    cpu: dict[str, float] = {}

    def timed(key: str, f, *a, **kw):  # noqa: ANN001, ANN202
        c0 = time.process_time()
        out = f(*a, **kw)
        cpu[key] = round(cpu.get(key, 0.0) + time.process_time() - c0, 3)
        return out

    profile = str(clients_dir() / name / "profile.toml")
    client = timed("load", report.load, profile, [], "")
    models = timed("models", report.models, client)
    setup = timed("prepare", prepare, client, **models.prepare_args())
    with HouseholdPaths() as paths:  # the household's part of the comparison
        analysis = timed("plan_comparison", report.transition, setup, params["plans"],
                         params["horizon_years"], params["annual_steps"])
    trades = timed("todays_trades", report.todays_trades, setup, analysis)
    section: dict[str, float] = {}
    if len(setup.client.profile.accounts) > 1:  # shelf.household's two calls, timed apart
        c0 = time.process_time()
        fixed = FixedTrades.from_rebalance(trades, shelf.PLAN_FIRST_STEP)
        problem = household_for_client(setup, fixed=fixed)
        section["build"] = time.process_time() - c0
        c0 = time.process_time()
        result = problem.solve()
        section["solve"] = time.process_time() - c0
        c0 = time.process_time()
        year_tax = shelf.household_year_tax(setup, analysis, result)
        section["year_tax"] = time.process_time() - c0
        c0 = time.process_time()
        view = shelf.household_view(result, year_tax)
        view._repr_mimebundle_()  # the HTML and the text, as the kernel formats the cell
        section["view"] = time.process_time() - c0
    return {"cpu_seconds": cpu | {"household_section": round(sum(section.values()), 3)},
            "household_section_cpu_seconds": {k: round(v, 3) for k, v in section.items()},
            "plan_comparison_household_paths": paths.figures(),
            "plans": plan_steps(analysis)}


def proposal_main(clients: list[str], passes: int) -> None:
    """``--proposal``: the household sample against a single-account client, per pass."""
    os.environ.setdefault("PMA_LAB_PLAN_WORKERS", "1")  # as a batch worker's kernel
    out: dict = {"benchmark": "household_proposal",
                 "load_average_before": [round(x, 2) for x in os.getloadavg()],
                 "clients": {}}
    for name in clients:
        out["clients"][name] = [proposal_pass(name) for _ in range(passes)]
    out["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    import argparse

    if {"-h", "--help"} & set(sys.argv[1:]):  # the docstring, not a run
        print(__doc__)
        sys.exit(0)
    ap = argparse.ArgumentParser()
    ap.add_argument("--proposal", action="store_true")
    ap.add_argument("--clients", default="household,young-pro")
    ap.add_argument("--passes", type=int, default=2)
    args = ap.parse_args()
    if args.proposal:
        proposal_main([c for c in args.clients.split(",") if c], args.passes)
    else:
        main()
