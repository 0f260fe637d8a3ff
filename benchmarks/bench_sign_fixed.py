"""Benchmark: where a small book's rebalance spends its CPU, this code against an earlier one.

The books are ``bench_public.py``'s (seeded, 3 lots a name, TE cap 0.5 %: the books of
issue 16's last speed goal, >= 100x taxrebalance 0.2.0). Each code (``--base``, a git
revision of ``pma_lab/`` extracted to a temporary folder, and this tree) runs in its own
process, alternately, ``--rounds`` times; each times ``--repeats`` cold
``RebalanceProblem(state, risk, target, RebalanceSettings(te_cap=0.005)).solve()`` per
book after one untimed solve, CPU seconds (``time.process_time``, the machine is shared)
per phase, medians:

* ``build``: the problem's construction (``RebalanceProblem(...)``);
* ``relax_dual``: the relaxation's certified dual (:class:`~pma_lab.optimize.relax_dual.
  RelaxDual`), solved or given up;
* ``cvxpy``: cvxpy's calls (``RebalanceProblem._run``: the relaxation's compile and
  Clarabel where its dual gave up, any sign-fixed solve the certified dual left);
* ``sign_fixed``: the two-step's second stage (:func:`~pma_lab.optimize.strategies.
  best_signs`: the sign patterns' certified duals, their bounds and pruning);
* ``result``: :func:`~pma_lab.optimize.result.build_result`;
* ``other``: the rest of ``solve()`` (the rounding of the relaxation, caps, checks).

It also counts the sign-fixed duals solved and patterns pruned, and checks that both
codes give the same trades to the bit (a hash of the lot trades, trades, decisions and
weights frames, and the exact objective's bits). Prints JSON with the load average.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE = "9686ec7"
"""main at the start of session 17 (before its sign-fixed duals' pruning)."""
PHASES = ("total", "build", "relax_dual", "cvxpy", "sign_fixed", "result", "other")


def child(seeds: list[int], repeats: int, cap: float) -> dict:
    """Time the solves in this process (the code on ``sys.path``); one row per book."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_public import public_book, study_market

    from pma_lab.optimize import rebalance, relax_dual, strategies
    from pma_lab.optimize.rebalance import RebalanceProblem, RebalanceSettings

    acc: dict[str, float] = {}

    def timed(owner, name: str, key: str) -> None:
        f = getattr(owner, name)

        def g(*args, **kwargs):
            c0 = time.process_time()
            try:
                return f(*args, **kwargs)
            finally:
                acc[key] = acc.get(key, 0.0) + time.process_time() - c0
        setattr(owner, name, g)

    timed(relax_dual.RelaxDual, "__call__", "relax_dual")
    timed(RebalanceProblem, "_run", "cvxpy")
    timed(strategies, "best_signs", "sign_fixed")
    timed(rebalance, "build_result", "result")
    market = study_market()
    st, sub, target, _ = public_book(market, 999, 30)  # imports, cvxpy's first compile
    RebalanceProblem(st, sub, target, RebalanceSettings(te_cap=cap)).solve()
    out = {}
    for seed in seeds:
        st, sub, target, _ = public_book(market, seed, seed // 1000)
        rows = []
        for k in range(repeats + 1):
            acc.clear()
            c0 = time.process_time()
            p = RebalanceProblem(st, sub, target, RebalanceSettings(te_cap=cap))
            build = time.process_time() - c0
            r = p.solve()
            row = dict(acc, build=build, total=time.process_time() - c0)
            row["other"] = row["total"] - sum(v for key, v in row.items() if key != "total")
            if k:  # the first solve of a book untimed
                rows.append(row)
        frames = pickle.dumps([f.to_dict() for f in (r.lot_trades, r.trades, r.decisions,
                                                     r.weights)])
        dual = p.pattern_solver
        out[str(seed)] = {
            **{key: statistics.median(row.get(key, 0.0) for row in rows) for key in PHASES},
            "duals_solved": dual.stats["solved"] if dual is not None else None,
            "pruned": p.pruned_solves,
            "frames_sha256": hashlib.sha256(frames).hexdigest(),
            "objective": float(p.exact.value).hex(), "tax": r.summary.tax}
    return out


def extract(rev: str, where: str) -> str:
    """``pma_lab/`` at git revision ``rev`` under ``where``; returns the folder."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "pma_lab"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", where], input=archive, check=True)
    os.symlink(ROOT / "data", Path(where) / "data")  # the market data it reads
    return where


def run_code(path: str, seeds: str, repeats: int, cap: float) -> dict:
    env = dict(os.environ, PYTHONPATH=path)
    got = subprocess.run([sys.executable, __file__, "--child", "--seeds", seeds,
                          "--repeats", str(repeats), "--te-cap", str(cap)],
                         env=env, capture_output=True, text=True, cwd=ROOT)
    if got.returncode:
        sys.exit(f"bench_sign_fixed: the code in {path} failed:\n{got.stderr[-2000:]}")
    return json.loads(got.stdout)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", default=BASE, help="git revision of the earlier code")
    ap.add_argument("--seeds", default="50000,50001,200000,200001,490000,490001",
                    help="bench_public.py's books (names = seed // 1000)")
    ap.add_argument("--repeats", type=int, default=5, help="timed solves per book")
    ap.add_argument("--rounds", type=int, default=2, help="alternations of the two codes")
    ap.add_argument("--te-cap", type=float, default=0.005)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    seeds = [int(s) for s in a.seeds.split(",")]
    if a.child:
        print(json.dumps(child(seeds, a.repeats, a.te_cap)))
        return
    with open("/proc/loadavg") as f:
        load0 = f.read().split()[:3]
    runs: dict[str, list[dict]] = {"base": [], "now": []}
    with tempfile.TemporaryDirectory() as tmp:
        base = extract(a.base, tmp)
        for _ in range(a.rounds):
            runs["base"].append(run_code(base, a.seeds, a.repeats, a.te_cap))
            runs["now"].append(run_code(str(ROOT), a.seeds, a.repeats, a.te_cap))
    with open("/proc/loadavg") as f:
        load1 = f.read().split()[:3]
    books = {}
    for seed in map(str, seeds):
        row = {}
        for code, got in runs.items():
            row[code] = {key: f"{min(g[seed][key] for g in got):.4f}-"
                              f"{max(g[seed][key] for g in got):.4f}" for key in PHASES}
            row[code].update({key: got[0][seed][key] for key in ("duals_solved", "pruned",
                                                                  "tax")})
        row["identical"] = len({g[seed]["frames_sha256"] + g[seed]["objective"]
                                for got in runs.values() for g in got}) == 1
        row["cpu_ratio"] = round(statistics.median(g[seed]["total"] for g in runs["base"])
                                 / statistics.median(g[seed]["total"] for g in runs["now"]),
                                 3)
        books[seed] = row
    print(json.dumps({
        "benchmark": "rebalance CPU per phase on bench_public's books, this code vs --base",
        "base": a.base, "te_cap": a.te_cap, "repeats": a.repeats, "rounds": a.rounds,
        "units": "CPU seconds per solve: min-max over the rounds of each round's median",
        "load_before": load0, "load_after": load1,
        "all_identical": all(b["identical"] for b in books.values()),
        "books": books}, indent=1))


if __name__ == "__main__":
    main()
