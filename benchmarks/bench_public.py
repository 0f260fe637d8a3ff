"""Benchmark: pma_lab's rebalance against a public tax-aware rebalancer, taxrebalance 0.2.0.

taxrebalance (PyPI, MIT, https://github.com/garroshub/taxrebalance) minimises
``risk_aversion * V * TE^2 + fees + tax`` over continuous shares and US tax lots (one
variable per lot) under a TE cap, with a convex relaxation, then a bounded local search
over buy/sell/hold directions per name (cvxpy + Clarabel). pma_lab's default
(:class:`~pma_lab.optimize.rebalance.RebalanceProblem`, ``RebalanceSettings()``)
minimises ``TE^2 + gamma_tax * tax / V + gamma_tc * spread * traded weight`` under the same
cap. Both are asked the same problem: taxrebalance's ``risk_aversion=1`` (its default) is
pma_lab's ``gamma_tax=1`` (its default), its ``trading_cost_bps=5`` is pma_lab's default
5 bp spread at ``gamma_tc=1``, and its ``loss_utilization=1, future_recapture_fraction=0``
is pma_lab's linear tax credit (a loss is worth its rate times the loss now; its
defaults 0.8 / 0.2 value a loss otherwise). Rates 40.8 % ST / 23.8 % LT.

The books (seeded, real tickers, prices and risk model on 2024-06-28): ``n`` names, each
held in exactly 3 lots with bases of 0.25-1.1 x today's price (``--basis``: mostly
gains, as in a seasoned account; some losses), acquired 31-1,500 days ago
(none 355-375 days ago: taxrebalance reads ``days_held >= 365`` as long-term, the ledger
the day after the one-year anniversary), targets Dirichlet weights, holdings the targets
tilted by a lognormal drift (sigma 0.5). No cash, no restrictions, no history: no wash-sale lock
applies (taxrebalance cannot express one the same way), every name may be bought or sold.

For each book: each tool's solve timed cold (taxrebalance's lru caches of its arrays
and compiled model cleared before each run, as pma_lab builds a new problem each run),
wall and CPU seconds, the median over ``--repeats`` runs after one warm-up run per tool
(excluded); then each tool's trade list is replayed through pma_lab's ledger (specific
identification of the very lots sold, :func:`pma_lab.optimize.result.replay_trades`)
and its realised tax is the ledger's; its after-trade TE is computed from the shares
after trading with the same covariance matrix both were given; and its objective in USD
(``V * TE^2 + linear tax + 5 bp of the traded notional``), the quantity both minimise.
pma_lab is timed without its ledger (taxrebalance has none): the replay is outside both
timers. Prints JSON with the 1-minute load average before and after.

Needs taxrebalance 0.2.0 and osqp in a directory outside the project's venv::

    .venv/bin/pip install --target /work/trlib --no-deps taxrebalance==0.2.0 \\
        'osqp>=1.0.4,<1.1'
    python benchmarks/bench_public.py --lib /work/trlib

taxrebalance calls Clarabel (SCS as its fallback), never OSQP, but declares
``osqp>=1.0.4,<1.1`` (the project pins 1.1.3): ``--lib``'s copy shadows the venv's in this
process only; pma_lab's default solvers (Clarabel, PIQP) do not use it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from decimal import Decimal

import numpy as np
import pandas as pd

from pma_lab.optimize.gap import STUDY_AS_OF, book_state, study_market
from pma_lab.optimize.rebalance import RebalanceProblem, RebalanceSettings
from pma_lab.optimize.result import _ledger_check
from pma_lab.tax.ledger import Account, Ledger

ST_RATE, LT_RATE = 0.408, 0.238  # gap.book_state's rates
SPREAD = 0.0005  # RebalanceSettings().spread (gamma_tc = 1)
VALUE = 1_000_000.0
PIP = ("/work/main/.venv/bin/pip install --target DIR --no-deps taxrebalance==0.2.0 "
       "'osqp>=1.0.4,<1.1'")


def load_taxrebalance(lib: str | None):
    """taxrebalance's API and optimizer module, from ``lib`` (prepended to sys.path)."""
    if lib:
        sys.path.insert(0, lib)
    try:
        import taxrebalance
        from tax_rebalancing import optimizer
    except ImportError as err:
        sys.exit(f"bench_public: taxrebalance cannot be imported ({err}). Install it outside "
                 f"the project's venv with\n    {PIP}\nand pass --lib DIR.")
    return taxrebalance, optimizer


