"""A lower bound on a sign pattern's optimum without solving it: the Lagrangian dual.

The two-step's sign search (:func:`pma_lab.optimize.strategies.best_signs`) compares
sign patterns by their sign-fixed optimum and keeps a pattern only when it is lower than
the best so far; a pattern that cannot be lower need not be solved. :func:`pattern_bound`
proves that without a solve, by weak duality: for any multipliers ``y`` of the coupling
constraints (cash ``nu``, the three gain budgets ``beta >= 0``, the sector limits
``sigma >= 0`` and the factor exposures ``f = B' a``, ``mu``) the Lagrangian's minimum
over everything else, ``D(y)``, is at most the pattern's optimum. Given ``y`` the
Lagrangian separates by name: each name's weight after the trade minimises
``q_i (w - w_t)^2 + l_i w`` plus the cost of getting there (buying at the trading cost
less ``nu``; selling its lots cheapest first, each at its tax, penalty, budget and trading
cost plus ``nu``), within its caps: a one-dimensional convex piecewise quadratic, solved
exactly for every name at once. ``D`` is concave and piecewise quadratic in ``y``; a few
projected Newton steps from the last sign-fixed solve's multipliers reach the pattern's
optimum to ~1e-10 of the objective (the benchmark book: 1-3 steps, ~5 ms, against ~40 ms
for the solve).

Exactness: ``D(y)`` is a lower bound for every ``y`` with ``beta, sigma >= 0`` (weak
duality over a set that contains the pattern's feasible set: the tracking-error cap and
researcher's constraints are left out, which only lowers it). The search only uses it to
skip a pattern whose bound is above the incumbent by more than the solver's accuracy, a
pattern the comparison would not have kept; the trades are the same.

Not covered (``-inf``, the pattern is solved): funds held (their look-through couples
names), the capped loss credit or one variable per lot, a name whose caps leave it no
trade (left to the solver's infeasibility report), a name with both sides open whose
cheapest sale and a purchase together would lower the Lagrangian.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pma_lab.optimize.rebalance import RebalanceProblem

__all__ = ["pattern_bound", "pattern_solution", "dual_start"]

_SCALE = 100.0  # the objective is 100 x (TE^2 + aversion x tax + ...)


def sale_segments(a: np.ndarray, v: np.ndarray, c: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The segments of selling lots sorted by name, cheapest first within a name.

    ``a``: each lot's name (sorted), ``v`` its size, ``c`` its cost per unit sold. Returns
    each name's first lot (``start``), the size of the name sold before each lot
    (``left``) and the sale's cost at that point (``before``); no lots: all empty. Shared
    with :func:`pma_lab.optimize.aggregate.sale_minima`.
    """
    start = np.flatnonzero(np.r_[True, a[1:] != a[:-1]][:len(a)])
    cum_v, cum_c = np.cumsum(v), np.cumsum(v * c)
    seg_len = np.diff(np.r_[start, len(a)])
    left = cum_v - v - np.repeat(cum_v[start] - v[start], seg_len)
    before = cum_c - v * c - np.repeat(cum_c[start] - (v * c)[start], seg_len)
    return start, left, before


def _constants(p: RebalanceProblem) -> dict:
    """The problem's fixed arrays for the bound, computed once per problem."""
    c = p.__dict__.get("_bound_constants")
    if c is None:
        n = p.nm
        S = p.S.toarray() if hasattr(p.S, "toarray") else np.asarray(p.S)
        c = {"B": p.tracking.loadings(), "q": _SCALE * p.tracking.specific()[:n], "S": S}
        p._bound_constants = c
    return c


