"""Benchmark: Monte Carlo paths from the factor risk model and the replay of plans on them.

For tech-exec (5 years, quarterly steps): the time and memory of drawing 1,000 and 5,000
correlated paths of every name the account holds or the target may buy, and the time to
replay the client's own plan and ``hold`` (each recorded once on the expected path) on
them, split into the numpy replay and the per-path tax (Schedule D netting through
``pma_lab.tax.liability``). ``one_blas_thread_vs_default`` (1,000 paths, the client's plan):
the replay as it runs (one OpenBLAS thread, :func:`pma_lab.blas.one_thread`) against the
same replay with the process's default threads (the previous), alternately twice in this
process, CPU seconds and whether every path's figures are the same to the bit. Prints JSON
with wall and CPU seconds and the load average (the machine may be shared).
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

from pma_lab.io.client import load_client
from pma_lab.optimize.engine import prepare
from pma_lab.paths import clients_dir
from pma_lab.plan.montecarlo import _revalue, revalue
from pma_lab.plan.scenarios import expected_path, step_dates
from pma_lab.plan.transition import (
    TransitionSettings,
    _cash_rate,
    _mc_paths,
    _tax_context,
    client_plan,
    parse_plan,
    simulate,
)


def main() -> None:
    load0 = os.getloadavg()
    setup = prepare(load_client(clients_dir() / "tech-exec" / "profile.toml"))
    acc = setup.taxable_accounts()[0]
    out: dict = {"benchmark": "monte_carlo", "client": "tech-exec", "cpu_count":
                 os.cpu_count(), "load_average_before": [round(x, 2) for x in load0]}
    s = TransitionSettings(mc_paths=0)
    dates = step_dates(setup.as_of, s.horizon_years, s.steps_per_year)
    rate = _cash_rate(setup, s)
    exp = expected_path(setup.prices, dates, s.expected_return)
    runs = {p.name: simulate(setup, p, exp, s, acc, rate, record=True)
            for p in (client_plan(setup), parse_plan("hold"))}
    for n in (1000, 5000):
        t0, c0 = time.perf_counter(), time.process_time()
        mc = _mc_paths(setup, acc, dates, TransitionSettings(mc_paths=n))
        row = {"paths_seconds": round(time.perf_counter() - t0, 2),
               "paths_cpu_seconds": round(time.process_time() - c0, 2),
               "tickers": len(mc.tickers), "steps": len(dates) - 1,
               "prices_mb": round(mc.prices.nbytes / 2**20, 1)}
        for name, run in runs.items():
            ctx = _tax_context(setup, list(run.years.year), run.interest)
            o = revalue(run.schedule, mc, ctx, dates[-1], rate.rate)
            row[name] = {"replay_seconds": round(o.seconds, 2),
                         "of_which_tax_seconds": round(o.tax_seconds, 2),
                         "replay_cpu_seconds": round(o.cpu_seconds, 2),
                         "schedule_lots": len(run.schedule.lot_ids),
                         "after_tax_wealth_median": round(float(
                             sorted(o.wealth)[len(o.wealth) // 2]))}
        out[f"paths_{n}"] = row
        if n == 1000:
            out["one_blas_thread_vs_default"] = _threads(runs, setup, mc, dates, rate)
    out["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, indent=2))


def _threads(runs: dict, setup, mc, dates, rate) -> dict:
    """The client's plan replayed on one BLAS thread and on the default threads, alternately."""
    run = next(iter(runs.values()))
    ctx = _tax_context(setup, list(run.years.year), run.interest)
    cpu: dict[str, list[float]] = {"one_thread": [], "default_threads": []}
    got = {}
    for _ in range(2):
        for name, fn in (("default_threads", _revalue), ("one_thread", revalue)):
            c0 = time.process_time()
            got[name] = fn(run.schedule, mc, ctx, dates[-1], rate.rate, None, False)
            cpu[name].append(round(time.process_time() - c0, 3))
    a, b = got["one_thread"], got["default_threads"]
    same = all(np.asarray(getattr(a, f)).tobytes() == np.asarray(getattr(b, f)).tobytes()
               for f in ("value_end", "tax_by_year", "liquidation_tax", "wealth",
                         "dividends_by_year", "dividend_tax_by_year"))
    return {"cpu_seconds": cpu, "ratio": round(min(cpu["default_threads"])
                                               / min(cpu["one_thread"]), 2),
            "identical": same, "load_average": [round(x, 2) for x in os.getloadavg()]}


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):  # the docstring, not a run
        print(__doc__)
        sys.exit(0)
    main()
