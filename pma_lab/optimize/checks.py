"""The post-solve constraint check of the rebalance, driven by the constraint objects.

After a solve (and always after the whole-share / minimum-trade step) every constraint of
the problem is evaluated at the trades a result proposes: each constraint object checks
itself (:meth:`~pma_lab.optimize.constraints.RebalanceConstraint.evaluate`), a
researcher's added constraint by the largest violation of its cvxpy form at the trades
(:func:`violation`). :func:`check_constraints` gives the rows ``(constraint, limit, value,
ok)`` of :meth:`RebalanceProblem.check_constraints` and of ``RebalanceResult.checks``;
:func:`checked` attaches them to a rounded result and raises when the rounding broke one
(an added constraint a share's weight cannot keep: :class:`InfeasibleError`; a built-in
one: a bug). The trades are read back from the result (:func:`trade_arrays`), never from
the solver's variables, so any result of the problem can be checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from pma_lab.errors import InfeasibleError, SolverFailedError
from pma_lab.optimize.constraints import Candidate, OneSidePerName, RebalanceConstraint
from pma_lab.optimize.result import Deferred, replaced, trade_columns, trade_lists
from pma_lab.optimize.state import asset_index, lot_columns

if TYPE_CHECKING:
    from pma_lab.optimize.rebalance import RebalanceProblem
    from pma_lab.optimize.result import RebalanceResult
    from pma_lab.optimize.settings import RebalanceSettings

__all__ = ["trade_arrays", "violation", "added_violations", "check_constraints", "checked"]

#: the largest violation of an added constraint's cvxpy form that still counts as kept
ADDED_TOL = 1e-7


def trade_arrays(p: RebalanceProblem, result: RebalanceResult
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Lot sales ``x`` and buys ``b`` (weights of V) of a result of problem ``p``.

    A result :func:`~pma_lab.optimize.result.build_result` made for ``p``'s state and
    value keeps them, read back from its arrays as from its tables here (reading the
    tables' columns was ~0.7 CPU-ms of every check).
    """
    kept = result.__dict__.get("_trade_arrays")
    if kept is not None and kept[0]() is p.state and kept[1] == p.V:
        return kept[2].copy(), kept[3].copy()
    V, cols = p.V, lot_columns(p.state)
    # the trade lists' columns (a step's result's tables are not built: trade_columns)
    columns = trade_columns(result)
    lot_ids, = trade_lists(columns.lots, "lot_id")
    x = np.zeros(p.nl)
    if len(lot_ids):
        j = np.array([cols.row[lid] for lid in lot_ids], dtype=int)
        x[j] = np.where(np.asarray(columns.lots["full_lot"], dtype=bool), p.v[j],
                        np.asarray(columns.lots["shares"], dtype=float) * cols.price[j] / V)
    b = np.zeros(p.na)
    px = p.state.prices.to_numpy(dtype=float)
    # the columns read as lists (a boolean selection of the frame cost ~0.3 ms a result)
    tickers, sides = trade_lists(columns.names, "ticker", "side")
    buys = [k for k, side in enumerate(sides) if side == "buy"]
    if buys:
        i = np.array([p.asset_index[tickers[k]] for k in buys], dtype=int)
        b[i] = np.asarray(columns.names["shares"], dtype=float)[buys] * px[i] / V
    return x, b


@contextmanager
def _at_trades(p: RebalanceProblem, x: np.ndarray, b: np.ndarray) -> Iterator[None]:
    """The problem's variables set to trades ``x``, ``b`` inside the block, put back after.

    The sale variable is per lot, or per lot class (the lots' sales summed by class); the
    active weights follow from the trades (``a = M (h + b - A x) - w_t``).
    """
    sale = p.sc if p.aggregated else p.x
    if p.aggregated:
        xs = np.bincount(p._cls_of, weights=x[p._cls_order],
                         minlength=p.sc.shape[0]) if p.nl else np.zeros(0)
    else:
        xs = x
    saved = (sale.value if sale is not None else None, p.b.value, p.a.value)
    if sale is not None and p.nl:
        sale.value = xs
    p.b.value = b
    p.a.value = p.M @ (p.h + b - (p.A @ x if p.nl else 0.0)) - p.wt
    try:
        yield
    finally:
        if sale is not None and p.nl:
            sale.value = saved[0]
        p.b.value, p.a.value = saved[1], saved[2]


def violation(p: RebalanceProblem, constraint: RebalanceConstraint, x: np.ndarray,
              b: np.ndarray) -> float:
    """The largest violation of a constraint's cvxpy form at trades ``x``, ``b``.

    The problem's variables are set to the trades for the evaluation and put back after.

    Parameters
    ----------
    p : RebalanceProblem
    constraint : RebalanceConstraint
        An added constraint (its compiled form is reused) or any other constraint object
        (compiled from the problem's ``formulation`` now).
    x, b : np.ndarray
        Weight sold per lot and bought per asset.
    """
    cons = next((c for _, c, obj in p._user if obj is constraint), None)
    if cons is None:
        cons = constraint.compile(p.formulation)
    with _at_trades(p, x, b):
        return max((float(np.max(c.violation(), initial=0.0)) for c in cons), default=0.0)