def _setup(p: RebalanceProblem, sell: np.ndarray, buy: np.ndarray, lot_cap: np.ndarray,
           w_cap: np.ndarray) -> dict | None:
    """The pattern's Lagrangian data (``None``: not covered)."""
    s = p.settings
    if p.na > p.nm or not p.aggregated or s.tax_credit != "linear" or not p.nl:
        return None
    P = p.P
    n = p.nm
    fixed = _constants(p)
    q = fixed["q"]
    if np.any(q <= 0):
        return None
    rel = p._loss_relevant()
    sell = np.asarray(sell, dtype=bool)
    nb = np.where(rel & sell, 0.0, buy)[:n]
    nl = np.where(rel & ~sell, 0.0, lot_cap)
    lock_ok = float(P["lock_slack"].value) > 0
    la = p.lot_asset
    on = np.flatnonzero((nl[la] > 0) & (p.v > 0) & (~p.locked_loss | lock_ok))
    tc = _SCALE * float(P["gamma_tc"].value) * p.trading_cost.spread
    unit = _SCALE * (float(P["gamma_tax"].value) * p.tax_term.coef
                     + float(P["lt_soon"].value) * p.soon) + tc
    h, wt = p.h[:n], p.wt
    wc = np.asarray(w_cap, dtype=float)[:n]
    cap = np.bincount(la[on], weights=p.v[on], minlength=n)
    lo_sell = np.maximum(h - wc, 0.0)
    buy_ok = (nb > 0) & (h <= wc)
    # a sale the cap requires may exceed the lots' sum by round-off (a must-sell name):
    # the bound allows it to fall short by 1e-12 (a larger set: still a lower bound)
    sell_ok = (cap > 0) & (cap >= lo_sell - 1e-12)
    lo_sell = np.minimum(lo_sell, cap)
    hold_ok = h <= wc
    if not np.all(buy_ok | sell_ok | hold_ok):
        return None
    return {"n": n, "h": h, "wt": wt, "q": q, "B": fixed["B"], "S": fixed["S"], "tc": tc,
            "unit": unit[on], "brows": p.brows[:, on], "asset": la[on], "size": p.v[on],
            "lots": on,
            "z_hi": np.where(buy_ok, np.minimum(nb, wc - h), 0.0), "buy_ok": buy_ok,
            "lo_sell": lo_sell, "sell_ok": sell_ok, "hold_ok": hold_ok,
            "cash": float(P["cash"].value), "cash_target": float(P["cash_target"].value),
            "budget": np.asarray(P["budget"].value, dtype=float),
            "sector_hi": np.asarray(P["sector_hi"].value, dtype=float)}


def _fixed(c: dict) -> dict:
    """The pattern's arrays that no multiplier or cost weight changes, computed once.

    Kept in ``c["fixed"]`` (shared by the copies :func:`pma_lab.optimize.dual_qp._weighed`
    makes, whose costs only differ): each the same operation on the same operands as
    :func:`_dual` did per evaluation before session 15, so every value is the same to
    the bit.
    """
    k = c.get("fixed")
    if k is not None:
        return k
    n, h, wt, q, B, S = c["n"], c["h"], c["wt"], c["q"], c["B"], c["S"]
    ns, nk = S.shape[0], B.shape[1]
    hw = h - wt
    sq = np.sqrt(2 * q)
    # the Hessian's rows per name, d(gradient)/d(weight), divided by sqrt(2 q); the
    # budgets' columns (a selling name's lot) are filled per evaluation
    E = np.zeros((n, 4 + ns + nk))
    E[:, 0] = -1.0
    if ns:
        E[:, 4:4 + ns] = S.T
    E[:, 4 + ns:] = B
    both = c["buy_ok"] & c["sell_ok"]
    k = {"hw": hw, "q2": 2 * q, "sq": sq, "hold": q * hw ** 2, "Bwt": B.T @ wt,
         "Es": E / sq[:, None], "both": both if both.any() else None,
         "diag": np.arange(4 + ns, 4 + ns + nk), "inf": np.full(n, np.inf),
         "cash_gap": c["cash"] - c["cash_target"]}
    c["fixed"] = k
    return k


