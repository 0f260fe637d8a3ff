"""The sign-fixed problem solved exactly by its Lagrangian dual, certified on every use.

A rebalance's sign-fixed problem without a binding tracking-error cap is a convex QP:
``100 (||B' a||^2 + ||d o a||^2 + aversion x tax + trading cost + penalty)`` over the
trades, each loss-relevant name buy-only or sell-only. Given multipliers ``y`` of its
coupling rows (cash ``nu``, the three gain budgets ``beta >= 0``, the sector limits
``sigma >= 0``, the factor exposures ``mu``), the Lagrangian separates by name into
one-dimensional convex piecewise quadratics (specific risk plus the name's tax curve),
minimised exactly for every name at once; its minimum ``D(y)`` is concave and piecewise
quadratic, maximised by projected Newton steps
(:func:`pma_lab.optimize.pattern_bound.maximise`) from multipliers set by the pattern's
data alone (:func:`cold_start`; the frontier's sweep starts from the last solve's). The
specific risk (``d_i > 0`` for every name) makes each name's minimiser unique, so at the
maximum the minimiser is the QP's solution.

**A binding tracking-error cap** (session 14): the capped problem ``min f(x)`` s.t.
``TE^2(x) <= cap^2`` has, for the cap's multiplier ``100 lam >= 0``, the Lagrangian
``(1 + lam) f_t(x) - 100 lam cap^2`` where ``f_t`` is the uncapped objective with every
cost (tax, penalty, trading cost) weighed by ``t = 1 / (1 + lam)``. So the uncapped dual
of ``f_t`` gives the capped problem's Lagrangian minimiser for any ``t``, and its TE^2
rises with ``t``: a one-dimensional search (:func:`_cap_search`) finds the ``t`` where it
meets the cap, and ``(1 + lam) D_t(y) - 100 lam cap^2`` is the capped problem's lower bound
(weak duality, any ``y`` and ``lam >= 0``) that certifies it.

:class:`DualQP` is that solver for :meth:`RebalanceProblem._fixed_solve
<pma_lab.optimize.rebalance.RebalanceProblem>` (its ``pattern_solver``). It writes the
solution into the cvxpy problem's variables (sales per lot class, purchases, active
weights, factor exposures, the classes' gains) and the multipliers into the cash, budget
and sector rows, as a solver would, and keeps it only under a **certificate** checked on
every use:

* primal feasibility: every constraint of the cvxpy problem and every variable's own
  bound (``nonneg``), evaluated by cvxpy at the written values (as
  :meth:`cvxpy.Constraint.violation`), within :data:`FEAS_TOL`
  (weights; PIQP's own absolute tolerance is 1e-8);
* optimality: the objective, evaluated by cvxpy at the written values, minus ``D(y)``
  (a lower bound on the optimum for any ``beta, sigma >= 0``: weak duality; with a
  binding cap ``(1 + lam) D_t(y) - 100 lam cap^2``) within :data:`GAP_TOL` (objective
  units; the solvers' accuracy ``1e-9``, PIQP's ``1e-7`` relative).

A failed certificate, or a problem the dual does not cover (two funds or more held; one
fund is covered since session 15, :func:`pma_lab.optimize.pattern_bound._fund_dual`; the
capped loss credit or one variable per lot, researcher's constraints, a name whose caps leave no
trade, a name with both sides open that could buy and sell at once, a cap no ``t`` meets),
returns ``None``: the cvxpy solve runs as before, and :attr:`DualQP.stats` counts it.

**A nearby pattern's bound** (session 17): :func:`capped_bound` starts the capped
problem's weak-duality bound from another pattern's solution (its ``t`` and ``y``,
:attr:`DualQP.last`), so the two-step's sign search
(:func:`pma_lab.optimize.strategies.best_signs`) can prove a pattern cannot win without its
cap search.

Every :class:`~pma_lab.optimize.rebalance.RebalanceProblem` installs one (session 14;
``RebalanceSettings(dual_qp=False)`` turns it off), started from multipliers set by the
data alone (:func:`cold_start`) so that its solutions repeat to the bit; the frontier
installs its own, warm-started point to point.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

import cvxpy as cp
import numpy as np

from pma_lab.blas import one_thread
from pma_lab.optimize.illinois import Illinois
from pma_lab.optimize.pattern_bound import (
    _SCALE,
    PatternData,
    _dual,
    _kink_step,
    _lower,
    _setup,
    _solve,
    _stationarity,
    dual_start,
    maximise,
)

if TYPE_CHECKING:
    from pma_lab.optimize.rebalance import RebalanceProblem

__all__ = ["DualQP", "FEAS_TOL", "GAP_TOL", "capped_bound", "cold_start", "lot_classes"]

FEAS_TOL = 1e-9
"""The largest constraint violation (weights of the account, i.e. ~$0.02 on $20M) a
dual solution may have; PIQP stops at an absolute residual of 1e-8."""
GAP_TOL = 1e-10
"""The largest duality gap (objective units, ``100 x TE^2``: 1e-10 is a tracking
variance of 1e-12) a dual solution may have; the solvers' accuracy is 1e-9."""
STEPS = 40
"""Projected Newton steps at most (the benchmark book's frontier: ~7 evaluations of
``D`` a QP from the last solve's multipliers, 10-40 where a kink search runs)."""


