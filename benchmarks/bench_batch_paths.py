"""Benchmark: the Monte Carlo paths of a batch's clients drawn in one process.

A batch worker's kernel renders client after client with the same as-of date, risk model,
prices, step dates, path count, expected return and seed, so every client's paths are
columns of the same draw: :func:`pma_lab.plan.scenarios.monte_carlo_paths` keeps the last
draw of every model name (:data:`pma_lab.plan.scenarios.PATHS_CACHE_BYTES`) and serves the
next client's names from it. Generated clients (``bench_batch.generate``: the personas
with shares, lots and cash varied) are prepared one after another in this process and
each one's paths drawn as the comparison draws them (``pma_lab.plan.transition._mc_paths``
with the default settings).

Prints JSON: the CPU seconds of each client's paths (``time.process_time``), their total,
how many of the clients drew (the others were served), the memory the kept draw holds
(MiB), and the load average (the machine may be shared). ``--clients N`` (default 12).
Run with an older pma_lab on ``PYTHONPATH`` (this file's path given) for the figures
before the kept draw.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_batch import generate  # noqa: E402

import pma_lab.plan.scenarios as scenarios  # noqa: E402
from pma_lab.io.client import load_client  # noqa: E402
from pma_lab.optimize.engine import prepare  # noqa: E402
from pma_lab.plan.coremodel import core_updates  # noqa: E402
from pma_lab.plan.scenarios import step_dates  # noqa: E402
from pma_lab.plan.transition import TransitionSettings, _mc_paths  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=12)
    args = ap.parse_args()
    load0 = os.getloadavg()
    draws = []
    # (run with an older pma_lab on PYTHONPATH, before the kept draw: every client draws)
    simulate = getattr(scenarios, "_simulate", None)
    if simulate is not None:
        scenarios._simulate = lambda *a: draws.append(1) or simulate(*a)  # type: ignore
    cpu, drew = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for profile in generate(Path(tmp), args.clients):
            setup = prepare(load_client(profile))
            acc = setup.taxable_accounts()[0]
            s = TransitionSettings()
            dates = step_dates(setup.as_of, s.horizon_years, s.steps_per_year)
            updates = core_updates(setup, dates)
            n = len(draws)
            c0 = time.process_time()
            _mc_paths(setup, acc, dates, s, updates)
            cpu.append(round(time.process_time() - c0, 3))
            drew.append(len(draws) > n or simulate is None)
    kept = getattr(scenarios, "_CACHE", {})
    held = (kept["prices"].nbytes + sum(f.nbytes for f in kept["funds"].values())
            if kept else 0)
    print(json.dumps({
        "benchmark": "batch_paths", "clients": args.clients, "cpu_count": os.cpu_count(),
        "paths_cpu_seconds_per_client": cpu, "paths_cpu_seconds_total": round(sum(cpu), 3),
        "clients_that_drew": int(sum(drew)), "kept_draw_mib": round(held / 2**20, 1),
        "load_average_before": [round(x, 2) for x in load0],
        "load_average_after": [round(x, 2) for x in os.getloadavg()]}, indent=1))


if __name__ == "__main__":
    main()
