"""Benchmark: the active + index core of the core-active sample client, before and after.

Before (up to issue 14's completion fix), :func:`~pma_lab.optimize.engine.prepare` built
the direct-indexed target at the account's name count (68 names at $1.63M) and the
proposal's shelf solved the completion sleeve again, with no name count (300+ names);
the plans traded toward the direct-indexed target, not the core. Now ``prepare`` builds
the core once (the active model at 40 % plus a completion sleeve of at most the name count
of its own dollars, 40 at $978k, chosen by :mod:`pma_lab.portfolio.selection`), the
target is that core and the shelf reads ``setup.completion``.

Both paths run here on the same code, market data and risk model (estimated once, outside
the timings): "before" is the old path rebuilt from today's parts (``TargetBuilder`` at
``names_for_account(account size)``, then the completion problem with no name count),
"after" is ``prepare`` followed by the shelf's read. Times are the median of ``REPEATS``
runs each, interleaved. Prints one JSON object with the load average at the start and end.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

from pma_lab.io.client import load_client
from pma_lab.market.data import load_market
from pma_lab.optimize.engine import prepare
from pma_lab.paths import clients_dir
from pma_lab.portfolio.completion import CompletionProblem, active_model_weights
from pma_lab.portfolio.risk import estimate_risk_model
from pma_lab.portfolio.target import TargetBuilder, names_for_account
from pma_lab.report import shelf

CLIENT = "core-active"
REPEATS = 3


def _before(client, m, rm, s0) -> dict:
    """The old path: prepare's direct-indexed target, then the shelf's completion solve.

    The old ``prepare`` = the direct-indexed target (timed alone) + the rest of ``prepare``
    (timed as ``prepare`` given that target, which builds neither target nor core).
    """
    prof = client.profile
    n = prof.target.names or names_for_account(s0.account_size)
    eligible = [t for t in s0.benchmark.weights.index if t in set(s0.eligibility.buyable())]
    t0 = time.perf_counter()
    tgt = TargetBuilder(rm, s0.benchmark, s0.sectors).build(
        eligible, n, dict(prof.restrictions.sector_max_weight),
        dict(prof.restrictions.sector_tilts))
    t1 = time.perf_counter()
    s = prepare(client, market=m, risk=rm, target=tgt)
    t2 = time.perf_counter()
    core = prof.core
    active = active_model_weights(str(core.active_model), s.as_of)
    bench = s.benchmark.weights
    names = [t for t in rm.tickers if t in set(bench.index) | set(active.index)]
    blocked = set(names) - set(s.eligibility.buyable())
    comp = CompletionProblem(rm.subset(names), bench).solve(active, float(core.active_share),
                                                            sorted(blocked))
    t3 = time.perf_counter()
    return {"target_seconds": t1 - t0, "prepare_rest_seconds": t2 - t1,
            "shelf_seconds": t3 - t2, "target_names": tgt.names,
            "target_te": tgt.tracking_error, "core_names": int((comp.total > 0).sum()),
            "completion_names": int((comp.completion > 0).sum()), "core_te": comp.te_total,
            "core_factor_te": comp.te_factor_total}


def _after(client, m, rm) -> dict:
    """The new path: prepare builds the core; the shelf reads it."""
    t0 = time.perf_counter()
    s = prepare(client, market=m, risk=rm)
    t1 = time.perf_counter()
    comp = shelf.completion(s)
    t2 = time.perf_counter()
    assert comp is s.completion
    return {"prepare_seconds": t1 - t0, "shelf_seconds": t2 - t1,
            "completion_solves": s.target.diagnostics["solves"],
            "target_names": s.target.names, "target_te": s.target.tracking_error,
            "completion_names": int((comp.completion > 0).sum()),
            "completion_max_names": comp.max_names, "core_factor_te": comp.te_factor_total,
            "active_only_te": comp.te_active_only,
            "active_only_factor_te": comp.te_factor_active_only}


def main() -> None:
    load0 = os.getloadavg()
    m = load_market()
    client = load_client(clients_dir() / CLIENT / "profile.toml")
    rm = estimate_risk_model(client.as_of, market=m)
    s0 = prepare(client, market=m, risk=rm)  # warm-up; its parts feed the old path
    before, after = [], []
    for _ in range(REPEATS):
        before.append(_before(client, m, rm, s0))
        after.append(_after(client, m, rm))

    def med(rows: list[dict], key: str) -> float:
        return round(statistics.median(r[key] for r in rows), 3)

    b, a = before[-1], after[-1]
    # the old prepare = everything but the core (measured inside _before) + the target
    old_prepare = med(before, "prepare_rest_seconds") + med(before, "target_seconds")
    print(json.dumps({
        "benchmark": "completion_core",
        "client": CLIENT,
        "repeats": REPEATS,
        "before": {
            "target": "direct-indexed, names_for_account(account size)",
            "target_names": b["target_names"], "target_te": round(b["target_te"], 4),
            "core_names (shelf only)": b["core_names"],
            "completion_names (shelf only)": b["completion_names"],
            "core_te (shelf only)": round(b["core_te"], 4),
            "prepare_seconds": round(old_prepare, 3),
            "target_build_seconds": med(before, "target_seconds"),
            "shelf_completion_seconds": med(before, "shelf_seconds"),
        },
        "after": {
            "target": "the core: active model x 40 % + completion sleeve",
            "target_names": a["target_names"], "target_te": round(a["target_te"], 4),
            "completion_names": a["completion_names"],
            "completion_max_names": a["completion_max_names"],
            "core_factor_te": round(a["core_factor_te"], 4),
            "active_only_te": round(a["active_only_te"], 4),
            "active_only_factor_te": round(a["active_only_factor_te"], 4),
            "prepare_seconds": med(after, "prepare_seconds"),
            "completion_solves": a["completion_solves"],
            "shelf_completion_seconds": med(after, "shelf_seconds"),
        },
        "prepare_delta_seconds": round(med(after, "prepare_seconds") - old_prepare, 3),
        "prepare_plus_shelf_delta_seconds": round(
            med(after, "prepare_seconds") + med(after, "shelf_seconds")
            - old_prepare - med(before, "shelf_seconds"), 3),
        "loadavg_start": [round(x, 2) for x in load0],
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
    }, indent=2))


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):  # the docstring, not a run
        print(__doc__)
        sys.exit(0)
    main()
