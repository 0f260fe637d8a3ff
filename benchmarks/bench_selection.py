"""Benchmark: the name selection's swap gate, tracking error and time, sample clients x sizes.

For every sample client (its screens, sector limits and tilts, keep list and, for an active
+ index core, its manager's model) and for account sizes $250k, $500k, $1M, $2M and $5M
(the name count from the account-size table,
:func:`pma_lab.portfolio.target.names_for_account`; a core's completion sleeve at its own
dollars, :func:`pma_lab.portfolio.completion.completion_names`), the target is built twice
with the client's risk model and the S&P 500 proxy, once per swap gate of
:func:`pma_lab.portfolio.selection._swaps`:

- ``zero``: swaps go on while the best excluded name's gradient is below 0 (main up to
  session 25);
- ``held``: while it is below the costliest held name's gradient. With the weights' sum
  fixed, moving a small weight ``e`` from held name ``i`` to excluded name ``j`` changes
  the objective by ``e (g_j - g_i)``: the budget's projection compares the two gradients,
  and the level of the gradient (0) says nothing.

Only the gate differs (the swap tried, the name dropped and the acceptance are the same
code). Per case: the ex-ante tracking error (a core's: the account's) against the
benchmark, the names held, the solves, the swaps kept and the CPU seconds of the build
(``time.process_time``; run with ``OMP_NUM_THREADS=1``). Each case is built with both
gates in alternating order after a warm-up build. Prints one JSON object.

Usage: ``python benchmarks/bench_selection.py [--clients a,b] [--sizes 5e5,1e6] [--swap-rounds 32]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pma_lab.portfolio import selection
from pma_lab.portfolio.selection import _OK, GradientFn, SelectionSettings, SolveFn, _better

ENDS: dict[str, int] = {}
"""How the last run's searches ended: ``gate``, ``tried`` (no untried pair), ``rounds``."""
SIZES = (250_000.0, 500_000.0, 1_000_000.0, 2_000_000.0, 5_000_000.0)
CLIENTS = Path(__file__).resolve().parents[1] / "data" / "samples" / "clients"


def swaps_with_gate(gate: str, rounds: int | None = None) -> Callable:
    """``selection._swaps`` with the stopping gate ``gate`` (``zero`` or ``held``).

    A copy of the library's local search with the gate as its only parameter, so both
    gates run the same code otherwise, whichever the library holds; ``rounds`` replaces
    the settings' ``swap_rounds`` (a study of longer searches).
    """
    def _swaps(w: np.ndarray, f: float, solve: SolveFn, gradient: GradientFn,
               allowed: np.ndarray, bounds: Callable[[np.ndarray], np.ndarray],
               max_names: int, s: SelectionSettings, min_gain: float = 0.0
               ) -> tuple[np.ndarray, float, int]:
        best_w, best_f, kept = w, f, 0
        tried: set[tuple[int, int]] = set()
        end = "rounds"
        for _ in range(s.swap_rounds if rounds is None else rounds):
            held = np.flatnonzero(best_w > s.min_weight)
            out = np.flatnonzero(allowed & (best_w <= s.min_weight))
            if not len(out) or not len(held):
                end = "tried"
                break
            grad = gradient(best_w)
            j_in = next((j for j in out[np.argsort(grad[out])]
                         if not any((i, j) in tried for i in held)), None)
            level = 0.0 if gate == "zero" else float(grad[held].max())
            if j_in is None or grad[j_in] >= level:
                end = "tried" if j_in is None else "gate"
                break
            i_out = held[np.argmin(best_w[held])]
            tried.add((int(i_out), int(j_in)))
            keep = best_w > s.min_weight
            keep[i_out], keep[j_in] = False, True
            status, w, f = solve(bounds(keep))
            w = np.asarray(w, dtype=float).clip(min=0.0)
            if (status in _OK and _better(f, best_f, min_gain)
                    and int((w > s.min_weight).sum()) <= max_names):
                best_w, best_f, kept = w, f, kept + 1
        ENDS[end] = ENDS.get(end, 0) + 1
        return best_w, best_f, kept

    return _swaps


def _client_cases(name: str, sizes: tuple[float, ...]) -> tuple[dict, list]:
    """The client's set-up and one ``build(size) -> (te, names, solves, swaps)`` per size."""
    from pma_lab.io.client import load_client
    from pma_lab.optimize.engine import prepare
    from pma_lab.portfolio.completion import completion_for_profile, completion_names
    from pma_lab.portfolio.target import TargetBuilder, names_for_account

    c = load_client(CLIENTS / name / "profile.toml")
    s = prepare(c)
    prof = c.profile
    buyable = set(s.eligibility.buyable())
    kept = dict(s.target.diagnostics.get("fixed") or {})
    core = getattr(prof, "core", None)
    info = {"as_of": str(s.as_of), "own_size": round(s.account_size, 2),
            "core": bool(core is not None and core.equity_sleeve == "active_index"),
            "kept": sorted(kept)}
    if info["core"]:
        def count(size: float) -> int | None:
            return completion_names(size, float(core.active_share))

        def build(size: float) -> tuple:
            comp = completion_for_profile(prof, s.as_of, s.benchmark.weights, s.risk,
                                          buyable, size, None,
                                          reasons=s.eligibility.not_buyable(), fixed=kept)
            names = int((comp.total > 0).sum())
            return (comp.te_total, names, int((comp.completion > 0).sum()),
                    comp.diagnostics.get("solves"), comp.diagnostics.get("swaps_kept"))
    else:
        tb = TargetBuilder(s.risk, s.benchmark, s.sectors, fixed=kept)
        eligible = [t for t in s.benchmark.weights.index if t in buyable]
        limits = dict(prof.restrictions.sector_max_weight)
        tilts = dict(prof.restrictions.sector_tilts)

        def count(size: float) -> int | None:
            return names_for_account(size)

        def build(size: float) -> tuple:
            t = tb.build(eligible, count(size), limits, tilts)
            return (t.tracking_error, t.names, t.names, t.diagnostics.get("solves"),
                    None)
        tb.build(eligible, None, limits, tilts)  # warm-up: cvxpy's compilation
    if getattr(prof.target, "names", None):  # the study's count is the size's
        info["profile_names_not_used"] = prof.target.names
    return info, [(size, count(size), build) for size in sizes]