def public_book(market, seed: int, n_names: int, basis: tuple[float, float] = (0.25, 1.1),
                drift: float = 0.5, as_of: dt.date = STUDY_AS_OF):
    """A seeded book of ``n_names`` real names held in 3 lots each (see module docstring)."""
    rm, px, sectors = market
    rng = np.random.default_rng(seed)
    names = [str(t) for t in rng.choice(list(rm.tickers), n_names, replace=False)]
    sub = rm.subset(names)
    target = pd.Series(rng.dirichlet(np.full(n_names, 2.0)), index=names)
    held = target.to_numpy() * rng.lognormal(0.0, drift, n_names)
    held = held / held.sum() * VALUE
    led = Ledger([Account("T")])
    for i, t in enumerate(names):
        p = float(px[t])
        for part in rng.dirichlet(np.ones(3)):
            shares = Decimal(str(round(float(part * held[i] / p), 4)))
            if shares <= 0:
                shares = Decimal("0.0001")
            age = int(rng.integers(31, 1500))
            while 355 <= age <= 375:
                age = int(rng.integers(31, 1500))
            cost = float(shares) * p * float(rng.uniform(*basis))
            led.add_lot("T", t, shares, Decimal(str(round(cost, 2))),
                        as_of - dt.timedelta(days=age))
    st = book_state(led, sub, target, px, sectors, as_of)
    return st, sub, target, led


