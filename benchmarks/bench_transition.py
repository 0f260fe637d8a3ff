"""Benchmark: the default transition analysis for the largest sample client.

Default: 5 plans (immediate, 3y, 5y, budget:0, budget:25000; hold is added) over 5 years
with quarterly steps on the deterministic expected path (goal <= 15 s), then the same
with 40 historical start dates, quarterly 2005-2014 (goal <= 3 min on 2 cores), run with
annual steps (pass --quarterly-vintages to time quarterly steps as well). The
client's setup (risk model, target) is built once before the clock starts and reported
separately. Prints JSON.
"""

from __future__ import annotations

import json
import sys
import time

import pandas as pd

from pma_lab.client import find_clients, load_client
from pma_lab.engine import prepare
from pma_lab.holdings import summarize_lots
from pma_lab.paths import clients_dir
from pma_lab.transition import DEFAULT_PLANS, TransitionSettings, run_transition


def main() -> None:
    clients = [load_client(p) for p in find_clients(clients_dir())]
    values = {c.client_id: summarize_lots(c).totals.total_value for c in clients}
    largest = max(clients, key=lambda c: values[c.client_id])
    t0 = time.perf_counter()
    setup = prepare(largest)
    prep = time.perf_counter() - t0
    s = TransitionSettings()
    t1 = time.perf_counter()
    a = run_transition(setup, DEFAULT_PLANS, s)
    det = time.perf_counter() - t1
    starts = [d.date() for d in pd.date_range("2005-01-01", periods=40, freq="QS")]
    annual = TransitionSettings(steps_per_year=1)
    t2 = time.perf_counter()
    b = run_transition(setup, DEFAULT_PLANS, annual, vintages=starts)
    hist = time.perf_counter() - t2
    hist_q = None
    if "--quarterly-vintages" in sys.argv:  # slow: about 18 minutes on 2 cores
        t3 = time.perf_counter()
        run_transition(setup, DEFAULT_PLANS, s, vintages=starts)
        hist_q = round(time.perf_counter() - t3, 1)
    failed = sum(1 for r in b.runs if r.failed)
    print(json.dumps({
        "benchmark": "transition_analysis",
        "client": largest.client_id, "value_usd": round(values[largest.client_id], 2),
        "lots": len(largest.lots), "target_names": setup.target.names,
        "plans": len(a.comparison), "steps_per_plan": s.horizon_years * s.steps_per_year,
        "prepare_seconds": round(prep, 2),
        "deterministic_seconds": round(det, 2), "goal_deterministic_seconds": 15,
        "historical_vintages": len(starts), "historical_runs": len(b.runs),
        "historical_failed_runs": failed,
        "historical_steps": "annual",
        "historical_seconds": round(hist, 1), "goal_historical_seconds": 180,
        "historical_quarterly_seconds": hist_q,
        "loosened_te_caps": sum(1 for r in b.runs for n in r.steps.note if n),
        "workers": s.workers,
        "after_tax_wealth_median_by_plan": {
            r.plan: round(r.wealth_median, 0) for r in b.vintages.itertuples()},
    }, indent=2))


if __name__ == "__main__":
    main()