def _run(build: Callable, size: float, gate: str, rounds: int | None = None) -> dict:
    """One build with the gate ``gate`` (``library``: the library's own ``_swaps``)."""
    if gate != "library":
        selection._swaps = swaps_with_gate(gate, rounds)
    ENDS.clear()
    t0 = time.process_time()
    te, names, sleeve, solves, swaps = build(size)
    cpu = time.process_time() - t0
    return {"te": round(float(te), 6), "names": names, "sleeve_names": sleeve,
            "solves": solves, "swaps_kept": swaps, "cpu_s": round(cpu, 3),
            "search_ended": dict(ENDS)}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", default=None, help="comma-separated (default: all nine)")
    p.add_argument("--sizes", default=None, help="comma-separated USD (default: 250k..5M)")
    p.add_argument("--swap-rounds", type=int, default=None,
                   help="swap rounds of both gates (default: the settings', 8); the "
                        "library's own build is then left out")
    a = p.parse_args(argv)
    os.environ.pop("PMA_LAB_CACHE", None)  # every target solved, none read from disk
    names = (a.clients.split(",") if a.clients else
             sorted(d.name for d in CLIENTS.iterdir() if (d / "profile.toml").exists()))
    sizes = tuple(float(x) for x in a.sizes.split(",")) if a.sizes else SIZES
    library = selection._swaps
    cases, k = [], 0
    try:
        for name in names:
            info, builds = _client_cases(name, sizes)
            for size, count, build in builds:
                order = ("zero", "held") if k % 2 == 0 else ("held", "zero")
                k += 1
                runs = {g: _run(build, size, g, a.swap_rounds) for g in order}
                selection._swaps = library
                lib = _run(build, size, "library") if a.swap_rounds is None else None
                z, h = runs["zero"], runs["held"]
                cases.append({
                    "client": name, "size": size, "max_names": count, **info,
                    "zero": z, "held": h,
                    "library_gate": (None if lib is None else "held"
                                     if lib["te"] == h["te"] and lib["names"] == h["names"]
                                     else "zero" if lib["te"] == z["te"] else "neither"),
                    "te_change_bp": round((h["te"] - z["te"]) * 1e4, 3),
                    "cpu_ratio": round(h["cpu_s"] / z["cpu_s"], 3) if z["cpu_s"] else None})
                print(f"{name:15s} {size:>10,.0f} n={count!s:>4} te {z['te']:.5%} -> "
                      f"{h['te']:.5%} names {z['names']}/{h['names']} solves "
                      f"{z['solves']}/{h['solves']} cpu {z['cpu_s']}/{h['cpu_s']}",
                      file=sys.stderr, flush=True)
    finally:
        selection._swaps = library
    worse = [c for c in cases if c["te_change_bp"] > 1e-6]
    cpu_z = sum(c["zero"]["cpu_s"] for c in cases)
    cpu_h = sum(c["held"]["cpu_s"] for c in cases)
    out = {
        "benchmark": "selection_swap_gate",
        "gates": {"zero": "swap while the best excluded name's gradient < 0",
                  "held": "swap while it is below the costliest held name's gradient"},
        "swap_rounds": a.swap_rounds or SelectionSettings().swap_rounds,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "load_avg_1m_at_start_end": None,
        "cases": cases,
        "summary": {
            "cases": len(cases),
            "te_lower": sum(c["te_change_bp"] < -1e-6 for c in cases),
            "te_equal": sum(abs(c["te_change_bp"]) <= 1e-6 for c in cases),
            "te_higher": len(worse),
            "te_higher_cases": [f"{c['client']} ${c['size']:,.0f}" for c in worse],
            "mean_te_change_bp": round(float(np.mean([c["te_change_bp"] for c in cases])), 4),
            "min_te_change_bp": round(min(c["te_change_bp"] for c in cases), 4),
            "cpu_s_zero": round(cpu_z, 2), "cpu_s_held": round(cpu_h, 2),
            "cpu_ratio_total": round(cpu_h / cpu_z, 3) if cpu_z else None,
            "cpu_ratio_max": max(c["cpu_ratio"] or 0 for c in cases),
            "solves_zero": sum(c["zero"]["solves"] or 0 for c in cases),
            "solves_held": sum(c["held"]["solves"] or 0 for c in cases),
            "searches_ended": {g: {k: sum(c[g]["search_ended"].get(k, 0) for c in cases)
                                   for k in ("gate", "tried", "rounds")}
                               for g in ("zero", "held")},
        },
    }
    return out


if __name__ == "__main__":
    load0 = os.getloadavg()[0]
    result = main()
    result["load_avg_1m_at_start_end"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
    print(json.dumps(result, indent=2))