def _sorted(c: dict, k: dict, beta: np.ndarray, nu: float | None = None) -> tuple:
    """The lots sorted for sale by name, cheapest first, at budget multipliers ``beta``.

    ``(order, ao, vo, cost, start, left, before, qa, center, q2a, seg_lo, seg_hi, cut)``:
    each lot's cost per unit sold and the name's sale's cost before it (with the cash
    multiplier ``nu`` when given, else without: added per evaluation), each lot's
    name's ``q``, ``h - w_t``, ``2 q``, the segment's bounds and the segments the
    name's minimum sale cuts out.
    """
    a = c["asset"]
    unit_b = c["unit"] + beta @ c["brows"]
    if nu is not None:
        unit_b = unit_b + nu
    order = np.lexsort((np.arange(len(a)), unit_b, a))
    ao, vo, cbo = a[order], c["size"][order], unit_b[order]
    start, left, before_b = sale_segments(ao, vo, cbo)
    qa = c["q"][ao]
    seg_lo = np.maximum(left, c["lo_sell"][ao])
    seg_hi = np.maximum(left + vo, seg_lo)
    return (order, ao, vo, cbo, start, left, before_b, qa, k["hw"][ao], 2 * qa, seg_lo,
            seg_hi, ~(seg_lo <= left + vo))


def _dual(c: dict, y: np.ndarray, trades: dict | None = None) -> tuple:
    """``D(y)``, its gradient, Hessian (smooth names) and the Lagrangian's minimising weights.

    ``(-inf, None, None, None)`` when a name with both sides open could lower the Lagrangian by
    buying and selling at once (not covered). ``trades``: a dict given here receives the
    minimiser's trades, ``sold`` (weight sold of each lot of ``c["lots"]``) and ``bought``
    (weight bought per model name).
    """
    n, h, wt, q, B, S = c["n"], c["h"], c["wt"], c["q"], c["B"], c["S"]
    k = _fixed(c)
    ns = S.shape[0]
    nu, beta, sigma, mu = y[0], y[1:4], y[4:4 + ns], y[4 + ns:]
    lin = B @ mu + (S.T @ sigma if ns else 0.0)  # d Lagrangian / d w per name
    cb = c["tc"] - nu  # buying: trading cost less cash
    a = c["asset"]
    # selling y of a name: its lots cheapest first (segments of the sale); the order
    # depends on the budgets' multipliers only (cash moves every lot's cost alike)
    cache = c.get("sorted")
    if cache is None:
        order, ao, vo, co, start, left, before, qa, center, q2a, seg_lo, seg_hi, cut = \
            _sorted(c, k, beta, nu)
    else:
        # sorted once per ``beta`` (pma_lab.optimize.dual_qp)
        key = beta.tobytes()
        if cache.get("key") != key:
            cache.update(key=key, sorted=_sorted(c, k, beta))
        order, ao, vo, cbo, start, left, before_b, qa, center, q2a, seg_lo, seg_hi, cut = \
            cache["sorted"]
        co = cbo + nu
        before = before_b + nu * left
    both = k["both"]
    if both is not None and len(a):
        cheapest = k["inf"].copy()
        cheapest[ao[start]] = co[start]
        if np.any(both & (cheapest + cb < 0)):
            return -np.inf, None, None, None
    la_ = -lin[ao]
    stat = center - (la_ + co) / q2a
    ys = np.clip(stat, seg_lo, seg_hi)
    val = qa * (center - ys) ** 2 + la_ * ys + before + co * (ys - left)
    val[cut] = np.inf
    best = k["inf"].copy()
    if len(ao):
        best[ao[start]] = np.minimum.reduceat(val, start)  # the lots are grouped by name
    arg = np.full(n, -1)
    hit = np.flatnonzero(val <= best[ao])
    arg[ao[hit[::-1]]] = hit[::-1]  # the first segment at the minimum
    y_sell = np.where(arg >= 0, ys[np.maximum(arg, 0)], 0.0) if len(ys) else np.zeros(n)
    lin_h = lin * h
    sell_val = np.where(c["sell_ok"], best + lin_h, np.inf)
    hold_val = np.where(c["hold_ok"], k["hold"] + lin_h, np.inf)
    zs = -(lin + cb) / k["q2"] - k["hw"]
    z = np.clip(zs, 0.0, c["z_hi"])
    hz = h + z
    buy_val = np.where(c["buy_ok"], q * (hz - wt) ** 2 + lin * hz + cb * z, np.inf)
    V = np.vstack([hold_val, sell_val, buy_val])
    side = np.argmin(V, axis=0)
    vals = V[side, np.arange(n)]
    if not np.all(np.isfinite(vals)):
        return -np.inf, None, None, None
    sell_side = side == 1
    sold_y = np.where(sell_side, y_sell, 0.0)
    bought = np.where(side == 2, z, 0.0)
    w = h - sold_y + bought
    D = (float(vals.sum()) - float(mu @ k["Bwt"]) - float(mu @ mu) / (4 * _SCALE)
         + nu * k["cash_gap"] - float(beta @ c["budget"])
         - (float(sigma @ c["sector_hi"]) if ns else 0.0))
    sold_lot = np.zeros(len(a))
    sold_lot[order] = np.clip(sold_y[ao] - left, 0.0, vo)
    if trades is not None:
        trades["sold"], trades["bought"] = sold_lot, bought
    grad = np.empty_like(y)
    grad[0] = k["cash_gap"] + sold_y.sum() - bought.sum()
    grad[1:4] = c["brows"] @ sold_lot - c["budget"]
    if ns:
        grad[4:4 + ns] = S @ w - c["sector_hi"]
    grad[4 + ns:] = B.T @ (w - wt) - mu / (2 * _SCALE)
    # Hessian: -sum e e' / (2 q) over the names whose minimiser is a stationary point
    inner_buy = (side == 2) & (zs > 0) & (zs < c["z_hi"])
    seg = np.where(sell_side, arg, -1)
    inner_sell = seg >= 0
    idx = seg[inner_sell]
    inner_sell[inner_sell] = (stat[idx] > seg_lo[idx]) & (stat[idx] < seg_hi[idx])
    inner = inner_buy | inner_sell
    Ei = k["Es"][inner]
    rows = np.flatnonzero(inner_sell)
    if len(rows):
        at = np.cumsum(inner)[rows] - 1  # the selling names' rows in Ei
        Ei[at, 1:4] = -c["brows"][:, order[seg[rows]]].T / k["sq"][rows][:, None]
    H = -(Ei.T @ Ei)
    d = k["diag"]
    H[d, d] -= 1.0 / (2 * _SCALE)
    return D, grad, H, w


