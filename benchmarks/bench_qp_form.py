"""Benchmark: formulations of the sign-fixed QP's piecewise-linear gain curves (issue 16).

With lot classes (the default), each class's convex gain curve enters the sign-fixed
problem as an epigraph, ``gain >= slope_k * sold + intercept_k`` for each piece ``k``
(about one row per lot). This measures, on the benchmark book (``bench_rebalance.py``),
PIQP's iterations and CPU seconds per solve of the sign-fixed QP (no TE cap) against
mathematically equivalent formulations that give each piece its own sale variable
``y_k`` (``0 <= y_k <= width_k``), with ``sold = sum_k y_k`` and
``gain = sum_k slope_k y_k`` per class (convexity: the cheapest pieces fill first at any
optimum where the gain has a positive weight):

* ``epigraph``: the code as it is (main);
* ``pieces_bounds``: ``y`` with native box bounds (cvxpy passes ``Variable(bounds=...)``
  to PIQP as ``x_l`` / ``x_u``);
* ``pieces_rows``: ``y`` non-negative, ``y <= width`` as inequality rows;
* ``epigraph_scaled``: the control, main's epigraph with its rows multiplied by 2 (the
  same problem; another interior-point path): how far the trades of a formulation that
  is identical but for scaling move from main's.

For each aversion the real two-step solve fixes the sign pattern first; each formulation
then solves that same sign-fixed QP (a new solver setup each time, as the rebalance does:
``history_free``). Reported per formulation and aversion: PIQP iterations, CPU seconds
per solve (median of ``REPEAT``), the objective's relative difference to the epigraph's,
the largest difference in class sales and in lot sales (weights), in buys (weights) and
in lot-level tax (dollars). ``rebalance``: the whole rebalance (two-step, whole shares,
$500 minimum trade) at the same aversions with the sign-fixed QP swapped for each
formulation, its CPU seconds and its trades' and tax's largest difference to the
epigraph's. ``random_resolves_pieces_bounds``: the identity check of issue 16 on random
books (:func:`pma_lab.optimize.gap.random_book`), per aversion and TE cap.

Finding (session 11): the piece formulations take ~21 PIQP iterations against 34 and
~15-20 % less CPU per QP, but they are not identical in the trades: the optimum is the same
to the solver's accuracy (objective ~1e-8 relative, buys a few dollars on $20M), which
whole-share rounding turns into different shares, and at zero tax aversion the split of a
name's sale between its classes is not unique (the interior point lands elsewhere: tax
differs by thousands of dollars on small random books). Scaling main's own rows by 2
(``epigraph_scaled``) moves the trades as much, so no reformulation can repeat main's
shares to 1e-6. With native box bounds PIQP also stalls (iteration limit, Clarabel takes
over) on a sample client whose classes are mostly held (sell caps 0). Prints JSON with the 1-minute
load average it ran under.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

sys.path.insert(0, os.path.dirname(__file__))
from bench_rebalance import AS_OF, benchmark_account  # noqa: E402

from pma_lab.errors import PmaLabError  # noqa: E402
from pma_lab.market.data import load_market  # noqa: E402
from pma_lab.optimize.constraints import BuyRestrictions  # noqa: E402
from pma_lab.optimize.formulate import exact_problem  # noqa: E402
from pma_lab.optimize.rebalance import (  # noqa: E402
    RebalanceProblem,
    RebalanceSettings,
    account_state,
)
from pma_lab.solvers import solve_problem  # noqa: E402
from pma_lab.tax.liability import TaxProfile  # noqa: E402

REPEAT = 3
RANDOM_BOOKS = 30
_PIQP_CPU = [0.0]  # CPU seconds of the last PIQP call (cvxpy's solve_via_data)


def _time_piqp() -> None:
    """Record the CPU seconds of each PIQP call (setup + solve), for this benchmark."""
    from cvxpy.reductions.solvers.qp_solvers.piqp_qpif import PIQP

    f = PIQP.solve_via_data

    def timed(*a, **k):
        c = time.process_time()
        try:
            return f(*a, **k)
        finally:
            _PIQP_CPU[0] = time.process_time() - c
    PIQP.solve_via_data = timed
AVERSIONS = (1e-6, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0)


def _pieces(p: RebalanceProblem) -> dict:
    """The pieces of the classes' gain curves, as :func:`lot_classes` builds them."""
    g = p.g_eff[p._cls_order]
    vo = p.v[p._cls_order]
    oc = p._cls_of
    keep = np.r_[True, (np.diff(oc) != 0) | (np.diff(g) != 0)]
    piece = np.cumsum(keep) - 1
    width = np.bincount(piece, weights=vo)
    return {"class": oc[keep], "slope": g[keep], "width": width}


