"""Per-name tax curves, lot classes and a warm-started, certified sign search for sweeps.

**Tax curves.** Selling ``x`` shares (or dollars) of a name under tax-optimal relief takes
its lots in order of cost per unit (tax per share, plus any other per-unit cost of the
lot), cheapest first, so the cost of the sale is a convex piecewise-linear function of
``x``: one piece per lot, slopes increasing, breakpoints at the cumulative lot sizes.
:class:`TaxCurve` holds one name's curve (the relief order, the breakpoints, the cost at
each breakpoint) and maps a name-level sale back to lots (:meth:`TaxCurve.relieve`).

**Lot classes** (:func:`lot_classes`). The rebalance's variables: the lots of one name with
the same term, holding-period penalty and wash-sale lock form a class whose net gain is a
convex piecewise-linear function of its sale (issue 16).

**Warm sign search** (:class:`WarmSigns`). The rebalance is convex except for "never buy
and sell a name at once"; :class:`~pma_lab.optimize.rebalance.RebalanceProblem` decides
each name's side with the two-step method (a conic relaxation, then one or more
sign-fixed solves). Along a sweep (a frontier, a sequence of re-solves) the sides change
little from one point to the next, so :class:`WarmSigns` starts from the previous point's
sides, solves the sign-fixed problem once (a QP when no tracking-error cap binds) and
then **proves** it optimal or moves on:

* the sign-fixed solution ``w*`` with its multipliers (cash ``nu``, sector limits
  ``sigma``, gain budgets ``beta``) minimises the Lagrangian
  ``L(w) = TE_f(a*) + grad TE_f(a*)'(a - a*) + sum_i [specific_i + tax_i + cost_i]
  + nu (cash row) + sigma'(sector rows) + beta'(budget rows)`` over its own sides;
  the factor part is replaced by its tangent (a lower bound: it is convex), so ``L``
  separates by name;
* ``L`` is at most the objective at every feasible trade, whichever side each name takes,
  so ``min L`` over **both** sides of every name is a lower bound on the true optimum. It
  is computed name by name: for a name held on the buy side, the best sale along its tax
  curve (a convex 1-D problem: one candidate per lot segment); for a name on the sell
  side, the best purchase;
* a factor of a few names of its own (a share-class issuer factor,
  :func:`local_columns`) is kept exact instead of by its tangent, through its conjugate
  (:meth:`WarmSigns._local_gains`): its names are bounded together, each identity group on
  one side (with the tangent, a class whose variance is nearly all the issuer's looked
  free to move at no risk, and such a pair put up to $13,000 on the benchmark book's bound);
* if the names' gains from switching side add up to at most the tolerance (``usd_tol``
  dollars of tax: the objective gap divided by the tax aversion), the sides are proven
  within it of the optimum. Otherwise the names that gain are switched (a group of
  substantially identical names together) and the sign-fixed problem solved again, at
  most ``rounds`` times (at once if the gap is far above the tolerance); without a proof
  the problem's own two-step runs, so such a point is exactly the two-step's.

The multipliers' consistency is checked on the side each name holds (no name may gain by
moving along its own side: that would mean the multipliers are not the solver's); a
failed check, funds held (look-through), added constraints, the capped loss credit or a
binding tracking-error cap make :class:`WarmSigns` step aside (the two-step runs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from pma_lab.optimize.diagnose import SOLVED
from pma_lab.optimize.pattern_bound import sale_segments
from pma_lab.optimize.strategies import by_group

if TYPE_CHECKING:
    from pma_lab.optimize.rebalance import RebalanceProblem

__all__ = ["TaxCurve", "tax_curves", "sale_minima", "WarmSigns"]

_TOL = 1e-9  # objective units: the interior-point solvers' accuracy
_SCALE = 100.0  # RebalanceProblem's objective is 100 x (TE^2 + aversion x tax + ...)


@dataclass(frozen=True)
class TaxCurve:
    """One name's cost of selling ``x`` units under tax-optimal relief (convex, piecewise linear).

    Attributes
    ----------
    lots : np.ndarray
        The name's lot indices (into the caller's lot table) in relief order: lowest cost
        per unit first (ties: the caller's order).
    sizes : np.ndarray
        Units (shares or weight) of each lot, in relief order.
    slopes : np.ndarray
        Cost per unit of each lot, in relief order (non-decreasing).
    breaks : np.ndarray
        Cumulative units at the end of each piece, starting at 0 (``len(lots) + 1``).
    costs : np.ndarray
        The curve's value at each breakpoint (``costs[0] = 0``).
    """

    lots: np.ndarray
    sizes: np.ndarray
    slopes: np.ndarray
    breaks: np.ndarray = field(init=False)
    costs: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        sizes = np.asarray(self.sizes, dtype=float)
        slopes = np.asarray(self.slopes, dtype=float)
        if np.any(sizes < 0) or np.any(np.diff(slopes) < 0):
            raise ValueError("TaxCurve: sizes must be >= 0 and slopes sorted ascending "
                             "(build it with tax_curves)")
        object.__setattr__(self, "breaks", np.r_[0.0, np.cumsum(sizes)])
        object.__setattr__(self, "costs", np.r_[0.0, np.cumsum(sizes * slopes)])

    @property
    def capacity(self) -> float:
        """Units the name can sell (all its lots)."""
        return float(self.breaks[-1])

    def cost(self, x: float | np.ndarray) -> np.ndarray:
        """Cost of selling ``x`` units (0 <= x <= capacity), the cheapest lots first."""
        x = np.asarray(x, dtype=float)
        if np.any(x < -1e-12) or np.any(x > self.capacity * (1 + 1e-12) + 1e-12):
            raise ValueError(f"TaxCurve.cost: x must lie in [0, {self.capacity:g}]")
        return np.interp(x, self.breaks, self.costs)

    def relieve(self, x: float) -> np.ndarray:
        """Units sold from each lot (in :attr:`lots` order) for a sale of ``x`` units."""
        if not 0 <= x <= self.capacity * (1 + 1e-12) + 1e-12:
            raise ValueError(f"TaxCurve.relieve: x={x!r} must lie in [0, {self.capacity:g}]")
        return np.clip(x - self.breaks[:-1], 0.0, self.sizes)

    def minimize(self, quad: float, center: float, linear: float, lo: float, hi: float
                 ) -> tuple[float, float]:
        """Minimise ``quad (center - x)^2 + linear x + cost(x)`` over ``lo <= x <= hi``.

        The curve is convex, so the minimum is one of the per-piece stationary points
        clipped to its piece and the bounds. Returns ``(x, value)``; ``(nan, inf)`` when
        the bounds leave nothing (``lo > hi`` or ``lo`` beyond the capacity).
        """
        hi = min(hi, self.capacity)
        if lo > hi + 1e-15:
            return np.nan, np.inf
        left = np.maximum(self.breaks[:-1], lo)
        right = np.minimum(self.breaks[1:], hi)
        cand = [lo, hi, *self.breaks[(self.breaks > lo) & (self.breaks < hi)]]
        if len(self.slopes) and quad > 0:
            stat = center - (linear + self.slopes) / (2.0 * quad)
            ok = left <= right
            cand += list(np.clip(stat, left, right)[ok])
        x = np.clip(np.array(cand), lo, hi)
        val = quad * (center - x) ** 2 + linear * x + self.cost(np.minimum(x, self.capacity))
        k = int(np.argmin(val))
        return float(x[k]), float(val[k])


def tax_curves(group: np.ndarray, size: np.ndarray, unit_cost: np.ndarray,
               sellable: np.ndarray | None = None) -> dict[object, TaxCurve]:
    """One :class:`TaxCurve` per group (name) from per-lot sizes and costs per unit.

    Parameters
    ----------
    group : np.ndarray
        The name (or asset index) of each lot.
    size : np.ndarray
        Units of each lot (shares, or weight of the account).
    unit_cost : np.ndarray
        Cost per unit of each lot (e.g. tax per share: rate x gain per share).
    sellable : np.ndarray | None
        Lots that may be sold (default all); the others are left out of the curve.
    """
    group = np.asarray(group)
    size = np.asarray(size, dtype=float)
    unit_cost = np.asarray(unit_cost, dtype=float)
    keep = np.ones(len(group), dtype=bool) if sellable is None else np.asarray(sellable,
                                                                             dtype=bool)
    out: dict[object, TaxCurve] = {}
    idx = np.flatnonzero(keep)
    order = idx[np.lexsort((idx, unit_cost[idx], group[idx]))]
    if not len(order):
        return out
    g = group[order]
    cut = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1, len(order)]
    for a, b in zip(cut[:-1], cut[1:], strict=True):
        lots = order[a:b]
        out[group[lots[0]].item() if hasattr(group[lots[0]], "item") else group[lots[0]]] = \
            TaxCurve(lots, size[lots], unit_cost[lots])
    return out


def lot_classes(lot_asset: np.ndarray, st_lot: np.ndarray, soon: np.ndarray,
                locked_loss: np.ndarray, g_eff: np.ndarray, v: np.ndarray,
                rates: tuple[float, float], tax_budget: bool) -> dict[str, np.ndarray]:
    """Lots aggregated per name into classes with one convex gain curve each.

    A class is the lots of one asset with the same term (ST / LT), the same holding-
    period penalty (ST gain lots turning long-term soon) and the same wash-sale lock.
    Within a class every cost of a sale (tax at the class's rate, each budget row, the
    penalty) is the lot's gain per dollar times a non-negative constant, so selling
    the lots in order of gain per dollar (highest basis first) is optimal whatever the
    aversions, budgets and caps: the class's net gain ``G(s)`` after selling weight
    ``s`` is piecewise linear and convex, ``max_k (slope_k s + intercept_k)`` with one
    piece per distinct gain per dollar. The conic problem then has classes (about two
    per name), not lots, as variables;
    :meth:`~pma_lab.optimize.rebalance.RebalanceProblem._x_value` recovers each lot's sale
    in that order, so lot-level tax and every lot constraint follow exactly.

    Parameters
    ----------
    lot_asset : np.ndarray
        The asset (index) of each lot.
    st_lot, soon, locked_loss : np.ndarray
        Per lot: short-term, the holding-period penalty's gain per dollar (0: none) and a
        loss locked by a wash sale.
    g_eff : np.ndarray
        Gain per dollar of each lot (0 for a locked loss: it earns no credit).
    v : np.ndarray
        Each lot's weight (a fraction of the account).
    rates : tuple[float, float]
        The client's ST and LT rates.
    tax_budget : bool
        Budgets in tax dollars (their rows are scaled by the class's rate).

    Returns
    -------
    dict[str, np.ndarray]
        Per class: ``asset``, ``rate``, ``brows`` (3 x classes), ``soon``, ``locked``,
        ``cap`` (the class's weight); per piece of the gain curves: ``p_class``,
        ``p_slope``, ``p_icpt``; per lot in class order: ``order`` (lot indices),
        ``of`` (their class) and ``before`` (the class's weight sold before the lot).
    """
    key = np.stack([lot_asset, st_lot.astype(int), (soon > 0).astype(int),
                    locked_loss.astype(int)], axis=1)
    uniq, cls = np.unique(key, axis=0, return_inverse=True)
    cls = np.asarray(cls).ravel()
    order = np.lexsort((np.arange(len(v)), g_eff, cls))  # by class, gain/$ up
    vo, g = v[order], g_eff[order]
    oc = cls[order]
    start = np.r_[0, np.flatnonzero(np.diff(oc)) + 1]
    cum_v = np.cumsum(vo)
    cum_g = np.cumsum(g * vo)
    base_v = np.repeat(np.r_[0.0, cum_v][start], np.diff(np.r_[start, len(vo)]))
    base_g = np.repeat(np.r_[0.0, cum_g][start], np.diff(np.r_[start, len(vo)]))
    before_v = cum_v - vo - base_v  # weight of the class sold before this lot
    before_g = cum_g - g * vo - base_g
    icpt = before_g - g * before_v
    # one piece per distinct slope within a class (equal slopes give the same line)
    keep = np.ones(len(oc), dtype=bool)  # (no lots: an account of cash alone, no pieces)
    keep[1:] = (np.diff(oc) != 0) | (np.diff(g) != 0)
    asset = uniq[:, 0]
    st_c = uniq[:, 1].astype(bool)
    rate = np.where(st_c, rates[0], rates[1])
    brows = np.vstack([np.ones(len(uniq)), st_c.astype(float), (~st_c).astype(float)])
    if tax_budget:
        brows = brows * rate[None, :]
    return {"asset": asset, "rate": rate, "brows": brows,
            "soon": uniq[:, 2].astype(float), "locked": uniq[:, 3].astype(bool),
            "cap": np.bincount(cls, weights=v, minlength=len(uniq)),
            "p_class": oc[keep], "p_slope": g[keep], "p_icpt": icpt[keep],
            "order": order, "of": oc, "before": before_v}


class WarmSigns:
    """The warm-started, certified sign search for one compiled problem (see module docs).

    Install it with ``problem.sign_search = WarmSigns(problem)``; the problem's two-step
    calls it before its relaxation and runs the relaxation only when it returns ``None``.
    Counters (:attr:`stats`) say how often it certified, switched sides or stepped aside.

    Parameters
    ----------
    problem : RebalanceProblem
    rounds : int
        Sign-fixed solves tried per call before stepping aside.
    usd_tol : float
        Certify when the bound is within this many dollars of tax (the objective gap
        divided by the tax aversion; at zero aversion the solver's accuracy, 1e-9 of the
        objective, applies).
    """

    def __init__(self, problem: RebalanceProblem, rounds: int = 2, usd_tol: float = 5.0):
        self.problem = problem
        self.rounds = rounds
        self.usd_tol = usd_tol
        self.far = 100.0  # a gap above this many tolerances: step aside at once
        p = problem
        self.loadings = p.tracking.loadings()  # TE_f = ||L' a||^2
        self.d2 = p.tracking.specific()  # the separable part of TE^2
        self.local = local_columns(self.loadings[: p.nm])
        self.stats = {"certified": 0, "switched": 0, "stepped_aside": 0, "solves": 0}
        self.last_gap = np.nan
        self.last = ""  # "certified" or "two_step": how the last call ended
        self.bounded = False  # after_two_step bounded the two-step's sides (last_gap)
        self.started = False
        cons = {}
        for prob_capped in (False, True):
            for c in p._exact_problem(prob_capped).constraints:
                names = {q.name() for q in c.parameters()}
                for key, pname in (("cash", "cash_in"), ("sector", "sector_hi"),
                                   ("budget", "budget")):
                    if pname in names:
                        cons[(prob_capped, key)] = c
        self.cons = cons

    # ---------------------------------------------------------------- entry point
    def __call__(self, problem: RebalanceProblem, buy: np.ndarray, lot_cap: np.ndarray,
                 w_cap: np.ndarray) -> str | None:
        """The sign-fixed solve from the hint, certified; ``None`` to let the two-step run."""
        p = problem
        # the first call runs the two-step: a sweep never starts from sides left by solves
        # made before it (the same sweep gives the same points whatever came before)
        hint = getattr(p, "_last_sell", None) if self.started else None
        self.bounded = False
        self.started = True
        # at zero tax aversion tax has no weight: of equally good trades the two-step
        # finds the one with less tax, which the bound cannot tell apart
        if (hint is None or len(hint) != p.na or p.na > p.nm or p._user
                or p.settings.tax_credit != "linear" or p.settings.gamma_tax <= 0):
            self.stats["stepped_aside"] += 1
            self.last = "two_step"
            return None
        rel = p._loss_relevant()
        sell = by_group(p, np.asarray(hint, dtype=bool) & p.has_lots)
        tol = self.tolerance()
        for _ in range(self.rounds):
            status = p._fixed(sell, buy, lot_cap, w_cap)
            self.stats["solves"] += 1
            if status not in SOLVED:
                break
            gains = self._switch_gains(buy, lot_cap, w_cap, sell, rel)
            if gains is None:  # multipliers inconsistent or a binding cap: step aside
                break
            self.last_gap = float(gains.sum())
            if self.last_gap <= tol:
                self.stats["certified"] += 1
                self.last = "certified"
                p._last_sell = sell
                return status
            if self.last_gap > self.far * tol:
                break  # far from a proof: switching a few names will not get there
            flip = gains > tol / max(1, int((gains > 0).sum()))
            nxt = sell.copy()
            groups = p.state.groups
            member = np.array([groups.get(t, t) for t in p.state.assets], dtype=object)
            for i in np.flatnonzero(flip):
                nxt[member == member[i]] = not sell[i]
            sell = nxt & p.has_lots
            self.stats["switched"] += 1
        self.stats["stepped_aside"] += 1
        self.last = "two_step"
        return None

    def after_two_step(self, problem: RebalanceProblem, buy: np.ndarray, lot_cap: np.ndarray,
                       w_cap: np.ndarray) -> None:
        """Bound the sides the two-step chose, with the same certificate (no solve).

        Called by :func:`pma_lab.optimize.strategies.two_step` once its sides are solved
        (after this search stepped aside, or where no name holds a loss lot). The bound is
        the one :meth:`__call__` proves warm sides with, at the two-step's solution and
        multipliers: :attr:`last_gap` (objective units; :meth:`gap_usd` in dollars of
        tax) is set when it applies (the solve in hand is the chosen sides' own, not a
        kept solution put back, whose multipliers are another solve's; no binding
        tracking-error cap; the conditions of :meth:`__call__`), else NaN. The trades are
        unchanged; :attr:`proven` says whether the gap is within the tolerance.

        Parameters
        ----------
        problem : RebalanceProblem
            The problem the two-step just solved (its sides in ``_last_sell``).
        buy, lot_cap, w_cap : np.ndarray
            The caps per asset the two-step started from (each name's other side is
            bounded within them, as in :meth:`__call__`).
        """
        p = problem
        self.last = "two_step"
        self.last_gap = np.nan
        self.bounded = False
        if (p.na > p.nm or p._user or p.settings.tax_credit != "linear"
                or p.settings.gamma_tax <= 0):
            return
        base, sell = p._tie_base, p._last_sell
        if base is None or sell is None or not all(
                np.array_equal(u, v) for u, v in zip(base[:4], (sell, buy, lot_cap, w_cap),
                                                     strict=True)):
            return  # the multipliers in hand are another solve's
        gains = self._switch_gains(buy, lot_cap, w_cap, np.asarray(sell, dtype=bool),
                                   p._loss_relevant())
        if gains is not None:
            self.last_gap = float(gains.sum())
            self.bounded = True

    @property
    def proven(self) -> bool:
        """Whether the last point's sides are proven within the tolerance (warm or two-step)."""
        return bool(self.last in ("certified", "two_step") and np.isfinite(self.last_gap)
                    and (self.last == "certified" or self.bounded)
                    and self.last_gap <= self.tolerance())

    def tolerance(self) -> float:
        """The certificate's tolerance in objective units (see ``usd_tol``)."""
        p = self.problem
        return max(self.usd_tol * _SCALE * p.settings.gamma_tax / p.V, _TOL)

    def gap_usd(self) -> float:
        """The last bound gap in dollars of tax (NaN at zero tax aversion)."""
        g = self.problem.settings.gamma_tax
        return self.last_gap * self.problem.V / (_SCALE * g) if g > 0 else np.nan

    # ---------------------------------------------------------------- the certificate
    def _dual(self, key: str) -> np.ndarray | float:
        p = self.problem
        # the problem the sign-fixed solve ran: without the cap when it did not bind
        c = self.cons.get((p.exact is p._exact_cache.get(True), key))
        if c is None or c.dual_value is None:
            return 0.0
        return np.asarray(c.dual_value, dtype=float)

    def _switch_gains(self, buy: np.ndarray, lot_cap: np.ndarray, w_cap: np.ndarray,
                      sell: np.ndarray, rel: np.ndarray) -> np.ndarray | None:
        """Per asset: how much the Lagrangian falls if the name takes the other side.

        ``None`` when the multipliers do not reproduce the solution on its own sides or a
        tracking-error cap binds (the certificate does not cover it).
        """
        p = self.problem
        s = p.settings
        x = p._x_value()
        b = np.asarray(p.b.value, dtype=float)
        a = np.asarray(p.a.value, dtype=float)
        if s.te_cap is not None and p.tracking.value(a) > (1 - 1e-6) * s.te_cap ** 2:
            return None  # the cap binds (its multiplier would scale the risk terms)
        nu = float(np.sum(self._dual("cash")))
        sigma = np.atleast_1d(self._dual("sector"))
        beta = np.atleast_1d(self._dual("budget"))
        scale = _SCALE
        lin = scale * 2.0 * (self.loadings @ (self.loadings.T @ a))
        if p.S.shape[0] and sigma.size == p.S.shape[0]:
            lin = lin + p.S.T @ sigma
        tc = scale * s.gamma_tc * s.spread
        # cost per unit of weight sold from each lot: tax, holding-period penalty, budgets
        unit = scale * (s.gamma_tax * p.tax_term.coef + s.lt_soon_penalty * p.soon)
        if beta.size == 3:
            unit = unit + beta @ p.brows
        unit = unit + tc + nu
        lock_ok = s.wash_sale_mode == "disallow"
        sellable = (lot_cap[p.lot_asset] > 0) & (p.v > 0) & (~p.locked_loss | lock_ok)
        h, wt, n = p.h[: p.nm], p.wt, p.nm
        q = scale * self.d2
        sold = np.bincount(p.lot_asset, weights=x, minlength=p.na)[:n]
        w_now = h - sold + b[:n]
        lot_cost = np.bincount(p.lot_asset, weights=unit * x, minlength=p.na)[:n]
        now = q * (w_now - wt) ** 2 + lin[:n] * w_now + lot_cost + (tc - nu) * b[:n]
        # best sale: w = h - y with y along the tax curve and w <= w_cap
        on = sellable & (p.lot_asset < n)
        v_sell = sale_minima(p.lot_asset[on], p.v[on], unit[on], n, q, h - wt, -lin[:n],
                             np.maximum(h - w_cap[:n], 0.0)) + lin[:n] * h
        # best purchase: w = h + z, 0 <= z <= w_cap - h (none if it may not be bought)
        z_hi = np.where(buy[:n] > 0, np.maximum(w_cap[:n] - h, 0.0), 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(q > 0, -(lin[:n] + tc - nu) / (2 * q) - (h - wt),
                         np.where(lin[:n] + tc - nu < 0, np.inf, 0.0))
        z = np.clip(z, 0.0, z_hi)
        v_buy = q * (h + z - wt) ** 2 + lin[:n] * (h + z) + (tc - nu) * z
        v_buy = np.where(h > w_cap[:n] + 1e-12, np.inf, v_buy)
        on_sell = sell[:n]
        own = np.where(on_sell, v_sell, v_buy)
        other = np.where(on_sell, v_buy, v_sell)
        check = rel[:n]
        tol = np.maximum(1e-7 * np.maximum(1.0, np.abs(now)), 1e-8)
        if np.any(check & (own < now - tol)):  # the multipliers do not reproduce it
            return None
        gains = np.zeros(p.na)
        gains[:n] = np.where(check, np.maximum(now - other, 0.0), 0.0)
        if self.local is not None:
            self._local_gains(gains, a, w_now, now, sell[:n], check, sellable, unit, lin,
                              q, tc - nu, buy, w_cap)
        return gains

    def _local_gains(self, gains: np.ndarray, a: np.ndarray, w_now: np.ndarray,
                     now: np.ndarray, sell: np.ndarray, check: np.ndarray,
                     sellable: np.ndarray, unit: np.ndarray, lin: np.ndarray,
                     q: np.ndarray, buy_unit: np.ndarray, buy: np.ndarray,
                     w_cap: np.ndarray) -> None:
        """The gains of the names of a local factor (:func:`local_columns`), in place.

        The tangent of the factor part is a loose bound for names a factor of their own
        ties together (share classes of one issuer: their issuer factor carries most of
        their variance, so with the factor linearised each class alone looks free to move
        at almost no risk). For each such factor ``S (beta' a)**2`` is kept exact through
        its conjugate, ``max_l (l beta' a - l**2 / (4 S))``: for every ``l`` the
        Lagrangian with ``l beta`` in place of the factor's tangent separates by name, so

            ``D(l) = sum_i min over both sides [q_i (w_i - wt_i)**2 + (lin_i + l beta_i) w_i
            + cost_i] - l beta' wt - l**2 / (4 S)``

        is a lower bound on the names' part of the Lagrangian for **any** ``l`` (weak
        duality), equal to the tangent's bound at ``l0 = 2 S beta' a*``. ``D`` is concave;
        a grid over the bracket of ``l`` the names' weights allow, refined around its best
        point (:data:`LOCAL_GRID`, :data:`LOCAL_ROUNDS`), keeps the best value found
        (never below ``D(l0)``). The names' gap is their part at the
        solution less that bound; it is put on the names whose best side at the best ``l``
        differs from theirs (the ones to switch), else on the first of them.
        """
        p = self.problem
        names, comp, beta, ncomp = self.local
        S = _SCALE
        h, wt = p.h[names], p.wt[names]
        ba = np.bincount(comp, weights=beta * a[names], minlength=ncomp)
        lam0 = 2.0 * S * ba
        lin_c = lin[names] - lam0[comp] * beta  # the other factors' tangent
        now_g = now[names] - lam0[comp] * beta * w_now[names]
        total = np.bincount(comp, weights=now_g, minlength=ncomp) + S * ba ** 2
        pos = np.full(p.nm, -1)
        pos[names] = np.arange(len(names))
        on = sellable & (p.lot_asset < p.nm)
        on &= pos[np.minimum(p.lot_asset, p.nm - 1)] >= 0
        l_asset = pos[p.lot_asset[on]]
        l_size, l_unit = p.v[on], unit[on]
        qn, lo = q[names], np.maximum(h - w_cap[names], 0.0)
        z_hi = np.where(buy[names] > 0, np.maximum(w_cap[names] - h, 0.0), 0.0)
        bu = np.broadcast_to(np.asarray(buy_unit, dtype=float), (p.na,))[names]
        wt_beta = np.bincount(comp, weights=beta * wt, minlength=ncomp)
        m = len(names)
        # substantially identical names whose side matters take one side together
        # (:func:`~pma_lab.optimize.strategies.by_group`): one choice per identity group
        # within a factor; the others each their own
        groups = p.state.groups
        movable = check[names]
        keys = [(int(c), groups.get(p.state.assets[i], p.state.assets[i])) if r else (-1, j)
                for j, (i, c, r) in enumerate(zip(names, comp, movable, strict=True))]
        ids: dict = {}
        gid = np.array([ids.setdefault(k, len(ids)) for k in keys], dtype=int)
        ng = len(ids)
        g_comp = np.zeros(ng, dtype=int)
        g_comp[gid] = comp

        # every evaluation is of K values of l at once (a grid and one more point): the
        # names' arrays tiled K times, once
        K = LOCAL_GRID + 1
        tile = np.tile
        rows = np.arange(K)[:, None]
        l_asset_k = (l_asset + m * rows).ravel()
        l_size_k, l_unit_k = tile(l_size, K), tile(l_unit, K)
        qk, ck, hk, buk, z_hik = (tile(x, K) for x in (qn, h - wt, h, bu, z_hi))
        lok = tile(lo, K)
        no_buy = tile(h > w_cap[names] + 1e-12, K)
        at_g = (gid + ng * rows).ravel()
        at_c = (g_comp + ncomp * rows).ravel()

        def parts(lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            # per value of l (K rows of lam, one column per factor): each identity group's
            # best sale and best purchase (the names' Lagrangian terms)
            li = (lin_c + lam[:, comp] * beta).ravel()
            v_sell = sale_minima(l_asset_k, l_size_k, l_unit_k, K * m, qk, ck, -li,
                                 lok) + li * hk
            with np.errstate(divide="ignore", invalid="ignore"):
                z = np.where(qk > 0, -(li + buk) / (2 * qk) - ck,
                             np.where(li + buk < 0, np.inf, 0.0))
            z = np.clip(z, 0.0, z_hik)
            v_buy = np.where(no_buy, np.inf, qk * (ck + z) ** 2 + li * (hk + z) + buk * z)
            return (np.bincount(at_g, weights=v_sell, minlength=K * ng).reshape(K, ng),
                    np.bincount(at_g, weights=v_buy, minlength=K * ng).reshape(K, ng))

        def bound(lam: np.ndarray) -> np.ndarray:
            g_sell, g_buy = parts(lam)
            best = np.minimum(g_sell, g_buy).ravel()
            return (np.bincount(at_c, weights=best, minlength=K * ncomp).reshape(K, ncomp)
                    - lam * wt_beta - lam ** 2 / (4 * S))

        # l* = 2 S beta' a(l*), and beta' a lies within what the weights allow: a grid
        # over that bracket (with l0), then finer grids around the best point (D is
        # concave; any l gives a valid bound, the search only makes it tighter)
        w_hi = np.maximum(h, np.minimum(w_cap[names], h + z_hi))
        ends = np.stack([beta * (0.0 - wt), beta * (w_hi - wt)])
        lo_l = 2 * S * np.bincount(comp, weights=ends.min(axis=0), minlength=ncomp)
        hi_l = 2 * S * np.bincount(comp, weights=ends.max(axis=0), minlength=ncomp)
        lo_l, hi_l = np.minimum(lo_l, lam0), np.maximum(hi_l, lam0)
        best_l, best_v = lam0.copy(), np.full(ncomp, -np.inf)
        cols = np.arange(ncomp)
        frac = np.linspace(0.0, 1.0, LOCAL_GRID)[:, None]
        for _ in range(LOCAL_ROUNDS):
            grid = np.vstack([lo_l + frac * (hi_l - lo_l), best_l])
            vals = bound(grid)
            j = np.argmax(vals, axis=0)
            up = vals[j, cols] > best_v
            best_l = np.where(up, grid[j, cols], best_l)
            best_v = np.where(up, vals[j, cols], best_v)
            step = (hi_l - lo_l) / (LOCAL_GRID - 1)
            lo_l, hi_l = best_l - step, best_l + step
        gap = np.maximum(total - best_v, 0.0)
        g_sell, g_buy = parts(np.broadcast_to(best_l, (K, ncomp)))
        moves = (g_sell[0] < g_buy[0])[gid] != sell[names]
        gains[names] = 0.0
        for c in range(ncomp):
            idx = np.flatnonzero(comp == c)
            if not movable[idx].any():
                continue  # no side of these names matters: their gains stay 0
            to = idx[moves[idx] & movable[idx]]
            if not len(to):
                to = idx[movable[idx]][:1]
            gains[names[to]] = gap[c] / len(to)


LOCAL_SUPPORT = 4
"""A factor loading column with at most this many names is local (:func:`local_columns`)."""
LOCAL_GRID = 17
LOCAL_ROUNDS = 9
"""The local factors' multiplier is searched on a grid of :data:`LOCAL_GRID` points over its
bracket, then on such grids between the best point's neighbours, :data:`LOCAL_ROUNDS` grids
in all (each 8 times finer: the bracket / 1e8 at the end; :meth:`WarmSigns._local_gains`)."""


def local_columns(loadings: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int] | None:
    """The columns of ``B`` (names x factors) that tie a few names together, and only them.

    A column non-zero on at most :data:`LOCAL_SUPPORT` names (a share-class issuer
    factor: exposure 1 on each class) whose names no other such column touches.
    Returns ``(names, comp, beta, count)``: the names (sorted by column), each one's
    column (0 .. count - 1) and its loading; ``None`` when there is no such column.
    """
    nz = loadings != 0
    support = nz.sum(axis=0)
    cols = np.flatnonzero((support > 0) & (support <= LOCAL_SUPPORT))
    if not len(cols):
        return None
    used = nz[:, cols].sum(axis=1)
    keep = [c for c in cols if (used[nz[:, c]] == 1).all()]
    if not keep:
        return None
    names, comp, beta = [], [], []
    for j, c in enumerate(keep):
        rows = np.flatnonzero(nz[:, c])
        names.append(rows)
        comp.append(np.full(len(rows), j))
        beta.append(loadings[rows, c])
    return np.concatenate(names), np.concatenate(comp), np.concatenate(beta), len(keep)


def sale_minima(asset: np.ndarray, size: np.ndarray, unit_cost: np.ndarray, n: int,
                quad: np.ndarray, center: np.ndarray, linear: np.ndarray, lo: np.ndarray
                ) -> np.ndarray:
    """Per name, ``min quad (center - y)^2 + linear y + curve(y)`` over ``lo <= y``.

    :meth:`TaxCurve.minimize` for every name at once (``hi`` = the name's capacity):
    ``curve`` is the name's tax curve from its lots' sizes and costs per unit. A name
    without lots has ``y = 0`` (if ``lo <= 0``); ``inf`` where ``lo`` exceeds the capacity.
    """
    order = np.lexsort((np.arange(len(asset)), unit_cost, asset))
    a, v, c = asset[order], size[order], unit_cost[order]
    _, left, before = sale_segments(a, v, c)  # ``before``: the curve's value at ``left``
    right = left + v
    cap = np.bincount(a, weights=v, minlength=n)
    qa, ca, la, loa = quad[a], center[a], linear[a], lo[a]
    seg_lo = np.maximum(left, loa)
    seg_hi = right
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.where(qa > 0, ca - (la + c) / (2 * qa), np.where(la + c < 0, right, left))
    y = np.clip(stat, seg_lo, np.maximum(seg_hi, seg_lo))
    val = qa * (ca - y) ** 2 + la * y + before + c * (y - left)
    val = np.where(seg_lo <= seg_hi + 1e-15, val, np.inf)
    out = np.full(n, np.inf)
    np.minimum.at(out, a, val)
    none = cap <= 0
    out[none] = np.where(lo[none] <= 0, quad[none] * center[none] ** 2, np.inf)
    out[cap < lo - 1e-15] = np.inf
    return out
