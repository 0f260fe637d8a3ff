"""Benchmark: open solvers on the rebalance problems of the 500-name book.

The sign-fixed problem without a TE cap is a QP; the relaxation (perspective envelope)
and any TE cap make SOCPs. Each installed solver is timed on the same compiled problem
(signs fixed from a two-step solve) and its objective compared with Clarabel's. Prints
JSON; the choice in RebalanceSettings (Clarabel for conic, PIQP for the QP, with a
recorded Clarabel fallback) follows these numbers.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import warnings

import cvxpy as cp

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
import bench_rebalance as br  # noqa: E402

from pma_lab.optimize.rebalance import Budgets, RebalanceProblem, RebalanceSettings, account_state  # noqa: E402
from pma_lab.tax.liability import TaxProfile  # noqa: E402

QP_SOLVERS = [("CLARABEL", {}), ("PIQP", {}), ("OSQP", {}), ("OSQP", {"max_iter": 50000}),
              ("SCS", {}), ("HIGHS", {})]
SOCP_SOLVERS = [("CLARABEL", {}), ("SCS", {})]


def timed(prob: cp.Problem, solver: str, opts: dict, repeats: int = 3) -> dict:
    times, status, value = [], None, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                prob.solve(solver=solver, **opts)
            status, value = prob.status, prob.value
        except (cp.error.SolverError, Exception) as e:  # noqa: BLE001 - recorded
            status, value = f"error: {type(e).__name__}", None
        times.append(time.perf_counter() - t0)
    return {"solver": solver + (f" {opts}" if opts else ""), "status": status,
            "objective": value, "seconds_median": round(statistics.median(times), 4)}


def main() -> None:
    m, rm, target, led, names, n_lots = br.build_book()
    uni = m.universe.frame().set_index("ticker")
    prices = m.prices.at(br.AS_OF, list(rm.tickers))
    tax = TaxProfile.from_rates(0.408, 0.238)
    st = account_state(led, "T", br.AS_OF, prices, rm, target, tax, cash=100_000,
                       sectors=uni.gics_sector, etf_info=m.etf_info())
    prob = RebalanceProblem(st, rm, target, RebalanceSettings(
        gamma_tax=0.5, budgets=Budgets(total=250_000)), led)
    prob.solve()  # fixes the signs in the parameters of the exact problem
    qp = prob._exact_problem(False)
    rows = [timed(qp, s, o) for s, o in QP_SOLVERS if s in cp.installed_solvers()]
    ref = next((r["objective"] for r in rows if r["solver"] == "CLARABEL"), None)
    for r in rows:
        r["objective_rel_diff"] = (None if r["objective"] is None or ref is None else
                                   abs(r["objective"] - ref) / max(abs(ref), 1e-12))
    socp = [timed(prob.relaxed, s, o, 2) for s, o in SOCP_SOLVERS
            if s in cp.installed_solvers()]
    sref = next((r["objective"] for r in socp if r["solver"] == "CLARABEL"), None)
    for r in socp:
        r["objective_rel_diff"] = (None if r["objective"] is None or sref is None else
                                   abs(r["objective"] - sref) / max(abs(sref), 1e-12))
    print(json.dumps({"benchmark": "solvers_on_rebalance",
                      "book": {"model_names": len(rm.tickers), "lots": n_lots},
                      "sign_fixed_qp": rows, "relaxation_socp": socp,
                      "installed": cp.installed_solvers()}, indent=2, default=str))


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):  # the docstring, not a run
        print(__doc__)
        sys.exit(0)
    main()
