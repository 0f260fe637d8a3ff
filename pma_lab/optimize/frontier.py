"""The tax vs tracking-error frontier of one account.

One compiled :class:`~pma_lab.optimize.rebalance.RebalanceProblem` is re-solved for a sweep of the
tax aversion (or of a gain budget): each point is a full two-step solve through cvxpy
Parameters, never a rebuild, and goes through the same whole-share / minimum-trade step as
every trade list (:meth:`~pma_lab.optimize.rebalance.RebalanceProblem.solve`). The sweep always has
the two ends: **do nothing** (today's portfolio: no tax, today's TE) and **go to target**
(no budget, a tax tie-breaker only: the settings of the immediate transition's first step,
:func:`pma_lab.optimize.settings.go_to_target`, on the account with a ``sell_within``
glide's names sold in full today, :func:`pma_lab.optimize.state.go_to_target_state`, so
its trades and tax are those of "Move now" in the plan comparison).

Three tax figures are reported side by side for every point, because a harvest that
creates a large loss carryforward costs little this year and is worth a lot later:

* ``tax_this_year``: the ledger's Schedule D tax of the trades for this tax year, after the
  loss limit ($3,000, or $1,500 married filing separately: the profile's
  :attr:`~pma_lab.tax.liability.TaxProfile.loss_limit`), stacked through the client's
  brackets when the income is known;
* ``carryforward_created``: the capital loss carried into next year that the trades add,
  by character (``carryforward_st``, ``carryforward_lt``), with its present value
  ``carryforward_value`` under a stated assumption
  (:func:`pma_lab.tax.liability.carryforward_value`);
* ``tax_economic``: **the optimizer's linear tax**, every lot's gain or loss valued at the
  client's rate for its character (ST or LT), losses credited in full as if used against
  gains taxed at the same rate. This is the quantity the optimizer trades off against
  tracking error, so the frontier is drawn and filtered in it.

The frontier keeps only points that no other point dominates in (TE, ``tax_economic``):
a point with another at no more TE and no more tax (one of them strictly less) is dropped,
and of identical points the first (most tax-averse) is kept. Dropped points stay in
:attr:`Frontier.all_points` with the point that dominates them. A point that fails is a row
with its status and error, never a gap.
"""

from __future__ import annotations

import functools
import math
import multiprocessing as mp
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from numbers import Real

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pma_lab.errors import OptimizationError, SettingsError
from pma_lab.forked import run_forked
from pma_lab.formatting import fmt_pct, fmt_rate
from pma_lab.market.data import load_market
from pma_lab.market.rates import cash_rate
from pma_lab.modes import Method
from pma_lab.optimize.aggregate import WarmSigns
from pma_lab.optimize.dual_qp import DualQP
from pma_lab.optimize.pattern_bound import dual_start
from pma_lab.optimize.rebalance import Budgets, RebalanceProblem, RebalanceResult
from pma_lab.optimize.settings import go_to_target
from pma_lab.optimize.state import go_to_target_state
from pma_lab.tax.liability import carryforward_value
from pma_lab.validation import as_choice

__all__ = ["Frontier", "budgets_words", "efficient_frontier", "pareto_dominated",
           "DEFAULT_GAMMAS", "LEGEND_BELOW"]

DEFAULT_GAMMAS = tuple(np.logspace(1.0, -3.0, 23))
_SAME_POINT_PCT = 0.005
"""Two figure points closer than this in both axes (percent) are one point: the hover's
two decimals cannot tell them apart, and the plan's larger marker covers the other."""

_COLUMNS = ["point", "kind", "label", "parameter", "te", "te_pct", "tax_this_year",
            "tax_this_year_pct", "carryforward_created", "carryforward_st", "carryforward_lt",
            "carryforward_value", "tax_economic", "tax_economic_pct", "realized_st",
            "realized_lt", "turnover", "names", "trades", "smallest_trade",
            "fractional_quantities", "budget_raised", "status", "error"]