def dual_start(p: RebalanceProblem) -> np.ndarray | None:
    """Multipliers to start from: the last sign-fixed solve's (``None`` if none)."""
    if p.a.value is None:
        return None
    signs = p._signs()
    ns = p.S.shape[0]
    beta = np.atleast_1d(signs._dual("budget")).astype(float)
    sigma = np.atleast_1d(signs._dual("sector")).astype(float)
    mu = 2 * _SCALE * (_constants(p)["B"].T @ np.asarray(p.a.value, dtype=float))
    return np.r_[float(np.sum(signs._dual("cash"))),
                 beta if beta.size == 3 else np.zeros(3),
                 sigma if sigma.size == ns else np.zeros(ns), mu]


def pattern_bound(p: RebalanceProblem, sell: np.ndarray, buy: np.ndarray,
                  lot_cap: np.ndarray, w_cap: np.ndarray, target: float = np.inf,
                  start: np.ndarray | None = None, steps: int = 12) -> float:
    """A lower bound on the optimum of the sign-fixed problem with sides ``sell``.

    See :func:`pattern_solution`, which also returns where the bound's multipliers put
    the weights; this returns the bound only.
    """
    return pattern_solution(p, sell, buy, lot_cap, w_cap, target, start, steps)[0]


def pattern_solution(p: RebalanceProblem, sell: np.ndarray, buy: np.ndarray,
                     lot_cap: np.ndarray, w_cap: np.ndarray, target: float = np.inf,
                     start: np.ndarray | None = None, steps: int = 12,
                     converge: bool = False) -> tuple[float, np.ndarray | None, float]:
    """A lower bound on the optimum of the sign-fixed problem with sides ``sell``.

    Parameters
    ----------
    p : RebalanceProblem
        With its Parameters set for the solve (aversions, budgets, cash, sector limits).
    sell, buy, lot_cap, w_cap : np.ndarray
        The pattern (sell-only loss-relevant names) and the caps per asset it is fixed
        within, as for :meth:`RebalanceProblem._fixed`.
    target : float
        Stop as soon as the bound reaches it (objective units).
    start : np.ndarray | None
        Multipliers to start from (default: :func:`dual_start`).
    steps : int
        Projected Newton steps at most; fewer when the Newton model's peak (exact on the
        names' current pieces) lies below ``target``, where the bound cannot prove it.
    converge : bool
        Go on once the bound reaches ``target``, to the maximum (its weights are then the
        pattern's solution).

    Returns
    -------
    tuple[float, np.ndarray | None, float]
        ``D(y)`` at the last multipliers (the best found; ``-inf`` when not covered,
        module docs), the weights per model name minimising the Lagrangian there, and the
        largest projected gradient of ``D`` there (about 0: ``y`` maximises ``D``, so the
        bound is the pattern's optimum and the weights its solution).
    """
    c = _setup(p, sell, buy, lot_cap, w_cap)
    y = dual_start(p) if start is None else np.array(start, dtype=float)
    if c is None or y is None or len(y) != 4 + c["S"].shape[0] + c["B"].shape[1]:
        return -np.inf, None, np.inf
    y, D, g, _, w = maximise(c, y, target, steps, converge)
    return float(D), w, _stationarity(c, y, g)