def cold_start(c: PatternData) -> np.ndarray:
    """Multipliers from the pattern's data alone: the factor exposures of no trade.

    ``mu = 200 B' (h - w_t)`` (the exposures' multiplier at the holdings today), cash,
    budgets and sector limits at zero. A function of the Parameters and caps only, so
    the ascent from it (deterministic) repeats itself to the bit.
    """
    ns = c.S.shape[0]
    fund = c.fund
    look = c.h if fund is None else c.h + fund.m * fund.hf
    mu = 2 * _SCALE * (c.B.T @ (look - c.wt))
    return np.r_[np.zeros(4 + ns), mu]


def _te2(c: PatternData, trades: dict) -> float:
    """TE^2 of the Lagrangian's minimiser (``trades`` from :func:`_dual`)."""
    a = c.h - c.wt + trades["bought"]
    sold = np.bincount(c.asset, weights=trades["sold"], minlength=c.n)
    a = a - sold
    if "fund_look" in trades:  # a held fund's look-through (pattern_bound._fund_dual)
        a = a + trades["fund_look"]
    f = c.B.T @ a
    return float(f @ f + (c.q / _SCALE) @ (a * a))


RESTART_STATIONARY = 1e-6
"""A projected gradient above this where the ascent stops is a stall at a kink of ``D``
(:func:`_ascend` restarts once)."""


def _ascend(c: PatternData, y0: np.ndarray, steps: int, at: dict | None = None,
            fund_s: float | None = None) -> tuple | None:
    """The dual's maximum from ``y0``: ``(y, D, trades, TE^2, H)``; ``None``: not covered.

    ``trades`` (and ``at``, when given: ``g`` and ``w``, :func:`_dual`'s gradient and
    minimising weights at ``y``, for :func:`_slope`) are those of the evaluation that
    found ``y``: none is repeated (session 15). ``at`` also receives ``c``, the ascent's
    copy of the data, whose sort memo :func:`_slope` shares (session 17). ``fund_s``: a
    held fund's sale to start its first search from (:func:`_fund_sale` of a nearby
    ascent; ``None``: from the least sale), as the ascent's later evaluations start from
    their last one's.

    The ascent can stop short of the maximum at a kink of ``D`` where the gradient it
    has (one of the one-sided ones) is no direction of ascent: on the tech-exec sample's
    zero-gain-budget plan steps, 3 of 80 QPs from :func:`cold_start` stopped with the
    total budget's multiplier 60 % above its optimum (projected gradient 0.10-0.15). It
    is restarted once from there with the budgets' and sector limits' multipliers
    halved (a function of the data: deterministic), and the better end kept. Still
    stalled (session 20: young-pro's held fund, a sector limit's multiplier with no
    curvature 23 % above its optimum, gap 1.18), up to :data:`BOUND_ROUNDS` bound steps
    (:func:`_bound_step`), each followed by the ascent, while ``D`` rises. Since session
    21 the kink search itself stops at such a bound (:func:`pattern_bound._kink_step
    <pma_lab.optimize.pattern_bound.maximise>`): young-pro's ascents no longer stall there
    and need no bound step (3 before). Still stalled (session 21: tech-exec, two budget
    multipliers whose Hessian rows are equal, zigzagging with the cash multiplier), up to
    :data:`NULL_ROUNDS` null-space steps (:func:`_null_step`), each followed by the ascent,
    while ``D`` rises. Both run only where the ascent before them ended stalled, so every
    QP certified before is solved as before.
    """
    # the pattern's fixed arrays computed once, shared by its copies (this ascent's and
    # _weighed's), and the lots' order kept per budget multipliers (pattern_bound._dual)
    _ = c.fixed, c.centre
    c = c.with_memo()
    if fund_s is not None and c.fund is not None:
        c.memo.fund_s = fund_s
    trades: dict = {}
    y, D, g, H, w = maximise(c, y0, np.inf, steps, True, kinks=True, trades=trades,
                             adapt=True)
    if g is None or not np.isfinite(D):
        return None
    if _stationarity(c, y, g) > RESTART_STATIONARY:
        y_r = y.copy()
        y_r[1:4 + c.S.shape[0]] *= 0.5
        trades2: dict = {}
        y2, D2, g2, H2, w2 = maximise(c, y_r, np.inf, steps, True, kinks=True,
                                      trades=trades2, adapt=True)
        if g2 is not None and D2 > D:
            y, D, g, H, w, trades = y2, D2, g2, H2, w2, trades2
    # still stalled, two last resorts in turn, each kept only while it raises the dual:
    # a multiplier Newton cannot move (no curvature) whose gradient points to its bound,
    # stepped along the projected gradient up to the bound (_bound_step); free multipliers
    # whose Hessian block is singular (Newton's step along it is huge and every halving
    # fails), searched along the gradient's part there (_null_step)
    for rounds, step in ((BOUND_ROUNDS, lambda y, D, g, H: _bound_step(c, y, D, g)),
                         (NULL_ROUNDS, lambda y, D, g, H: _null_step(c, y, D, g, H))):
        for _ in range(rounds):
            if _stationarity(c, y, g) <= RESTART_STATIONARY:
                break
            y_s = step(y, D, g, H)
            if y_s is None:
                break
            trades_s: dict = {}
            y_t, D_t, g_t, H_t, w_t = maximise(c, y_s, np.inf, steps, True, kinks=True,
                                               trades=trades_s, adapt=True)
            if g_t is None or not D_t > D:
                break
            y, D, g, H, w, trades = y_t, D_t, g_t, H_t, w_t, trades_s
    if at is not None:
        at.update(g=g, w=w, c=c)
    return y, float(D), trades, _te2(c, trades), H