def term_gradient(p: RebalanceProblem, x: np.ndarray, b: np.ndarray) -> np.ndarray:
    """d(the added objective terms)/d(buys) per asset at trades ``x``, ``b``.

    The problem's variables are set to the trades (as :func:`violation` sets them) and put
    back after; each term's gradient (cvxpy's ``grad``) with respect to the buys ``b``
    (``w`` is an expression of them) and the active weights ``a`` (``a = M w - w_t``:
    carried to the buys by ``M'``). A purchase of ``d`` of asset ``i`` changes the terms
    by about ``d * g[i]`` (first order), in the objective's units (tracking variance).
    A term not differentiable there (cvxpy gives no gradient) counts 0.
    """
    g = np.zeros(p.na)
    with _at_trades(p, x, b):
        for term in p.objective_terms.values():
            grad = term.grad or {}
            for var in (p.b, p.a):
                d = grad.get(var)
                if d is None:
                    continue
                d = np.asarray(d.todense() if sp.issparse(d) else d, dtype=float).ravel()
                g += d if var is p.b else p.M.T @ d
    return g


def added_violations(p: RebalanceProblem, x: np.ndarray, b: np.ndarray
                     ) -> dict[str, float]:
    """The largest violation of each added constraint at trades ``x``, ``b``."""
    return {label: violation(p, obj, x, b) for label, _, obj in p._user}


def check_constraints(p: RebalanceProblem, result: RebalanceResult,
                      settings: RebalanceSettings) -> pd.DataFrame:
    """Every constraint of the problem evaluated at a result: limit, value, ok.

    The built-in constraints in their order, the added ones after "no name bought and
    sold" (by their own ``evaluate`` when they have one, else by :func:`violation`).

    Parameters
    ----------
    p : RebalanceProblem
    result : RebalanceResult
    settings : RebalanceSettings
        The settings the result was solved with.
    """
    return _frame(_rows(p, result, settings))


def _rows(p: RebalanceProblem, result: RebalanceResult, settings: RebalanceSettings
          ) -> list[tuple]:
    """:func:`check_constraints`' rows ``(constraint, limit, value, ok)``."""
    ws = result.weights
    if ws.index is asset_index(p.state):
        # a result of this state (build_result's index): the reindex is the identity, and
        # indexing ~500 tickers again (a list into an Arrow index) cost ~0.13 ms a check
        w = ws.to_numpy(dtype=float, copy=True)
        w[np.isnan(w)] = 0.0
    else:
        w = ws.reindex(list(p.state.assets)).fillna(0.0).to_numpy()
    x, b = trade_arrays(p, result)
    cand = Candidate(p, settings, result, x, b, w)
    rows = []
    for con in p.constraints.values():
        rows += con.evaluate(cand)
        if isinstance(con, OneSidePerName):  # the researcher's constraints
            for label, _, obj in p._user:
                if type(obj).evaluate is RebalanceConstraint.evaluate:
                    viol = violation(p, obj, x, b)
                    rows.append((label + " (largest violation)", 0.0, viol,
                                 viol <= ADDED_TOL))
                else:
                    rows += obj.evaluate(cand)
    return rows


def _frame(rows: list[tuple]) -> pd.DataFrame:
    """The checks table of :func:`_rows`' rows."""
    return pd.DataFrame(rows, columns=["constraint", "limit", "value", "ok"])


def checked(p: RebalanceProblem, res: RebalanceResult, settings: RebalanceSettings
            ) -> RebalanceResult:
    """A rounded result with its ``checks``; raises when the rounding broke a constraint.

    Raises
    ------
    InfeasibleError
        When only added constraints are broken: whole shares or the minimum trade cannot
        keep them (the message says to loosen them by a share's weight).
    SolverFailedError
        When a built-in constraint is broken (a bug of the whole-share step).
    """
    rows = _rows(p, res, settings)
    # the table is built when first read (a plan's steps seldom read it): ``ok`` read
    # from the rows as the table's column holds them
    if all(bool(r[3]) for r in rows):
        return replaced(res, checks=Deferred(_frame, rows))
    checks = _frame(rows)
    if not checks.ok.all():
        bad = checks[~checks.ok]
        added = bad.constraint.str.endswith(" (largest violation)")
        if added.all():
            raise InfeasibleError(
                "whole-share / minimum-trade trades cannot keep the added "
                f"constraint(s) {', '.join(bad.constraint.str[:-20])} (largest "
                f"violation {bad.value.max():.3g}); loosen them by a share's "
                "weight, lower min_trade or allow fractional shares",
                list(bad.constraint.str[:-20]))
        raise SolverFailedError(
            "the whole-share / minimum-trade step broke a constraint ("
            + "; ".join(f"{r.constraint}: {r.value:g} vs {r.limit:g}"
                        for r in bad.itertuples()) + "); this is a bug")
    return replaced(res, checks=checks)
