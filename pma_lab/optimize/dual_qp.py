"""The sign-fixed QP solved exactly by its Lagrangian dual, with a certificate checked on every use.

A rebalance's sign-fixed problem without a binding tracking-error cap is a convex QP:
``100 (||B' a||^2 + ||d o a||^2 + aversion x tax + trading cost + penalty)`` over the
trades, each loss-relevant name buy-only or sell-only. Given multipliers ``y`` of its
coupling rows (cash ``nu``, the three gain budgets ``beta >= 0``, the sector limits
``sigma >= 0``, the factor exposures ``mu``), the Lagrangian separates by name into
one-dimensional convex piecewise quadratics (specific risk plus the name's tax curve),
minimised exactly for every name at once; its minimum ``D(y)`` is concave and piecewise
quadratic, maximised by projected Newton steps
(:func:`pma_lab.optimize.pattern_bound.maximise`) from the last solve's multipliers. The
specific risk (``d_i > 0`` for every name) makes each name's minimiser unique, so at the
maximum the minimiser is the QP's solution.

:class:`DualQP` is that solver for :meth:`RebalanceProblem._fixed_solve
<pma_lab.optimize.rebalance.RebalanceProblem>` (its ``pattern_solver``). It writes the
solution into the cvxpy problem's variables (sales per lot class, purchases, active
weights, factor exposures, the classes' gains) and the multipliers into the cash, budget
and sector rows, as a solver would, and keeps it only under a **certificate** checked on
every use:

* primal feasibility: every constraint of the cvxpy problem, evaluated by cvxpy at the
  written values (as :meth:`cvxpy.Constraint.violation`), within :data:`FEAS_TOL`
  (weights; PIQP's own absolute tolerance is 1e-8);
* optimality: the objective, evaluated by cvxpy at the written values, minus ``D(y)``
  (a lower bound on the optimum for any ``beta, sigma >= 0``: weak duality) within
  :data:`GAP_TOL` (objective units; the solvers' accuracy ``1e-9``, PIQP's ``1e-7``
  relative).

A failed certificate, or a problem the dual does not cover (funds held, the capped loss
credit or one variable per lot, researcher's constraints, a name whose caps leave no
trade, a name with both sides open that could buy and sell at once), returns ``None``:
the cvxpy solve runs as before, and :attr:`DualQP.stats` counts it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import cvxpy as cp
import numpy as np

from pma_lab.optimize.pattern_bound import _SCALE, _dual, _setup, dual_start, maximise

if TYPE_CHECKING:
    from pma_lab.optimize.rebalance import RebalanceProblem

__all__ = ["DualQP", "FEAS_TOL", "GAP_TOL", "cold_start"]

FEAS_TOL = 1e-9
"""The largest constraint violation (weights of the account, i.e. ~$0.02 on $20M) a
dual solution may have; PIQP stops at an absolute residual of 1e-8."""
GAP_TOL = 1e-10
"""The largest duality gap (objective units, ``100 x TE^2``: 1e-10 is a tracking
variance of 1e-12) a dual solution may have; the solvers' accuracy is 1e-9."""
STEPS = 40
"""Projected Newton steps at most (the benchmark book's frontier: ~7 evaluations of
``D`` a QP from the last solve's multipliers, 10-40 where a kink search runs)."""


def cold_start(c: dict) -> np.ndarray:
    """Multipliers from the pattern's data alone: the factor exposures of no trade.

    ``mu = 200 B' (h - w_t)`` (the exposures' multiplier at the holdings today), cash,
    budgets and sector limits at zero. A function of the Parameters and caps only, so
    the ascent from it (deterministic) repeats itself to the bit.
    """
    ns = c["S"].shape[0]
    mu = 2 * _SCALE * (c["B"].T @ (c["h"] - c["wt"]))
    return np.r_[np.zeros(4 + ns), mu]