def variants(p: RebalanceProblem) -> dict[str, cp.Problem]:
    """The sign-fixed QP (no TE cap) in each formulation, on the same Parameters."""
    base = exact_problem(p, False)
    cons, obj = p._exact_parts
    n_buy = len(p.constraints[BuyRestrictions].compile(p.formulation))
    epi = cons[len(cons) - n_buy - 1]  # common + exact_only + buy restrictions
    assert "gain_class" in str(epi), "the epigraph row is not where expected"
    rest = [c for c in cons if c is not epi]
    gain = next(v for v in base.variables() if v.name() == "gain_class")
    k = _pieces(p)
    nc, npc = p.sc.shape[0], len(k["class"])
    Pm = sp.csr_matrix((np.ones(npc), (k["class"], np.arange(npc))), shape=(nc, npc))
    Gm = sp.csr_matrix((k["slope"], (k["class"], np.arange(npc))), shape=(nc, npc))
    yb = cp.Variable(npc, name="piece_sale", bounds=[np.zeros(npc), k["width"]])
    yr = cp.Variable(npc, name="piece_sale", nonneg=True)
    return {
        "epigraph": base,
        "pieces_bounds": cp.Problem(cp.Minimize(obj),
                                    rest + [p.sc == Pm @ yb, gain == Gm @ yb]),
        "pieces_rows": cp.Problem(cp.Minimize(obj),
                                  rest + [yr <= k["width"], p.sc == Pm @ yr,
                                          gain == Gm @ yr]),
        # the control: the epigraph with its rows scaled by 2 (the same problem, another
        # interior-point path): how far an identical formulation's trades move
        "epigraph_scaled": cp.Problem(cp.Minimize(obj),
                                      rest + [2 * epi.args[1] >= 2 * epi.args[0]]),
    }


def lot_tax(p: RebalanceProblem, x: np.ndarray) -> float:
    return float(p.rate @ (p.g_eff * x) * p.V)


def measure(p: RebalanceProblem, forms: dict[str, cp.Problem]) -> dict:
    out, ref = {}, None
    for name, prob in forms.items():
        iters, cpu, solver_s = [], [], []
        for _ in range(REPEAT):
            prob._solver_cache.clear()  # a new setup, as the rebalance's history_free
            c0 = time.process_time()
            status = solve_problem(prob, "PIQP")
            cpu.append(time.process_time() - c0)
            iters.append(prob.solver_stats.num_iters)
            solver_s.append(_PIQP_CPU[0])
        sc = np.array(p.sc.value, dtype=float)
        x = p._x_value()
        b = np.array(p.b.value, dtype=float)
        row = {"status": status, "iterations": iters[0],
               "cpu_seconds": round(statistics.median(cpu), 4),
               "piqp_call_cpu_seconds": round(statistics.median(solver_s), 4),
               "objective": float(prob.value), "tax_usd": round(lot_tax(p, x), 2)}
        if ref is None:
            ref = (float(prob.value), sc, x, b, lot_tax(p, x))
        else:
            row.update({
                "objective_rel_diff": abs(float(prob.value) - ref[0]) / max(abs(ref[0]), 1e-12),
                "class_sale_max_diff": float(np.max(np.abs(sc - ref[1]))),
                "lot_sale_max_diff_usd": float(np.max(np.abs(x - ref[2])) * p.V),
                "buy_max_diff_usd": float(np.max(np.abs(b - ref[3])) * p.V),
                "tax_diff_usd": round(lot_tax(p, x) - ref[4], 4),
            })
        out[name] = row
    return out


def _trades(r) -> dict:
    t = r.trades
    lt = r.lot_trades
    return {"names": dict(zip(t.ticker + ":" + t.side, t.shares.astype(float), strict=True)),
            "lots": dict(zip(lt.lot_id.astype(str), lt.shares.astype(float), strict=True)),
            "tax": float(r.summary.tax)}


def _fallbacks(p: RebalanceProblem) -> int:
    """Sign-fixed solves of the last solve that PIQP did not certify (Clarabel took over);
    meaningful without a TE cap (with one, the capped SOCP is Clarabel's by design)."""
    return sum(1 for e in p._log if e["problem"] == "sign-fixed" and e["solver"] != "PIQP")


