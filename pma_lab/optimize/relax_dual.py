"""The two-step's convex relaxation solved by its Lagrangian dual, certified on every use.

The relaxation (Moehle et al.'s perspective envelope, :func:`pma_lab.optimize.formulate.
compile_problems`) gives each loss-relevant name a sell share ``lambda`` and replaces its
separable costs (specific risk, tax, trading cost) by their perspective across the sell
branch (weight ``lambda``) and the buy branch (``1 - lambda``). Given multipliers ``y`` of
the coupling rows (cash ``nu``, gain budgets ``beta >= 0``, sector limits ``sigma >= 0``,
factor exposures ``mu``: the rows of :mod:`pma_lab.optimize.pattern_bound`), the
Lagrangian separates by name, and a relevant name's part is jointly convex in
``(lambda, sale, purchase)`` and linear in ``lambda`` at fixed branch points: its minimum
is the smaller of the two branch minima (each allowing no trade), ``min(V_sell, V_buy)``.
So the relaxation's dual is the *sign-free* dual ``D_R(y) = sum of per-name branch
minima``, and ``D_R(y) <= D_pattern(y)`` for every sign pattern.

:class:`RelaxDual` finds a sign pattern whose optimum is the relaxation's: it maximises
the pattern's dual (:func:`pma_lab.optimize.dual_qp._ascend`, from multipliers set by the
data alone), compares at the maximiser each relevant name's pattern branch with its other
branch, flips the names whose other branch is strictly lower and repeats (a pattern seen
before ends the search). When no name prefers its other branch, ``D_R(y) = D_pattern(y) =
the pattern's optimum``, which is attained by a point of the relaxation (``lambda`` 1 on
the sell side, 0 on the buy side; :data:`HOLD_SHARE` for a name that trades on neither
branch, the relaxation's objective being the same for every ``lambda`` there): that point is the
relaxation's optimum, and the pattern's multipliers its multipliers.

**Certificate** (checked on every use, as :class:`~pma_lab.optimize.dual_qp.DualQP`'s):
the point is written into the relaxed cvxpy problem's variables (sales per lot class,
the classes' gains, purchases, active weights, factor exposures, ``lambda``, the
perspective cones' ``t_sell`` / ``t_buy``), cvxpy evaluates every constraint and variable
bound there (largest violation within :data:`~pma_lab.optimize.dual_qp.FEAS_TOL`) and the
objective, and the objective minus ``D_R(y)`` must be within
:data:`~pma_lab.optimize.dual_qp.GAP_TOL`. ``D_R(y)`` here leaves the weight caps of the
relevant names out (the relaxation caps the *mixed* weight, a set the branch caps are
inside; leaving them out is a larger set, so still a lower bound by weak duality).

**Split names.** Where the relaxation splits a name between its branches (its optimum
below every pattern's), the search meets the name on both sides, each preferring the
other. At fixed sell shares ``lam`` of the split names the perspective makes each one two
names (:func:`split_data`), a problem the sign-fixed dual solves, and ``phi(lam)``, its
optimum, is convex with gradient ``V_sell - V_buy`` per split name (Danskin): one split
name's share is found by the Illinois method on that gradient, several by projected
Newton steps (:func:`shares_step`), until the gap they leave is below a tenth of the
certificate's. Without a binding cap each step minimises ``phi`` on the names' current
pieces, where the dual's Hessian is affine in the shares (:func:`_piece_model`, session
19): a split name whose branch of small weight carries much curvature (a share class
whose own specific risk is at the floor, its issuer's in a factor) has a ``g`` steep near
the bound, past which one Newton step of the quadratic model at the shares lands.

**A fund held** (session 22): the relaxation takes the linear-hull form (exact risk, the
bounds scaled by ``lambda``), whose relevant names may buy and sell at once. Where no
loss-relevant asset may be bought (young-pro: its one relevant name is outside the
target), the hull's optimum is the sell-or-hold pattern's, which the sign-fixed dual
solves with one fund (:meth:`RelaxDual._hull`), certified as above.

Not covered (``None``: the relaxation goes to cvxpy and Clarabel as before, counted in
:attr:`RelaxDual.stats`): the linear hull with a relevant name that may be bought (or
two funds), what the sign-fixed dual does not cover (the capped credit or one variable per lot,
researcher's constraints, ...), a gain budget of zero in the perspective envelope
(the ascent stalls at its kink), names split under a binding tracking-error cap whose
shares are not found within :data:`SPLIT_CAP_EVALS` evaluations, and a search not done
within :data:`MAX_ROUNDS` evaluations (``"tied"``).

**Split names under a binding cap** (session 17). The shares' search runs inside the
cap's: each evaluation's cap search starts from the last one's weight and multipliers
(:func:`cap_from`: 2-4 ascents where a search from ``t = 1`` takes 7-10), and the shares'
Newton step adds the curvature of the cap's multiplier moving with the shares
(:func:`shares_step`'s ``cap``); where its clipped step does not descend, the free
shares go to the bounds their gradients point to (halved at the next evaluation if that
raises ``phi``). The certificate is unchanged.

Installed on every :class:`~pma_lab.optimize.rebalance.RebalanceProblem`
(``problem.relax_solver``) and used by :func:`pma_lab.optimize.strategies._relaxation`
while ``RebalanceSettings.dual_relaxation``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import cvxpy as cp
import numpy as np

from pma_lab.blas import one_thread
from pma_lab.optimize.dual_qp import (
    CAP_RTOL,
    CAP_STEPS,
    FEAS_TOL,
    GAP_TOL,
    STEPS,
    _ascend,
    _cap_search,
    _slope,
    _weighed,
    cold_start,
    lot_classes,
    violation_and_objective,
)
from pma_lab.optimize.illinois import secant_zero
from pma_lab.optimize.pattern_bound import _SCALE, PatternData, _dual, _lower, _setup, maximise

if TYPE_CHECKING:
    from pma_lab.optimize.rebalance import RebalanceProblem

__all__ = ["RelaxDual", "MAX_ROUNDS"]

NEAR_ZERO_BUDGET = 1e-5
"""A gain budget row at or below this (a fraction of the account) leaves the relaxation
to Clarabel (module docs)."""

HOLD_SHARE = 0.6
"""The sell share written for a relevant name that trades on neither branch (every
share is optimal there: the relaxation's objective does not depend on it, so this is a
tie-break, not a solution's figure: the rounding solves both of its patterns exactly and
keeps the better, and review 15 M3 suggests marking such names for the sign search to
decide instead). Clarabel
lands above 1/2 on such names (its sell branch has more barrier terms: one per lot
class; 0.55-0.61 on tech-exec's plan steps), so the rounding gives them the sell side
(``lambda > 0.5``) and counts them among the split names it may flip, as before."""

HULL_FORM = "linear hull (funds held)"
"""The relaxation's form with a fund held (:func:`pma_lab.optimize.formulate.relaxation`),
covered by :meth:`RelaxDual._hull` where no loss-relevant asset may be bought."""

MAX_ROUNDS = 40
"""Evaluations of the dual's maximum at most: sign patterns tried and the split names'
shares searched."""
CAP_REASONS = ("te_cap", "split at the cap")
"""The ``why`` of a call given up because of the tracking-error cap (``last``)."""
FLIP_TOL = 1e-12
"""A name's other branch must be lower by more than this (objective units, relative to
the dual's value, at least 1) for the search to flip it."""


def name_values(c: PatternData, y: np.ndarray, trades: dict) -> np.ndarray:
    """Each model name's part of the Lagrangian at multipliers ``y`` and ``trades``.

    ``trades``: the lots sold (``c.lots`` order) and the purchases per name, as
    :func:`pma_lab.optimize.pattern_bound._dual` returns them; the part is
    ``q (w - w_t)^2 + lin w`` plus the sale's cost (each lot's unit cost with the
    budgets' and cash multipliers) and the purchase's (trading cost less cash).
    """
    n, ns = c.n, c.S.shape[0]
    nu, beta, sigma, mu = y[0], y[1:4], y[4:4 + ns], y[4 + ns:]
    lin = c.B @ mu + (c.S.T @ sigma if ns else 0.0)
    unit = c.unit + beta @ c.brows + nu
    sold_lot = trades["sold"]
    sold = np.bincount(c.asset, weights=sold_lot, minlength=n)
    cost = np.bincount(c.asset, weights=unit * sold_lot, minlength=n)
    bought = trades["bought"]
    w = c.h - sold + bought
    return c.q * (w - c.wt) ** 2 + lin * w + cost + (c.tc - nu) * bought


def branch_data(c: PatternData, rel: np.ndarray, buy: np.ndarray
                ) -> tuple[PatternData, PatternData]:
    """The relaxation's two branches of every loss-relevant model name, as dual data.

    ``c``: a pattern's data (:func:`~pma_lab.optimize.pattern_bound._setup`) with every
    relevant name that holds lots on the sell side. Returns ``(sell, buy)`` data in which
    each relevant name is sell-or-hold, respectively buy-or-hold, without its weight cap
    (module docs); every other name as in ``c``. Neither shares ``c``'s fixed arrays
    (:attr:`~pma_lab.optimize.pattern_bound.PatternData.fixed`: its sides differ).
    """
    n = c.n
    r = rel[:n]
    cap = np.bincount(c.asset, weights=c.size, minlength=n)
    hold = c.hold_ok | r
    sell = c.replace(lo_sell=np.where(r, 0.0, c.lo_sell), hold_ok=hold,
                     sell_ok=np.where(r, cap > 0, c.sell_ok),
                     buy_ok=c.buy_ok & ~r, z_hi=np.where(r, 0.0, c.z_hi)).with_memo()
    nb = np.asarray(buy, dtype=float)[:n]
    buy_d = c.replace(hold_ok=hold, sell_ok=c.sell_ok & ~r,
                      buy_ok=np.where(r, nb > 0, c.buy_ok),
                      z_hi=np.where(r, nb, c.z_hi)).with_memo()
    return sell, buy_d


def split_data(c: PatternData, c_sell: PatternData, c_buy: PatternData, T: np.ndarray,
               lam: np.ndarray) -> PatternData:
    """A pattern's dual data with names ``T`` split at sell shares ``lam`` (in (0, 1)).

    At a fixed share the perspective of a split name is two names: its sell branch of
    weight ``lam`` (the name itself: holdings, target and lots times ``lam``, specific
    risk ``q / lam``) and its buy branch of weight ``1 - lam`` (a new name after the
    model names: holdings and target times ``1 - lam``, specific risk ``q / (1 - lam)``,
    purchases up to ``1 - lam`` times the buy cap), each without its weight cap, as in
    :func:`branch_data`. Its Lagrangian part is ``lam V_sell + (1 - lam) V_buy``.
    """
    n = c.n
    lam_n = np.ones(n)
    lam_n[T] = lam
    rest = 1.0 - lam
    size = c.size * lam_n[c.asset]

    def both(key: str, own: np.ndarray, new: np.ndarray) -> np.ndarray:
        out = np.array(getattr(c, key), copy=True)
        out[T] = own
        return np.r_[out, new]

    return c.replace(
        n=n + len(T), size=size,
        h=both("h", c.h[T] * lam, c.h[T] * rest),
        wt=both("wt", c.wt[T] * lam, c.wt[T] * rest),
        q=both("q", c.q[T] / lam, c.q[T] / rest),
        B=np.vstack([c.B, c.B[T]]), S=np.hstack([c.S, c.S[:, T]]),
        lo_sell=both("lo_sell", 0.0, np.zeros(len(T))),
        hold_ok=both("hold_ok", True, np.ones(len(T), dtype=bool)),
        sell_ok=both("sell_ok", c_sell.sell_ok[T], np.zeros(len(T), dtype=bool)),
        buy_ok=both("buy_ok", False, c_buy.buy_ok[T]),
        z_hi=both("z_hi", 0.0, c_buy.z_hi[T] * rest)).with_memo()


SHARE_MIN = 1e-12
"""A split name's sell share stays within [SHARE_MIN, 1 - SHARE_MIN] (a share of 0 or 1
is a side: its branch of weight 0 would have an infinite specific risk in
:func:`split_data`)."""


def shares_step(c: PatternData, c_sell: PatternData, t_s: dict, t_b: dict,
                y: np.ndarray, T: np.ndarray, lam: np.ndarray, g: np.ndarray,
                cap: tuple | None = None, pred: dict | None = None) -> np.ndarray | None:
    """The split names' next sell shares: a projected Newton step on ``phi(lam)``.

    ``phi(lam) = max_y D_lam(y)`` (the dual of :func:`split_data`'s data ``c``, maximised
    at ``y``) is convex in the shares with gradient ``g = V_sell - V_buy`` per split name
    (Danskin). With ``G`` the columns ``grad V_sell - grad V_buy`` (the two branch
    minimisers' rows: cash, budgets, sectors, factor exposures; ``t_s``, ``t_b`` their
    trades at ``y``) and ``H`` the Hessian of ``D_lam`` at ``y``, the maximiser moves by
    ``dy = (-H)^-1 G dlam``, so ``phi'' = G' (-H)^-1 G``. Shares at a bound whose ``g``
    pushes outward stay there. ``None``: no step (a singular system).

    ``cap``: where a tracking-error cap binds (``c``, ``c_sell`` and ``g`` weighed by
    ``t``), ``(t, slope, dy_dt, dg_dt)``: the cap's search's ``d TE^2 / dt`` and
    ``dy / dt`` (:func:`~pma_lab.optimize.dual_qp._slope`) and each split name's
    ``d g / dt`` at fixed ``y``. The capped dual ``psi(lam, s) = (1 + s) D_t - 100 s cap^2``
    (``t = 1 / (1 + s)``) is maximised over the cap's multiplier ``s`` too, which adds
    the rank-one curvature ``v v' / |psi_ss|`` to ``phi''``: ``v = psi_ls = g - t dg/dt``
    (``dg/dt`` with ``y`` following the maximiser) and ``psi_ss = -100 t^2 slope``; in
    ``g``'s units (``phi' = g / t``) the step's matrix is ``M + v v' / (100 t slope)``.
    Without it the step ignores the cap's multiplier moving with the shares, and on
    random books of 29-178 names at caps of 1-2 % the shares cycled for 40 evaluations.

    ``pred``: a dict given here receives ``dy_dlam`` (``dy / dlam`` at fixed ``t``, the
    columns ``(-H)^-1 G``) and, with ``cap``, ``v`` (``100 d TE^2 / dlam``), from which the
    caller predicts the cap's weight and multipliers at the new shares.
    """
    at: dict = {}
    _, grad, H, _ = _dual(c, y, at)
    if grad is None:
        return None
    ns = c.S.shape[0]
    m = len(y)
    G = np.zeros((m, len(T)))
    a = c_sell.asset
    for k, i in enumerate(T):
        on = a == i
        sold_lots = t_s["sold"][on]
        sold = float(sold_lots.sum())
        bought = float(t_b["bought"][i])
        dw = -sold - bought  # w_sell - w_buy
        G[0, k] = sold + bought
        G[1:4, k] = c_sell.brows[:, on] @ sold_lots
        if ns:
            G[4:4 + ns, k] = c.S[:, i] * dw
        G[4 + ns:, k] = c.B[i] * dw
    lo = _lower(c, m)
    free = (y > lo) | (grad > 0)
    Hf = -H[np.ix_(free, free)]
    Gf = G[free]
    try:
        X = np.linalg.lstsq(Hf + 1e-14 * np.trace(Hf) * np.eye(len(Hf)), Gf, rcond=None)[0]
    except np.linalg.LinAlgError:
        return None
    M = Gf.T @ X
    if cap is not None:
        t, slope, dy_dt, dg_dt = cap
        v = g - t * (dg_dt + G.T @ dy_dt)
        M = M + np.outer(v, v) / (_SCALE * t * slope)
        if pred is not None:
            pred["v"] = v
    if pred is not None:
        dy_dlam = np.zeros((m, len(T)))
        dy_dlam[free] = X
        pred["dy_dlam"] = dy_dlam
    if cap is None:
        # the shares' minimum of phi on the names' current pieces (the curvature there
        # moves with the shares: a step on the quadratic model at lam alone overshoots)
        got = _piece_model(c, at, H, grad, free, G, T, lam, g)
        if got is not None:
            return got
    # Bertsekas' projected Newton: a share near a bound that its gradient pushes
    # outward goes to the bound; the others take the Newton step of the reduced model
    near = SHARE_NEAR
    low = (lam <= SHARE_MIN + near) & (g > 0)
    high = (lam >= 1 - SHARE_MIN - near) & (g < 0)
    move = ~(low | high)
    step = np.where(low, SHARE_MIN - lam, np.where(high, 1 - SHARE_MIN - lam, 0.0))
    if move.any():
        try:
            step[move] = -np.linalg.lstsq(M[np.ix_(move, move)], g[move], rcond=None)[0]
        except np.linalg.LinAlgError:
            return None
    new = np.clip(lam + step, SHARE_MIN, 1 - SHARE_MIN)
    if float(g @ (new - lam)) < 0:
        return new
    # clipped component-wise the step does not descend (the model is flat along some
    # direction, its step long)
    sf = step[move]
    if cap is not None:
        # under the cap (bench_public's 200-name book 200001: shortened to stay in the
        # box, the step was 0 at a share whose Newton step leaves its bound): each
        # free share to the bound its g points to (phi is convex: a step that raises it
        # is halved at the next evaluation, RelaxDual.solve)
        step[move] = np.where(g[move] < 0, 1 - SHARE_MIN - lam[move],
                              np.where(g[move] > 0, SHARE_MIN - lam[move], 0.0))
        return np.clip(lam + step, SHARE_MIN, 1 - SHARE_MIN)
    # the free shares' step shortened to stay in the box
    with np.errstate(divide="ignore", invalid="ignore"):
        room = np.where(sf > 0, (1 - SHARE_MIN - lam[move]) / sf,
                        np.where(sf < 0, (SHARE_MIN - lam[move]) / sf, np.inf))
    step[move] = sf * max(0.0, min(1.0, float(np.min(room, initial=np.inf))))
    return np.clip(lam + step, SHARE_MIN, 1 - SHARE_MIN)


PIECE_STEPS = 30
"""Projected Newton steps at most on :func:`_piece_model`'s function of the shares."""


def _piece_model(c: PatternData, at: dict, H: np.ndarray, grad: np.ndarray,
                 free: np.ndarray, G: np.ndarray, T: np.ndarray, lam: np.ndarray,
                 g: np.ndarray) -> np.ndarray | None:
    """The split names' shares minimising ``phi`` on the names' current pieces.

    On the pieces of the Lagrangian's minimiser at ``y`` (each name's side and lot
    segment, the free multipliers), ``D_lam(y)`` is a concave quadratic in ``y`` whose
    Hessian is affine in the shares: a split name's sell branch contributes ``lam`` times
    its per-share rows ``-r r' / (2 q)`` and its buy branch ``1 - lam`` times its own
    (``at``: :func:`~pma_lab.optimize.pattern_bound._dual`'s ``inner`` names and their
    ``rows``, scaled by the branch weights). So ``phi`` there is explicit:
    ``phi(lam) = D + (lam - lam_0)' g + r' K^-1 r / 2`` with ``K = -H(lam)`` on the free
    multipliers and ``r = grad + G (lam - lam_0)`` (``G``: :func:`shares_step`'s
    columns at ``y``), its gradient ``g + G' dy + dy' dA dy / 2`` (``dy = K^-1 r``,
    ``dA`` each name's change of the Hessian per unit share) and its Hessian
    ``G_y' K^-1 G_y`` (``G_y = G + dA dy``). Projected Newton steps with backtracking
    minimise it over the box of shares. Where a split name's curvature comes from a
    branch of small weight (a share class whose own specific risk is at the floor, its
    issuer's risk in a factor), ``g`` is steep near the bound and the quadratic model
    at ``lam`` alone steps past the root; this model follows the curvature.
    ``None``: no model (the rows do not match the data).
    """
    n0 = c.n - len(T)  # the model names; the buy branches follow them
    inner, rows = at.get("inner"), at.get("rows")
    if inner is None or rows is None or len(inner) != c.n:
        return None
    pos = np.cumsum(inner) - 1
    f = np.flatnonzero(free)
    K0 = -H[np.ix_(f, f)]
    r0 = grad[f]
    G0 = G[f]
    dA = np.zeros((len(T), len(f), len(f)))
    for k, i in enumerate(T):
        for j, weight, sign in ((i, lam[k], 1.0), (n0 + k, 1.0 - lam[k], -1.0)):
            if inner[j] and weight > 0:
                v = rows[pos[j]][f]
                dA[k] -= sign * np.outer(v, v) / weight  # per unit share: -r r' / w
    lam0 = lam.copy()

    def model(x: np.ndarray) -> tuple | None:
        d = x - lam0
        K = K0 - np.tensordot(d, dA, axes=1)
        r = r0 + G0 @ d
        try:
            dy = np.linalg.solve(K, r)
        except np.linalg.LinAlgError:
            return None
        Ady = dA @ dy  # (shares, free): dA_k dy
        gm = g + G0.T @ dy + 0.5 * (Ady @ dy)
        Gy = G0 + Ady.T
        try:
            M = Gy.T @ np.linalg.solve(K, Gy)
        except np.linalg.LinAlgError:
            return None
        return float(d @ g + 0.5 * r @ dy), gm, M

    got = model(lam)
    if got is None:
        return None
    val, gm, M = got
    x = lam
    lo_b, hi_b = SHARE_MIN, 1 - SHARE_MIN
    for _ in range(PIECE_STEPS):
        low = (x <= lo_b + SHARE_NEAR) & (gm > 0)
        high = (x >= hi_b - SHARE_NEAR) & (gm < 0)
        move = ~(low | high)
        step = np.where(low, lo_b - x, np.where(high, hi_b - x, 0.0))
        if move.any():
            try:
                step[move] = -np.linalg.lstsq(M[np.ix_(move, move)], gm[move],
                                              rcond=None)[0]
            except np.linalg.LinAlgError:
                break
        t = 1.0
        accepted = None
        for _ in range(30):
            xn = np.clip(x + t * step, lo_b, hi_b)
            if np.array_equal(xn, x):
                break
            got = model(xn)
            if got is not None and got[0] <= val + 1e-4 * float(gm @ (xn - x)):
                accepted = (xn, got)
                break
            t *= 0.5
        if accepted is None:
            break
        moved = float(np.max(np.abs(accepted[0] - x)))
        gained = val - accepted[1][0]
        x, (val, gm, M) = accepted
        if moved <= 1e-12 or gained <= 1e-16 * max(1.0, abs(val)):
            break
    if np.array_equal(x, lam):
        return None
    return x


def _one_share(pts: list) -> float | None:
    """The next share of a lone split name from its ``(share, g)`` evaluations.

    ``g`` rises with the share; once both signs are seen, the false position between
    the closest share below the root and above it (:func:`~pma_lab.optimize.illinois.
    secant_zero`), the Illinois way: the end the last two evaluations both left in
    place has its ``g`` halved, once (read from the evaluations, which Newton steps
    may precede, rather than kept as :class:`~pma_lab.optimize.illinois.Illinois`
    does); ``None`` before (a Newton step then).
    """
    neg = [q for q in pts if q[1] < 0]
    pos = [q for q in pts if q[1] > 0]
    if not neg or not pos:
        return None
    lo = max(neg)
    hi = min(pos)
    g_lo, g_hi = lo[1], hi[1]
    if len(pts) >= 3:
        # Illinois: the end not replaced by the last two evaluations is halved
        last2 = pts[-2:]
        if all(q[1] < 0 for q in last2):
            g_hi *= 0.5
        elif all(q[1] > 0 for q in last2):
            g_lo *= 0.5
    nxt = secant_zero(lo[0], g_lo, hi[0], g_hi)
    return min(max(nxt, SHARE_MIN), 1 - SHARE_MIN)


FLOOR_STEPS = 12
"""Newton steps at most in :func:`_cap_unreachable`'s bound (it stops as soon as the bound
proves the cap out of reach, or its quadratic model says it cannot)."""


def _cap_unreachable(c: PatternData, y: np.ndarray, cap2: float) -> bool:
    """Whether no trade of the pattern ``c`` has ``TE^2 <= cap2`` (a proof, or False).

    With every cost weighed by ``t = 0`` the pattern's Lagrangian dual ``D_0(y)`` is a
    lower bound on ``100 min TE^2`` over its trades (weak duality, any multipliers ``y``
    with the inequalities' ``>= 0``); it is raised from ``y`` by a few Newton steps
    (:func:`~pma_lab.optimize.pattern_bound.maximise`, stopping at the target). Above
    ``100 cap2`` the cap is out of reach at every ``t``, so the cap's search
    (:func:`~pma_lab.optimize.dual_qp._cap_search`, whose TE^2 rises with ``t``) could
    only fail.
    """
    target = _SCALE * cap2 * (1.0 + 1e-9)
    D = maximise(_weighed(c, 0.0), y, target, FLOOR_STEPS, False)[1]
    return bool(np.isfinite(D) and D >= target)


SHARE_NEAR = 1e-3
"""A split name's share this near a bound that its gradient pushes toward goes to it
(:func:`shares_step`)."""
SPLIT_CAP_EVALS = 12
"""Evaluations of a call at most, counting every one (the sign patterns' before any name
was split included), when names are split under a cap that bound at the last one: past
it the call gives up (``"tied"``, split at the cap). bench_public's four books of 200
and 490 names take 8-11 evaluations; of 30 random books of 20-200 names at caps of 0.5, 1
and 2 % (session 17, the limit at 40), 8 relaxations that split names under the binding
cap were certified within 12, 10 more within 14-32 and 8 not within 40 (25-57 split
names whose shares cycle through the dual's pieces): Clarabel is faster on those."""
SPLIT_CAP_SHARE = 0.2
"""More split names than this share of the model names under a binding cap: ``"tied"`` at
once. On those 30 random books the 8 relaxations not certified within 40 evaluations
split 16-36 % of their names (7 of 8 above 20 %), the 8 certified within 12 at most 18 %
(bench_public's 200/490-name books 2.4-8.5 %)."""


def cap_from(c: PatternData, t: float, y: np.ndarray, cap2: float, steps: int
             ) -> tuple | None:
    """The cap's search (:func:`~pma_lab.optimize.dual_qp._cap_search`) from a weight ``t``.

    ``t`` and ``y``: a nearby problem's weight and multipliers (the last evaluation's,
    before its split names' shares or other names' sides moved); ``t = 1`` is tried
    when a step leads above it, and where TE^2 is at most the cap there the cap does
    not bind (``t = 1`` returned).
    Newton's method on ``TE^2(t) = cap^2`` with the slope on the names' pieces
    (:func:`~pma_lab.optimize.dual_qp._slope`), inside the bracket found so far.
    Returns ``(t, y, D_t(y), trades, H, at)`` (``H``: the dual's Hessian at ``y``;
    ``at``: its gradient ``g`` and minimising weights ``w``, :func:`~pma_lab.optimize.
    dual_qp._ascend`) or ``None`` (as ``_cap_search``).
    """
    lower = _lower(c, len(y))
    tol = CAP_RTOL * cap2
    target = -0.5 * tol
    lo_t, hi_t = 0.0, 1.0
    one = t >= 1.0  # t = 1 tried
    y = np.maximum(y, lower)
    for _ in range(CAP_STEPS):
        at: dict = {}
        got = _ascend(_weighed(c, t), y, steps, at)
        if got is None:
            return None
        y, D, trades, te2, H = got
        phi = te2 - cap2
        if phi <= 0:
            lo_t = t
            if -phi <= tol or t >= 1.0:  # met, or the cap does not bind
                return t, y, D, trades, H, at
        else:
            hi_t = t
        if hi_t - lo_t <= 1e-15 * hi_t:
            return None
        slope, dy = _slope(c, t, y, H, at["g"], at["w"])
        step = (phi - target) / slope if np.isfinite(slope) and slope > 0 else np.inf
        t_new = t - step
        if t_new >= 1.0 and not one:
            t_new, one = 1.0, True  # the cap may no longer bind
        elif not lo_t < t_new < hi_t:
            t_new = 0.5 * (lo_t + hi_t) if lo_t > 0 else 0.25 * hi_t
        if t_new < 1e-12:
            return None
        y = np.maximum(y + (t_new - t) * dy, lower)
        t = t_new
    return None


class RelaxDual:
    """The relaxation solved by its sign-free Lagrangian dual, certified (module docs).

    Parameters
    ----------
    problem : RebalanceProblem
    feas_tol, gap_tol : float
        The certificate's tolerances (as :class:`~pma_lab.optimize.dual_qp.DualQP`'s).
    steps : int
        Projected Newton steps at most per ascent.
    rounds : int
        Sign patterns tried at most (:data:`MAX_ROUNDS`).

    Attributes
    ----------
    stats : dict
        ``solved`` (certified and used), ``not_covered`` (the dual does not apply),
        ``tied`` (the relaxation splits a name: no pattern's optimum is its optimum),
        ``rejected`` (the certificate failed); every call but ``solved`` ran Clarabel.
    last : dict
        The last call's ``status``, ``why`` (what was not covered), ``rounds``
        (evaluations of the dual's maximum), ``violation``, ``gap``, ``cap_multiplier``
        (the TE cap's multiplier ``100 lam_c`` at the last evaluation; 0: not binding),
        ``flipped`` (the last names flipped, with their excess) and ``seconds``.
    trace : list | None
        ``None`` (the default); a list: each evaluation's split shares, gradients and
        excess names are appended (a diagnostic).
    """

    def __init__(self, problem: RebalanceProblem, feas_tol: float = FEAS_TOL,
                 gap_tol: float = GAP_TOL, steps: int = STEPS, rounds: int = MAX_ROUNDS):
        self.problem = problem
        self.feas_tol, self.gap_tol, self.steps, self.rounds = feas_tol, gap_tol, steps, \
            rounds
        self.stats = {"solved": 0, "not_covered": 0, "tied": 0, "rejected": 0}
        self.last: dict = {}
        p = problem
        self._cls = cls = lot_classes(p)
        if cls is not None:
            self._asset_cls = np.zeros(p.sc.size, dtype=int)  # each class's asset
            self._asset_cls[cls] = p.lot_asset
        self._nc = p.sc.size if p.aggregated else 0
        self.trace: list | None = None  # a list: each evaluation's state is appended
        self._exprs: dict = {}  # constraint expressions (violation_and_objective's cache)
        self._rest: dict = {}  # per relaxation: it without its cones

    @property
    def fallbacks(self) -> int:
        """Calls that went to Clarabel (not covered, tied or rejected)."""
        return self.stats["not_covered"] + self.stats["tied"] + self.stats["rejected"]

    def __call__(self, problem: RebalanceProblem, buy: np.ndarray, lot_cap: np.ndarray,
                 w_cap: np.ndarray) -> str | None:
        """:meth:`solve` with one BLAS thread (:func:`pma_lab.blas.one_thread`).

        As :class:`~pma_lab.optimize.dual_qp.DualQP`'s call: its small products cost far
        less than waking OpenBLAS's threads on a busy machine; the values are the same.
        """
        with one_thread():
            status = self.solve(problem, buy, lot_cap, w_cap)
        # given up because of the cap: Clarabel's solve without refinement would stall
        # (pma_lab.optimize.rebalance.RELAXATION_SETUP_ONLY)
        problem.note_relaxation_dual(self.gave_up_on_cap(status))
        return status

    def gave_up_on_cap(self, status: str | None) -> bool:
        """Whether the last call, which returned ``status``, gave up because of the TE cap.

        ``te_cap`` (no trade of a pattern meets it) or names split under it whose shares
        were not found (:data:`CAP_REASONS`), or any other give-up (``"shares"``,
        ``"rounds"``, a rejected certificate, ...) whose last evaluation had the cap
        binding (``cap_multiplier`` above 0): Clarabel's solve without refinement stalls
        on those as well (review 17).
        """
        return status is None and (self.last.get("why") in CAP_REASONS
                                   or self.last.get("cap_multiplier", 0.0) > 0)

    def solve(self, problem: RebalanceProblem, buy: np.ndarray, lot_cap: np.ndarray,
              w_cap: np.ndarray) -> str | None:
        """Solve the relaxation at these caps (already set); ``None``: not used.

        On success the relaxed problem (``problem.relaxed``) holds the solution (its
        variables, status ``"optimal"`` and value) and the solve is logged (solver
        ``"dual"``).
        """
        t0 = time.perf_counter()
        p = problem
        self.last = {"status": "not_covered", "rounds": 0, "violation": np.nan,
                     "gap": np.nan}
        hull = p.relaxed_form == HULL_FORM
        if (p._user or self._cls is None
                or not (hull or (p.relaxed_form == "perspective envelope" and p.na == p.nm))):
            return self._done("not_covered", t0, why="form")
        if hull:
            # one ascent (no search of sign patterns): with a gain budget of zero too
            # (young-pro's budget:0 plan, 0.05 CPU-s against Clarabel's 0.12)
            return self._hull(p, buy, lot_cap, w_cap, t0)
        if np.any(np.asarray(p.P["budget"].value, dtype=float) <= NEAR_ZERO_BUDGET):
            # a gain budget of (about) zero: the dual's ascent stalls at its kink (slow,
            # and often not certified: tech-exec's zero-budget plan steps), Clarabel is
            # faster (session 22, the nine samples' plans with this lifted: 17 more
            # certified, tech-exec's relaxations 0.59 -> 1.85 CPU-s, core-active's
            # 0.28 -> 0.57, for 0.5 and 0.12 CPU-s of Clarabel saved)
            return self._done("not_covered", t0, why="zero budget")
        rel = p._loss_relevant()
        sellable = rel & p.has_lots
        c1 = _setup(p, sellable, buy, lot_cap, w_cap)
        if c1 is None:
            return self._done("not_covered", t0, why="setup")
        c_sell, c_buy = branch_data(c1, rel, buy)
        n = p.nm
        r = np.flatnonzero(rel[:n])
        y = cold_start(c1)
        branches = self._branches(c_sell, c_buy, y)
        if branches is None:
            return self._done("not_covered", t0, why="branches")
        sell = sellable & (branches[0] < branches[1])
        cap2 = None if p.settings.te_cap is None else float(p.P["te2_cap"].value)
        # names the relaxation splits: their sell shares
        split: dict[int, float] = {}
        ends: dict[int, dict] = {}  # per flipped name: g at each pure side tried
        patterns: dict[bytes, dict | None] = {}
        evals = 0
        last_step = None  # the shares' last Newton step: pattern, phi, shares, step
        bracket: dict[bytes, list] = {}  # one split name: (share, g) evaluated
        at_cap: tuple = (1.0, None)  # the last binding cap's weight t and multipliers
        while True:
            if evals >= self.rounds:
                return self._done("tied", t0, why="rounds")
            evals += 1
            self.last["rounds"] = evals
            key = (sell | np.isin(np.arange(p.na), list(split))).tobytes()
            if key not in patterns:
                patterns[key] = _setup(p, np.frombuffer(key, dtype=bool), buy, lot_cap,
                                       w_cap)
            c = patterns[key]
            if c is None:
                return self._done("not_covered", t0, why="pattern")
            T = np.array(sorted(split), dtype=int)
            lam_T = np.array([split[i] for i in T], dtype=float)
            key += T.tobytes()
            if len(T):
                c = split_data(c, c_sell, c_buy, T, lam_T)
            if cap2 is not None and at_cap[1] is not None:
                # a cap that bound at the last evaluation: its search from its weight
                # and multipliers there (the shares and sides moved a little; 2-4
                # ascents where a search from t = 1 takes 7-10); it also finds a cap
                # that no longer binds (t = 1)
                if split and (evals > SPLIT_CAP_EVALS or len(split) > SPLIT_CAP_SHARE * n):
                    return self._done("tied", t0, why="split at the cap")
                found = cap_from(c, at_cap[0], at_cap[1], cap2, self.steps)
                if found is None:
                    return self._done("tied" if split else "not_covered", t0,
                                      why="split at the cap" if split else "te_cap")
                t, y_t, D, trades, H_t, at_t = found
                c_un = c  # the split data, its costs not weighed
                lam_c, data = 1.0 / t - 1.0, (c, c_sell, c_buy)
                if t < 1.0:
                    data = tuple(_weighed(d, t) for d in data)
                    at_cap = (t, y_t)
                    if not split and ends and evals > 2:
                        # a long search under the binding cap without a split name
                        # (tech-exec: 12-13 evaluations, 2-4x Clarabel's time)
                        return self._done("tied", t0, why="split at the cap")
                else:
                    y, at_cap = y_t, (1.0, None)
                te2 = -np.inf  # the cap handled
            else:
                got = _ascend(c, y, self.steps)
                if got is None:
                    return self._done("not_covered", t0, why="ascent")
                y, D, trades, te2, H = got
                lam_c, y_t, data = 0.0, y, (c, c_sell, c_buy)
            if cap2 is not None and te2 > cap2 and split:
                # split names under the cap that binds here for the first time: the
                # cap's search from t = 1 (as below), then as above
                if len(split) > SPLIT_CAP_SHARE * n:
                    return self._done("tied", t0, why="split at the cap")
                found = cap_from(c, 1.0, y, cap2, self.steps)
                if found is None:
                    return self._done("tied", t0, why="split at the cap")
                t, y_t, D, trades, H_t, at_t = found
                lam_c = 1.0 / t - 1.0
                c_un = c  # the split data, its costs not weighed
                data = tuple(_weighed(d, t) for d in data)
                at_cap = (t, y_t)
            elif cap2 is not None and te2 > cap2 and ends and evals > 2:
                # a long search under the binding cap: each step is a cap search
                # (tech-exec: 12-13 evaluations, 2-4x Clarabel's time)
                return self._done("tied", t0, why="split at the cap")
            elif cap2 is not None and te2 > cap2 and _cap_unreachable(c, y, cap2):
                # no trade of this pattern meets the cap (proven): the search below
                # would go down to t = 1e-12 and fail (bench_public's 50-name books:
                # ~19 ascents, most of the relaxation's dual); the same fallback
                return self._done("not_covered", t0, why="te_cap")
            elif cap2 is not None and te2 > cap2:
                # the cap binds at this pattern: the costs weighed by t = 1 / (1 + lam_c)
                # where its TE^2 meets the cap (DualQP's search); the relaxation's dual
                # is then (1 + lam_c) D_R,t - 100 lam_c cap^2 (weak duality)
                found = _cap_search(c, y, H, te2, cap2, self.steps)
                if found is None:
                    return self._done("not_covered", t0, why="te_cap")
                t, y_t, D, trades = found[:4]
                lam_c = 1.0 / t - 1.0
                data = tuple(_weighed(d, t) for d in data)
                at_cap = (t, y_t)
            # the cap's multiplier at this evaluation (a give-up with it above 0 is one
            # on the cap: gave_up_on_cap)
            self.last["cap_multiplier"] = _SCALE * lam_c
            branches = self._branches(data[1], data[2], y_t)
            if branches is None:
                return self._done("not_covered", t0, why="branches")
            v_s, v_b, t_s, t_b = branches
            v_aug = name_values(data[0], y_t, trades)
            v_pat = v_aug[:n].copy()
            v_pat[T] += v_aug[n:]
            excess = np.zeros(n)
            excess[r] = v_pat[r] - np.minimum(v_s, v_b)[r]
            tol = FLIP_TOL * max(1.0, abs(D))
            g = v_s - v_b
            if self.trace is not None:
                self.trace.append((evals, {int(i): (round(split[i], 6), float(g[i]))
                                           for i in T},
                                   [(int(i), bool(sell[i]), float(excess[i]))
                                    for i in np.flatnonzero(excess > tol)][:6], float(D)))
            flip = np.array([i for i in np.flatnonzero(excess > tol) if i not in split],
                            dtype=int)
            if len(flip):
                self.last["flipped"] = [(int(i), float(excess[i])) for i in flip[:8]]
                for i in flip:
                    side = bool(sell[i])
                    ends.setdefault(i, {})[side] = float(g[i])
                    if len(ends[i]) == 2 and sellable[i]:
                        # tried on both sides, each preferring the other: split
                        g0, g1 = ends[i][False], ends[i][True]
                        lam0 = min(max(-g0 / (g1 - g0), 1e-6), 1 - 1e-6) \
                            if g1 > g0 else 0.5
                        split[i] = lam0
                    else:
                        sell[i] = sellable[i] and bool(v_s[i] < v_b[i])
                continue
            if not len(T):
                break
            # the split names' shares: each share's g is 0 at the relaxation's optimum
            # (the two branches tie); the gap each leaves is share x g+ or (1-share) x g-
            left = np.where(g[T] > 0, lam_T * g[T], (1 - lam_T) * -g[T])
            if (1.0 + lam_c) * float(left.sum()) <= 0.1 * self.gap_tol:
                break
            phi = (1.0 + lam_c) * float(D) - (_SCALE * lam_c * cap2 if lam_c > 0 else 0.0)
            if len(T) == 1:
                # one split name: its g (rising in the share) bracketed, then Illinois
                pts = bracket.setdefault(key, [])
                pts.append((float(lam_T[0]), float(g[T[0]])))
                one = _one_share(pts)
                new = None if one is None else np.array([one])
                if new is None:
                    new = shares_step(data[0], data[1], t_s, t_b, y_t, T, lam_T, g[T])
            elif last_step is not None and last_step[0] == key and \
                    phi > last_step[1] + 1e-13 * max(1.0, abs(phi)):
                # the Newton step raised phi (convex in the shares): halve it
                key0, phi0, lam0, step = last_step
                new = np.clip(lam0 + 0.5 * step, SHARE_MIN, 1 - SHARE_MIN)
                last_step = (key0, phi0, lam0, 0.5 * step)
            else:
                cap = None
                if lam_c > 0:
                    cap = self._cap_terms(c_un, data, t, y_t, H_t, at_t, t_s, t_b, T)
                pred: dict = {}
                new = shares_step(data[0], data[1], t_s, t_b, y_t, T, lam_T, g[T], cap,
                                  pred)
                last_step = (key, phi, lam_T, None if new is None else new - lam_T)
                if new is not None and cap is not None and "v" in pred:
                    # the cap's weight and multipliers at the new shares, predicted on
                    # the pieces (TE^2 kept at the cap): dt = -100 dTE^2 / (100 slope),
                    # dy = dy/dlam dlam + dy/dt dt; the next cap search starts there
                    dlam = new - lam_T
                    dt = -float(pred["v"] @ dlam) / (_SCALE * cap[1])
                    t_next = t + dt
                    if 0.5 * t < t_next < min(2.0 * t, 1.0):
                        y_next = y_t + pred["dy_dlam"] @ dlam + cap[2] * dt
                        at_cap = (t_next, np.maximum(y_next, _lower(data[0], len(y_t))))
            if new is None:
                return self._done("tied", t0, why="shares")
            if self.trace is not None:
                self.trace.append(("step", phi, new))
            for i, lam_i in zip(T, new, strict=True):
                split[i] = float(lam_i)
        bound = (1.0 + lam_c) * (float(D) - float(excess[r].sum()))
        if lam_c > 0:
            bound -= _SCALE * lam_c * cap2
        bought = trades["bought"][:n].copy()
        bought[T] += trades["bought"][n:]
        trades = {"sold": trades["sold"], "bought": bought}
        # lambda: the pattern's side; HOLD_SHARE where neither branch trades
        moved_s = np.bincount(c_sell.asset, weights=t_s["sold"], minlength=n)
        still = (moved_s[r] <= 0) & (t_b["bought"][r] <= 0)
        lam = np.where(sell[r], 1.0, 0.0)
        lam = np.where(still & p.has_lots[r], HOLD_SHARE, lam)
        for i, lam_i in zip(T, lam_T, strict=True):
            lam[np.searchsorted(r, i)] = lam_i
        status = self._write(p, c, trades, lam, r)
        return self._certify(p, status, bound, lam_c, t0)

    def _hull(self, p: RebalanceProblem, buy: np.ndarray, lot_cap: np.ndarray,
              w_cap: np.ndarray, t0: float) -> str | None:
        """The linear-hull relaxation (a fund held) where no loss-relevant asset may be bought.

        The hull (:func:`~pma_lab.optimize.formulate.relaxation` with a fund) keeps the
        exact risk and scales only the bounds by each relevant asset's branch weight
        ``lambda``: sales per class up to ``lambda`` times the class, the class's gain
        above the perspective ``lambda G(sale / lambda)`` (``>= G(sale)``: the curve is
        convex through 0, its intercepts <= 0), purchases up to ``1 - lambda`` and the
        buy cap. With every relevant asset's buy cap 0 (the ``buy_cap`` Parameter, as the
        hull is solved) its points are the sell-or-hold pattern's with a larger cost, and
        ``lambda = 1`` gives that pattern's problem exactly: the hull's optimum is the
        pattern's, found by the sign-fixed dual (one fund covered:
        :func:`~pma_lab.optimize.pattern_bound._fund_dual`) from :func:`cold_start`, with
        the tracking-error cap's search where it binds (as
        :class:`~pma_lab.optimize.dual_qp.DualQP`). Certified as the envelope's: the
        point written into the hull's variables (``lambda`` 1 where the asset sells,
        :data:`HOLD_SHARE` where it does not trade, any share being optimal there) meets
        every constraint within ``feas_tol`` and its objective is within ``gap_tol`` of
        the pattern's dual bound (weak duality, a lower bound on the hull's optimum by
        the argument above). A relevant asset that may be bought: not covered (the hull
        may then buy and sell it at once, which no pattern does).
        """
        rel = p._loss_relevant()
        buy_cap = np.asarray(p.P["buy_cap"].value, dtype=float)
        if np.any(buy_cap[rel] > 0):
            return self._done("not_covered", t0, why="hull buy")
        c = _setup(p, rel & p.has_lots, buy, lot_cap, w_cap)
        if c is None:
            return self._done("not_covered", t0, why="setup")
        at: dict = {}
        got = _ascend(c, cold_start(c), self.steps, at)
        self.last["rounds"] = 1
        if got is None:
            return self._done("not_covered", t0, why="ascent")
        y, D, trades, te2, H = got
        cap2 = None if p.settings.te_cap is None else float(p.P["te2_cap"].value)
        lam_c = 0.0
        if cap2 is not None and te2 > cap2:
            found = _cap_search(c, y, H, te2, cap2, self.steps, at["g"], at["w"], at["c"])
            if found is None:
                return self._done("not_covered", t0, why="te_cap")
            t, y, D, trades = found[:4]
            lam_c = 1.0 / t - 1.0
        bound = (1.0 + lam_c) * float(D) - (_SCALE * lam_c * cap2 if lam_c > 0 else 0.0)
        ridx = np.flatnonzero(rel)
        x = np.zeros(p.nl)
        x[c.lots] = trades["sold"]
        x[c.fund.lots] = trades["fund_sold"]
        moved = np.bincount(p.lot_asset, weights=x, minlength=p.na)[ridx] > 0
        lam = np.where(moved, 1.0, np.where(p.has_lots[ridx], HOLD_SHARE, 0.0))
        status = self._write(p, c, trades, lam, ridx)
        return self._certify(p, status, bound, lam_c, t0)

    def _certify(self, p: RebalanceProblem, status: str | None, bound: float, lam_c: float,
                 t0: float) -> str | None:
        """Check the point written into the relaxation against ``bound``; keep or clear it."""
        qp = p.relaxed
        try:
            viol, value = self._evaluate(qp)
        except (TypeError, ValueError):  # a Parameter without a value: Clarabel decides
            viol, value = np.inf, np.nan
        gap = value - bound
        self.last.update(violation=viol, gap=gap, cap_multiplier=_SCALE * lam_c)
        if status is None or not (viol <= self.feas_tol and abs(gap) <= self.gap_tol):
            for var in qp.variables():  # leave nothing of a rejected solution behind
                var.save_value(None)
            return self._done("rejected", t0)
        for con in qp.constraints:  # no multipliers written: none left from a solve
            for dv in con.dual_variables:
                dv.save_value(None)
        qp._status, qp._value = "optimal", value
        p._log.append({"problem": "relaxed", "solver": "dual", "status": "optimal",
                       "seconds": time.perf_counter() - t0, "refined": False,
                       "solver_seconds": None})
        return self._done("solved", t0, "optimal")

    @staticmethod
    def _cap_terms(c: PatternData, data: tuple, t: float, y: np.ndarray, H: np.ndarray,
                   at: dict, t_s: dict, t_b: dict, T: np.ndarray) -> tuple | None:
        """:func:`shares_step`'s ``cap``: ``(t, slope, dy_dt, dg_dt)`` (``None``: no slope).

        ``c``: the split data, its costs not weighed; ``data``: it and the branches
        weighed by ``t``; ``t_s``, ``t_b``: the branches' minimisers at ``y``. At fixed
        ``y`` a branch's minimum moves with ``t`` by its costs at ``t = 1`` (its costs are
        ``t`` times those: envelope), so ``dg/dt = (sale's cost - purchase's cost) / t``.
        """
        slope, dy_dt = _slope(c, t, y, H, at["g"], at["w"])
        if not (np.isfinite(slope) and slope > 0):
            return None
        n = data[1].n
        cost_s = np.bincount(data[1].asset, weights=data[1].unit * t_s["sold"], minlength=n)
        cost_b = data[2].tc * t_b["bought"][:n]
        return t, slope, dy_dt, (cost_s[T] - cost_b[T]) / t

    def _evaluate(self, qp: cp.Problem) -> tuple[float, float]:
        """The largest violation of the relaxation's constraints and its objective, by cvxpy.

        As :func:`~pma_lab.optimize.dual_qp.violation_and_objective` (equalities,
        inequalities, variable bounds), with each second-order cone ``||X[:, i]|| <= t_i``
        evaluated as ``max(||X[:, i]|| - t_i, 0)`` (cvxpy's own cone residual divides by
        the norm: not a number at a zero cone, e.g. a branch of weight 0).
        """
        got = self._rest.get(id(qp))
        if got is None or got[0] is not qp:
            # the problem without its cones and the cones, once per problem (its
            # constraints are fixed once written: add_constraint writes a new problem)
            cones = [c for c in qp.constraints if isinstance(c, cp.constraints.SOC)]
            if any(c.axis != 0 for c in cones):
                raise ValueError("a cone by rows")  # not the relaxation's form
            rest = cp.Problem(qp.objective, [c for c in qp.constraints
                                             if not isinstance(c, cp.constraints.SOC)])
            got = self._rest[id(qp)] = (qp, rest, cones)
        viol, value = violation_and_objective(got[1], self._exprs)
        for con in got[2]:
            t = np.asarray(con.args[0].value, dtype=float)
            X = np.asarray(con.args[1].value, dtype=float).reshape(-1, t.size)
            over = np.linalg.norm(X, axis=0) - t
            viol = max(viol, float(np.max(np.maximum(over, 0.0), initial=0.0)))
        return viol, value

    @staticmethod
    def _branches(c_sell: PatternData, c_buy: PatternData, y: np.ndarray) -> tuple | None:
        """Per model name, its sell- and buy-branch minima and trades at ``y``."""
        t_s: dict = {}
        t_b: dict = {}
        if not np.isfinite(_dual(c_sell, y, t_s)[0]) or not np.isfinite(_dual(c_buy, y, t_b)[0]):
            return None
        return name_values(c_sell, y, t_s), name_values(c_buy, y, t_b), t_s, t_b

    def _done(self, what: str, t0: float, status: str | None = None, why: str = ""
              ) -> str | None:
        self.stats[what] += 1
        self.last.update(status=what, seconds=time.perf_counter() - t0, why=why)
        return status

    def _write(self, p: RebalanceProblem, c: dict, trades: dict, lam_r: np.ndarray,
               r: np.ndarray) -> str | None:
        """Write the pattern's solution as a point of the relaxation; ``None``: cannot.

        ``lam_r``: the sell share of each loss-relevant model name ``r`` (the relaxation's
        ``lambda`` variable lists the relevant names in the order of the assets); in the
        linear hull (a fund held, :meth:`_hull`), of every relevant asset, the fund's lots
        sold as ``trades["fund_sold"]`` and the active weights looked through.
        """
        n, na = p.nm, p.na
        x = np.zeros(p.nl)
        x[c.lots] = trades["sold"]
        if c.fund is not None:
            x[c.fund.lots] = trades["fund_sold"]
        sc = np.bincount(self._cls, weights=x, minlength=self._nc)
        x = p._x_value(sc)
        # each class's gain on the sell branch of weight lambda: lambda G(sale / lambda)
        # (its lots filled in order at lambda times their size)
        share = np.ones(na)
        share[r] = np.where(lam_r > 0, lam_r, 1.0)
        k = share[self._asset_cls]
        gain = np.bincount(self._cls, weights=p.g_eff * p._x_value(sc / k)[:],
                           minlength=self._nc)
        gain = gain * k
        b = np.zeros(na)
        b[:n] = trades["bought"]
        sold = np.bincount(p.lot_asset, weights=x, minlength=na)
        w = p.h + b - sold
        a = w[:n] - p.wt if na == n else p.M @ w - p.wt  # look-through with a fund
        ridx = np.flatnonzero(p._loss_relevant())
        if len(ridx) != len(r):
            return None  # a relevant fund: not this formulation
        lam = np.zeros(max(len(ridx), 1))
        lam[:len(r)] = lam_r
        r = r[r < n]  # the perspective cones' names (none in the hull)
        lam_r = lam_r[:len(r)]
        # the perspective cones: t >= K^2 part^2 / branch weight (formulate's scaling K)
        K = float(max(np.count_nonzero((p.h[:n] > 0) | (p.wt > 0)), 1))
        cen = (p.h[:n] - p.wt)[r]
        sell_part = cen * lam_r - sold[r]
        buy_part = cen * (1 - lam_r) + b[r]
        with np.errstate(divide="ignore", invalid="ignore"):
            t_s = np.where(lam_r > 0, K ** 2 * sell_part ** 2 / lam_r, 0.0)
            t_b = np.where(lam_r < 1, K ** 2 * buy_part ** 2 / (1 - lam_r), 0.0)
        values = {"sold_class": sc, "gain_class": gain, "b": b, "active": a,
                  "factor_exposure": c.B[:n].T @ a, "lambda": lam, "t_sell": t_s,
                  "t_buy": t_b}
        for var in p.relaxed.variables():
            got = values.get(var.name())
            if got is None or np.shape(got) != var.shape:
                return None
            var.save_value(got)
        return "optimal"