BOUND_ROUNDS = 3
"""Bound steps (:func:`_bound_step`), each followed by an ascent, at most in :func:`_ascend`."""
BOUND_SEARCH = 30
"""Evaluations of ``D`` at most in one :func:`_bound_step`."""


def _bound_step(c: PatternData, y: np.ndarray, D: float, g: np.ndarray) -> np.ndarray | None:
    """The best multipliers along the projected gradient, up to the first bound it meets.

    Where the ascent stalls with a multiplier whose row no name's current piece responds
    to (zero curvature: projected Newton leaves it) and whose gradient points down to its
    bound, :func:`pattern_bound._kink_step <pma_lab.optimize.pattern_bound.maximise>`'s
    first trial step, scaled by the other rows' curvature, can overshoot far past the
    bound, where the clipped path is flat and its search ends at once (young-pro's held
    fund: the first sector limit's multiplier stayed at 1.23, gradient -0.97, gap 1.18,
    every such QP went to PIQP). Here the ray ``y + t d`` (``d`` the projected gradient)
    stops at ``t_max``, where the first multiplier falling along it reaches its bound: on
    ``[0, t_max]`` it is a straight line, ``D`` concave along it. ``t_max`` is tried
    first (where the slope is constant, the bound is the best point); if the slope has
    turned there, the Illinois method finds its zero, to a millionth of the first slope.

    Returns
    -------
    np.ndarray | None
        The best point found, if ``D`` is higher there than at ``y``; else ``None`` (also
        when no multiplier falls to a bound along ``d``).
    """
    lo = _lower(c, len(y))
    d = np.where(y > lo, g, np.maximum(g, 0.0))
    down = d < 0
    if not (down & (lo > -np.inf)).any():
        return None
    reach = np.full(len(y), np.inf)
    reach[down] = (lo[down] - y[down]) / d[down]
    t_max = float(np.min(reach))
    s0 = float(g @ d)
    if not (t_max > 0 and np.isfinite(t_max) and s0 > 0):
        return None
    hit = reach <= t_max
    best_y, best_D = None, D
    root = Illinois(0.0, s0, np.inf, -np.inf)
    t = t_max
    for _ in range(BOUND_SEARCH):
        y_t = np.maximum(y + t * d, lo)
        if t == t_max:
            y_t[hit] = lo[hit]  # exactly at the bound
        D_t, g_t, _, _ = _dual(c, y_t, hessian=False)
        if g_t is None:
            break
        if D_t > best_D:
            best_y, best_D = y_t, D_t
        s_t = float(g_t @ d)
        if (t == t_max and s_t >= 0) or abs(s_t) <= 1e-6 * s0:
            break  # still rising at the bound, or the slope's zero
        root.update(t, s_t)
        if root.t_hi < np.inf and root.t_hi - root.t_lo <= 1e-12 * root.t_hi:
            break
        t = root.point()
    return best_y


NULL_ROUNDS = 3
"""Null-space steps (:func:`_null_step`), each followed by an ascent, at most in :func:`_ascend`."""


def _null_step(c: PatternData, y: np.ndarray, D: float, g: np.ndarray,
               H: np.ndarray) -> np.ndarray | None:
    """The best multipliers along the gradient's part in the free rows' singular directions.

    Where two free multipliers' rows of the Hessian are equal on the names' current
    pieces (session 21, tech-exec's zero-gain-budget steps: the total and long-term gain
    budgets, where the names whose sale ends inside a lot sell long-term lots only), ``D``
    is linear along their difference there:
    Newton's step along it is ~1e7 (the 1e-12 regularisation), every halving of it
    fails, and the kink search along the projected gradient zigzags with the cash
    multiplier, gaining ~3e-8 a step (the ascent ended at projected gradient 3e-4 and
    9e-3; the certificate failed, PIQP solved them). Here the gradient is projected onto
    the free block's near-null eigenvectors (eigenvalues below ``1e-9`` of the largest)
    and :func:`pattern_bound._kink_step <pma_lab.optimize.pattern_bound.maximise>`
    searches along it, to the next kink or bound.

    Returns
    -------
    np.ndarray | None
        The best point found, if ``D`` is higher there than at ``y``; else ``None`` (also
        when the free block has no such direction or the gradient has no part in it).
    """
    lo = _lower(c, len(y))
    curv = -np.diag(H)
    free = ((y > lo) | (g > 0)) & (curv > 1e-12 * curv.max())
    if not free.any():
        return None
    ev, V = np.linalg.eigh(-H[np.ix_(free, free)])
    small = ev <= 1e-9 * ev.max()
    if not small.any():
        return None
    Vs = V[:, small]
    d = np.zeros(len(y))
    d[free] = Vs @ (Vs.T @ g[free])
    if not float(g @ d) > 0:
        return None
    y_k, D_k = _kink_step(c, y, D, d, H, lo)[:2]
    return y_k if D_k > D else None


def _weighed(c: PatternData, t: float, fund_s: float | None = None) -> PatternData:
    """The pattern's data with every cost (tax, penalty, trading cost) weighed by ``t``.

    ``fund_s``: a held fund's sale its first evaluation's search starts from
    (:func:`_fund_sale`; ``None``: the least sale).
    """
    fund = c.fund
    if fund is not None:
        fund = dataclasses.replace(fund, unit=t * fund.unit)
    ct = c.replace(unit=t * c.unit, tc=t * c.tc, fund=fund).with_memo()
    if fund is not None and fund_s is not None:
        ct.memo.fund_s = fund_s
    return ct