def pipeline(st, rm, target, settings, led, form: str) -> dict:
    """The whole rebalance (two-step, whole shares, minimum trade) per aversion, with the
    sign-fixed QP in formulation ``form``: the names' and lots' shares and the tax."""
    p = RebalanceProblem(st, rm, target, settings, led)
    if form != "epigraph":
        p._exact_cache[False] = variants(p)[form]
    out, cpu, fb = {}, [], 0
    for g in AVERSIONS:
        p.update(gamma_tax=g)
        c0 = time.process_time()
        out[g] = _trades(p.solve())
        cpu.append(time.process_time() - c0)
        fb += _fallbacks(p)
    return {"trades": out, "solve_cpu_seconds_median": round(statistics.median(cpu), 3),
            "qp_fallbacks_to_clarabel": fb}


def compare(a: dict, b: dict) -> dict:
    """Differences of two pipelines' results: shares (names, lots) and tax (dollars)."""
    worst_n = worst_l = worst_t = 0.0
    for g in a:
        for key in ("names", "lots"):
            x, y = a[g][key], b[g][key]
            d = max((abs(x.get(k, 0.0) - y.get(k, 0.0)) for k in set(x) | set(y)), default=0.0)
            if key == "names":
                worst_n = max(worst_n, d)
            else:
                worst_l = max(worst_l, d)
        worst_t = max(worst_t, abs(a[g]["tax"] - b[g]["tax"]))
    return {"name_shares_max_diff": worst_n, "lot_shares_max_diff": worst_l,
            "tax_max_diff_usd": round(worst_t, 4)}


def random_resolves(m, rm, form: str, seed: int = 16) -> dict:
    """Random books (:func:`pma_lab.optimize.gap.random_book`, 12 to 60 names) re-solved
    at aversions 0.5, 0.2, 1.0, 0, with and without a 3 % TE cap, $100 minimum trade:
    how many give the epigraph's trades (shares to 1e-6) and tax (to the cent)."""
    import pandas as pd

    from pma_lab.optimize.gap import random_book

    rng = np.random.default_rng(seed)
    uni = m.universe.frame().set_index("ticker")
    prices = m.prices.at(AS_OF, list(rm.tickers))
    tax = TaxProfile.from_rates(0.408, 0.238)
    etf = pd.DataFrame({"ticker": [], "category": [], "gics_sector": []})
    n = same = errors = same_errors = 0
    per: dict = {}
    worst = {"name_shares_max_diff": 0.0, "lot_shares_max_diff": 0.0, "tax_max_diff_usd": 0.0}
    cpu = {"epigraph": 0.0, form: 0.0}
    fallbacks = {"epigraph": 0, form: 0}
    for _ in range(RANDOM_BOOKS):
        led, sub, target = random_book(rng, rm, prices, uni.gics_sector,
                                       int(rng.integers(12, 61)), AS_OF)
        if not led.lots():
            continue
        st = account_state(led, "T", AS_OF, prices, sub, target, tax, cash=0.0,
                           sectors=uni.gics_sector, etf_info=etf)
        for cap in (None, 0.03):
            res = {}
            for f in ("epigraph", form):
                p = RebalanceProblem(st, sub, target,
                                     RebalanceSettings(gamma_tax=0.5, te_cap=cap,
                                                       min_trade=100.0), led)
                if f != "epigraph":
                    p._exact_cache[False] = variants(p)[f]
                res[f] = {}
                for g in (0.5, 0.2, 1.0, 0.0):
                    p.update(gamma_tax=g)
                    c0 = time.process_time()
                    try:
                        res[f][g] = _trades(p.solve())
                        if cap is None:
                            fallbacks[f] += _fallbacks(p)
                    except PmaLabError as e:  # an infeasible book: both must say so
                        res[f][g] = type(e).__name__
                    cpu[f] += time.process_time() - c0
            for g in res["epigraph"]:
                if isinstance(res["epigraph"][g], str) or isinstance(res[form][g], str):
                    errors += 1
                    same_errors += res["epigraph"][g] == res[form][g]
                    continue
                d = compare({g: res["epigraph"][g]}, {g: res[form][g]})
                n += 1
                ok = (d["name_shares_max_diff"] <= 1e-6 and d["lot_shares_max_diff"] <= 1e-6
                      and d["tax_max_diff_usd"] < 0.005)
                same += ok
                by = per.setdefault(f"{g}/{cap}", {"solves": 0, "identical": 0,
                                                   "tax_max_diff_usd": 0.0,
                                                   "lot_shares_max_diff": 0.0,
                                                   "tax_diff_sum_usd": 0.0})
                by["tax_diff_sum_usd"] = round(
                    by["tax_diff_sum_usd"] + res[form][g]["tax"] - res["epigraph"][g]["tax"], 2)
                by["solves"] += 1
                by["identical"] += int(ok)
                by["tax_max_diff_usd"] = max(by["tax_max_diff_usd"], d["tax_max_diff_usd"])
                by["lot_shares_max_diff"] = max(by["lot_shares_max_diff"],
                                                d["lot_shares_max_diff"])
                worst = {k: max(worst[k], d[k]) for k in worst}
    return {"solves": n, "identical": same, "errors": errors,
            "errors_in_both": same_errors, **worst,
            "cpu_seconds_total": {k: round(v, 2) for k, v in cpu.items()},
            "qp_fallbacks_to_clarabel_without_cap": fallbacks,
            "by_aversion_and_cap": per}


