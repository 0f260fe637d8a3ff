"""Benchmark: the certified dual's sign-fixed QPs of a plan comparison, before and after session 15.

The tech-exec sample client's plan comparison (immediate, 3y, 5y, budget:0,
budget:25000 over 5 annual steps, plans in this process as a batch's proposals run
them) solves ~150 sign-fixed QPs by :class:`pma_lab.optimize.dual_qp.DualQP`, about half
with a binding tracking-error cap (a search on the cap's multiplier, each point an
ascent of the dual). Each QP's Lagrangian data is recorded during one comparison, then
every QP's ascent and cap search is replayed, alternately, twice each, CPU seconds:

* ``previous``: the code before session 15 (:data:`BASE`, read from git into this
  process: each ascent evaluated the dual again at its maximum, each slope of the cap
  search once more there, and every evaluation recomputed the pattern's fixed arrays),
  numpy's OpenBLAS with its default threads, as it ran;
* ``now, default threads``: this code (each evaluation's trades, gradient and weights
  kept; the fixed arrays once per pattern), the default threads;
* ``now, one thread``: this code as :class:`DualQP` runs it, one OpenBLAS thread
  (:func:`pma_lab.blas.one_thread`).

with the evaluations of the dual per QP and whether every QP's multipliers, bound,
trades and cap weight are identical to the bit across the three. Then the whole
comparison (the figure the goal is about), alternately twice each, with DualQP's one
thread and without (``pma_lab.blas.one_thread`` made a no-op): CPU and wall seconds,
whether the plans' figures are identical. Goal (issue 16): a 5-plan, 5-year comparison
<= 10 s. Prints JSON with the load average, since the machine may be shared.
"""

from __future__ import annotations

import contextlib
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

from pma_lab import blas  # noqa: E402
from pma_lab.io.client import load_client  # noqa: E402
from pma_lab.optimize import dual_qp  # noqa: E402
from pma_lab.optimize.engine import prepare  # noqa: E402
from pma_lab.paths import clients_dir  # noqa: E402
from pma_lab.report import proposal as report  # noqa: E402

BASE = "198f5312e726774c5b339d0321dc1e5c44fe5a82"
"""main before session 15's dual speed-ups (session 14's last commit)."""
PLANS = "immediate,3y,5y,budget:0,budget:25000"
GOAL_S = 10.0