def _lower(c: dict, n: int) -> np.ndarray:
    """The multipliers' lower bounds: 0 for the gain budgets and sector limits."""
    lo = np.full(n, -np.inf)
    lo[1:4 + c["S"].shape[0]] = 0.0
    return lo


def _stationarity(c: dict, y: np.ndarray, g: np.ndarray | None) -> float:
    """The largest projected gradient of ``D`` at ``y`` (0: ``y`` maximises ``D``)."""
    if g is None:
        return np.inf
    lo = _lower(c, len(y))
    return float(np.max(np.abs(np.where(y > lo, g, np.maximum(g, 0.0)))))


def maximise(c: dict, y: np.ndarray, target: float = np.inf, steps: int = 12,
             converge: bool = True, kinks: bool = False, trades: dict | None = None) -> tuple:
    """Projected Newton ascent of ``D`` from ``y`` (the loop of :func:`pattern_solution`).

    Parameters
    ----------
    c : dict
        The pattern's Lagrangian data (``_setup``; not ``None``).
    y : np.ndarray
        Multipliers to start from (projected onto ``beta, sigma >= 0`` first).
    target, steps, converge
        As for :func:`pattern_solution`.
    kinks : bool
        Where the Newton step gains nothing before ``y`` maximises ``D`` (a multiplier
        whose row no name's current piece responds to, e.g. a sector limit above its
        names' weights at ``sigma = 0`` that only a sale past a lot's kink can meet:
        zero curvature, so Newton leaves it), search along the projected gradient
        (:func:`_kink_step`) and go on. Off (the bound's use): as before session 13.
    trades : dict | None
        Receives the Lagrangian's minimising trades at the returned multipliers (as
        :func:`_dual`'s ``trades``: those of the evaluation that returned them, so no
        evaluation again to get them).

    Returns
    -------
    tuple
        ``(y, D, grad, H, w)`` at the last multipliers (the best found).
    """
    lo = _lower(c, len(y))
    y = np.where(y < lo + 1e-10, lo, y)  # interior-point multipliers of slack limits
    keep = trades is not None
    tr = {} if keep else None
    D, g, H, w = _dual(c, y, tr)
    for _ in range(steps):
        if (D >= target and not converge) or g is None:
            break
        curv = -np.diag(H)
        free = ((y > lo) | (g > 0)) & (curv > 1e-12 * curv.max())
        if not free.any():
            break
        Hf = -H[np.ix_(free, free)]
        step = np.zeros(len(y))
        try:
            step[free] = np.linalg.solve(Hf + 1e-12 * np.diag(np.diag(Hf)), g[free])
        except np.linalg.LinAlgError:
            break
        if D < target < np.inf and D + 0.5 * float(g[free] @ step[free]) < target:
            # the quadratic model on the names' current pieces peaks below the target:
            # the pattern is not proven (it may well win), stop (the bound is not used)
            break
        t = 1.0
        gained = None
        # with ``kinks`` a step that loses only round-off is taken (the maximum's
        # neighbourhood, where D is flat to the last digits and the gradient still falls)
        noise = 1e-14 * max(1.0, abs(D)) if kinks else 0.0
        for _ in range(8):
            y_new = np.maximum(y + t * step, lo)
            tr_new = {} if keep else None
            D_new, g_new, H_new, w_new = _dual(c, y_new, tr_new)
            if D_new >= D - noise:
                gained = D_new - D
                y, D, g, H, w, tr = y_new, D_new, g_new, H_new, w_new, tr_new
                break
            t *= 0.5
        if gained is None:  # no gain along the Newton step
            if not kinks:
                break
            gained = 0.0
        if gained <= 1e-15 * max(1.0, abs(D)):
            if not kinks or g is None or _stationarity(c, y, g) <= KINK_STATIONARY:
                break
            if gained != 0.0 and _stationarity(c, y, g) < 1e-9:
                continue  # round-off steps near the maximum: Newton again
            y_k, D_k, g_k, H_k, w_k, tr_k = _kink_step(c, y, D, g, H, lo, keep)
            if not D_k > D:
                break
            y, D, g, H, w, tr = y_k, D_k, g_k, H_k, w_k, tr_k
    if keep:
        trades.update(tr)
    return y, D, g, H, w