def sample_clients(form: str) -> dict:
    """The 9 sample clients' rebalances (``problem_for_client``, their own settings) at
    their aversion and at 0.2 and 1.0: the trades and tax against the epigraph's."""
    from pma_lab.io.client import load_client
    from pma_lab.optimize.engine import prepare, problem_for_client
    from pma_lab.paths import samples_dir

    out: dict = {}
    fallbacks = {"epigraph": 0, form: 0}
    for d in sorted((samples_dir() / "clients").iterdir()):
        if not (d / "profile.toml").exists():
            continue
        setup = prepare(load_client(d / "profile.toml"))
        res = {}
        for f in ("epigraph", form):
            try:
                p = problem_for_client(setup)
            except PmaLabError as e:
                res = type(e).__name__
                break
            if not p.aggregated:
                res = "not aggregated"
                break
            if f != "epigraph":
                p._exact_cache[False] = variants(p)[f]
            res[f] = {}
            for g in (p.settings.gamma_tax, 0.2, 1.0):
                p.update(gamma_tax=g)
                res[f][g] = _trades(p.solve())
                fallbacks[f] += _fallbacks(p)
        out[d.name] = res if isinstance(res, str) else compare(res["epigraph"], res[form])
    out["qp_fallbacks_to_clarabel"] = fallbacks
    return out


def main() -> None:
    _time_piqp()
    st, rm, target, settings, led, names, n_lots = benchmark_account(te_cap=None)
    m = load_market()  # the market build_book read (cached per process)
    p = RebalanceProblem(st, rm, target, settings, led)
    forms = variants(p)
    rows = {}
    for g in AVERSIONS:
        p.update(gamma_tax=g)
        p.solve()  # the two-step fixes the sign pattern (the caps' Parameters)
        rows[str(g)] = measure(p, forms)
    pipes = {form: pipeline(st, rm, target, settings, led, form) for form in forms}
    summary = {}
    for name in forms:
        it = [rows[g][name]["iterations"] for g in rows]
        cpu = [rows[g][name]["cpu_seconds"] for g in rows]
        summary[name] = {"iterations_median": statistics.median(it),
                         "cpu_seconds_median": round(statistics.median(cpu), 4)}
        if name != "epigraph":
            summary[name].update({
                k: max(abs(rows[g][name][k]) for g in rows)
                for k in ("objective_rel_diff", "class_sale_max_diff",
                          "lot_sale_max_diff_usd", "buy_max_diff_usd", "tax_diff_usd")})
    print(json.dumps({
        "benchmark": "sign_fixed_qp_formulations",
        "book": {"names": len(names), "lots": n_lots, "classes": int(p.sc.shape[0]),
                 "pieces": len(_pieces(p)["class"])},
        "summary": summary,
        "rebalance": {form: {"solve_cpu_seconds_median": pipes[form]["solve_cpu_seconds_median"],
                             "qp_fallbacks_to_clarabel": pipes[form]["qp_fallbacks_to_clarabel"],
                             **({} if form == "epigraph" else
                                compare(pipes["epigraph"]["trades"], pipes[form]["trades"]))}
                      for form in forms},
        "random_resolves_pieces_bounds": random_resolves(m, rm, "pieces_bounds"),
        "random_resolves_epigraph_scaled": random_resolves(m, rm, "epigraph_scaled"),
        "sample_clients_pieces_bounds": sample_clients("pieces_bounds"),
        "sample_clients_epigraph_scaled": sample_clients("epigraph_scaled"),
        "sample_clients_pieces_rows": sample_clients("pieces_rows"),
        "per_aversion": rows,
        "load_avg_1min": os.getloadavg()[0],
    }, indent=1))


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):  # the docstring, not a run
        print(__doc__)
        sys.exit(0)
    main()