_OK = ("optimal", "optimal_inaccurate", "current")
LEGEND_BELOW = {"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0.0, "xanchor": "left"}
"""Layout of a legend under the plot and its x-axis title (plotly pushes the bottom margin
to fit it), so a legend that wraps never covers the title or the data."""
TE_TOL = 1e-6  # TE differences below this (0.0001 %) are solver noise
CHAINS_PER_WORKER = 1
"""Chains of points per forked worker (``efficient_frontier(workers=N)``) at the start.
More chains than workers balance the work where the costly points (those the warm sweep
cannot prove) gather in one stretch, but each chain after the first started with the
two-step, and where the serial sweep proves other sides there its points are solved
again in this process until the sides meet: on the benchmark book two per worker took
the busier worker from 5.41 to 4.24 CPU-s but solved 0.92 CPU-s again here (the chain
starting at a proven point never met the serial sides): kept at one. Since session 12 a
worker whose chains are done splits another's instead (:data:`SPLIT_MIN`), so the
chains follow the work as it turns out."""
SPLIT_MIN = 2
"""A forked sweep's worker that has finished its chains takes over the second half of
another chain's points not yet started when there are at least this many
(:class:`_Schedule`): the costly points (those the warm sweep cannot prove) gather in
one stretch of the sweep, which one chain would otherwise solve alone."""
TAX_TOL = 1.0  # USD
OPENING_USD_TOL: float | None = 0.05
"""A warm sweep's first point starts from :func:`opening_sides` and keeps the sides it
reaches when the certificate proves them within this many dollars of tax of the optimum
(since session 14; the two-step's own first point on the benchmark book is proven to
$0.00), in at most :data:`OPENING_ROUNDS` sign-fixed solves; otherwise the two-step
runs, as at every first point before. None: the two-step (as before session 14)."""
OPENING_ROUNDS = 3
HISTORY_FREE_RELAXATIONS = True
"""Every relaxation of a sweep sets its solver up anew
(:attr:`RebalanceProblem.history_free_relaxation` for the sweep; since session 14). With
the first point proven from :func:`opening_sides` a sweep's first relaxation comes later
(on the benchmark book at point 6; on the sample clients at go to target, if at all),
and cvxpy's in-place update of Clarabel's solver keeps the set-up's scaling: a solver
set up at go to target's tie-breaking aversion and updated for a later sweep's first
point ended "unbounded" (tech-exec, two sweeps of one problem). Set up anew, each
relaxation is the same whatever the process solved before it (the forked workers' too),
at ~0.01-0.03 CPU-s a relaxation. False: as before (the solver of the problem's first
relaxation updated)."""


@dataclass(frozen=True)
class Frontier:
    """The efficient frontier table, every point swept, and the figure.

    Attributes
    ----------
    table : pd.DataFrame
        The non-dominated points, from do nothing (highest TE) to go to target, then any
        failed point (status and error). Columns: point, kind (``current`` / ``sweep`` /
        ``target``), label (client terms: "Do nothing (today)", "Tax-averse 7 / 10 ·
        tracking error 2.10%", "Gain budget $25,000", "Go to target"), parameter (tax
        aversion or budget USD), te (fraction) and te_pct (percent), tax_this_year (USD) and
        tax_this_year_pct (percent of the account), carryforward_created / _st / _lt (USD),
        carryforward_value (USD, present value), tax_economic (USD) and tax_economic_pct
        (percent), realized_st/lt, turnover, names, trades (count), smallest_trade (USD,
        the smallest order the minimum trade applies to), fractional_quantities (0 with
        whole shares), budget_raised (USD by which the restrictions' required sales raised
        the gains budget; the label says it), status, error, marginal_tax_per_bp (extra
        economic tax per basis point of TE removed, from the previous point).
    all_points : pd.DataFrame
        Every point swept, with ``dominated_by`` (the point that dominates it, or -1).
    account_value : float
    seconds : float
        Wall time of the sweep.
    swept : str
        ``"gamma_tax"`` or ``"budget"``.
    timings : pd.Series
        Seconds per point (kept out of the table so the table is reproducible).
    assumptions : tuple[str, ...]
        What each tax column means, in words (for reports).
    certificates : pd.DataFrame
        Per point of :attr:`all_points` (same order): ``signs`` and ``gap_usd``.
        ``"current"``: the do-nothing point (no trade, ``gap_usd`` 0).
        ``"certified"``: the warm sweep kept the previous point's buy/sell side for every
        name, and a Lagrangian bound proved that no choice of sides does better by more
        than ``gap_usd`` (at most ``warm_usd_tol``). The gap is on the point's whole
        objective (tracking variance + tax aversion x tax + trading cost) at the same tax
        aversion and constraints, with the sides free, expressed in dollars of tax
        (objective gap / tax aversion x account value); it bounds the relaxed continuous
        problem, before the whole-share step. ``"two_step_certified"``: the warm sweep
        stepped aside and the two-step chose the sides (the trades are the two-step's),
        and the same bound at the two-step's own solution proves them within ``gap_usd``
        (at most ``warm_usd_tol``; no extra solve:
        :meth:`~pma_lab.optimize.aggregate.WarmSigns.after_two_step`). ``"two_step"``:
        the warm sweep stepped aside (first point, the go-to-target point at zero tax
        aversion, a binding TE cap, added constraints, or a bound above the tolerance) and
        the two-step chose the sides as with ``warm=False``, unproven: ``gap_usd`` is the
        bound at its solution where it applies (above the tolerance), else NaN (no warm
        sweep; funds held; go to target; the kept solution of an earlier sign pattern
        put back, whose multipliers are another solve's).
    dropped_budgets : Budgets or None
        The account's gain budgets that a tax-aversion sweep left out (``keep_budgets``
        False and the problem had budgets), else None. :func:`dropped_note` says so in
        words, in the proposal's frontier section and findings, the command line and the
        dashboard; :attr:`assumptions` is unchanged.
    chains : tuple[tuple[int, int], ...]
        A sweep on forked workers (``workers`` > 1): the first and last point of each
        chain the workers ran, in the order of the points (the first point, solved
        before the workers start, is in none); ``()`` for a sweep in one process.
    resolved : tuple[int, ...]
        A sweep on forked workers: the points solved again in this process after the
        workers, because a chain did not start from the sides the serial sweep had there
        (:func:`_join_chains`); ``()`` when every worker's point stood (and for a sweep in
        one process). Each costs a point's solve on top of the workers'.
    qp_solves : dict
        The sign-fixed QPs of the sweep (``efficient_frontier(dual_qp=True)``, the
        default), over every process: ``solved`` by the Lagrangian dual and certified, ``rejected``
        (the certificate failed) and ``not_covered`` (the dual does not apply), the last
        two solved by cvxpy (:class:`pma_lab.optimize.dual_qp.DualQP`); ``{}`` with
        ``dual_qp=False``.
    """

    table: pd.DataFrame
    all_points: pd.DataFrame
    account_value: float
    seconds: float
    swept: str = "gamma_tax"
    timings: pd.Series = field(default_factory=pd.Series)
    assumptions: tuple[str, ...] = ()
    certificates: pd.DataFrame = field(default_factory=pd.DataFrame)
    chains: tuple[tuple[int, int], ...] = ()
    resolved: tuple[int, ...] = ()
    qp_solves: dict = field(default_factory=dict)
    dropped_budgets: Budgets | None = None  # the account's gain budgets the sweep left out

    def figure(self, title: str | None = None) -> go.Figure:
        """Economic tax (% of the account) against tracking error (%), ends marked."""
        t = self.table[self.table.status.isin(_OK)]
        fig = go.Figure()
        custom = np.column_stack([t.tax_this_year, t.carryforward_created, t.label])
        fig.add_trace(go.Scatter(
            x=t.te_pct, y=t.tax_economic_pct, mode="lines+markers", name="frontier",
            customdata=custom,
            hovertemplate="%{customdata[2]}<br>TE %{x:.2f}%<br>economic tax %{y:.2f}% of "
                          "the account<br>tax of today's trades $%{customdata[0]:,.0f}<br>"
                          "loss carryforward added (negative: used up) "
                          "$%{customdata[1]:,.0f}<extra></extra>"))
        fig.add_trace(go.Scatter(
            x=t.te_pct, y=t.tax_this_year_pct, mode="markers", name="tax of today's trades",
            marker={"symbol": "line-ew-open", "size": 10},
            hovertemplate="TE %{x:.2f}%<br>tax of today's trades %{y:.2f}% of the account"
                          "<extra></extra>"))
        for kind, sym, name in (("current", "circle-open", "do nothing"),
                                ("target", "star", "go to target")):
            e = self.all_points[(self.all_points.kind == kind)
                                & self.all_points.status.isin(_OK)]
            if len(e):
                fig.add_trace(go.Scatter(x=e.te_pct, y=e.tax_economic_pct, mode="markers",
                                         marker={"size": 12, "symbol": sym}, name=name))
        # the legend goes under the x-axis title: above the plot it ran into the title once
        # it wrapped to a second row (a long dashboard title, the plan marker added)
        fig.update_layout(title=title or "Tax cost against tracking error",
                          xaxis_title="ex-ante tracking error to the target (%)",
                          yaxis_title="economic tax (% of the account)", height=480,
                          legend=LEGEND_BELOW, margin={"t": 60, "b": 40})
        return fig

    def mark_plan(self, fig: go.Figure, summary: pd.Series, name: str) -> go.Figure:
        """Add a rebalance's marker (:meth:`plan_marker`) to :meth:`figure`'s ``fig``.

        The legend lists only what is drawn: a trace whose every point the (larger) marker
        covers (young-pro's "go to target", its frontier's one point, where its plan
        moves now) leaves the legend, and the marker's name says it is the same point.
        Returns ``fig``.
        """
        marker = self.plan_marker(summary, name)
        x, y = marker.x[0], marker.y[0]
        covered = []
        for tr in fig.data:
            xs, ys = np.asarray(tr.x, dtype=float), np.asarray(tr.y, dtype=float)
            # the hover's 2 decimals of a percent: a point closer than that is under it
            under = bool(len(xs)) and bool(np.all(np.abs(xs - x) < _SAME_POINT_PCT)
                                           and np.all(np.abs(ys - y) < _SAME_POINT_PCT))
            # said either way: the dashboard updates its figure in place, key by key
            tr.showlegend = not under
            if under:
                covered.append(str(tr.name))
        if covered:
            marker.name = f"{name}; the same point: {', '.join(covered)}"
        fig.add_trace(marker)
        return fig

    def plan_marker(self, summary: pd.Series, name: str) -> go.Scatter:
        """A rebalance's trades as a marker in the figure's units (TE %, economic tax %)."""
        x = 100 * float(summary["te_after"])
        y = 100 * float(summary["tax_model"]) / float(summary["value"])
        return go.Scatter(x=[x], y=[y], mode="markers", name=name,
                          marker={"size": 14, "symbol": "diamond", "color": "#d62728"},
                          hovertemplate=f"{name}<br>TE %{{x:.2f}}%<br>economic tax "
                                        "%{y:.2f}% of the account<extra></extra>")


CAP_TOL = 5e-5
"""TE within this of the problem's TE cap (0.005 points, below the table's 0.01 %) is at
the cap (:func:`at_cap`)."""


def at_cap(te: Sequence[float], cap: float | None) -> np.ndarray:
    """Tracking errors with those at the TE cap (within :data:`CAP_TOL`) set to the cap.

    Under a binding cap several tax aversions reach the cap, and their TEs differ only by
    the solver's round-off (tech-exec at --te-cap 0.03: four points at 3.00%, economic tax
    $123,092 to $123,158, listed 9, 7, 5, 8 / 10): compared at the cap, the one with the
    least tax dominates the others (:func:`pareto_dominated`), so the table keeps one row
    there.
    """
    te = np.asarray(te, dtype=float)
    if cap is None:
        return te
    return np.where(np.abs(te - cap) <= CAP_TOL, cap, te)


def pareto_dominated(te: Sequence[float], tax: Sequence[float], te_tol: float = TE_TOL,
                     tax_tol: float = TAX_TOL) -> np.ndarray:
    """For each point, the index of a point that dominates it (or -1).

    Point ``j`` dominates ``i`` when it has no more TE and no more tax, and less of one
    (beyond the tolerances). Of points equal within the tolerances the first is kept and
    the others are marked as dominated by it. NaN points are neither (-1).
    """
    te = np.asarray(te, dtype=float)
    tax = np.asarray(tax, dtype=float)
    n = len(te)
    out = np.full(n, -1, dtype=int)
    ok = ~(np.isnan(te) | np.isnan(tax))
    for i in range(n):
        if not ok[i]:
            continue
        for j in range(n):
            if j == i or not ok[j]:
                continue
            no_worse = te[j] <= te[i] + te_tol and tax[j] <= tax[i] + tax_tol
            better = te[j] < te[i] - te_tol or tax[j] < tax[i] - tax_tol
            if no_worse and (better or j < i):
                out[i] = j
                break
    return out


def efficient_frontier(problem: RebalanceProblem, gammas: Sequence[float] | None = None,
                       budgets: Sequence[float] | None = None, keep_budgets: bool = False,
                       method: Method | str = Method.TWO_STEP, discount_rate: float | None = None,
                       future_st_gains: float = 0.0, future_lt_gains: float = 0.0,
                       warm: bool = True, warm_usd_tol: float = 5.0,
                       workers: int = 1, target: RebalanceResult | None = None,
                       dual_qp: bool = True) -> Frontier:
    """Sweep the tax aversion (default) or the total gain budget over one compiled problem.

    Parameters
    ----------
    problem : RebalanceProblem
        Compiled once; its settings are restored afterwards. Its settings decide the
        whole-share and minimum-trade step every point goes through.
    gammas : Sequence[float] | None
        Tax aversions to sweep (default :data:`DEFAULT_GAMMAS`, 23 points from 10 to
        0.001, so with the two ends 25 points are solved).
    budgets : Sequence[float] | None
        Instead of aversions, sweep the total net gain budget (USD) at zero tax aversion.
    keep_budgets : bool
        Keep the account's gain budgets while sweeping aversions (default: drop them, so
        the whole trade-off shows; the budgets are themselves points on it).
    method : str
        Passed to :meth:`RebalanceProblem.solve`.
    discount_rate, future_st_gains, future_lt_gains : float
        The assumption valuing the carryforward created (see
        :func:`pma_lab.tax.liability.carryforward_value`; default: used only against ordinary
        income, the profile's loss limit a year ($3,000; $1,500 married filing
        separately), discounted at the cash rate of the problem's date,
        :func:`pma_lab.market.rates.cash_rate` of the packaged market data; pass
        ``cash_rate(setup.market, setup.as_of).rate`` for a setup's own market data).
    warm : bool
        Sweep warm (:class:`pma_lab.optimize.aggregate.WarmSigns`): each point starts
        from the previous point's buy/sell sides and keeps them when a Lagrangian bound
        proves them within ``warm_usd_tol`` dollars of tax of the optimum (one sign-fixed
        solve, a QP while a tracking-error cap cannot bind: a point is solved without the
        cap and again with it only if its TE ends above it); otherwise the two-step runs
        as without ``warm``. :attr:`Frontier.certificates` says which points were proven.
    warm_usd_tol : float
        The proof's tolerance in dollars of tax (``warm`` only).
    workers : int
        Processes forked for the sweep (:func:`pma_lab.forked.run_forked`; ``1``, the
        default: every point in this process). The first point is solved here; the others
        are cut into ``workers`` contiguous chains (:data:`CHAINS_PER_WORKER` per worker,
        taken in order as the workers finish one), each solved in order on the worker's
        copy of the compiled problem, warm along the chain. A worker whose chains are
        done takes over the second half of the points another chain has not started yet
        (:data:`SPLIT_MIN` of them at least), as a new chain: the costly points gather
        in one stretch of the sweep, which one chain would otherwise solve alone
        (:attr:`Frontier.chains` lists the chains as run). Every point is the serial
        sweep's: a chain of the first cut starts warm from the first point's sides (the
        serial sweep's sides there where its certificate keeps them, as on books whose
        sweep it proves throughout), a chain taken over from another from that chain's
        latest sides if its latest point kept the sides before it, else with the two-step,
        and the worker before each checks whether the serial sweep would have kept its
        last point's sides there instead (that point's first sign search, one or two
        sign-fixed solves); if so it solves the point warm. Where the chain started
        otherwise (other sides kept, or the two-step where the serial sweep kept its
        sides and they differ), its points are solved again in this process, serially,
        until one ends with the chain's sides (the chain's points after it stand; go to
        target is never solved again): :attr:`Frontier.resolved` lists them.
    target : RebalanceResult | None
        The "Go to target" point already solved: ``problem`` solved at
        ``go_to_target(problem.settings)`` with the two-step, on the account as going to
        the target now sees it (:func:`pma_lab.optimize.state.go_to_target_state`: a
        ``sell_within`` glide's names sold in full today, where the swept points keep
        the glide's cap) (the immediate plan's step
        0 when it is that solve, :func:`pma_lab.plan.simulation.go_to_target_result`,
        which checks it); its row is that result's instead of a solve. None (the
        default): the point is solved.
    dual_qp : bool
        Solve the sign-fixed QPs by their Lagrangian dual
        (:class:`pma_lab.optimize.dual_qp.DualQP`: exact, certified at every use, the
        cvxpy solve where the certificate fails or the dual does not apply; counted in
        :attr:`Frontier.qp_solves`). True, the default since session 13 (the proposal,
        the dashboard and ``pma-lab frontier`` all sweep through this default). False:
        every sign-fixed problem through cvxpy + PIQP, as before session 13. The dual's
        solutions are PIQP's within its tolerance, but where PIQP's round-off decides a
        threshold (a sale it stops just short of a lot's end, which the whole-share step
        rounds down; a trade of about $1 the minimum-trade step drops or keeps) the
        trades differ: on the 9 sample clients one point of muni-ca's, where the dual's
        certified optimum sells LOW's lot in full (docs/benchmarks.md, thirteenth
        session).

    Returns
    -------
    Frontier

    Raises
    ------
    SettingsError
        For a ``problem`` that is not a RebalanceProblem, an unknown method, both
        ``gammas`` and ``budgets``, a negative or non-finite aversion, budget, future gain
        or ``warm_usd_tol``, a discount rate not above -1, or ``workers`` not a whole
        number >= 1.
    OptimizationError
        When every swept point fails.
    """
    if not isinstance(problem, RebalanceProblem):
        raise SettingsError(f"efficient_frontier(problem=<{type(problem).__name__}>): pass a "
                            "RebalanceProblem, e.g. pma_lab.problem_for_client(setup)")
    method = as_choice(method, Method, f"efficient_frontier(method={method!r})")
    if gammas is not None and budgets is not None:
        raise SettingsError("efficient_frontier(gammas=..., budgets=...): a frontier sweeps "
                            "either the tax aversion (gammas) or the gain budget (budgets); "
                            "pass one of them")
    for name, values in (("gammas", gammas), ("budgets", budgets)):
        if isinstance(values, str) or not isinstance(values, Sequence | np.ndarray | None):
            raise SettingsError(f"efficient_frontier({name}={values!r}): pass a list of "
                                f"numbers, e.g. {name}=[1.0, 0.1]")
        given = () if values is None else values
        bad = [v for v in given if isinstance(v, bool) or not isinstance(v, Real)
               or not (math.isfinite(v) and v >= 0)]
        if bad:
            raise SettingsError(f"efficient_frontier({name}=...): {bad[:3]} are not finite "
                                f"numbers >= 0; pass {name} >= 0")
    if discount_rate is None:
        discount_rate = cash_rate(load_market(), problem.state.as_of).rate
    if isinstance(discount_rate, bool) or not isinstance(discount_rate, Real) or \
            not (math.isfinite(discount_rate) and discount_rate > -1):
        raise SettingsError(f"efficient_frontier(discount_rate={discount_rate!r}): pass a "
                            "yearly rate above -1, e.g. 0.0441 = 4.41 % (or None: the cash "
                            "rate)")
    for name, value in (("future_st_gains", future_st_gains),
                        ("future_lt_gains", future_lt_gains), ("warm_usd_tol", warm_usd_tol)):
        if isinstance(value, bool) or not isinstance(value, Real) or \
                not (math.isfinite(value) and value >= 0):
            raise SettingsError(f"efficient_frontier({name}={value!r}): pass a finite number "
                                ">= 0 (USD)")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise SettingsError(f"efficient_frontier(workers={workers!r}): pass a whole number "
                            ">= 1 (processes; 1 = in this process)")
    t0 = time.perf_counter()
    saved = problem.settings
    tax = problem.state.tax
    cf_args = {"discount_rate": discount_rate, "future_st_gains": future_st_gains,
               "future_lt_gains": future_lt_gains}
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
    points = [(k, "sweep", value, replace(saved, **change))
              for k, (_, value, change) in enumerate(sweep, start=1)]
    # "go to target": the immediate transition's first step ("Move now") with the same
    # settings (settings.go_to_target), so the two show the same trades and tax: no
    # budget or TE cap, a low trading-cost weight (the spread cost stays, so no name is
    # bought and sold at once) and a tax tie-breaker
    go = go_to_target(saved)
    # ... on the account as "now" sees it: a sell_within glide's names sold in full today
    # (go_to_target_state, as "Move now" trades them); an account with a glide solves it
    # on that state after the sweep, whose points keep the glide's cap
    go_state = go_to_target_state(problem.state)
    if target is None and go_state is problem.state:
        points.append((len(sweep) + 1, "target", go.gamma_tax, go))
    signs = WarmSigns(problem, usd_tol=warm_usd_tol) if warm else None
    # the first point is solved here (it compiles the problems the workers inherit); the
    # others in contiguous chains, one per worker, each warm along its own points. Every
    # relaxation of the sweep sets its solver up anew (HISTORY_FREE_RELAXATIONS), so a
    # point's relaxation does not depend on which relaxations the process solved before
    # it: the workers' points are the serial sweep's whichever relaxation comes first in
    # each (before session 14 the first point's relaxation set the solver up and the
    # workers inherited it; solving it in a worker moved points 13 and 15 of
    # bench_frontier's book, session 12)
    rest = points[1:]
    n_chains = max(1, min(workers * CHAINS_PER_WORKER if workers > 1 else 1, len(rest)))
    cut = _chain_cuts(len(rest), n_chains)

    def chain(j: int, plan: _Schedule | None = None) -> list[tuple]:
        """Chain ``j``'s points, warm along them, then the chains this worker takes over.

        Each chain: its first position in ``rest``, its points, the sides after each of
        them and what the serial sweep does at the next chain's first point
        (:func:`_seam`). With a shared ``plan`` (forked workers) the chain ends where
        the plan says (another worker may take its last points), and the worker then
        takes the second half of the points another chain has not started
        (:meth:`_Schedule.split`) until none is worth splitting.
        """
        done_chains = []
        slot: int | None = j
        while slot is not None:
            solved_before = dict(dual.stats) if dual is not None else {}
            own = signs if slot == 0 or not warm else WarmSigns(problem, usd_tol=warm_usd_tol)
            if slot < n_chains:
                # a chain of the first cut starts from the first point's sides, as the
                # serial sweep's points would where it keeps them all
                problem._last_sell = None if first_sides is None else first_sides.copy()
                if own is not None:
                    own.started = True
            elif own is not None and (hint := plan.hint(slot)) is not None:
                # taken over from a chain whose latest point kept its sides: from those
                # (else the two-step, see _Schedule)
                problem._last_sell = hint
                own.started = True
            first = _FirstSearch(own) if own is not None else None
            problem.sign_search = first
            start = int(cut[slot]) if plan is None else plan.start[slot]
            out, sides = [], []
            i = start
            while (i < cut[slot + 1]) if plan is None else plan.claim(slot, i):
                k, kind, value, st = rest[i]
                out.append((_point(problem, k, kind, value, st, method, cf_args, own),
                            _proof(own)))
                sides.append(_sides(problem))
                problem.sign_search = own
                if plan is not None:
                    plan.note(slot, sides[-1], own is not None and own.last == "certified")
                i += 1
            seam = None
            if warm and i < len(rest):
                seam = _seam(problem, rest[i], method, cf_args, own)
            kept = bool(first is not None and first.kept)
            # the chain's dual QP counts (a forked worker's copy counts its own)
            qp = {key: n - solved_before[key] for key, n in dual.stats.items()} \
                if dual is not None else {}
            done_chains.append((start, out, sides, seam, kept, qp))
            slot = None if plan is None else plan.split()
        return done_chains

    saved_search = problem.sign_search
    saved_solver = problem.pattern_solver
    saved_history = problem.history_free_relaxation
    # warm: each QP from the last one's multipliers, but a point's first QP from the
    # data's own (_PointDual): a point's figures do not depend on which points the
    # process solved before it (the forked workers' chains and the serial sweep agree to
    # the bit, whatever the chains)
    dual = DualQP(problem, warm=True) if dual_qp else None
    layout: list[tuple[int, int]] = []
    resolved: list[int] = []
    qp_workers: dict[str, int] = {}
    try:
        problem.sign_search = signs
        problem.pattern_solver = None if dual is None else _PointDual(dual)
        problem.history_free_relaxation = saved_history or HISTORY_FREE_RELAXATIONS
        k, kind, value, st = points[0]
        opening = signs is not None and OPENING_USD_TOL is not None
        if opening:
            # the first point starts from the opening sides (every name holding a loss
            # lot sells), kept where the certificate proves them optimal to within
            # OPENING_USD_TOL (else the two-step, as at every first point before)
            problem._last_sell = opening_sides(problem)
            signs.started = True
            tol, rounds = signs.usd_tol, signs.rounds
            signs.usd_tol, signs.rounds = min(OPENING_USD_TOL, tol), OPENING_ROUNDS
        try:
            chains = [[(_point(problem, k, kind, value, st, method, cf_args, signs),
                        _proof(signs))]]
        finally:
            if opening:
                signs.usd_tol, signs.rounds = tol, rounds
        first_sides = _sides(problem)
        if dual is not None and ANCHORED_START:
            # every later point's first QP may start from the first point's
            # multipliers: the same in this process and in the workers forked after it
            problem.pattern_solver.anchor = dual_start(problem)
        if n_chains > 1:
            # each worker gets the compiled problem (and the shared plan) by fork
            plan = _Schedule(cut, problem.na, first_sides)
            parts = sorted((c for got in run_forked(lambda j: chain(j, plan), n_chains,
                                                    min(workers, n_chains),
                                                    serial_hint="efficient_frontier("
                                                                "workers=1)")
                            for c in got), key=lambda c: c[0])
            starts = [c[0] for c in parts]
            layout = [(rest[a][0], rest[b - 1][0])
                      for a, b in zip(starts, [*starts[1:], len(rest)], strict=True)]
            for c in parts:  # the workers' QPs, counted in their copies
                for key, n in c[5].items():
                    qp_workers[key] = qp_workers.get(key, 0) + n
            joined, resolved = _join_chains([c[1:5] for c in parts], problem, rest,
                                            np.array([*starts, len(rest)]), method,
                                            cf_args, signs)
            chains.append(joined)
        else:
            chains.append(chain(0)[0][1])
    finally:
        problem.sign_search = saved_search
        problem.pattern_solver = saved_solver
        problem.history_free_relaxation = saved_history
        problem.update(saved)
    if target is not None:  # solved already (the immediate plan's step 0): its row
        chains.append([(_row(problem, len(sweep) + 1, "target", go.gamma_tax, target,
                             cf_args, time.perf_counter()), ("two_step", np.nan))])
    elif go_state is not problem.state:
        own = problem.state
        problem._take_state(go_state)
        try:
            chains.append([(_point(problem, len(sweep) + 1, "target", go.gamma_tax, go,
                                   method, cf_args), ("two_step", np.nan))])
        finally:
            problem._take_state(own)
            problem.update(saved)
    done = sorted((pair for c in chains for pair in c), key=lambda pair: pair[0]["point"])
    rows += [row for row, _ in done]
    proofs: list[tuple[str, float]] = [("current", 0.0)] + [proof for _, proof in done]
    timings = pd.Series([r.pop("seconds") for r in rows], name="seconds")
    allp = pd.DataFrame(rows, columns=_COLUMNS)
    if not allp.status.iloc[1:].isin(_OK).any():
        raise OptimizationError("every point of the frontier failed: "
                                + "; ".join(sorted(set(allp.error.iloc[1:]))))
    allp["label"] = _labels(allp, swept)
    allp["dominated_by"] = pareto_dominated(at_cap(allp.te, problem.settings.te_cap),
                                            allp.tax_economic)
    ok = allp.status.isin(_OK)
    eff = allp[ok & (allp.dominated_by < 0)].sort_values("te", ascending=False, kind="stable")
    table = pd.concat([eff, allp[~ok]]).drop(columns="dominated_by").reset_index(drop=True)
    marg = np.full(len(table), np.nan)
    ok_t = table.status.isin(_OK).to_numpy()
    for i in range(1, int(ok_t.sum())):
        dte = (table.te.iat[i - 1] - table.te.iat[i]) * 1e4
        if dte > 0:
            marg[i] = (table.tax_economic.iat[i] - table.tax_economic.iat[i - 1]) / dte
    table["marginal_tax_per_bp"] = marg
    cf = carryforward_value(0, 0, tax, **cf_args)
    assumptions = (
        "Tax of today's trades: the ledger's Schedule D tax of the trades for "
        f"{problem.state.as_of.year}, against no trade, after the ${tax.loss_limit:,.0f} "
        "limit"
        + (", stacked through the client's brackets." if tax.stacked else
           ", at the client's marginal rates."),
        "Economic tax: every lot's gain or loss at the client's rate for its character "
        f"({fmt_rate(tax.st_rate)} short-term, {fmt_rate(tax.lt_rate)} long-term), losses "
        "credited in "
        "full: the quantity the optimizer trades off against tracking error; the frontier "
        "shows only points no other point beats on both.",
        cf.assumption.replace("Loss carryforwards are", "Carryforward value: the loss "
                              "carryforward created is"),
    )
    dropped = (saved.budgets if budgets is None and not keep_budgets
               and saved.budgets != Budgets() else None)
    certificates = pd.DataFrame(proofs, columns=["signs", "gap_usd"])
    return Frontier(table, allp, problem.V, time.perf_counter() - t0, swept, timings,
                    assumptions, certificates, tuple(layout), tuple(resolved),
                    {key: n + qp_workers.get(key, 0) for key, n in dual.stats.items()}
                    if dual is not None else {}, dropped)


def budgets_words(b: Budgets) -> str:
    """A tax year's gain budgets in words.

    ``total $60,000, short-term $0, long-term $60,000 a year``; a ``tax`` unit reads
    ``$X of tax``, an ``embedded_pct`` one ``X% of the embedded gain``; ``none`` without
    a cap.
    """
    from pma_lab.formatting import fmt_usd
    from pma_lab.modes import BudgetUnit

    def one(v: float) -> str:
        if b.unit is BudgetUnit.EMBEDDED_PCT:
            return f"{fmt_pct(v, 0)} of the embedded gain"
        return f"{fmt_usd(v)} of tax" if b.unit is BudgetUnit.TAX else fmt_usd(v)

    parts = [f"{w} {one(v)}" for w, v in (("total", b.total), ("short-term", b.short_term),
                                          ("long-term", b.long_term)) if v is not None]
    return f"{', '.join(parts)} a year" if parts else "none"


DROPPED_BUDGETS = ("The frontier leaves out the gains budgets ({budgets}) to show the whole "
                   "trade-off: its points, \u201cGo to target\u201d among them, may realise "
                   "more gain than the budgets allow")
"""What a frontier that left out the account's gains budgets says (:func:`dropped_note`)."""


def dropped_note(front: Frontier) -> str:
    """:data:`DROPPED_BUDGETS` for ``front``, or ``""`` when it kept the budgets.

    The one wording of a sweep that left out the gains budgets
    (:attr:`Frontier.dropped_budgets`): the proposal's frontier section and research
    findings, the command line's ``frontier`` and the dashboard's frontier say it.
    """
    b = getattr(front, "dropped_budgets", None)
    return "" if b is None else DROPPED_BUDGETS.format(budgets=budgets_words(b)) + "."


def opening_sides(problem: RebalanceProblem) -> np.ndarray:
    """The sides a warm sweep's first point starts from: every name with a loss lot sells.

    Every name whose identity group holds a sellable loss lot (the names whose side
    matters, :meth:`RebalanceProblem._loss_relevant`) and that has lots is on the sell
    side. At the sweep's first, most tax-averse point harvesting each loss outweighs the
    tracking error it adds, so the certificate proves these sides, or the few names it
    switches, optimal in one or two sign-fixed solves and no relaxation is solved (the
    9 sample clients: one solve, bound gap $0.00; the 500-name benchmark book: two, $1.18
    then $0.00). Where it does not (:data:`OPENING_USD_TOL`), the two-step runs as
    before. They depend on the problem alone, so a sweep's points never depend on what
    was solved before it.
    """
    return np.asarray(problem._loss_relevant() & problem.has_lots, dtype=bool).copy()


def _proof(signs: WarmSigns | None) -> tuple[str, float]:
    """How a point's sides were decided, and the bound's gap (USD of tax) where it applies.

    ``"certified"``: warm sides proven; ``"two_step_certified"``: the two-step's sides,
    proven by the same bound (:meth:`WarmSigns.after_two_step`); ``"two_step"``: not
    proven (the gap where the bound applies but exceeds the tolerance, else NaN).
    """
    if signs is None or signs.last not in ("certified", "two_step"):
        return "two_step", np.nan
    if signs.last == "certified":
        return "certified", signs.gap_usd()
    if not signs.bounded:
        return "two_step", np.nan
    return ("two_step_certified" if signs.proven else "two_step"), signs.gap_usd()


class _Schedule:
    """Where each chain of a forked sweep starts and ends, shared by the workers.

    Made before the workers are forked (shared memory and a lock): chain ``j`` runs
    positions ``start[j]`` to ``end[j] - 1`` of the sweep's points in order, claiming
    each before solving it (:meth:`claim`); a worker whose chains are done takes the
    second half of the points the busiest chain has not started (:meth:`split`), which
    becomes a new chain, and the seams are checked as for the first cut. So a worker
    never idles while another has two or more points to go, wherever the costly points
    lie. Each chain notes the sides its latest point ended with and whether that point
    kept the sides before it (:meth:`note`, ``na`` names): a chain taken over from one
    whose latest point kept them starts from its sides (:meth:`hint`; the serial sweep's
    there while it keeps them), otherwise with the two-step (the serial sweep's where
    its certificate fails, as in the costly stretch). Until a chain of the first cut
    has noted a point, its latest sides are those it started from (``sides``, the first
    point's), so a chain split while its first point is being solved starts from them.
    """

    def __init__(self, cut: np.ndarray, na: int = 0, sides: np.ndarray | None = None):
        ctx = mp.get_context("fork")
        slots = max(int(cut[-1]), len(cut) - 1)  # every chain has a point at least
        self._na = na
        self._sides = ctx.RawArray("b", slots * na)
        self._kept = ctx.RawArray("b", slots)  # the latest point kept the sides before it
        if sides is not None and len(sides) == na > 0:
            # a chain of the first cut starts from the first point's sides: until its
            # first point is noted, those are its latest sides (a worker may take over
            # half of a chain whose first point is still being solved)
            row = np.asarray(sides, dtype=np.int8).tolist()
            for j in range(len(cut) - 1):
                self._sides[j * na:(j + 1) * na] = row
                self._kept[j] = 1
        self._lock = ctx.Lock()
        self._start = ctx.RawArray("l", slots)
        self._end = ctx.RawArray("l", slots)
        self._at = ctx.RawArray("l", slots)  # the position being solved (start - 1: none)
        self._n = ctx.RawValue("l", len(cut) - 1)
        for j in range(len(cut) - 1):
            self._start[j], self._end[j], self._at[j] = cut[j], cut[j + 1], cut[j] - 1

    @property
    def start(self) -> list[int]:
        """Each chain's first position."""
        return list(self._start[: self._n.value])

    def claim(self, j: int, i: int) -> bool:
        """Whether chain ``j`` solves position ``i`` (False: the chain ends before it)."""
        with self._lock:
            if i >= self._end[j]:
                return False
            self._at[j] = i
            return True

    def split(self) -> int | None:
        """A new chain: the second half of the busiest chain's points not yet started.

        ``None`` when no chain has :data:`SPLIT_MIN` such points.
        """
        with self._lock:
            n = self._n.value
            left = [self._end[j] - self._at[j] - 1 for j in range(n)]
            j = int(np.argmax(left)) if n else 0
            if not n or left[j] < SPLIT_MIN:
                return None
            m = self._end[j] - (left[j] + 1) // 2
            self._start[n], self._end[n], self._at[n] = m, self._end[j], m - 1
            self._end[j] = m
            na = self._na
            self._sides[n * na:(n + 1) * na] = self._sides[j * na:(j + 1) * na]
            self._kept[n] = self._kept[j]
            self._n.value = n + 1
            return n

    def note(self, j: int, sides: np.ndarray | None, kept: bool) -> None:
        """Chain ``j``'s latest point ended with ``sides``, having kept the sides before it."""
        ok = kept and sides is not None and len(sides) == self._na > 0
        with self._lock:
            self._kept[j] = ok
            if ok:
                self._sides[j * self._na:(j + 1) * self._na] = sides.astype(np.int8).tolist()

    def hint(self, j: int) -> np.ndarray | None:
        """The sides chain ``j`` starts from (``None``: the two-step), see the class docs."""
        with self._lock:
            if not self._kept[j]:
                return None
            return np.array(self._sides[j * self._na:(j + 1) * self._na], dtype=bool)


def _chain_cuts(n: int, chains: int) -> np.ndarray:
    """Where the warm chains of ``n`` points start and end (``chains + 1`` positions)."""
    return np.linspace(0, n, chains + 1).round().astype(int)


def _sides(problem: RebalanceProblem) -> np.ndarray | None:
    """The buy/sell sides the problem's last solve ended with (the next point's hint)."""
    last = getattr(problem, "_last_sell", None)
    return None if last is None else np.array(last, dtype=bool, copy=True)


class _Probed(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised by :func:`_keeps_hint`'s sign search: whether the hint was kept."""

    def __init__(self, kept: bool):
        super().__init__(kept)
        self.kept = kept


def _keeps_hint(problem: RebalanceProblem, settings, method: str,
                signs: WarmSigns) -> bool:
    """Whether the warm sweep's point at ``settings`` depends on the sides before it.

    It does only when the point's first sign search (:class:`WarmSigns`, from the
    previous point's sides) proves them: otherwise the two-step decides the sides from
    the relaxation alone, and whatever follows in the point (the name-count and
    minimum-trade re-solves, the capped re-solve) starts from the two-step's sides, as
    it does at the first point of a chain. The solve is stopped at that first sign
    search (one or two sign-fixed solves); the problem's sides are put back.
    """
    hint = getattr(problem, "_last_sell", None)

    def probe(p: RebalanceProblem, buy: np.ndarray, lot_cap: np.ndarray,
              w_cap: np.ndarray) -> str | None:
        raise _Probed(signs(p, buy, lot_cap, w_cap) is not None)

    saved = problem.sign_search
    problem.sign_search = probe
    _begin(problem)
    try:
        # as _point: a tracking-error cap lifted for the first solve
        problem.update(replace(settings, te_cap=None) if settings.te_cap is not None
                       else settings)
        problem.solve(method)
    except _Probed as e:
        return e.kept
    except OptimizationError:
        return False  # the point fails before any sign search, whatever came before
    finally:
        problem.sign_search = saved
        problem._last_sell = hint
    return False  # no sign search at this point (no name holds a loss to harvest)


class _FirstSearch:
    """A sign search that notes whether its first call kept the sides it started from.

    Installed for a chain's first point: that call is the one whose outcome depends on
    the sides before the point (:func:`_keeps_hint`); everything else is the wrapped
    :class:`WarmSigns`'s (its ``after_two_step`` included).
    """

    def __init__(self, signs: WarmSigns):
        self.signs = signs
        self.kept: bool | None = None

    def __call__(self, problem: RebalanceProblem, buy: np.ndarray, lot_cap: np.ndarray,
                 w_cap: np.ndarray) -> str | None:
        status = self.signs(problem, buy, lot_cap, w_cap)
        if self.kept is None:
            self.kept = status is not None
        return status

    def __getattr__(self, name: str):
        return getattr(self.signs, name)


def _seam(problem: RebalanceProblem, point: tuple, method: str, cf_args: dict,
          signs: WarmSigns) -> tuple | None:
    """The serial sweep's view of the next chain's first point, from this chain's end.

    ``None`` when the point does not depend on the sides before it
    (:func:`_keeps_hint`); otherwise the point solved warm from this chain's sides:
    its row, its proof and the sides it ends with.
    """
    k, kind, value, st = point
    if kind == "target" or not _keeps_hint(problem, st, method, signs):
        return None  # go to target is never solved from a warm sweep's sides
    row = _point(problem, k, kind, value, st, method, cf_args, signs)
    return row, _proof(signs), _sides(problem)


def _join_chains(parts: list[tuple], problem: RebalanceProblem, rest: list[tuple],
                 cut: np.ndarray, method: str, cf_args: dict, signs: WarmSigns | None
                 ) -> tuple[list[tuple[dict, tuple[str, float]]], list[int]]:
    """The chains' points as the serial sweep has them, and the points solved again here.

    Each part: the chain's points, the sides after each, the serial sweep's view of the
    next chain's first point from this chain's end (:func:`_seam`) and whether the chain's
    first point kept the sides it started from (a chain of the first cut starts from the
    first point's sides; one taken over from another chain from that chain's latest
    sides when its latest point kept the sides before it, else with the two-step).
    Where the serial sweep would not keep the previous chain's last sides (no seam), its
    point is the two-step's, which does not depend on the sides before it: the chain's
    points stand when its first point did not keep its own starting sides either.
    Where it would keep them, the point is that warm solve (the seam); when it also ends
    with the sides the chain's first point ended with, the chain's next points are the
    serial sweep's as they are (each point depends on the points before it only through
    those sides). Otherwise the points are solved again here, serially from the serial
    sweep's sides, until one ends with the sides its chain (this one or a later one) had
    there: that chain's points after it stand, and its end is seamed to the next chain as
    above. Go to target is never solved again (it is solved without the sides before it,
    :func:`_point`).
    """
    out = list(parts[0][0])
    resolved: list[int] = []
    chain_of = np.searchsorted(cut, np.arange(len(rest)), side="right") - 1
    j = 1
    while j < len(parts):
        own, sides, _, kept = parts[j]
        seam = parts[j - 1][2]
        if seam is None:
            if not kept:
                out += own
                j += 1
                continue
            hint, p = None, int(cut[j])  # the serial sweep's two-step at the point
        else:
            row, proof, at_seam = seam
            out.append((row, proof))
            if np.array_equal(at_seam, sides[0]):
                out += own[1:]
                j += 1
                continue
            hint, p = at_seam, int(cut[j]) + 1
        problem._last_sell = hint
        problem.sign_search = signs
        j = len(parts)  # solved here to the end of the sweep unless the sides meet a chain's
        while p < len(rest):
            m = int(chain_of[p])
            i = p - int(cut[m])
            m_own, m_sides = parts[m][0], parts[m][1]
            k, kind, value, st = rest[p]
            p += 1
            if kind == "target":
                out.append(m_own[i])
                continue
            out.append((_point(problem, k, kind, value, st, method, cf_args, signs),
                        _proof(signs)))
            resolved.append(k)
            if np.array_equal(_sides(problem), m_sides[i]):
                out += m_own[i + 1:]  # the same sides from here: the chain's points stand
                j = m + 1
                break
    return out, resolved


def _labels(t: pd.DataFrame, swept: str) -> list[str]:
    """Client-terms labels: the ends, the aversion on a 1-10 scale with the TE, budgets.

    The scale is the default sweep's (:data:`DEFAULT_GAMMAS`, log-spaced): an aversion
    reads the same label whatever the other points of the sweep (reviewer 1, session 25:
    the point at aversion 1 read "9 / 10" alone and "5 / 10" in the default sweep); one
    beyond the default's ends reads its end, no aversion at all (0) the lowest.
    """
    lo, hi = math.log10(min(DEFAULT_GAMMAS)), math.log10(max(DEFAULT_GAMMAS))
    out = []
    for kind, p, te, up in zip(t.kind, t.parameter, t.te, t.budget_raised, strict=True):
        te_txt = "" if not np.isfinite(te) else f" · tracking error {fmt_pct(te)}"
        if kind == "current":
            out.append("Do nothing (today)")
        elif kind == "target":
            out.append("Go to target")
        elif swept == "budget":
            # reviewer 1, session 25: "Gain budget $0" beside $7,561 of net gain realised
            # by the sales the restrictions require
            out.append(f"Gain budget ${p:,.0f}" + (
                f", raised to ${p + up:,.0f} by the sales the restrictions require"
                if np.isfinite(up) and up >= 0.5 else ""))
        else:
            pos = 0.0 if p <= 0 else min(max((math.log10(p) - lo) / (hi - lo), 0.0), 1.0)
            out.append(f"Tax-averse {1 + round(8 * pos)} / 10{te_txt}")
    return out


def _current_row(problem: RebalanceProblem) -> dict:
    te = problem.current_te()
    return {"point": 0, "kind": "current", "label": "", "parameter": np.nan,
            "te": te, "te_pct": 100 * te, "tax_this_year": 0.0, "tax_this_year_pct": 0.0,
            "carryforward_created": 0.0, "carryforward_st": 0.0, "carryforward_lt": 0.0,
            "carryforward_value": 0.0, "tax_economic": 0.0, "tax_economic_pct": 0.0,
            "realized_st": 0.0, "realized_lt": 0.0, "turnover": 0.0,
            "names": problem.current_names(), "trades": 0, "smallest_trade": np.nan,
            "fractional_quantities": 0, "status": "current", "error": "", "seconds": 0.0}


def _carry_value(s: pd.Series, tax, cf_args: dict) -> float:
    """Present value of the carryforward the trade adds to the year's own."""
    before = (s.carryforward_st_before, s.carryforward_lt_before)
    if not all(np.isfinite(before)) or not np.isfinite(s.carryforward_st):
        return np.nan
    if s.carryforward_st <= 0 and s.carryforward_lt <= 0:
        return 0.0
    after = (before[0] + s.carryforward_st, before[1] + s.carryforward_lt)
    v1 = carryforward_value(max(after[0], 0.0), max(after[1], 0.0), tax, **cf_args).value
    return float(v1 - _carry_before(before[0], before[1], tax, cf_args))


def _carry_before(carry_st: float, carry_lt: float, tax, cf_args: dict):
    """The value of the year's own carryforward (the same at every point of a sweep)."""
    try:
        return _carry_before_cached(carry_st, carry_lt, tax, tuple(sorted(cf_args.items())))
    except TypeError:  # an unhashable profile or argument: valued each time
        return carryforward_value(carry_st, carry_lt, tax, **cf_args).value


@functools.lru_cache(maxsize=64)
def _carry_before_cached(carry_st: float, carry_lt: float, tax, cf_items: tuple):
    return carryforward_value(carry_st, carry_lt, tax, **dict(cf_items)).value


class _PointDual:
    """The sweep's :class:`DualQP`: warm within a point, from the data at its first QP.

    A warm QP starts from the multipliers the problem's last solve left
    (:func:`pma_lab.optimize.pattern_bound.dual_start`), so a point's last bits depended
    on which solve came before it in the process: a forked worker's chain starts after
    the first point, not after its neighbour, and the two-worker sweep differed from the
    serial one in the last bits (point 12 of the benchmark book, session 16; points 4 and
    16-23 with four to ten chains). :meth:`begin` (at every point and every probe of
    one) makes the next QP start from :func:`~pma_lab.optimize.pattern_bound.cold_start`,
    the data's own multipliers; the point's later QPs start warm from its own solves.
    Not a DualQP itself (:func:`~pma_lab.optimize.strategies.best_signs` treats a warm
    one as it always did: no cold-start bookkeeping).

    :attr:`anchor` (session 20, :data:`ANCHORED_START`): once the sweep's first point is
    solved (in the parent, before any worker is forked), a point's first QP starts from
    that point's multipliers or from :func:`~pma_lab.optimize.dual_qp.cold_start`,
    whichever has the higher dual value (:attr:`DualQP.start`): the same start in every
    process and whatever the chains. The 25-point sweeps, calls of
    ``pattern_bound._dual``: young-pro 3,825 -> 259 (from the data alone its held fund's
    ascent stalled at a sector limit's kink, gap 1.18, and 17 of 24 QPs went to cvxpy),
    core-active 606 -> 368, retiree 836 -> 255, household 611 -> 461, the benchmark book
    1,531 -> 1,505 (from the first point's alone 1,898). :meth:`begin` is also called
    where the warm sign search steps aside (:func:`pma_lab.optimize.strategies.two_step`):
    the two-step's first QP then starts as a point's first, not from the QPs the search
    gave up (with the first point's start, point 12 of the benchmark book differed from
    the serial sweep in the last bit on two workers' default chains).
    """

    def __init__(self, dual: DualQP):
        self.dual = dual
        self.fresh = True
        self.anchor: np.ndarray | None = None

    def begin(self) -> None:
        """The next QP is a point's first."""
        self.fresh = True

    def __call__(self, problem: RebalanceProblem, sell: np.ndarray, buy: np.ndarray,
                 lot_cap: np.ndarray, w_cap: np.ndarray) -> str | None:
        self.dual.warm = not self.fresh
        self.dual.start = self.anchor if self.fresh else None
        self.fresh = False
        try:
            return self.dual(problem, sell, buy, lot_cap, w_cap)
        finally:
            self.dual.warm = True
            self.dual.start = None

    def __getattr__(self, name: str):
        return getattr(self.dual, name)


ANCHORED_START = True
"""Each point's first dual QP starts from the sweep's first point's multipliers or the
data's own, whichever has the higher dual value (:class:`_PointDual`'s ``anchor``); False:
from the data's own (:func:`~pma_lab.optimize.dual_qp.cold_start`), as in session 19."""


def _begin(problem: RebalanceProblem) -> None:
    """A point (or its probe) starts: its first QP from the data (:class:`_PointDual`)."""
    solver = problem.pattern_solver
    if isinstance(solver, _PointDual):
        solver.begin()


def _point(problem: RebalanceProblem, k: int, kind: str, value: float, settings,
           method: str, cf_args: dict, signs: WarmSigns | None = None) -> dict:
    t0 = time.perf_counter()
    _begin(problem)
    if signs is not None:
        signs.last = ""
        signs.bounded = False
    if kind == "target":
        # solved as the transition solves it (the two-step, never from a warm sweep's
        # sides): the same trades as "Move now"
        saved_search, problem.sign_search = problem.sign_search, None
        try:
            return _point(problem, k, "go", value, settings, method, cf_args) | \
                {"kind": kind}
        finally:
            problem.sign_search = saved_search
    try:
        if signs is not None and settings.te_cap is not None:
            # a cap that does not bind leaves the optimum where it is: solve without it
            # (a QP) and again with it only if the trades end above it
            problem.update(replace(settings, te_cap=None))
            r = problem.solve(method)
            if r.summary.te_after > settings.te_cap:
                problem.update(settings)
                r = problem.solve(method)
        else:
            problem.update(settings)
            r = problem.solve(method)
        return _row(problem, k, kind, value, r, cf_args, t0)
    except OptimizationError as e:
        row = dict.fromkeys(_COLUMNS, np.nan)
        row.update({"point": k, "kind": kind, "label": "", "parameter": value,
                    "trades": 0, "fractional_quantities": 0, "status": type(e).__name__,
                    "error": str(e).splitlines()[0], "seconds": time.perf_counter() - t0})
        return row


def _row(problem: RebalanceProblem, k: int, kind: str, value: float, r: RebalanceResult,
         cf_args: dict, t0: float) -> dict:
    """A solved point's row (``t0``: when its solve started)."""
    V = problem.V
    s = r.summary
    cf_st, cf_lt = float(s.carryforward_st), float(s.carryforward_lt)
    return {"point": k, "kind": kind, "label": "", "parameter": value,
            "te": s.te_after, "te_pct": 100 * s.te_after,
            "tax_this_year": s.tax, "tax_this_year_pct": 100 * s.tax / V,
            "carryforward_created": cf_st + cf_lt, "carryforward_st": cf_st,
            "carryforward_lt": cf_lt,
            "carryforward_value": _carry_value(s, problem.state.tax, cf_args),
            "tax_economic": s.tax_model, "tax_economic_pct": 100 * s.tax_model / V,
            "realized_st": s.realized_st, "realized_lt": s.realized_lt,
            "turnover": s.turnover, "names": s.names_after, "trades": len(r.trades),
            "smallest_trade": s.smallest_order,
            "fractional_quantities": s.fractional_quantities,
            "budget_raised": s.budget_raised_by_restrictions, "status": s.status,
            "error": "", "seconds": time.perf_counter() - t0}
