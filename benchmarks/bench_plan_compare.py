"""Benchmark: a proposal's engine compute per client, CPU seconds and a hash of the outputs.

The three engine calls of the proposal notebook's compute cells, in one process with one
plan worker (``PMA_LAB_PLAN_WORKERS=1``, as a batch worker runs them):

* ``setup``: ``report.models(client, ...)`` and ``prepare(client, **models.prepare_args())``;
* ``comparison``: ``report.transition(setup, plans, horizon_years, annual_steps)`` (default
  the notebook's: immediate, 3y, 5y, budget:0, budget:25000 over 5 years, quarterly steps);
* ``todays_trades``: ``report.todays_trades(setup, analysis)``.

Each client is run once to warm up (imports, caches), then ``--repeat`` times; CPU seconds
(``time.process_time``: what a loaded machine does not hide) and wall seconds of each stage,
their minimum and median over the repeats. ``outputs_sha256`` hashes everything the three
calls return that a client or researcher reads (the comparison frame; every run's steps,
years, dispositions and gifts frames and its Monte Carlo outcomes; today's trades, lot
trades, weights and summary; timings left out) as exact text (``repr`` of every float), so
two versions of the code can be shown to give the same numbers: same hash, same figures.
A run whose hash differs from the warm-up's is reported (``hash_stable`` false).

Prints JSON with the load average before and after (the machine may be shared: measure
the other version in the same minutes, e.g. ``PYTHONPATH=/work/main`` then this branch).

Usage: ``python benchmarks/bench_plan_compare.py [--clients household,tech-exec,young-pro]
[--repeat 3] [--plans immediate,3y] [--horizon-years 5] [--annual-steps]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import time

os.environ["PMA_LAB_PLAN_WORKERS"] = "1"

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from pma_lab.io.client import load_client  # noqa: E402
from pma_lab.optimize.engine import prepare  # noqa: E402
from pma_lab.paths import clients_dir  # noqa: E402
from pma_lab.report import proposal as report  # noqa: E402

PLANS = "immediate,3y,5y,budget:0,budget:25000"
CLIENTS = ("household", "tech-exec", "young-pro")
TIMING_COLUMNS = ("seconds", "build_seconds", "solver_seconds", "tax_seconds", "cpu_seconds")
"""Timings, not figures: columns of a run's ``steps`` frame and fields of its Monte Carlo
outcomes left out of the hash."""
GOAL_S = 5.0
"""Issue 16's goal for a whole warm-kernel proposal (seconds); these stages are its largest
part (session 15: 2.21 s median of the 5.59 s household proposal)."""


def _text(x: object) -> str:
    """Exact text of a figure: frames as CSV with every float's ``repr``."""
    if isinstance(x, pd.DataFrame | pd.Series):
        return x.to_csv(float_format=repr)
    return repr(x)


def outputs_hash(analysis, trades) -> str:
    """SHA-256 of the comparison, every run's tables and today's trades (see module doc)."""
    h = hashlib.sha256()

    def add(x: object) -> None:
        if isinstance(x, np.ndarray):  # exact bits (a Monte Carlo array is large)
            h.update(f"{x.dtype}{x.shape}".encode())
            h.update(np.ascontiguousarray(x).tobytes())
        else:
            h.update(_text(x).encode())
        h.update(b"\x00")

    add(analysis.comparison)
    add(analysis.vintages)
    for r in analysis.runs:
        add((r.plan.name, r.path, r.after_tax_wealth, r.liquidation_tax, r.failed,
             r.te_initial, r.years_to_target, r.carryforward_value))
        add(r.steps.drop(columns=[c for c in TIMING_COLUMNS if c in r.steps.columns]))
        for frame in (r.years, r.dispositions, r.gifts, r.bonds):
            add(frame)
        if r.mc is not None:
            for k, v in sorted(vars(r.mc).items()):
                if k not in TIMING_COLUMNS:
                    add(k)
                    add(v)
    for frame in (trades.trades, trades.lot_trades, trades.weights):
        add(frame)
    add({k: v for k, v in sorted(vars(trades.summary).items()) if k not in TIMING_COLUMNS})
    return h.hexdigest()


def _stages(client, plans: str, horizon: int, annual: bool) -> tuple[dict, str]:
    """One pass of the three calls: (CPU and wall seconds per stage, the outputs' hash)."""
    cpu, wall = {}, {}

    def timed(name, f):
        c0, w0 = time.process_time(), time.perf_counter()
        out = f()
        cpu[name], wall[name] = time.process_time() - c0, time.perf_counter() - w0
        return out

    setup = timed("setup", lambda: prepare(
        client, **report.models(client, None, None, None).prepare_args()))
    analysis = timed("comparison", lambda: report.transition(setup, plans, horizon, annual))
    trades = timed("todays_trades", lambda: report.todays_trades(setup, analysis))
    return {"cpu": cpu, "wall": wall}, outputs_hash(analysis, trades)


def client_figures(name: str, repeat: int, plans: str, horizon: int, annual: bool) -> dict:
    """Warm-up and ``repeat`` passes for one sample client."""
    client = load_client(clients_dir() / name / "profile.toml")
    _, ref = _stages(client, plans, horizon, annual)  # warm: imports, caches
    runs = [_stages(client, plans, horizon, annual) for _ in range(repeat)]
    out: dict = {"client": name}
    for stage in ("setup", "comparison", "todays_trades"):
        cpus = [r["cpu"][stage] for r, _ in runs]
        out[stage] = {"cpu_s": [round(x, 3) for x in cpus],
                      "cpu_s_min": round(min(cpus), 3),
                      "cpu_s_median": round(statistics.median(cpus), 3),
                      "wall_s_median": round(statistics.median(r["wall"][stage]
                                                               for r, _ in runs), 3)}
    totals = [sum(r["cpu"].values()) for r, _ in runs]
    out["total_cpu_s_median"] = round(statistics.median(totals), 3)
    out["outputs_sha256"] = ref
    out["hash_stable"] = all(h == ref for _, h in runs)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", default=",".join(CLIENTS),
                    help="comma-separated sample clients (default: %(default)s)")
    ap.add_argument("--repeat", type=int, default=3, help="passes after the warm-up")
    ap.add_argument("--plans", default=PLANS, help="plans to compare (default: %(default)s)")
    ap.add_argument("--horizon-years", type=int, default=5)
    ap.add_argument("--annual-steps", action="store_true")
    a = ap.parse_args()
    if a.repeat < 1:
        ap.error("--repeat must be at least 1")
    names = [n.strip() for n in a.clients.split(",") if n.strip()]
    load0 = [round(x, 2) for x in os.getloadavg()]
    rows = [client_figures(n, a.repeat, a.plans, a.horizon_years, a.annual_steps)
            for n in names]
    print(json.dumps({
        "benchmark": "plan_compare",
        "code": os.path.dirname(os.path.dirname(report.__file__)),
        "plans": a.plans, "horizon_years": a.horizon_years,
        "steps_per_year": report.steps_per_year(a.annual_steps),
        "repeat": a.repeat, "plan_workers": 1,
        "goal_proposal_s": GOAL_S,
        "clients": rows,
        "load_average_before": load0,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }, indent=1))


if __name__ == "__main__":
    main()