def _fund_sale(c: PatternData | None) -> float | None:
    """The held fund's sale at the last evaluation of ``c``'s dual (``None``: none yet).

    A start for the next search of the fund's sale at nearby multipliers or cost weight
    (session 22): :func:`pma_lab.optimize.pattern_bound._fund_dual` gallops out from it to
    the first kink whose right slope is not below 0, the point its search from the least
    sale bisects to, so the sale it finds is the same; young-pro's cap search's and
    ``_slope``'s fund duals started from the least sale and bisected all the fund's ~50
    kinks each time.
    """
    if c is None or c.fund is None or c.memo is None:
        return None
    return c.memo.fund_s


CAP_STEPS = 30
"""Evaluations of the weighed dual at most in the search for a binding cap's multiplier."""
CAP_RTOL = 1e-13
"""The search ends when TE^2 is below the cap's TE^2 by at most this share of it."""
SLOPE_SHARE = 1e-3
"""A slope of TE^2 below this share of the secant's through the point before is taken
for a short flat piece's: the cap's search then steps by the secant."""


def _te2_of(c: PatternData, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """TE^2's gradient pieces at weights ``w`` per name: ``(B' a, q a / 100)``."""
    a = w - c.wt
    return c.B.T @ a, c.q / _SCALE * a


def _slope(c: PatternData, t: float, y: np.ndarray, H: np.ndarray, g0: np.ndarray | None = None,
           w0: np.ndarray | None = None, ct: PatternData | None = None,
           pieces: dict | None = None) -> tuple[float, np.ndarray]:
    """``d TE^2 / dt`` and ``dy / dt`` at the weighed dual's maximum ``y`` (costs by ``t``).

    ``g0``, ``w0``: the weighed dual's gradient and minimising weights at ``y`` (from the
    ascent that found it, :func:`_ascend`'s ``at``; ``None``: evaluated here). ``ct``: the
    data weighed by ``t`` (the ascent's copy, ``at["c"]``: its lots' sort is reused where
    the budgets' multipliers stay; ``None``: :func:`_weighed`'s).

    On the names' current pieces the Lagrangian's minimiser ``w(y, t)`` and the dual's
    gradient ``g(y, t)`` are affine; ``g = 0`` on the free multipliers gives
    ``dy/dt = (-H)^-1 dg/dt`` there. ``dg/dt``, ``dw/dt`` and ``dw/dy dy/dt`` are taken
    as differences over a step of ``1e-7 t`` (exact on the pieces; a step that crosses a
    kink only makes the Newton step of :func:`_cap_search` less exact).

    ``pieces``: the trades of the evaluation at ``y`` with its Hessian's rows
    (:func:`_dual`'s ``inner``, ``rows``, ``sell_names``, ``sell_lots``; ``None``: not
    known). Given them and no fund held, the derivatives are the pieces' own
    (:func:`_piece_slope`), without the two evaluations of the dual the differences take
    (session 24).
    """
    n = len(y)
    lo = _lower(c, n)
    if pieces is not None and c.fund is None and "sell_lots" in pieces and w0 is not None:
        return _piece_slope(c, y, H, w0, pieces, lo)
    h = 1e-7 * t
    if ct is None:
        ct = _weighed(c, t)
    if g0 is None or w0 is None:
        _, g0, _, w0 = _dual(ct, y, hessian=False)
    _, g1, _, w1 = _dual(_weighed(c, t + h, _fund_sale(ct)), y, hessian=False)
    if g0 is None or g1 is None:
        return np.nan, np.zeros(n)
    curv = -H.diagonal()
    free = ((y > lo) & (curv > 1e-12 * max(curv.max(), 1e-300))).nonzero()[0]
    dy = np.zeros(n)
    if len(free):
        try:
            dy[free] = _solve(-H[free][:, free], (g1 - g0)[free] / h)
        except np.linalg.LinAlgError:
            return np.nan, dy
    _, g2, _, w2 = _dual(ct, np.maximum(y + h * dy, lo), hessian=False)
    if g2 is None:
        return np.nan, dy
    dw = (w1 - w0) / h + (w2 - w0) / h
    f, sa = _te2_of(c, w0)
    return float(2.0 * (f @ (c.B.T @ dw) + sa @ dw)), dy


def _piece_slope(c: PatternData, y: np.ndarray, H: np.ndarray, w0: np.ndarray, pieces: dict,
                 lo: np.ndarray) -> tuple[float, np.ndarray]:
    """:func:`_slope` from the names' current pieces (no fund held): ``(d TE^2 / dt, dy / dt)``.

    A name whose minimiser is a stationary point (``pieces["inner"]``) has the weight
    ``w_t + (u t + beta' b + nu - l) / (2 q)`` selling on a lot of cost ``u`` per unit
    (budget rows ``b``), ``w_t - (l + tc t - nu) / (2 q)`` buying (``l`` its row of
    ``B mu + S' sigma``); every other name's weight stays. So ``dw/dt`` is ``u / (2 q)``
    or ``-tc / (2 q)``, ``dw/dy = -e / (2 q)`` with ``e`` the name's row of the Hessian's
    factor (``pieces["rows"]``, divided by ``sqrt(2 q)``), and the gradient's
    ``dg/dt = sum e dw/dt``: what the differences of :func:`_slope` take, without their
    round-off or a kink crossed by their step.
    """
    inner = pieces["inner"]
    Ei = pieces["rows"]
    q2 = c.fixed.q2
    dwdt = np.where(inner, -c.tc / q2, 0.0)
    sell = pieces["sell_names"]
    dwdt[sell] = c.unit[pieces["sell_lots"]] / q2[sell]
    sq = c.fixed.sq[inner]
    dgdt = Ei.T @ (sq * dwdt[inner])
    n = len(y)
    curv = -H.diagonal()
    free = ((y > lo) & (curv > 1e-12 * max(curv.max(), 1e-300))).nonzero()[0]
    dy = np.zeros(n)
    if len(free):
        try:
            dy[free] = _solve(-H[free][:, free], dgdt[free])
        except np.linalg.LinAlgError:
            return np.nan, dy
    dw = dwdt
    dw[inner] -= (Ei @ dy) / sq
    f, sa = _te2_of(c, w0)
    return float(2.0 * (f @ (c.B.T @ dw) + sa @ dw)), dy


def _cap_search(c: PatternData, y1: np.ndarray, H1: np.ndarray, te2_1: float, cap2: float,
                steps: int, g1: np.ndarray | None = None,
                w1: np.ndarray | None = None, c1: PatternData | None = None,
                trades1: dict | None = None) -> tuple | None:
    """The weight ``t = 1 / (1 + lam)`` on the costs at which TE^2 meets a binding cap.

    The capped problem's Lagrangian with the cap's multiplier ``100 lam`` is ``(1 + lam)``
    times the uncapped one with every cost weighed by ``t``, less ``100 lam cap^2``; its
    minimiser's TE^2 rises with ``t`` (continuously: specific risk makes the minimiser
    unique) to ``te2_1 > cap^2`` at ``t = 1``, and on the names' current pieces it is
    quadratic in ``t``. So the search is Newton's method on ``TE^2(t) = cap^2`` with the
    exact slope on the pieces (:func:`_slope`), kept inside the bracket found so far,
    each dual started from the multipliers the slope predicts (exact on the pieces: the
    ascent then takes a step or none; every start a function of the data, so the search
    repeats itself to the bit). Where the slope is below :data:`SLOPE_SHARE` of the
    secant's through the point before (a short flat piece: TE^2 there is constant in
    ``t``), the secant is the step's slope and the multipliers move along it (session
    21). A step that leaves the bracket is replaced by the Illinois step between its
    ends once TE^2 has been found below the cap (:class:`~pma_lab.optimize.illinois.
    Illinois`, updated with every point), before that by a quarter of the upper end
    (the flat stretch from ``t = 1`` where no name's trade depends on ``t``). It ends
    where TE^2 is at most the cap and within :data:`CAP_RTOL` of it.

    ``y1``, ``H1``, ``te2_1``, ``g1``, ``w1``: the uncapped dual's maximum, its Hessian,
    TE^2, gradient and minimising weights there (:func:`_ascend`; ``g1``, ``w1`` ``None``:
    evaluated again); ``c1`` that ascent's copy of the data (``at["c"]``, whose lots' sort
    :func:`_slope` reuses; ``None``: a new one); ``trades1`` its trades (with the
    Hessian's rows: the slope from the pieces, :func:`_piece_slope`; ``None``: by
    differences, as every later point's with a fund held).

    Returns ``(t, y, D_t(y), trades, evaluations)`` or ``None`` (no ``t`` down to
    ``1e-12`` meets the cap: it cannot be met, or only at a multiplier beyond ``1e12``;
    the dual stops covering the problem; no convergence in :data:`CAP_STEPS`).
    """
    lower = _lower(c, len(y1))
    tol = CAP_RTOL * cap2
    target = -0.5 * tol  # aim inside the band (-tol, 0]
    lo_t, hi_t = 0.0, 1.0
    t, y, H, g, w, phi = 1.0, y1, H1, g1, w1, te2_1 - cap2
    ct, pieces = c1, trades1
    root: Illinois | None = None  # the bracket by its ends' values, once both are known
    prev: tuple | None = None  # the point before (t, phi, y)
    prev_hi = phi  # TE^2 - cap^2 at hi_t
    for n in range(1, CAP_STEPS + 1):
        slope, dy = _slope(c, t, y, H, g, w, ct, pieces)
        # a slope below a share of the secant's through the point before is a short flat
        # piece's (young-pro's fund: TE^2 rises ~0.035 per unit of t between flat pieces
        # ~1e-5 long): Newton's step by it would leave the bracket; step by the secant,
        # TE^2's mean rise over the last step, and move y along the secant too
        sec = np.nan if prev is None else (phi - prev[1]) / (t - prev[0])
        if np.isfinite(sec) and sec > 0 and not (np.isfinite(slope)
                                                 and slope >= SLOPE_SHARE * sec):
            slope, dy = sec, (y - prev[2]) / (t - prev[0])
        step = (phi - target) / slope if np.isfinite(slope) and slope > 0 else np.inf
        t_new = t - step
        if not lo_t < t_new < hi_t:
            if root is not None:  # both ends: the Illinois step between them
                t_new = root.point()
            else:
                t_new = 0.25 * hi_t
        if t_new < 1e-12:
            return None
        y0 = y + (t_new - t) * dy
        y0 = np.maximum(y0, lower)
        at: dict = {}
        got = _ascend(_weighed(c, t_new), y0, steps, at, _fund_sale(ct))
        if got is None:
            return None
        prev = (t, phi, y)
        y, D, trades, te2, H = got
        g, w, ct, pieces = at["g"], at["w"], at["c"], trades
        t, phi = t_new, te2 - cap2
        if root is not None:
            root.update(t, phi - target)
        elif phi <= 0:  # the first point below the cap: the bracket's lower end
            root = Illinois(t, phi - target, hi_t, prev_hi - target)
        if phi <= 0:
            lo_t = t
            if -phi <= tol:
                return t, y, D, trades, n
        else:
            hi_t, prev_hi = t, phi
        if hi_t - lo_t <= 1e-15 * hi_t:
            break
    return None


BOUND_STEPS = 3
"""Newton steps of :func:`capped_bound` at the incumbent's cost weight (a flip of one
name moves the maximum little: 1-3 steps on the benchmark books)."""


def capped_bound(p: RebalanceProblem, sell: np.ndarray, buy: np.ndarray, lot_cap: np.ndarray,
                 w_cap: np.ndarray, t: float, y: np.ndarray, target: float = np.inf) -> float:
    """A lower bound on the capped sign-fixed optimum with sides ``sell``, from ``(t, y)``.

    Weak duality with the cap's multiplier: for any ``t = 1 / (1 + lam)`` in ``(0, 1]``
    and multipliers ``y`` (``beta, sigma >= 0``), ``(1 + lam) D_t(y) - 100 lam cap^2`` is
    at most the optimum of the pattern's problem with the tracking-error cap (module
    docs). Started from another pattern's solution ``(t, y)`` (:attr:`DualQP.last`: the
    two-step's incumbent, one or a few names away), ``y`` is raised by a few Newton steps
    at ``t`` (:data:`BOUND_STEPS`), then ``t`` takes one Newton step of the cap's search
    toward the weight where TE^2 meets the cap (:func:`_slope`, exact on the names'
    current pieces), ``y`` moved with it, and ``D`` is raised there until the bound
    reaches ``target`` (at most 2 steps): on the six books of ``bench_public.py`` the
    bound is then within 1e-9 of the pattern's optimum (10-20 evaluations of ``D``
    fewer than the pattern's solve from :func:`cold_start`).

    Returns the best bound found (``-inf``: the dual does not cover the pattern, e.g. a
    name with both sides open, or no cap is set).
    """
    if p.settings.te_cap is None:
        return -np.inf
    with one_thread():
        c = _setup(p, sell, buy, lot_cap, w_cap)
        if c is None or len(y) != 4 + c.S.shape[0] + c.B.shape[1] or not 0 < t <= 1:
            return -np.inf
        cap2 = float(p.P["te2_cap"].value)

        def bound(t: float, D: float) -> float:
            lam = 1.0 / t - 1.0
            return (1.0 + lam) * float(D) - _SCALE * lam * cap2 if lam > 0 else float(D)

        def d_target(t: float) -> float:  # the D_t that gives the bound ``target``
            return t * (target + _SCALE * (1.0 / t - 1.0) * cap2)

        ct = _weighed(c, t)
        trades: dict = {}
        # converged at t (no stop at the target): the slope below needs the maximum
        y, D, g, H, w = maximise(ct, y, np.inf, BOUND_STEPS, True, trades=trades)
        if g is None or not np.isfinite(D):
            return -np.inf
        best = bound(t, D)
        if best >= target:
            return best
        phi = _te2(c, trades) - cap2
        if phi <= 0 and t >= 1.0:
            return best  # the cap does not bind at t = 1: no weight raises the bound
        slope, dy = _slope(c, t, y, H, g, w, ct)
        if not (np.isfinite(slope) and slope > 0):
            return best
        t1 = min(t - phi / slope, 1.0)
        if not t1 > 0:
            return best
        y1 = np.maximum(y + (t1 - t) * dy, _lower(c, len(y)))
        _, D1, g1, _, _ = maximise(_weighed(c, t1), y1, d_target(t1), 2, False)
        if g1 is not None and np.isfinite(D1):
            best = max(best, bound(t1, D1))
        return best


def lot_classes(p: RebalanceProblem) -> np.ndarray | None:
    """Each lot's class in the problem's aggregated sales (``None``: no classes or lots)."""
    if not (p.aggregated and p.nl):
        return None
    cls = np.empty(p.nl, dtype=int)
    cls[p._cls_order] = p._cls_of
    return cls


def violation_and_objective(qp: cp.Problem, cache: dict) -> tuple[float, float]:
    """The largest violation of ``qp``'s constraints and its objective, by cvxpy.

    The certificate's evaluation, shared by :class:`DualQP` and
    :class:`~pma_lab.optimize.relax_dual.RelaxDual` (which adds its cones). ``cache``:
    the caller's per-problem expressions (by ``id(qp)``, with the problem itself).

    Each constraint's expression (``lhs - rhs``, built once) is evaluated at the
    written values and the Parameters' values as cvxpy's ``violation`` does
    (``|expr|`` for an equality, ``max(expr, 0)`` for an inequality), without its
    check that every Parameter has a value (``update`` sets them all; a missing
    one raises here) that costs more than the evaluation.
    """
    got = cache.get(id(qp))
    if got is None or got[0] is not qp:
        exprs = []
        for con in qp.constraints:
            kind = "eq" if isinstance(con, cp.constraints.Equality) else \
                "le" if isinstance(con, cp.constraints.Inequality) else None
            exprs.append((kind, con.expr if kind else con))
        # a variable's own bounds (nonneg=True: the purchases and the sales) are no
        # constraint of the problem's list, so they are checked here too
        bounds = [(v, a) for v in qp.variables()
                  for a in ("nonneg", "nonpos", "bounds") if v.attributes.get(a)]
        got = cache[id(qp)] = (qp, exprs, bounds)
    viol = 0.0
    for kind, e in got[1]:
        if kind is None:
            v = e.violation()
        else:
            r = np.asarray(e._value_impl(), dtype=float)
            v = np.abs(r) if kind == "eq" else np.maximum(r, 0.0)
        viol = max(viol, float(np.max(v, initial=0.0)))
    for var, attr in got[2]:
        x = np.asarray(var.value, dtype=float)
        if attr == "nonneg":
            v = np.maximum(-x, 0.0)
        elif attr == "nonpos":
            v = np.maximum(x, 0.0)
        else:
            lo, hi = var.attributes["bounds"]
            v = np.maximum(np.maximum(np.asarray(lo, dtype=float) - x, 0.0),
                           np.maximum(x - np.asarray(hi, dtype=float), 0.0))
        viol = max(viol, float(np.max(v, initial=0.0)))
    return viol, float(qp.objective.args[0]._value_impl())


class DualQP:
    """Sign-fixed QPs solved by the Lagrangian dual, certified, for one compiled problem.

    Installed by every problem (``problem.pattern_solver``); the problem's sign-fixed
    solve calls it first while ``RebalanceSettings.dual_qp`` and runs the cvxpy solve
    whenever it returns ``None``.

    Parameters
    ----------
    problem : RebalanceProblem
    feas_tol, gap_tol : float
        The certificate's tolerances (:data:`FEAS_TOL`, :data:`GAP_TOL`).
    steps : int
        Projected Newton steps at most (per evaluation of the dual).
    cap : bool
        Solve problems whose tracking-error cap binds (the default); False: leave them to
        cvxpy (``not_covered``), as before session 14.
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
    start : np.ndarray | None
        Another start for a solve that is not warm: the ascent starts from it or from
        :func:`cold_start`, whichever has the higher dual value ``D`` (``None``, the
        default, or a start of another length: :func:`cold_start`). Set by the
        frontier's sweep to its first point's multipliers, the same in every process
        (:class:`pma_lab.optimize.frontier._PointDual`).
    stats : dict
        ``solved`` (certified and used), ``capped`` (of those, the ones whose
        tracking-error cap binds), ``not_covered`` (the dual does not apply: the cvxpy
        solve ran), ``rejected`` (the certificate failed: the cvxpy solve ran).
    last : dict
        The last call's ``status`` (``"solved"``, ``"not_covered"``, ``"rejected"``),
        ``violation`` (largest constraint violation), ``gap`` (objective minus bound),
        ``cap_multiplier`` (the cap's multiplier ``100 lam``; 0 when it does not bind),
        ``cap_steps`` (the dual's evaluations in the cap's search) and ``seconds``; once
        the dual reached its maximum, ``t`` (the cost weight ``1 / (1 + lam)``) and ``y``
        (the multipliers there: where :func:`capped_bound` starts a nearby pattern).
    """

    def __init__(self, problem: RebalanceProblem, feas_tol: float = FEAS_TOL,
                 gap_tol: float = GAP_TOL, steps: int = STEPS, warm: bool = False,
                 cap: bool = True):
        self.problem = problem
        self.feas_tol, self.gap_tol, self.steps = feas_tol, gap_tol, steps
        self.warm, self.cap = warm, cap
        self.start: np.ndarray | None = None  # a cold solve's start (None: cold_start)
        self.stats = {"solved": 0, "capped": 0, "not_covered": 0, "rejected": 0}
        self.last: dict = {}
        p = problem
        self._cls = lot_classes(p)
        self._nc = p.sc.size if p.aggregated else 0
        # per problem (without, with the cap): the multiplier each row holds
        self._rows: dict[int, tuple] = {}
        # per problem: the problem and its constraints' expressions (violation_and_objective)
        self._exprs: dict[int, tuple] = {}

    def _row_keys(self, qp) -> list[str | None]:
        """Per constraint of the QP: the multiplier it holds (cash, budget, sector, cap) or None."""
        got = self._rows.get(id(qp))
        if got is not None and got[0] is qp:
            return got[1]
        keys = []
        for con in qp.constraints:
            names = {q.name() for q in con.parameters()}
            keys.append(next((k for k in ("cash_in", "budget", "sector_hi", "te2_cap")
                              if k in names), None))
        self._rows[id(qp)] = (qp, keys)
        return keys

    @property
    def fallbacks(self) -> int:
        """Calls that went to the cvxpy solve (not covered or rejected)."""
        return self.stats["not_covered"] + self.stats["rejected"]

    def __call__(self, problem: RebalanceProblem, sell: np.ndarray, buy: np.ndarray,
                 lot_cap: np.ndarray, w_cap: np.ndarray) -> str | None:
        """:meth:`solve` with one BLAS thread (:func:`pma_lab.blas.one_thread`).

        Its small products cost far less than waking OpenBLAS's threads on a busy
        machine; the values are the same.
        """
        with one_thread():
            return self.solve(problem, sell, buy, lot_cap, w_cap)

    def solve(self, problem: RebalanceProblem, sell: np.ndarray, buy: np.ndarray,
              lot_cap: np.ndarray, w_cap: np.ndarray) -> str | None:
        """Solve the sign-fixed problem with sides ``sell`` (caps already set); ``None``: not used.

        On success the problem's ``exact`` holds the solution (variables, multipliers of
        the cash, budget and sector rows and of a binding tracking-error cap, status
        ``"optimal"`` and its value): the sign-fixed problem without the cap when no cap
        binds there (the capped problem's optimum too), else the capped one; the solve
        is logged (solver ``"dual"``).
        """
        t0 = time.perf_counter()
        p = problem
        self.last = {"status": "not_covered", "violation": np.nan, "gap": np.nan,
                     "cap_multiplier": 0.0, "cap_steps": 0}
        c = None if p._user or self._cls is None else _setup(p, sell, buy, lot_cap, w_cap)
        if c is None:
            return self._done("not_covered", t0)
        n_y = 4 + c.S.shape[0] + c.B.shape[1]
        y0 = dual_start(p) if self.warm else self.start
        if y0 is None or len(y0) != n_y:
            y0 = cold_start(c)
        elif not self.warm:
            # a start given: it or the data's own, whichever has the higher dual value
            # (a function of the two starts and the data alone)
            y1 = cold_start(c)
            lo = _lower(c, n_y)
            cm = c.with_memo()
            d0 = _dual(cm, np.where(y0 < lo + 1e-10, lo, y0), hessian=False)[0]
            if _dual(cm, y1, hessian=False)[0] > d0:
                y0 = y1
        at: dict = {}
        got = _ascend(c, y0, self.steps, at)
        if got is None:
            return self._done("not_covered", t0)
        y, D, trades, te2, H = got
        cap2 = None if p.settings.te_cap is None else float(p.P["te2_cap"].value)
        lam = 0.0
        if cap2 is not None and te2 > cap2:
            # the cap binds: the Lagrangian with its multiplier lam weighs the costs by
            # t = 1 / (1 + lam) against TE^2; search t where TE^2 meets the cap
            if not self.cap:
                return self._done("not_covered", t0)
            found = _cap_search(c, y, H, te2, cap2, self.steps, at["g"], at["w"], at["c"],
                                trades)
            self.last["cap_steps"] = found[-1] if found else CAP_STEPS
            if found is None:
                return self._done("not_covered", t0)
            t, y, D, trades = found[:4]
            lam = 1.0 / t - 1.0
        capped = lam > 0
        self.last.update(t=1.0 / (1.0 + lam), y=y)
        status = self._write(p, c, y, trades, lam)
        qp = p._exact_problem(capped)
        try:
            viol, value = violation_and_objective(qp, self._exprs)
        except (TypeError, ValueError):  # a Parameter without a value: cvxpy decides
            viol, value = np.inf, np.nan
        # weak duality: for the capped problem the Lagrangian's minimum is
        # (1 + lam) D_t(y) - 100 lam cap^2 (D_t: the dual with the costs weighed by t)
        bound = (1.0 + lam) * float(D) - _SCALE * lam * cap2 if capped else float(D)
        gap = value - bound
        self.last.update(violation=viol, gap=gap, cap_multiplier=_SCALE * lam)
        if status is None or not (viol <= self.feas_tol and abs(gap) <= self.gap_tol):
            for var in qp.variables():  # leave nothing of a rejected solution behind
                var.save_value(None)
            return self._done("rejected", t0)
        qp._status, qp._value = "optimal", value
        p._exact_solved = qp
        p._log.append({"problem": "sign-fixed", "solver": "dual", "status": "optimal",
                       "seconds": time.perf_counter() - t0, "refined": False,
                       "solver_seconds": None})
        if capped:
            self.stats["capped"] += 1
        return self._done("solved", t0, "optimal")

    def _done(self, what: str, t0: float, status: str | None = None) -> str | None:
        self.stats[what] += 1
        self.last.update(status=what, seconds=time.perf_counter() - t0)
        return status

    def _write(self, p: RebalanceProblem, c: PatternData, y: np.ndarray, trades: dict,
               lam: float = 0.0) -> str | None:
        """Write the dual's solution into the problem's variables and rows; ``None``: cannot.

        ``lam > 0``: a binding cap's (the capped problem's; ``y`` the multipliers of the
        dual with the costs weighed by ``1 / (1 + lam)``, so the rows' are ``(1 + lam) y``
        and the cap's ``100 lam``).
        """
        n, na = p.nm, p.na
        x = np.zeros(p.nl)
        x[c.lots] = trades["sold"]
        if c.fund is not None:
            x[c.fund.lots] = trades["fund_sold"]
        sc = np.bincount(self._cls, weights=x, minlength=self._nc)
        # each class sold in the order its gain curve assumes (the cvxpy variables'
        # meaning): the lots again from the class sales
        x = p._x_value(sc)
        gain = np.bincount(self._cls, weights=p.g_eff * x, minlength=self._nc)
        b = np.zeros(na)
        b[:n] = trades["bought"]
        sold = np.bincount(p.lot_asset, weights=x, minlength=na)
        w = p.h + b - sold
        a = w[:n] - p.wt if na == n else p.M @ w - p.wt  # look-through with a fund
        f = c.B.T @ a
        values = {"sold_class": sc, "gain_class": gain, "b": b, "active": a,
                  "factor_exposure": f}
        qp = p._exact_problem(lam > 0)
        for var in qp.variables():
            if var.name() not in values:
                return None
            var.save_value(values[var.name()])
        ns = c.S.shape[0]
        k = 1.0 + lam
        duals = {"cash_in": k * float(y[0]), "budget": k * y[1:4],
                 "sector_hi": k * y[4:4 + ns], "te2_cap": _SCALE * lam}
        for con, key in zip(qp.constraints, self._row_keys(qp), strict=True):
            if key is None:
                con.save_dual_value(None)
            else:
                con.save_dual_value(np.reshape(duals[key], con.shape))
        return "optimal"
