"""Benchmark: CPU of the proposal's plan comparison and of a plan step's parts outside the solver.

Runs ``report.transition`` (the proposal's plans, quarterly steps, five years; plans in this
process, ``PMA_LAB_PLAN_WORKERS=1``) for each client once to warm the caches, then
``--repeats`` times, and prints JSON: per client the comparison's CPU seconds
(``time.process_time``) of each repeat and, with ``--parts``, the CPU summed over the
repeats of each part of a step (its outermost calls only) and its call count: the account
state, its lots table, the problem's build (its data, its cvxpy compilation, the update of
its Parameters), the solve, the result, the checks, the rounding, the TE before the step,
the state comparison of the shared step problems and the ledger update. Wrapping the parts
costs a few microseconds a call. Compare two versions in the same conditions (run once with
each version's ``PYTHONPATH``); docs/benchmarks.md says what was measured.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import sys
import time

PARTS = [
    ("pma_lab.optimize.engine", "account_state_for"),
    ("pma_lab.optimize.state", "_lot_frame"),
    ("pma_lab.optimize.rebalance", "RebalanceProblem.__init__"),
    ("pma_lab.optimize.formulate", "compile_problems"),
    ("pma_lab.optimize.formulate", "problem_data"),
    ("pma_lab.optimize.rebalance", "RebalanceProblem.update"),
    ("pma_lab.optimize.rebalance", "RebalanceProblem.solve"),
    ("pma_lab.optimize.result", "build_result"),
    ("pma_lab.optimize.checks", "checked"),
    ("pma_lab.optimize.rounding", "round_trades"),
    ("pma_lab.plan.simulation", "_Managed.today"),
    ("pma_lab.plan.simulation", "_same_state"),
    ("pma_lab.plan.simulation", "_apply"),
    ("pma_lab.plan.simulation", "_simulate"),
]


def _wrap(module: str, qualname: str, totals: dict[str, list]) -> None:
    """Sum the CPU of ``module.qualname``'s outermost calls into ``totals[qualname]``."""
    mod = importlib.import_module(module)
    *owners, name = qualname.split(".")
    owner = mod
    for part in owners:
        owner = getattr(owner, part)
    real = getattr(owner, name)
    totals[qualname] = [0, 0.0]
    depth = [0]

    @functools.wraps(real)
    def timed(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if depth[0]:
            return real(*args, **kwargs)
        depth[0] += 1
        t0 = time.process_time()
        try:
            return real(*args, **kwargs)
        finally:
            totals[qualname][0] += 1
            totals[qualname][1] += time.process_time() - t0
            depth[0] -= 1

    setattr(owner, name, timed)
    if not owners:  # a function imported by name into other modules
        for m in list(sys.modules.values()):
            if getattr(m, "__name__", "").startswith("pma_lab") and \
                    getattr(m, name, None) is real:
                setattr(m, name, timed)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", default="young-pro,household,retiree,core-active")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--parts", action="store_true", help="also the CPU of each step part")
    args = ap.parse_args()
    os.environ.setdefault("PMA_LAB_PLAN_WORKERS", "1")
    from pma_lab.optimize.engine import prepare
    from pma_lab.paths import clients_dir
    from pma_lab.report import proposal as report

    totals: dict[str, list] = {}
    if args.parts:
        for module, qualname in PARTS:
            _wrap(module, qualname, totals)
    plans = "immediate,3y,5y,budget:0,budget:25000"  # the proposal notebook's defaults
    out: dict = {"load_average_before": [round(x, 2) for x in os.getloadavg()],
                 "clients": {}}
    for name in args.clients.split(","):
        client = report.load(str(clients_dir() / name / "profile.toml"), [], "")
        models = report.models(client, "", "", "")
        report.transition(prepare(client, **models.prepare_args()), plans, 5, False)
        for v in totals.values():
            v[0], v[1] = 0, 0.0
        cpu = []
        for _ in range(args.repeats):
            setup = prepare(client, **models.prepare_args())
            c0 = time.process_time()
            report.transition(setup, plans, 5, False)
            cpu.append(round(time.process_time() - c0, 3))
        out["clients"][name] = {"transition_cpu_seconds": cpu,
                                "parts": {k: {"calls": v[0], "cpu_seconds": round(v[1], 3)}
                                          for k, v in totals.items()}}
    out["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
