"""Benchmark: the certified dual's sign-fixed QPs of the proposals' plan comparisons, replayed.

Session 20 (issue 16, speed of the plans): the plans' sign-fixed QPs are solved by
:class:`pma_lab.optimize.dual_qp.DualQP`, an ascent of the Lagrangian dual
(:func:`pma_lab.optimize.pattern_bound._dual`, pure numpy on a few hundred names) and,
where the tracking-error cap binds, a search on its multiplier. This records every QP's
Lagrangian data (held funds included) during each client's plan comparison (the
proposal's plans, ``immediate,3y,5y,budget:0,budget:25000`` over 5 years, in this
process), then replays every QP's ascent from :func:`~pma_lab.optimize.dual_qp.cold_start`
and cap search, as :meth:`DualQP.solve` runs them, with the code at ``--base`` (read from
git into this process) and with this code, alternately, ``--rounds`` times each, one BLAS
thread (``--per-qp K``: also alternating per QP, each QP's least of ``K`` runs summed, session
23). Prints JSON: per client and code the CPU seconds (min and median), the dual's
evaluations (a held fund's: the names' dual inside it counted too) and whether every QP's
multipliers, bound, TE^2, trades and cap weight are identical to the bit (session 24's
base deec335: not, by design: the shorter ascents and the cap search's slope from the pieces
move the last bits; docs/benchmarks.md). Set ``OMP_NUM_THREADS=1``; the load average is
printed, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np

os.environ.setdefault("PMA_LAB_PLAN_WORKERS", "1")

from pma_lab.blas import one_thread  # noqa: E402
from pma_lab.io.client import load_client  # noqa: E402
from pma_lab.optimize import dual_qp  # noqa: E402
from pma_lab.optimize import pattern_bound as pattern_bound_now  # noqa: E402
from pma_lab.optimize.engine import prepare  # noqa: E402
from pma_lab.paths import clients_dir  # noqa: E402
from pma_lab.report import proposal as report  # noqa: E402

BASE = "deec335"
"""main before session 24's changes to the dual (s24-dual: the ascent's last evaluation,
the cap search's slope from the pieces; session 23's base was 8604523, session 22's
26b26db, session 20's 5bc8a6b)."""
CLIENTS = ("young-pro,household,core-active,retiree,balanced-6040,muni-ca,philanthropist,"
           "roth-household,tech-exec")
"""The nine sample clients (young-pro alone holds a fund)."""
PLANS = "immediate,3y,5y,budget:0,budget:25000"