class DualQP:
    """Sign-fixed QPs solved by the Lagrangian dual, certified, for one compiled problem.

    Install it with ``problem.pattern_solver = DualQP(problem)``; the problem's
    sign-fixed solve then calls it first (while no tracking-error cap binds) and runs the
    cvxpy solve whenever it returns ``None``.

    Parameters
    ----------
    problem : RebalanceProblem
    feas_tol, gap_tol : float
        The certificate's tolerances (:data:`FEAS_TOL`, :data:`GAP_TOL`).
    steps : int
        Projected Newton steps at most.
    warm : bool
        Start from the last solve's multipliers (:func:`~pma_lab.optimize.pattern_bound.
        dual_start`: fewer steps, but the last bits of the solution then depend on what
        was solved before; the frontier's sweep). False (the default a
        :class:`~pma_lab.optimize.rebalance.RebalanceProblem` installs): from multipliers
        set by the problem's data alone (:func:`cold_start`), so the same settings give
        the same solution to the bit whatever was solved before and in a forked copy
        (``RebalanceProblem.history_free``).

    Attributes
    ----------
    stats : dict
        ``solved`` (certified and used), ``not_covered`` (the dual does not apply: the
        cvxpy solve ran), ``rejected`` (the certificate failed: the cvxpy solve ran).
    last : dict
        The last call's ``status`` (``"solved"``, ``"not_covered"``, ``"rejected"``),
        ``violation`` (largest constraint violation), ``gap`` (objective minus bound)
        and ``seconds``.
    """

    def __init__(self, problem: RebalanceProblem, feas_tol: float = FEAS_TOL,
                 gap_tol: float = GAP_TOL, steps: int = STEPS, warm: bool = False):
        self.problem = problem
        self.feas_tol, self.gap_tol, self.steps = feas_tol, gap_tol, steps
        self.warm = warm
        self.stats = {"solved": 0, "not_covered": 0, "rejected": 0}
        self.last: dict = {}
        p = problem
        self._cls = None
        if p.aggregated and p.nl:
            cls = np.empty(p.nl, dtype=int)
            cls[p._cls_order] = p._cls_of
            self._cls = cls
        self._nc = p.sc.size if p.aggregated else 0
        self._rows: list[str | None] | None = None  # per QP row: the multiplier it holds
        self._exprs: tuple | None = None  # the QP and its constraints' expressions

    def _row_keys(self, qp) -> list[str | None]:
        """Per constraint of the QP: the multiplier it holds (cash, budget, sector) or None."""
        if self._rows is None:
            keys = []
            for con in qp.constraints:
                names = {q.name() for q in con.parameters()}
                keys.append(next((k for k in ("cash_in", "budget", "sector_hi")
                                  if k in names), None))
            self._rows = keys
        return self._rows

    @property
    def fallbacks(self) -> int:
        """Calls that went to the cvxpy solve (not covered or rejected)."""
        return self.stats["not_covered"] + self.stats["rejected"]

    def __call__(self, problem: RebalanceProblem, sell: np.ndarray, buy: np.ndarray,
                 lot_cap: np.ndarray, w_cap: np.ndarray) -> str | None:
        """Solve the sign-fixed QP with sides ``sell`` (caps already set); ``None``: not used.

        On success the uncapped sign-fixed problem holds the solution (variables,
        multipliers of the cash, budget and sector rows, status ``"optimal"`` and its
        value) and is the problem's ``exact``; the solve is logged (solver ``"dual"``).
        """
        t0 = time.perf_counter()
        p = problem
        self.last = {"status": "not_covered", "violation": np.nan, "gap": np.nan}
        c = None if p._user or self._cls is None else _setup(p, sell, buy, lot_cap, w_cap)
        n_y = None if c is None else 4 + c["S"].shape[0] + c["B"].shape[1]
        y0 = None if c is None else dual_start(p) if self.warm else cold_start(c)
        if c is not None and (y0 is None or len(y0) != n_y):
            y0 = cold_start(c)
        if c is None:
            return self._done("not_covered", t0)
        c["sorted"] = {}  # the lots' order cached per budget multipliers (pattern_bound._dual)
        y, D, g, _, _ = maximise(c, y0, np.inf, self.steps, True, kinks=True)
        if g is None or not np.isfinite(D):
            return self._done("not_covered", t0)
        trades: dict = {}
        _dual(c, y, trades)
        status = self._write(p, c, y, trades)
        qp = p._exact_problem(False)
        try:
            viol, value = self._evaluate(qp)
        except (TypeError, ValueError):  # a Parameter without a value: cvxpy decides
            viol, value = np.inf, np.nan
        gap = value - float(D)
        self.last.update(violation=viol, gap=gap)
        if status is None or not (viol <= self.feas_tol and abs(gap) <= self.gap_tol):
            for var in qp.variables():  # leave nothing of a rejected solution behind
                var.save_value(None)
            return self._done("rejected", t0)
        qp._status, qp._value = "optimal", value
        p._exact_solved = qp
        p._log.append({"problem": "sign-fixed", "solver": "dual", "status": "optimal",
                       "seconds": time.perf_counter() - t0, "refined": False,
                       "solver_seconds": None})
        return self._done("solved", t0, "optimal")

    def _evaluate(self, qp) -> tuple[float, float]:
        """The largest violation of the QP's constraints and its objective, by cvxpy.

        Each constraint's expression (``lhs - rhs``, built once) is evaluated at the
        written values and the Parameters' values as cvxpy's ``violation`` does
        (``|expr|`` for an equality, ``max(expr, 0)`` for an inequality), without its
        check that every Parameter has a value (``update`` sets them all; a missing
        one raises here) that costs more than the evaluation.
        """
        if self._exprs is None or self._exprs[0] is not qp:
            exprs = []
            for con in qp.constraints:
                kind = "eq" if isinstance(con, cp.constraints.Equality) else \
                    "le" if isinstance(con, cp.constraints.Inequality) else None
                exprs.append((kind, con.expr if kind else con))
            self._exprs = (qp, exprs)
        viol = 0.0
        for kind, e in self._exprs[1]:
            if kind is None:
                v = e.violation()
            else:
                r = np.asarray(e._value_impl(), dtype=float)
                v = np.abs(r) if kind == "eq" else np.maximum(r, 0.0)
            viol = max(viol, float(np.max(v, initial=0.0)))
        return viol, float(qp.objective.args[0]._value_impl())

    def _done(self, what: str, t0: float, status: str | None = None) -> str | None:
        self.stats[what] += 1
        self.last.update(status=what, seconds=time.perf_counter() - t0)
        return status

    def _write(self, p: RebalanceProblem, c: dict, y: np.ndarray, trades: dict
               ) -> str | None:
        """Write the dual's solution into the QP's variables and rows; ``None``: cannot."""
        n, na = p.nm, p.na
        x = np.zeros(p.nl)
        x[c["lots"]] = trades["sold"]
        sc = np.bincount(self._cls, weights=x, minlength=self._nc)
        # each class sold in the order its gain curve assumes (the cvxpy variables'
        # meaning): the lots again from the class sales
        x = p._x_value(sc)
        gain = np.bincount(self._cls, weights=p.g_eff * x, minlength=self._nc)
        b = np.zeros(na)
        b[:n] = trades["bought"]
        sold = np.bincount(p.lot_asset, weights=x, minlength=na)
        w = p.h + b - sold
        a = w[:n] - p.wt
        f = c["B"].T @ a
        values = {"sold_class": sc, "gain_class": gain, "b": b, "active": a,
                  "factor_exposure": f}
        qp = p._exact_problem(False)
        for var in qp.variables():
            if var.name() not in values:
                return None
            var.save_value(values[var.name()])
        ns = c["S"].shape[0]
        duals = {"cash_in": float(y[0]), "budget": y[1:4], "sector_hi": y[4:4 + ns]}
        for con, key in zip(qp.constraints, self._row_keys(qp), strict=True):
            if key is None:
                con.save_dual_value(None)
            else:
                con.save_dual_value(np.reshape(duals[key], con.shape))
        return "optimal"