def previous_code() -> types.ModuleType | None:
    """``dual_qp`` as of :data:`BASE` (its own ``pattern_bound``), or ``None`` without git."""
    root = Path(__file__).resolve().parent.parent
    src = {}
    for name in ("pattern_bound", "dual_qp"):
        try:
            src[name] = subprocess.run(
                ["git", "-C", str(root), "show", f"{BASE}:pma_lab/optimize/{name}.py"],
                capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return None
    mods = {}
    for name in ("pattern_bound", "dual_qp"):
        mod = types.ModuleType(f"previous_{name}")
        sys.modules[mod.__name__] = mod
        code = src[name].replace("from pma_lab.optimize.pattern_bound import",
                                 "from previous_pattern_bound import")
        exec(compile(code, f"{BASE[:7]}:{name}.py", "exec"), mod.__dict__)  # noqa: S102
        mods[name] = mod
    return mods["dual_qp"]


def comparison(setup) -> tuple[float, float, object]:
    """CPU and wall seconds of one plan comparison, and its result."""
    c0, w0 = time.process_time(), time.perf_counter()
    got = report.transition(setup, PLANS, 5, False)
    return time.process_time() - c0, time.perf_counter() - w0, got


def record(setup) -> list[tuple[dict, float | None]]:
    """Every sign-fixed QP's Lagrangian data (and TE cap^2) of one comparison."""
    seen = []
    real = dual_qp._setup

    def kept(p, *args):
        c = real(p, *args)
        if c is not None and c.fund is None:  # the previous code has no funds
            cap2 = None if p.settings.te_cap is None else float(p.P["te2_cap"].value)
            seen.append((dataclasses.replace(c, memo=None), cap2))  # without its caches
        return c

    dual_qp._setup = kept
    try:
        comparison(setup)
    finally:
        dual_qp._setup = real
    return seen


def replay(mod, qps, now: bool) -> tuple[list, int]:
    """Every QP's ascent and cap search by ``mod``: the results and the dual's evaluations."""
    calls = [0]
    pb = sys.modules[mod._dual.__module__]
    real = pb._dual

    def counted(*args, **kwargs):
        calls[0] += 1
        return real(*args, **kwargs)

    pb._dual = mod._dual = counted
    out = []
    try:
        for c0, cap2 in qps:
            # the previous code's data is a dict; this code's a PatternData without caches
            c = dataclasses.replace(c0) if now else {
                f.name: getattr(c0, f.name) for f in dataclasses.fields(c0) if f.name != "memo"}
            at: dict = {}
            got = mod._ascend(c, mod.cold_start(c), mod.STEPS, *([at] if now else []))
            if got is None:
                out.append(None)
                continue
            y, D, trades, te2, H = got
            row = [y, D, trades["sold"], trades["bought"]]
            if cap2 is not None and te2 > cap2:
                extra = (at["g"], at["w"]) if now else ()
                found = mod._cap_search(c, y, H, te2, cap2, mod.STEPS, *extra)
                row += ([] if found is None else
                        [found[0], found[1], found[2], found[3]["sold"], found[3]["bought"]])
            out.append(row)
    finally:
        pb._dual = mod._dual = real
    return out, calls[0]


def same(a: list, b: list) -> bool:
    """Every QP's results identical to the bit."""
    def bits(x):
        return np.asarray(x, dtype=float).tobytes()
    return len(a) == len(b) and all(
        (x is None and y is None) or (x is not None and y is not None and len(x) == len(y)
                                      and all(bits(u) == bits(v)
                                              for u, v in zip(x, y, strict=True)))
        for x, y in zip(a, b, strict=True))


def main() -> None:
    load0 = [round(x, 2) for x in os.getloadavg()]
    client = load_client(clients_dir() / "tech-exec" / "profile.toml")
    models = report.models(client, None, None, None)
    setup = prepare(client, **models.prepare_args())
    comparison(setup)  # warm: imports, caches, compiled problems
    qps = record(setup)
    prev = previous_code()
    variants = {"now, default threads": (dual_qp, True, False),
                "now, one thread": (dual_qp, True, True)}
    if prev is not None:
        variants = {"previous": (prev, False, False), **variants}
    cpu: dict[str, list[float]] = {k: [] for k in variants}
    results, evals = {}, {}
    for _ in range(2):
        for name, (mod, now, one) in variants.items():
            with blas.one_thread() if one else contextlib.nullcontext():
                t0 = time.process_time()
                results[name], evals[name] = replay(mod, qps, now)
                cpu[name].append(time.process_time() - t0)
    first = next(iter(results.values()))
    qp_figures = {
        name: {"cpu_s": [round(x, 3) for x in cpu[name]],
               "dual_evaluations": evals[name],
               "evaluations_per_qp": round(evals[name] / len(qps), 1),
               "identical_to_" + next(iter(results)): same(results[name], first)}
        for name in variants}
    ref = "previous" if prev is not None else "now, default threads"
    base = statistics.median(cpu[ref])
    for name in variants:
        qp_figures[name]["ratio_vs_" + ref] = round(base / statistics.median(cpu[name]), 2)
    capped = sum(1 for c, cap2 in qps if cap2 is not None)

    # the whole comparison, with and without DualQP's one BLAS thread
    runs: dict[str, list] = {"one thread (default)": [], "default threads": []}
    real_one = dual_qp.one_thread
    figures = {}
    for _ in range(2):
        for name in runs:
            dual_qp.one_thread = real_one if name.startswith("one") else contextlib.nullcontext
            try:
                c, w, got = comparison(setup)
            finally:
                dual_qp.one_thread = real_one
            runs[name].append((round(c, 2), round(w, 2)))
            figures.setdefault(name, got.comparison.to_csv())
    one = statistics.median(r[0] for r in runs["one thread (default)"])
    many = statistics.median(r[0] for r in runs["default threads"])
    print(json.dumps({
        "benchmark": "dual_qp",
        "client": "tech-exec", "plans": PLANS, "years": 5,
        "sign_fixed_qps": len(qps), "with_a_te_cap": capped,
        "previous_code": BASE if prev is not None else "not found (no git): skipped",
        "replay": qp_figures,
        "comparison": {"cpu_s_wall_s": runs, "cpu_s_median": round(one, 2),
                       "cpu_s_median_default_threads": round(many, 2),
                       "ratio_vs_default_threads": round(many / one, 2),
                       "plans_figures_identical": len(set(figures.values())) == 1,
                       "goal_s": GOAL_S, "met_in_cpu_s": one <= GOAL_S},
        "load_average_before": load0,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }, indent=1))


if __name__ == "__main__":
    main()
