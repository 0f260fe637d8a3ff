"""The tax vs tracking-error frontier of one account.

One compiled :class:`~pma_lab.rebalance.RebalanceProblem` is re-solved for a sweep of the
tax aversion (or of a gain budget): each point is a full two-step solve through cvxpy
Parameters, never a rebuild. The table always has the two ends: **do nothing** (today's
portfolio: no tax, today's TE) and **go to target** (no tax aversion, no budget). A point
that fails is a row with its status and error, never a gap.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pma_lab.errors import OptimizationError
from pma_lab.rebalance import Budgets, RebalanceProblem

__all__ = ["Frontier", "efficient_frontier", "DEFAULT_GAMMAS"]

DEFAULT_GAMMAS = tuple(np.logspace(1.0, -3.0, 23))

_COLUMNS = ["point", "kind", "parameter", "te", "tax", "tax_pct", "realized_st",
            "realized_lt", "turnover", "names", "status", "error"]


@dataclass(frozen=True)
class Frontier:
    """A tidy frontier table and its figure.

    Attributes
    ----------
    table : pd.DataFrame
        One row per point, ordered from "do nothing" to "go to target": point, kind
        (``current`` / ``sweep`` / ``target``), parameter (tax aversion or budget USD), te,
        tax (USD, the ledger's), tax_pct (of the account), realized_st/lt, turnover, names,
        status, error, seconds; plus ``marginal_tax_per_bp``: extra tax per basis point of
        tracking error removed, from the previous solved point.
    account_value : float
    seconds : float
        Wall time of the sweep.
    timings : pd.Series
        Seconds per point (kept out of the table so the table is reproducible).
    """

    table: pd.DataFrame
    account_value: float
    seconds: float
    swept: str = "gamma_tax"
    timings: pd.Series = field(default_factory=pd.Series)

    def figure(self, title: str | None = None) -> go.Figure:
        """Tax (USD) against tracking error (%), with the two ends marked."""
        t = self.table[self.table.status.isin(["optimal", "optimal_inaccurate", "current"])]
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=100 * t.te, y=t.tax, mode="lines+markers", name="frontier",
                                 text=[f"{k}: {self.swept}={p:.3g}" if k == "sweep" else k
                                       for k, p in zip(t.kind, t.parameter, strict=True)],
                                 hovertemplate="TE %{x:.2f}%<br>tax $%{y:,.0f}<br>%{text}"))
        for kind, sym in (("current", "circle-open"), ("target", "star")):
            e = t[t.kind == kind]
            if len(e):
                fig.add_trace(go.Scatter(x=100 * e.te, y=e.tax, mode="markers",
                                         marker={"size": 12, "symbol": sym},
                                         name="do nothing" if kind == "current"
                                         else "go to target"))
        fig.update_layout(title=title or "Tax cost vs tracking error",
                          xaxis_title="ex-ante tracking error to the target (%)",
                          yaxis_title="tax (USD)", height=440,
                          legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
                          margin={"t": 90})
        return fig


def efficient_frontier(problem: RebalanceProblem, gammas: Sequence[float] | None = None,
                       budgets: Sequence[float] | None = None, keep_budgets: bool = False,
                       method: str = "two_step") -> Frontier:
    """Sweep the tax aversion (default) or the total gain budget over one compiled problem.

    Parameters
    ----------
    problem : RebalanceProblem
        Compiled once; its settings are restored afterwards.
    gammas : Sequence[float] | None
        Tax aversions to sweep (default :data:`DEFAULT_GAMMAS`, 23 points from 10 to
        0.001, so with the two ends the table has 25 rows).
    budgets : Sequence[float] | None
        Instead of aversions, sweep the total net gain budget (USD) at zero tax aversion.
    keep_budgets : bool
        Keep the account's gain budgets while sweeping aversions (default: drop them, so
        the whole trade-off shows; the budgets are themselves points on it).
    method : str
        Passed to :meth:`RebalanceProblem.solve`.

    Returns
    -------
    Frontier
    """
    t0 = time.perf_counter()
    saved = problem.settings
    rows = [_current_row(problem)]
    if budgets is not None:
        sweep = [("budget", float(b), {"gamma_tax": 0.0,
                                       "budgets": Budgets(total=float(b))}) for b in budgets]
        swept = "budget"
    else:
        free = {} if keep_budgets else {"budgets": Budgets()}
        sweep = [("gamma_tax", float(g), {"gamma_tax": float(g), **free})
                 for g in (gammas if gammas is not None else DEFAULT_GAMMAS)]
        swept = "gamma_tax"
    try:
        for k, (_, value, change) in enumerate(sweep, start=1):
            rows.append(_point(problem, k, "sweep", value,
                               replace(saved, **change), method))
        # "go to target": no tax aversion, no budget or TE cap (the spread cost stays, so
        # no name is bought and sold at once)
        rows.append(_point(problem, len(sweep) + 1, "target", 0.0,
                           replace(saved, gamma_tax=0.0, budgets=Budgets(),
                                   te_cap=None, lt_soon_penalty=0.0), method))
    finally:
        problem.update(saved)
    timings = pd.Series([r.pop("seconds") for r in rows], name="seconds")
    table = pd.DataFrame(rows, columns=_COLUMNS)
    ok = table.status.isin(["optimal", "optimal_inaccurate", "current"])
    marg = np.full(len(table), np.nan)
    prev = None
    for i in range(len(table)):
        if not ok.iat[i]:
            continue
        if prev is not None:
            dte = (table.te.iat[prev] - table.te.iat[i]) * 1e4
            if dte > 1e-6:
                marg[i] = (table.tax.iat[i] - table.tax.iat[prev]) / dte
        prev = i
    table["marginal_tax_per_bp"] = marg
    return Frontier(table, problem.V, time.perf_counter() - t0, swept, timings)


def _current_row(problem: RebalanceProblem) -> dict:
    return {"point": 0, "kind": "current", "parameter": np.nan,
            "te": problem.current_te(), "tax": 0.0, "tax_pct": 0.0,
            "realized_st": 0.0, "realized_lt": 0.0, "turnover": 0.0,
            "names": problem.current_names(), "status": "current", "error": "",
            "seconds": 0.0}


def _point(problem: RebalanceProblem, k: int, kind: str, value: float, settings,
           method: str) -> dict:
    t0 = time.perf_counter()
    try:
        problem.update(settings)
        r = problem.solve(method)
        s = r.summary
        return {"point": k, "kind": kind, "parameter": value, "te": s.te_after,
                "tax": s.tax, "tax_pct": s.tax_pct, "realized_st": s.realized_st,
                "realized_lt": s.realized_lt, "turnover": s.turnover,
                "names": s.names_after, "status": s.status, "error": "",
                "seconds": time.perf_counter() - t0}
    except OptimizationError as e:
        return {"point": k, "kind": kind, "parameter": value, "te": np.nan, "tax": np.nan,
                "tax_pct": np.nan, "realized_st": np.nan, "realized_lt": np.nan,
                "turnover": np.nan, "names": np.nan,
                "status": type(e).__name__, "error": str(e).splitlines()[0],
                "seconds": time.perf_counter() - t0}
