"""Benchmark: the certified dual on an account holding a fund, before and after session 15.

Before session 15 :class:`pma_lab.optimize.dual_qp.DualQP` left every sign-fixed QP of an
account holding a fund to cvxpy (PIQP, with its compile): the fund's look-through couples
the names. Now one fund is solved inside the dual
(:func:`pma_lab.optimize.pattern_bound._fund_dual`). For each client (default the
young-pro sample, which holds an S&P 500 ETF), its plan comparison (immediate, 3y, 5y,
budget:0, budget:25000 over 5 annual steps, workers=1 as a batch runs it) is run once to
warm up, then alternately twice each:

* ``before``: this code with the dual's pattern data "not covered" for a problem that
  holds a fund (``pattern_bound._setup`` returning ``None`` there, as before session 15);
* ``now``: this code.

CPU and wall seconds of the comparison, the dual's counts (solved / capped / not covered
/ rejected, summed over the comparison's problems) and whether the plans' figures are
identical both ways. Prints JSON with the load average, since the machine may be shared.

Usage: ``python benchmarks/bench_dual_funds.py [client ...]``
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import sys
import time

os.environ.setdefault("PMA_LAB_PLAN_WORKERS", "1")

from pma_lab.io.client import load_client  # noqa: E402
from pma_lab.optimize import dual_qp, pattern_bound  # noqa: E402
from pma_lab.optimize import rebalance as rebalance_module  # noqa: E402
from pma_lab.optimize.engine import prepare  # noqa: E402
from pma_lab.paths import clients_dir  # noqa: E402
from pma_lab.report import proposal as report  # noqa: E402

PLANS = "immediate,3y,5y,budget:0,budget:25000"
GOAL_S = 10.0
"""Issue 16's goal for a client's plan comparison (5 plans, 5 years, expected path:
seconds on 2 cores; met here in CPU seconds of the comparison in one process)."""


@contextlib.contextmanager
def funds_not_covered():
    """The dual's pattern data ``None`` for a problem holding a fund (before session 15)."""
    real = pattern_bound._setup

    def before(p, *args, **kwargs):
        return None if p.na > p.nm else real(p, *args, **kwargs)

    pattern_bound._setup = dual_qp._setup = before
    try:
        yield
    finally:
        pattern_bound._setup = dual_qp._setup = real


@contextlib.contextmanager
def problems_built(into: list):
    """Collect every :class:`RebalanceProblem` built while inside."""
    cls = rebalance_module.RebalanceProblem
    real = cls.__init__

    def init(self, *args, **kwargs):
        real(self, *args, **kwargs)
        into.append(self)

    cls.__init__ = init
    try:
        yield
    finally:
        cls.__init__ = real


def comparison(setup, before: bool) -> dict:
    """One plan comparison: CPU and wall seconds, the dual's counts, the plans' table."""
    probs: list = []
    ctx = funds_not_covered() if before else contextlib.nullcontext()
    with ctx, problems_built(probs):
        c0, w0 = time.process_time(), time.perf_counter()
        out = report.transition(setup, PLANS, 5, False)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    stats = {"solved": 0, "capped": 0, "not_covered": 0, "rejected": 0}
    for p in probs:
        if p.pattern_solver is not None:
            for k in stats:
                stats[k] += p.pattern_solver.stats[k]
    return {"cpu": cpu, "wall": wall, "stats": stats,
            "funds": sum(p.na > p.nm for p in probs), "problems": len(probs),
            "table": out.comparison}


def client_figures(name: str) -> dict:
    client = load_client(clients_dir() / name / "profile.toml")
    models = report.models(client, None, None, None)
    setup = prepare(client, **models.prepare_args())
    report.transition(setup, PLANS, 5, False)  # warm: imports, caches
    runs: dict[str, list] = {"before": [], "now": []}
    for _ in range(2):
        for what in ("before", "now"):
            runs[what].append(comparison(setup, what == "before"))
    ref = runs["before"][0]["table"]
    identical = all(r["table"].equals(ref) for rs in runs.values() for r in rs)
    med = {k: statistics.median(r["cpu"] for r in rs) for k, rs in runs.items()}
    return {
        "client": name,
        "problems": runs["now"][0]["problems"],
        "problems_holding_a_fund": runs["now"][0]["funds"],
        "cpu_s_before": [round(r["cpu"], 3) for r in runs["before"]],
        "cpu_s_now": [round(r["cpu"], 3) for r in runs["now"]],
        "wall_s_before": [round(r["wall"], 3) for r in runs["before"]],
        "wall_s_now": [round(r["wall"], 3) for r in runs["now"]],
        "cpu_ratio_before_over_now": round(med["before"] / med["now"], 3),
        "goal_s": GOAL_S, "met_in_cpu_s": bool(med["now"] <= GOAL_S),
        "dual_before": runs["before"][0]["stats"],
        "dual_now": runs["now"][0]["stats"],
        "comparison_identical": bool(identical),
    }


def main() -> None:
    names = sys.argv[1:] or ["young-pro"]
    load0 = [round(x, 2) for x in os.getloadavg()]
    rows = [client_figures(n) for n in names]
    print(json.dumps({
        "benchmark": "dual_funds",
        "plans": PLANS,
        "clients": rows,
        "load_average_before": load0,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }, indent=1))


if __name__ == "__main__":
    main()
