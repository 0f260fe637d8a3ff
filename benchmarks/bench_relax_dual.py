"""Benchmark: the two-step's relaxation by its certified dual (session 15) against Clarabel.

On the benchmark book (``bench_rebalance.benchmark_account``: 500 names, ~5,000 lots) the
25-point frontier is swept with ``dual_relaxation`` off (every relaxation by Clarabel, as
before) and on (:class:`pma_lab.optimize.relax_dual.RelaxDual` first), alternately in this
process, each on a problem built for it (build and compile included); CPU seconds, the
dual's counts and every point whose TE or economic tax differs. Then random books
(``pma_lab.optimize.gap``, 12-60 names): each relaxation solved both ways, the share the
dual certifies, its objective against Clarabel's and the CPU of each. Prints JSON.

``--public`` (session 17) instead times ``RebalanceProblem(...).solve()`` on
``bench_public.py``'s six books (TE cap 0.5 %), CPU seconds per phase (medians of
``--reps``, one BLAS thread): the build, the relaxation's dual, its cvxpy solve (compile
and Clarabel, where the dual gave up), the sign-fixed duals, the result, the rest; with
the dual's status and evaluations. Run it with another tree first on ``PYTHONPATH`` to
time that tree's code on the same books.

``--issuer-factors`` (session 19) runs ``bench_rebalance``'s solves (the first, then the
re-solves at tax aversions 0.4, 0.3, 0.6) on the benchmark book with the risk model's
share-class issuer factors (the default since session 18) and without them
(``risk._share_classes`` patched to find no issuer), alternately, ``--reps`` times each
(one BLAS thread): CPU seconds per solve, each relaxation's status, evaluations of the
dual's maximum and split names (the search of :class:`~pma_lab.optimize.relax_dual.
RelaxDual`), the calls of ``pattern_bound.maximise`` and ``_dual``, and the tax and
objective of every solve (the optimum must not depend on how fast it is found).

``--plans`` (session 22) runs the proposal's plan comparison (``report.transition``, the
notebook's five plans, plans in this process) for each of ``--clients`` (default: the
nine sample clients) once to warm the caches, then once timed (one BLAS thread), and
counts every relaxation the two-step asks for: certified by the dual, or left to Clarabel
and why (``status/why`` of :attr:`RelaxDual.last`), with the CPU seconds of the dual's
calls, of Clarabel's relaxation solves (compile included) and of the comparison.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_rebalance import benchmark_account  # noqa: E402

from pma_lab.blas import one_thread  # noqa: E402
from pma_lab.optimize.cone_format import fast_cone_format  # noqa: E402
from pma_lab.optimize.frontier import efficient_frontier  # noqa: E402
from pma_lab.optimize.gap import book_state, random_book, study_market  # noqa: E402
from pma_lab.optimize.rebalance import RebalanceProblem, RebalanceSettings  # noqa: E402
from pma_lab.optimize.relax_dual import RelaxDual  # noqa: E402
from pma_lab.paths import clients_dir  # noqa: E402
from pma_lab.portfolio import risk  # noqa: E402

GOAL_S = 2.0
"""Issue 16's goal for the 25-point frontier (seconds on 2 cores; met here in CPU seconds
of a serial sweep, build included)."""


def frontier_figures(reps: int = 2) -> dict:
    st, rm, target, settings, led, _, _ = benchmark_account()
    cpu: dict[bool, list[float]] = {False: [], True: []}
    points: dict[bool, tuple] = {}
    stats: dict = {}
    for _ in range(reps):
        for on in (False, True):
            t = time.process_time()
            p = RebalanceProblem(st, rm, target, replace(settings, dual_relaxation=on), led)
            f = efficient_frontier(p)
            cpu[on].append(time.process_time() - t)
            points[on] = (f.all_points.te_pct.to_numpy(), f.all_points.tax_economic.to_numpy())
            if on:
                stats = dict(p.relax_solver.stats)
    te0, tax0 = points[False]
    te1, tax1 = points[True]
    diff = np.flatnonzero((np.round(te0, 6) != np.round(te1, 6))
                          | (np.round(tax0, 2) != np.round(tax1, 2)))
    return {"goal_seconds": GOAL_S,
            "met_in_cpu_seconds": bool(statistics.median(cpu[True]) <= GOAL_S),
            "cpu_seconds_clarabel": round(statistics.median(cpu[False]), 3),
            "cpu_seconds_dual": round(statistics.median(cpu[True]), 3),
            "ratio": round(statistics.median(cpu[False]) / statistics.median(cpu[True]), 3),
            "relax_dual_stats": stats,
            "points_differing": [{"point": int(i), "te_pct": [round(float(te0[i]), 6),
                                                              round(float(te1[i]), 6)],
                                  "tax_economic": [round(float(tax0[i]), 2),
                                                   round(float(tax1[i]), 2)]}
                                 for i in diff]}


def random_figures(n: int = 30) -> dict:
    as_of = dt.date(2024, 6, 28)
    rm, px, sectors = study_market(as_of)
    solved, worst, t_dual, t_clar = 0, 0.0, 0.0, 0.0
    for seed in range(n):
        rng = np.random.default_rng(seed)
        led, sub, target = random_book(rng, rm, px, sectors, int(rng.integers(12, 60)))
        st = book_state(led, sub, target, px, sectors, as_of)
        s = RebalanceSettings(gamma_tax=float(rng.choice([0.1, 0.4, 1.0])))
        p = RebalanceProblem(st, sub, target, s, led)
        p._log, p._inaccurate, p._fallbacks, p._cap_bound = [], 0, 0, False
        caps = (p.base_buy.copy(), p.base_lot_cap.copy(), p.base_w_cap.copy())
        p._set_caps(*caps)
        dual = RelaxDual(p)
        t = time.process_time()
        got = dual(p, *caps)
        t_dual += time.process_time() - t
        mine = float(p.relaxed.value) if got is not None else None
        t = time.process_time()
        with fast_cone_format():
            p._run(p.relaxed)
        t_clar += time.process_time() - t
        if mine is not None:
            solved += 1
            worst = max(worst, abs(mine - float(p.relaxed.value)))
    return {"books": n, "certified": solved, "max_objective_diff": worst,
            "cpu_seconds_dual": round(t_dual, 3), "cpu_seconds_clarabel": round(t_clar, 3)}


def _timed(owner, name: str, into: dict, key: str) -> None:
    """Wrap ``owner.name`` to add its CPU seconds to ``into[key]`` (outermost calls only)."""
    fn = getattr(owner, name)
    depth = [0]

    def wrapper(*args, **kwargs):
        if depth[0]:
            return fn(*args, **kwargs)
        depth[0] += 1
        t = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            into[key] += time.process_time() - t
            depth[0] -= 1

    setattr(owner, name, wrapper)


def public_phases(reps: int = 5) -> dict:
    """CPU seconds per phase of a rebalance on bench_public's books (``--public``)."""
    import bench_public

    import pma_lab
    import pma_lab.optimize.dual_qp as dual_qp
    import pma_lab.optimize.rebalance as rebalance
    from pma_lab.blas import one_thread
    from pma_lab.optimize.gap import STUDY_AS_OF

    market = study_market(STUDY_AS_OF)
    phases = ("build", "relax_dual", "relax_cvxpy", "sign_fixed_duals", "result")
    acc = dict.fromkeys(phases, 0.0)
    _timed(RebalanceProblem, "__init__", acc, "build")
    _timed(RelaxDual, "__call__", acc, "relax_dual")
    _timed(dual_qp.DualQP, "__call__", acc, "sign_fixed_duals")
    _timed(rebalance, "build_result", acc, "result")
    run = RebalanceProblem._run

    def relax_run(self, prob):
        if prob is not self._relaxed:
            return run(self, prob)
        t = time.process_time()
        try:
            return run(self, prob)
        finally:
            acc["relax_cvxpy"] += time.process_time() - t

    RebalanceProblem._run = relax_run
    books = []
    for seed in (50000, 50001, 200000, 200001, 490000, 490001):
        st, sub, target, _ = bench_public.public_book(market, seed, seed // 1000)
        rows = []
        for _ in range(reps + 1):  # the first run warms up (excluded)
            for k in acc:
                acc[k] = 0.0
            with one_thread():
                t = time.process_time()
                p = RebalanceProblem(st, sub, target, RebalanceSettings(te_cap=0.005))
                p.solve()
                total = time.process_time() - t
            rows.append({"total": total, **acc,
                         "other": total - sum(acc.values())})
        rows = rows[1:]
        last = p.relax_solver.last if p.relax_solver is not None else {}
        books.append({"seed": seed, "names": seed // 1000,
                      **{k: round(statistics.median(r[k] for r in rows), 4)
                         for k in ("total", *phases, "other")},
                      "total_range": [round(min(r["total"] for r in rows), 4),
                                      round(max(r["total"] for r in rows), 4)],
                      "relax_dual_status": last.get("status"),
                      "relax_dual_why": last.get("why"),
                      "relax_dual_evaluations": last.get("rounds")})
    return {"pma_lab": str(Path(pma_lab.__file__).parent), "reps": reps, "books": books}


def _counted(module, name: str, counts: dict) -> None:
    """Count the calls of ``module.name`` into ``counts[name]`` (patched in place)."""
    fn = getattr(module, name)

    def wrapper(*args, **kwargs):
        counts[name] += 1
        return fn(*args, **kwargs)

    setattr(module, name, wrapper)


def _issuer_run(issuers: bool) -> dict:
    """bench_rebalance's four solves with or without the issuer factors (a fresh model)."""
    import pma_lab.optimize.dual_qp as dq
    import pma_lab.optimize.pattern_bound as pb
    import pma_lab.optimize.relax_dual as rd

    with risk._MEMO_LOCK:
        risk._MEMO.clear()  # the model estimated again, with or without them
    original = risk._share_classes
    if not issuers:
        risk._share_classes = lambda *args, **kwargs: []
    try:
        st, rm, target, settings, led, _, _ = benchmark_account()
    finally:
        risk._share_classes = original
        with risk._MEMO_LOCK:
            risk._MEMO.clear()
    counts = {"maximise": 0, "_dual": 0}
    saved = {(m, k): getattr(m, k) for m in (pb, rd, dq) for k in counts if hasattr(m, k)}
    for m, k in saved:
        _counted(m, k, counts)
    prob = RebalanceProblem(st, rm, target, settings, led)
    tick = list(rm.tickers)
    relax = []
    solve = prob.relax_solver.solve

    def logged(*args, **kwargs):
        status = solve(*args, **kwargs)
        last = prob.relax_solver.last
        relax.append({"status": last["status"], "evaluations": last["rounds"],
                      "flipped_last": [tick[i] for i, _ in last.get("flipped", [])]})
        return status

    prob.relax_solver.solve = logged
    cpu, taxes, objectives = [], [], []
    try:
        with one_thread():
            for g in (None, 0.4, 0.3, 0.6):
                c0 = time.process_time()
                if g is not None:
                    prob.update(gamma_tax=g)
                r = prob.solve()
                cpu.append(round(time.process_time() - c0, 4))
                taxes.append(round(float(r.summary.tax), 2))
                objectives.append(float(prob.exact.value))
    finally:
        for (m, k), fn in saved.items():
            setattr(m, k, fn)
    return {"issuer_factors": [f for f in rm.factors if f.startswith(risk.ISSUER_FACTOR)],
            "cpu_seconds": cpu, "tax_usd": taxes, "objective": objectives,
            "relaxations": relax, "calls": counts}


def issuer_factor_figures(reps: int = 3) -> dict:
    """The solves with and without the issuer factors, alternately (module docs)."""
    runs: dict = {"with": [], "without": []}
    _issuer_run(True)  # one-time costs (imports, cvxpy's first canonicalisation)
    for _ in range(reps):
        runs["with"].append(_issuer_run(True))
        runs["without"].append(_issuer_run(False))
    out = {}
    for name, rs in runs.items():
        out[name] = {
            "first_solve_cpu_seconds_median": round(statistics.median(
                r["cpu_seconds"][0] for r in rs), 3),
            "resolve_cpu_seconds_median": round(statistics.median(
                x for r in rs for x in r["cpu_seconds"][1:]), 3),
            "same_every_rep": all(r["tax_usd"] == rs[0]["tax_usd"]
                                  and r["objective"] == rs[0]["objective"] for r in rs),
            **rs[0]}
    return out


def plan_figures(clients: list[str]) -> dict:
    """The relaxations of the proposal's plan comparison, per client (``--plans``)."""
    import collections
    import os

    os.environ.setdefault("PMA_LAB_PLAN_WORKERS", "1")
    from pma_lab.optimize.engine import prepare
    from pma_lab.report import proposal as report

    calls: list = []
    solve = RelaxDual.solve

    def logged(self, p, *args):  # noqa: ANN001, ANN202
        c0 = time.process_time()
        status = solve(self, p, *args)
        calls.append((self.last.get("status"), self.last.get("why") or "",
                      time.process_time() - c0))
        return status

    acc = {"cpu": 0.0, "solves": 0}
    run = RebalanceProblem._run

    def relax_run(self, prob):  # noqa: ANN001, ANN202
        if prob is not self._relaxed:
            return run(self, prob)
        c0 = time.process_time()
        try:
            return run(self, prob)
        finally:
            acc["cpu"] += time.process_time() - c0
            acc["solves"] += 1

    RelaxDual.solve, RebalanceProblem._run = logged, relax_run
    plans = "immediate,3y,5y,budget:0,budget:25000"  # the proposal notebook's defaults
    out = {}
    try:
        for name in clients:
            client = report.load(str(clients_dir() / name / "profile.toml"), [], "")
            models = report.models(client, "", "", "")
            with one_thread():
                report.transition(prepare(client, **models.prepare_args()), plans, 5, False)
                calls.clear()
                acc.update(cpu=0.0, solves=0)
                setup = prepare(client, **models.prepare_args())
                c0 = time.process_time()
                report.transition(setup, plans, 5, False)
                total = time.process_time() - c0
            why = collections.Counter(f"{s}/{w}" if w else s for s, w, _ in calls)
            out[name] = {"transition_cpu_seconds": round(total, 3),
                         "relaxations": len(calls),
                         "certified": sum(s == "solved" for s, _, _ in calls),
                         "clarabel_solves": acc["solves"],
                         "reasons": dict(sorted(why.items())),
                         "dual_cpu_seconds": round(sum(t for *_, t in calls), 3),
                         "clarabel_cpu_seconds": round(acc["cpu"], 3)}
    finally:
        RelaxDual.solve, RebalanceProblem._run = solve, run
    return out


def main() -> None:
    load = open("/proc/loadavg").read().split()[:3]
    if "--plans" in sys.argv:
        names = sys.argv[sys.argv.index("--clients") + 1].split(",") \
            if "--clients" in sys.argv else sorted(
                d.name for d in clients_dir().iterdir() if (d / "profile.toml").exists())
        out = {"loadavg_before": load, "clients": plan_figures(names),
               "loadavg_after": open("/proc/loadavg").read().split()[:3]}
        print(json.dumps(out, indent=1))
        return
    if "--issuer-factors" in sys.argv:
        reps = int(sys.argv[sys.argv.index("--reps") + 1]) if "--reps" in sys.argv else 3
        out = {"loadavg_before": load, **issuer_factor_figures(reps),
               "loadavg_after": open("/proc/loadavg").read().split()[:3]}
        print(json.dumps(out, indent=1))
        return
    if "--public" in sys.argv:
        reps = int(sys.argv[sys.argv.index("--reps") + 1]) if "--reps" in sys.argv else 5
        out = {"loadavg_before": load, **public_phases(reps),
               "loadavg_after": open("/proc/loadavg").read().split()[:3]}
        print(json.dumps(out, indent=1))
        return
    out = {"loadavg_before": load, "frontier_25_points": frontier_figures(),
           "random_books": random_figures(),
           "loadavg_after": open("/proc/loadavg").read().split()[:3]}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