def _cpu_wall(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def run_pma(st, sub, target, cap: float):
    prob = RebalanceProblem(st, sub, target, RebalanceSettings(te_cap=cap))
    return prob.solve()


def tr_inputs(tr, st, sub, target, cap: float, budget: int | None = None):
    """taxrebalance's Portfolio, targets, covariance and config for the same book."""
    names = list(target.index)
    lots = st.lots
    tl = []
    for r in lots.itertuples():
        days = (st.as_of - r.acquired).days
        if (days >= 365) != (r.term == "LT"):
            raise RuntimeError(f"lot {r.lot_id}: {days} days held reads as {r.term} in the "
                               "ledger: the two tools would tax it differently")
        tl.append(tr.TaxLot(lot_id=str(r.lot_id), ticker=r.ticker, shares=float(r.shares),
                            basis_per_share=float(r.basis) / float(r.shares),
                            days_held=days))
    prices = {t: float(st.prices[t]) for t in names}
    portfolio = tr.Portfolio.from_tax_lots(tl, prices=prices, cash=0.0)
    cov = sub.covariance(names).to_numpy()
    config = tr.RebalanceConfig(max_tracking_error=cap, trading_cost_bps=SPREAD * 1e4,
                                loss_utilization=1.0, future_recapture_fraction=0.0,
                                risk_aversion=1.0, direction_search_budget=budget)
    return portfolio, target.to_dict(), cov.tolist(), config


def run_tr(tr, optimizer, inputs):
    optimizer._arrays.cache_clear()
    optimizer._covariance_root.cache_clear()
    optimizer._thread_models.__dict__.pop("cache", None)
    portfolio, targets, cov, config = inputs
    return tr.rebalance(portfolio, target_weights=targets, covariance=cov,
                        tax_policy=tr.UnitedStatesLots(short_term_rate=ST_RATE,
                                                       long_term_rate=LT_RATE),
                        config=config)


def tr_trade_lists(st, result):
    """taxrebalance's trades as pma_lab's ``lot_trades`` and ``trades`` tables."""
    lots = st.lots.set_index("lot_id")
    rows, buys = [], []
    for t in result.trades:
        if t["side"] == "SELL":
            lot = lots.loc[t["lot_id"]]
            sh = float(t["shares"])
            full = sh >= float(lot.shares) - 1e-5
            rows.append({"lot_id": t["lot_id"], "ticker": t["ticker"],
                         "shares": float(lot.shares) if full else sh,
                         "price": float(lot.price), "full_lot": full})
        else:
            buys.append({"ticker": t["ticker"], "side": "buy", "shares": float(t["shares"])})
    lot_trades = pd.DataFrame(rows, columns=["lot_id", "ticker", "shares", "price",
                                             "full_lot"])
    trades = pd.DataFrame(buys, columns=["ticker", "side", "shares"])
    return lot_trades, trades


def assess(st, sub, target, led, lot_trades, trades) -> dict:
    """TE after, the ledger's realised tax and gains, the objective: the same for both."""
    names = list(target.index)
    px = st.prices.reindex(names).to_numpy(dtype=float)
    shares = st.lots.groupby("ticker").shares.sum().reindex(names).fillna(0.0).to_numpy()
    sold = lot_trades.groupby("ticker").shares.sum().reindex(names).fillna(0.0).to_numpy()
    bought = (trades[trades.side == "buy"].groupby("ticker").shares.sum()
              .reindex(names).fillna(0.0).to_numpy())
    V = float(st.value)
    d = (shares - sold + bought) * px / V - target.to_numpy()
    cov = sub.covariance(names).to_numpy()
    te = float(np.sqrt(max(d @ cov @ d, 0.0)))
    checked = _ledger_check(st, led, lot_trades, trades)
    st_gain, lt_gain = checked["realized_st"], checked["realized_lt"]
    traded = float((sold + bought) @ px)
    linear_tax = ST_RATE * st_gain + LT_RATE * lt_gain
    return {"te_after": round(te, 6), "tax_ledger": round(checked["tax"], 2),
            "tax_linear": round(linear_tax, 2),
            "realized_st": round(st_gain, 2), "realized_lt": round(lt_gain, 2),
            "traded_usd": round(traded, 2),
            "objective_usd": round(V * te * te + linear_tax + SPREAD * traded, 2),
            "lots_sold": len(lot_trades), "names_bought": len(trades)}


def pma_trade_lists(r):
    lt = r.lot_trades[["lot_id", "ticker", "shares", "price", "full_lot"]].copy()
    tr_ = r.trades[r.trades.side == "buy"][["ticker", "side", "shares"]].copy()
    return lt, tr_


def bench_book(tr, optimizer, market, seed: int, n: int, cap: float, repeats: int,
               basis: tuple[float, float], budget: int | None = None,
               tr_prev: dict | None = None) -> dict:
    """One book: both tools timed and assessed (``tr_prev``: taxrebalance's from a file).

    ``tr_prev`` is the book's ``taxrebalance`` entry of an earlier run's JSON
    (``--tr-from``): its times and figures are reused and taxrebalance is not run (its
    solve takes 13-60 s a book and its times are stable); the entry is marked
    ``"reused_from"``.
    """
    st, sub, target, led = public_book(market, seed, n, basis)
    times = {"pma_lab": [], "taxrebalance": []}
    r_pma = r_tr = None
    if tr_prev is None:
        inputs = tr_inputs(tr, st, sub, target, cap, budget)
        for _ in range(repeats):  # alternating, so both see the same load
            r_pma, w, c = _cpu_wall(lambda: run_pma(st, sub, target, cap))
            times["pma_lab"].append((w, c))
            r_tr, w, c = _cpu_wall(lambda: run_tr(tr, optimizer, inputs))
            times["taxrebalance"].append((w, c))
    else:
        for _ in range(repeats):
            r_pma, w, c = _cpu_wall(lambda: run_pma(st, sub, target, cap))
            times["pma_lab"].append((w, c))
    out = {"seed": seed, "names": n, "lots": len(st.lots), "value_usd": round(st.value, 2),
           "te_cap": cap, "te_before": round(float(r_pma.summary.te_before), 6)}
    tools = [("pma_lab", pma_trade_lists(r_pma))]
    if tr_prev is None:
        tools.append(("taxrebalance", tr_trade_lists(st, r_tr)))
    else:
        out["taxrebalance"] = dict(tr_prev)
    for tool, (lt, trd) in tools:
        ws = [w for w, _ in times[tool]]
        cs = [c for _, c in times[tool]]
        out[tool] = {"wall_seconds_median": round(statistics.median(ws), 4),
                     "cpu_seconds_median": round(statistics.median(cs), 4),
                     "wall_seconds": [round(x, 4) for x in ws],
                     **assess(st, sub, target, led, lt, trd)}
    out["pma_lab"]["status"] = r_pma.summary.status
    out["pma_lab"]["te_after_own"] = round(float(r_pma.summary.te_after), 6)
    if tr_prev is None:
        s = r_tr.summary()
        out["taxrebalance"].update({
            "feasible": s["feasible"], "status": s["solver_status"],
            "te_after_own": s["tracking_error"], "explored_patterns": s["explored_patterns"],
            "search_limited": s["search_limited"], "search_budget": s["search_budget"],
            "violations": s["violations"]})
    p, t = out["pma_lab"], out["taxrebalance"]
    out["wall_ratio"] = round(t["wall_seconds_median"] / p["wall_seconds_median"], 1)
    out["cpu_ratio"] = round(t["cpu_seconds_median"] / p["cpu_seconds_median"], 1)
    out["tax_diff_usd"] = round(p["tax_ledger"] - t["tax_ledger"], 2)  # < 0: pma_lab less
    # relative only where taxrebalance's tax is a positive amount (a net loss's tax is the
    # ledger's loss limit, the same for both in many books)
    out["tax_diff_pct"] = (round(100 * out["tax_diff_usd"] / t["tax_ledger"], 2)
                           if t["tax_ledger"] > 0 else None)
    out["objective_diff_usd"] = round(p["objective_usd"] - t["objective_usd"], 2)
    return out


def _previous(path: str, cap: float, basis: tuple[float, float]) -> dict[int, dict]:
    """taxrebalance's entry per seed in an earlier run's JSON (``--tr-from``), labelled.

    Exits naming the file when it was run on other books (TE cap, basis range) or has
    no taxrebalance figures.
    """
    with open(path) as f:
        old = json.load(f)
    if old.get("basis_range") != list(basis) or any(b["te_cap"] != cap
                                                    for b in old["books"]):
        sys.exit(f"bench_public: --tr-from {path}: its books used te_cap / basis "
                 f"{old['books'][0]['te_cap']} / {old.get('basis_range')}, not {cap} / "
                 f"{list(basis)}: run taxrebalance (without --tr-from)")
    out = {}
    for b in old["books"]:
        t = b.get("taxrebalance")
        if not t or "wall_seconds_median" not in t:
            sys.exit(f"bench_public: --tr-from {path}: book {b['seed']} has no "
                     "taxrebalance figures")
        src = t.get("reused_from") or f"{path} (loadavg {old.get('loadavg_before')})"
        out[int(b["seed"])] = dict(t, reused_from=src)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", help="directory holding taxrebalance and osqp (pip --target)")
    ap.add_argument("--sizes", default="50,200,490",
                    help="names per book (3 lots each; the risk model holds 494 on 2024-06-28)")
    ap.add_argument("--books", type=int, default=2, help="seeded books per size")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per book and tool")
    ap.add_argument("--te-cap", type=float, default=0.005,
                    help="TE cap for both (0.005 = 0.5 %%)")
    ap.add_argument("--basis", default="0.25,1.1",
                    help="lots' bases drawn from this range, times today's price")
    ap.add_argument("--tr-budget", type=int, default=None,
                    help="taxrebalance's direction_search_budget (default: its own, None)")
    ap.add_argument("--tr-from", metavar="JSON",
                    help="reuse taxrebalance's times and figures from an earlier run's JSON "
                         "(same books: seed, names, TE cap, basis range, repeats "
                         "checked) instead of running it; each reused entry is marked "
                         "'reused_from'")
    a = ap.parse_args(argv)
    basis = tuple(float(x) for x in a.basis.split(","))
    prev = _previous(a.tr_from, a.te_cap, basis) if a.tr_from else None
    tr, optimizer = load_taxrebalance(a.lib) if prev is None else (None, None)
    with open("/proc/loadavg") as f:
        load0 = f.read().split()[:3]
    market = study_market()
    sizes = [int(x) for x in a.sizes.split(",")]
    if max(sizes) > len(market[0].tickers):
        sys.exit(f"bench_public: --sizes {a.sizes}: the risk model on {STUDY_AS_OF} holds "
                 f"{len(market[0].tickers)} names; ask for at most that many")
    # warm-up (excluded): imports, cvxpy's first canonicalisation, both solvers loaded
    st, sub, target, _ = public_book(market, 999, 30)
    run_pma(st, sub, target, a.te_cap)
    if prev is None:
        run_tr(tr, optimizer, tr_inputs(tr, st, sub, target, a.te_cap))
    books = []
    for n in sizes:
        for k in range(a.books):
            seed = 1000 * n + k
            tr_prev = None
            if prev is not None:
                if seed not in prev:
                    sys.exit(f"bench_public: --tr-from {a.tr_from} has no book with seed "
                             f"{seed} ({n} names); run without --tr-from for it")
                tr_prev = prev[seed]
            books.append(bench_book(tr, optimizer, market, seed, n, a.te_cap,
                                    a.repeats, basis, a.tr_budget, tr_prev))
            print(json.dumps({"done": books[-1]["names"], "seed": books[-1]["seed"]}),
                  file=sys.stderr)
    with open("/proc/loadavg") as f:
        load1 = f.read().split()[:3]

    def med(key, tool=None):
        xs = [(b[tool][key] if tool else b[key]) for b in books]
        return round(statistics.median(xs), 4)

    print(json.dumps({
        "benchmark": "pma_lab rebalance vs taxrebalance 0.2.0 (same books, same problem)",
        "goal": "taxrebalance wall seconds / pma_lab wall seconds >= 100, tax not higher "
                "(issue 16)",
        "asked": {
            "pma_lab": f"RebalanceProblem(state, risk, target, RebalanceSettings("
                       f"te_cap={a.te_cap})).solve(): its defaults (gamma_tax=1, "
                       "gamma_tc=1, spread=0.0005, linear tax credit, continuous shares, "
                       "lot classes, two-step with sign_rule='best'), no ledger in the timer",
            "taxrebalance": f"rebalance(Portfolio.from_tax_lots(...), method='tax_aware', "
                            f"tax_policy=UnitedStatesLots({ST_RATE}, {LT_RATE}), "
                            f"config=RebalanceConfig(max_tracking_error={a.te_cap}, "
                            "trading_cost_bps=5, loss_utilization=1.0, "
                            "future_recapture_fraction=0.0, risk_aversion=1.0, "
                            f"direction_search_budget={a.tr_budget} (None: its default, "
                            "25 / 17 / 9 patterns for <=100 / <=250 / more names)))",
            "same_problem": "min V*TE^2 + linear tax + 5 bp of traded notional s.t. "
                            "TE <= cap, continuous shares, lot-level specific "
                            "identification, no wash-sale locks, no restrictions, no cash",
        },
        "not_like_for_like": [
            "taxrebalance keeps cash >= 0 after its 5 bp fees (cash left over is allowed); "
            "pma_lab's budget is weights summing to 1 - cash_target with the cost in the "
            "objective only",
            "taxrebalance rounds its trade shares to 5 decimals (a lot sold within 1e-5 "
            "shares of the whole is replayed as the whole lot)",
            "wash-sale locks and restrictions are not exercised (no history, none set)",
        ],
        "taxrebalance_reused_from": a.tr_from,
        "repeats": a.repeats, "basis_range": list(basis), "lots_per_name": 3,
        "warm_up_excluded": True, "as_of": str(STUDY_AS_OF),
        "loadavg_before": load0, "loadavg_after": load1,
        "median": {
            "wall_ratio": med("wall_ratio"), "cpu_ratio": med("cpu_ratio"),
            "tax_diff_usd": med("tax_diff_usd"),
            "objective_diff_usd": med("objective_diff_usd"),
            "pma_lab_wall_seconds": med("wall_seconds_median", "pma_lab"),
            "taxrebalance_wall_seconds": med("wall_seconds_median", "taxrebalance"),
        },
        "books": books,
    }, indent=1))


if __name__ == "__main__":
    main()