KINK_STATIONARY = 1e-13
""":func:`maximise` with ``kinks``: a projected gradient below this is the maximum."""


def _kink_step(c: dict, y: np.ndarray, D: float, g: np.ndarray, H: np.ndarray,
               lo: np.ndarray, keep: bool = False) -> tuple:
    """The best point found along the projected gradient from ``y``: ``(y, D, g, H, w, trades)``.

    ``D`` is concave along the ray ``y + t d`` and piecewise quadratic, so its slope
    ``s(t)`` (the gradient there, dotted with ``d``) is piecewise linear and falling,
    often in many short pieces (one per lot a name sells past). Steps grow fourfold
    from the first piece's Newton step until the slope turns, then the Illinois
    variant of the secant (regula falsi) finds its zero, to a millionth of the first
    slope. ``keep``: the best point's ``trades`` (:func:`_dual`) too, else ``None``.
    """
    d = np.where(y > lo, g, np.maximum(g, 0.0))
    diag = -np.diag(H)
    ref = float(np.median(diag[diag > 0])) if np.any(diag > 0) else 1.0
    dd = float(d @ d)
    s0 = float(g @ d)
    best = (y, D, g, H, None, None)
    t_lo, s_lo, t_hi, s_hi = 0.0, s0, np.inf, -np.inf
    curv = -float(d @ H @ d)
    t = s0 / curv if curv > 1e-9 * ref * dd else 1.0 / ref
    side = 0  # the end the last secant step moved (Illinois: halve the other's slope)
    for _ in range(40):
        y_t = np.maximum(y + t * d, lo)
        tr_t = {} if keep else None
        D_t, g_t, H_t, w_t = _dual(c, y_t, tr_t)
        # the path's own direction: components clipped at their bound stay there
        s_t = -np.inf if g_t is None else float(g_t @ np.where(y + t * d > lo, d, 0.0))
        if g_t is not None and D_t > best[1]:
            best = (y_t, D_t, g_t, H_t, w_t, tr_t)
        if abs(s_t) <= 1e-6 * s0:
            break
        if s_t > 0:
            t_lo, s_lo = t, s_t
            if side == 1:
                s_hi *= 0.5
            side = 1
        else:
            t_hi, s_hi = t, s_t
            if side == -1:
                s_lo *= 0.5
            side = -1
        if t_hi < np.inf and t_hi - t_lo <= 1e-12 * t_hi:
            break
        if t_hi == np.inf:
            t, side = 4.0 * t, 0
        elif np.isfinite(s_hi):
            t = t_lo + s_lo * (t_hi - t_lo) / (s_lo - s_hi)  # the secant's zero
            if not t_lo < t < t_hi:
                t = 0.5 * (t_lo + t_hi)
        else:
            t = 0.5 * (t_lo + t_hi)
    return best
