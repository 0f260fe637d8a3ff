"""Benchmark: the CPU of building the plan comparison's step problems, and its counts.

For each of ``--clients`` (default household,core-active) the proposal's plan comparison
(``report.transition``: the notebook's five plans, 5 years, quarterly steps, plans in this
process, one BLAS thread) is run once to warm the caches and record every step problem's
arguments, then once more with the named functions timed (CPU seconds, outermost calls):
``RebalanceProblem.__init__`` (the build: ``problem_data``, ``compile_problems`` and the
first ``update``), every ``update``, the relaxations (``strategies._relaxation``, of it
the dual ``RelaxDual.__call__`` and Clarabel's solves of the relaxation, compile
included) and cvxpy's ``get_problem_data`` (each compile of a problem variant); with the
calls counted and the relaxations Clarabel solved, by the dual's reason. Then the
recorded step problems are built again ``--reps`` times (the build alone: its median
and minimum CPU seconds). Prints JSON. Run it with another tree first on ``PYTHONPATH``
to time that tree's code (twenty-third session: main against s23-build, alternately).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import time
from pathlib import Path

import cvxpy as cp

from pma_lab.blas import one_thread
from pma_lab.optimize import rebalance, strategies
from pma_lab.optimize.engine import prepare
from pma_lab.optimize.rebalance import RebalanceProblem
from pma_lab.optimize.relax_dual import RelaxDual
from pma_lab.paths import clients_dir
from pma_lab.report import proposal as report

PLANS = "immediate,3y,5y,budget:0,budget:25000"  # the proposal notebook's defaults


def _timed(owner, name: str, key: str, cpu: dict, calls: collections.Counter  # noqa: ANN001
           ) -> None:
    """Wrap ``owner.name``: its CPU seconds (outermost calls) and its calls, as ``key``.

    The CPU seconds are bench_relax_dual's wrapper's; every call is counted around it.
    """
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_relax_dual import _timed as cpu_timed

    cpu_timed(owner, name, cpu, key)
    fn = getattr(owner, name)

    def counted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls[key] += 1
        return fn(*args, **kwargs)

    setattr(owner, name, counted)


def client_figures(name: str, reps: int) -> dict:
    """One client's figures (module docs)."""
    cpu: dict = collections.defaultdict(float)
    calls: collections.Counter = collections.Counter()
    why: collections.Counter = collections.Counter()
    built: list = []
    init, update, relax = (RebalanceProblem.__init__, RebalanceProblem.update,
                           strategies._relaxation)
    dual_call, dual_solve, run = RelaxDual.__call__, RelaxDual.solve, RebalanceProblem._run
    get_data = cp.Problem.get_problem_data

    def recorded(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        built.append((args, kwargs))
        return init(self, *args, **kwargs)

    def logged(self, p, *args):  # noqa: ANN001, ANN002, ANN202
        status = dual_solve(self, p, *args)
        if status is None:
            why[f"{self.last.get('status')}/{self.last.get('why') or ''}"] += 1
        return status

    def relax_run(self, prob):  # noqa: ANN001, ANN202
        if prob is not self._relaxed:
            return run(self, prob)
        calls["clarabel_relaxation"] += 1
        t = time.process_time()
        try:
            return run(self, prob)
        finally:
            cpu["clarabel_relaxation"] += time.process_time() - t

    client = report.load(str(clients_dir() / name / "profile.toml"), [], "")
    models = report.models(client, "", "", "")
    try:
        with one_thread():
            RebalanceProblem.__init__ = recorded
            report.transition(prepare(client, **models.prepare_args()), PLANS, 5, False)
            RebalanceProblem.__init__ = init
            _timed(RebalanceProblem, "__init__", "RebalanceProblem.__init__", cpu, calls)
            _timed(RebalanceProblem, "update", "RebalanceProblem.update", cpu, calls)
            _timed(strategies, "_relaxation", "strategies._relaxation", cpu, calls)
            _timed(RelaxDual, "__call__", "RelaxDual.__call__", cpu, calls)
            _timed(cp.Problem, "get_problem_data", "cvxpy.get_problem_data", cpu, calls)
            RelaxDual.solve, RebalanceProblem._run = logged, relax_run
            setup = prepare(client, **models.prepare_args())
            t = time.process_time()
            report.transition(setup, PLANS, 5, False)
            total = time.process_time() - t
    finally:
        RebalanceProblem.__init__, RebalanceProblem.update = init, update
        strategies._relaxation = relax
        RelaxDual.__call__, RelaxDual.solve, RebalanceProblem._run = (dual_call, dual_solve,
                                                                     run)
        cp.Problem.get_problem_data = get_data
    builds = []
    with one_thread():
        for _ in range(reps):
            t = time.process_time()
            for args, kwargs in built:
                RebalanceProblem(*args, **kwargs)
            builds.append(time.process_time() - t)
    return {"comparison_cpu_seconds": round(total, 3),
            "cpu_seconds": {k: round(v, 3) for k, v in sorted(cpu.items())},
            "calls": dict(sorted(calls.items())),
            "relaxations_to_clarabel": dict(sorted(why.items())),
            "step_problems": len(built),
            "build_again_cpu_seconds": {"median": round(statistics.median(builds), 4),
                                        "min": round(min(builds), 4), "reps": reps}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", default="household,core-active")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    os.environ.setdefault("PMA_LAB_PLAN_WORKERS", "1")
    out = {"pma_lab": os.path.dirname(rebalance.__file__),
           "loadavg_before": open("/proc/loadavg").read().split()[:3],
           "clients": {n: client_figures(n, args.reps) for n in args.clients.split(",")},
           "loadavg_after": open("/proc/loadavg").read().split()[:3]}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