def code_at(commit: str) -> tuple[types.ModuleType, types.ModuleType] | None:
    """``(pattern_bound, dual_qp)`` as of ``commit``, or ``None`` without git."""
    root = Path(__file__).resolve().parent.parent
    mods = []
    for name in ("pattern_bound", "dual_qp"):
        try:
            src = subprocess.run(
                ["git", "-C", str(root), "show", f"{commit}:pma_lab/optimize/{name}.py"],
                capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return None
        mod = types.ModuleType(f"base_{name}")
        sys.modules[mod.__name__] = mod
        src = src.replace("from pma_lab.optimize.pattern_bound import",
                          "from base_pattern_bound import")
        exec(compile(src, f"{commit}:{name}.py", "exec"), mod.__dict__)  # noqa: S102
        mods.append(mod)
    return mods[0], mods[1]


def fields_of(c) -> dict:  # noqa: ANN001 - a PatternData
    """A pattern's data as plain fields (its fund's too), without caches."""
    d = {f.name: getattr(c, f.name) for f in dataclasses.fields(c) if f.name != "memo"}
    if d["fund"] is not None:
        d["fund"] = {f.name: getattr(d["fund"], f.name) for f in dataclasses.fields(d["fund"])}
    return d


def record(name: str) -> tuple[list[tuple[dict, float | None]], dict]:
    """Every sign-fixed QP's Lagrangian data (and TE cap^2) of the client's plan comparison.

    Also returns the comparison's counts (session 21): the dual's evaluations
    (``_dual`` calls, a held fund's names' inside ``_fund_dual`` included, and
    ``_fund_dual`` calls), :class:`~pma_lab.optimize.dual_qp.DualQP`'s and
    :class:`~pma_lab.optimize.relax_dual.RelaxDual`'s outcomes (certified, rejected, not
    covered: each of the last two a cvxpy solve), ``cvxpy.Problem.solve`` calls, and the
    CPU seconds of a second, uninstrumented pass of the comparison (one BLAS thread).
    """
    import cvxpy as cp

    from pma_lab.optimize import relax_dual

    client = load_client(clients_dir() / name / "profile.toml")
    setup = prepare(client, **report.models(client, None, None, None).prepare_args())
    seen = []
    real = dual_qp._setup
    counts = {"dual_calls": 0, "fund_dual_calls": 0, "cvxpy_solves": 0}
    outcomes = {"dual_qp": {}, "relax_dual": {}}
    real_dual, real_fund = pattern_bound_now._dual, pattern_bound_now._fund_dual
    real_solve = cp.Problem.solve
    real_done = {"dual_qp": dual_qp.DualQP._done, "relax_dual": relax_dual.RelaxDual._done}

    def kept(p, *args):  # noqa: ANN001, ANN002
        c = real(p, *args)
        if c is not None:
            cap2 = None if p.settings.te_cap is None else float(p.P["te2_cap"].value)
            seen.append((fields_of(c), cap2))
        return c

    def dual(*args, **kwargs):  # noqa: ANN002, ANN003
        counts["dual_calls"] += 1
        return real_dual(*args, **kwargs)

    def fund(*args, **kwargs):  # noqa: ANN002, ANN003
        counts["fund_dual_calls"] += 1
        return real_fund(*args, **kwargs)

    def solve(*args, **kwargs):  # noqa: ANN002, ANN003
        counts["cvxpy_solves"] += 1
        return real_solve(*args, **kwargs)

    def done_of(key: str):  # noqa: ANN202
        def done(self, what, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
            outcomes[key][what] = outcomes[key].get(what, 0) + 1
            return real_done[key](self, what, *args, **kwargs)
        return done

    dual_qp._setup = kept
    pattern_bound_now._dual = dual_qp._dual = relax_dual._dual = dual
    pattern_bound_now._fund_dual = fund
    cp.Problem.solve = solve
    dual_qp.DualQP._done = done_of("dual_qp")
    relax_dual.RelaxDual._done = done_of("relax_dual")
    try:
        report.transition(setup, PLANS, 5, False)
    finally:
        dual_qp._setup = real
        pattern_bound_now._dual = dual_qp._dual = relax_dual._dual = real_dual
        pattern_bound_now._fund_dual = real_fund
        cp.Problem.solve = real_solve
        dual_qp.DualQP._done = real_done["dual_qp"]
        relax_dual.RelaxDual._done = real_done["relax_dual"]
    with one_thread():
        t0 = time.process_time()
        report.transition(setup, PLANS, 5, False)
        counts["comparison_cpu_s_second_pass"] = round(time.process_time() - t0, 3)
    return seen, {**counts, **outcomes}


def cap_search(dq: types.ModuleType, c, got: tuple, cap2: float, at: dict):  # noqa: ANN001, ANN201
    """``dq._cap_search`` after the ascent ``got`` as :meth:`DualQP.solve` calls it.

    With the ascent's trades where the code takes them (session 24: the slope from the
    names' pieces); a base before that, without.
    """
    args = (c, got[0], got[4], got[3], cap2, dq.STEPS, at["g"], at["w"], at["c"])
    if "trades1" in dq._cap_search.__code__.co_varnames:
        return dq._cap_search(*args, got[2])
    return dq._cap_search(*args)


def replay(pb: types.ModuleType, dq: types.ModuleType, qps: list) -> tuple[list, int, float]:
    """Every QP's ascent and cap search: the results, the dual's evaluations, CPU seconds."""
    calls = [0]
    real = pb._dual

    def counted(*args, **kwargs):  # noqa: ANN002, ANN003
        calls[0] += 1
        return real(*args, **kwargs)

    data = []
    for d, cap2 in qps:
        d = dict(d)
        if d["fund"] is not None:
            d["fund"] = pb.FundData(**d["fund"])
        data.append((pb.PatternData(**d), cap2))
    pb._dual = dq._dual = counted
    out = []
    try:
        with one_thread():
            t0 = time.process_time()
            for c, cap2 in data:
                at: dict = {}
                got = dq._ascend(c, dq.cold_start(c), dq.STEPS, at)
                if got is None:
                    out.append(None)
                    continue
                y, D, trades, te2, H = got
                row = [y, D, te2, trades["sold"], trades["bought"], trades.get("fund_sold", [])]
                if cap2 is not None and te2 > cap2:
                    found = cap_search(dq, c, got, cap2, at)
                    row += ([] if found is None else
                            [found[0], found[1], found[2], found[3]["sold"],
                             found[3]["bought"], found[3].get("fund_sold", []), found[4]])
                out.append(row)
            cpu = time.process_time() - t0
    finally:
        pb._dual = dq._dual = real
    return out, calls[0], cpu


def per_qp(codes: dict, qps: list, k: int) -> dict[str, float]:
    """Each code's CPU seconds over the QPs, each QP's the least of ``k`` alternating runs.

    Session 23: on a loaded machine a whole replay's CPU drifts between rounds more than
    the codes differ; alternating per QP (a few ms each) and summing each QP's minimum
    compares the codes in the same minutes. Each run starts from fresh data (no caches).
    """
    total = dict.fromkeys(codes, 0.0)
    with one_thread():
        for d, cap2 in qps:
            best = dict.fromkeys(codes, np.inf)
            for _ in range(k):
                for key, (pb, dq) in codes.items():
                    f = dict(d)
                    if f["fund"] is not None:
                        f["fund"] = pb.FundData(**f["fund"])
                    c = pb.PatternData(**f)
                    t0 = time.process_time()
                    at: dict = {}
                    got = dq._ascend(c, dq.cold_start(c), dq.STEPS, at)
                    if got is not None and cap2 is not None and got[3] > cap2:
                        cap_search(dq, c, got, cap2, at)
                    best[key] = min(best[key], time.process_time() - t0)
            for key in codes:
                total[key] += best[key]
    return total


def same(a: list, b: list) -> bool:
    """Every QP's results identical to the bit."""
    def bits(x):  # noqa: ANN001, ANN202
        return np.asarray(x, dtype=float).tobytes()
    return len(a) == len(b) and all(
        (x is None and y is None) or (x is not None and y is not None and len(x) == len(y)
                                      and all(bits(u) == bits(v)
                                              for u, v in zip(x, y, strict=True)))
        for x, y in zip(a, b, strict=True))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", default=CLIENTS)
    ap.add_argument("--base", default=BASE, help="the git commit to compare with")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--per-qp", type=int, default=0,
                    help="also each code's CPU as the sum of each QP's least of this many "
                         "alternating runs (0: not measured)")
    args = ap.parse_args()
    load0 = [round(x, 2) for x in os.getloadavg()]
    base = code_at(args.base)
    codes = {"now": (pattern_bound_now, dual_qp)}
    if base is not None:
        codes = {"base": base, **codes}
    out: dict = {"benchmark": "dual_replay", "plans": PLANS, "years": 5,
                 "base": args.base if base is not None else "not found (no git): skipped",
                 "clients": {}}
    for name in args.clients.split(","):
        qps, counts = record(name)
        cpu: dict[str, list[float]] = {k: [] for k in codes}
        res, evals = {}, {}
        for _ in range(args.rounds):
            for k, (pb, dq) in codes.items():
                res[k], evals[k], sec = replay(pb, dq, qps)
                cpu[k].append(sec)
        first = next(iter(res))
        row = {"sign_fixed_qps": len(qps),
               "with_a_fund": sum(1 for d, _ in qps if d["fund"] is not None),
               "with_a_te_cap": sum(1 for _, cap2 in qps if cap2 is not None),
               "comparison": counts}
        for k in codes:
            row[k] = {"cpu_s_min": round(min(cpu[k]), 3),
                      "cpu_s_median": round(statistics.median(cpu[k]), 3),
                      "dual_evaluations": evals[k],
                      f"identical_to_{first}": same(res[k], res[first])}
        if base is not None:
            row["ratio_min"] = round(min(cpu["base"]) / min(cpu["now"]), 2)
        if args.per_qp:
            row["per_qp_cpu_s"] = {k: round(v, 3) for k, v in
                                   per_qp(codes, qps, args.per_qp).items()}
        out["clients"][name] = row
    out["load_average_before"] = load0
    out["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
