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

One fund held (session 15): its sale ``s`` moves every name's look-through weight, which
couples the names through their specific risk; given ``s`` they separate again (each
name's target shifted by the fund's look-through), and the Lagrangian's minimum over
``s`` is a one-dimensional convex problem solved inside ``D`` (:func:`_fund_dual`).

Not covered (``-inf``, the pattern is solved): two funds or more, a fund that may be
bought, the capped loss credit or one variable per lot, a name whose caps leave it no
trade (left to the solver's infeasibility report), a name with both sides open whose
cheapest sale and a purchase together would lower the Lagrangian.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from pma_lab.optimize.illinois import Illinois

try:  # the ufunc np.clip calls on float arrays, without its two Python wrappers
    from numpy._core.umath import clip as _clip
except ImportError:  # pragma: no cover - another numpy layout: the same function
    _clip = np.clip
try:  # the gufunc np.linalg.solve calls for one right-hand side, without its checks
    from numpy.linalg._umath_linalg import solve1 as _solve1
except ImportError:  # pragma: no cover - another numpy layout: np.linalg.solve itself
    _solve1 = None

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
    return _segments(a, v, c)[:3]


def _segments(a: np.ndarray, v: np.ndarray, c: np.ndarray) -> tuple:
    """:func:`sale_segments`' ``(start, left, before)`` and each name's lots (``seg_len``)."""
    first = np.ones(len(a), dtype=bool)  # (np.r_ and np.diff cost more than the sums)
    np.not_equal(a[1:], a[:-1], out=first[1:])
    start = np.flatnonzero(first)
    seg_len = np.empty(len(start), dtype=np.intp)
    seg_len[:-1] = start[1:] - start[:-1]
    seg_len[-1:] = len(a) - start[-1:]
    return start, _left(v, start, seg_len), _before(v, c, start, seg_len), seg_len


def _left(v: np.ndarray, start: np.ndarray, seg_len: np.ndarray) -> np.ndarray:
    """The size of a name's sale before each of its lots (:func:`sale_segments`' ``left``)."""
    cum_v = np.cumsum(v)
    return cum_v - v - np.repeat(cum_v[start] - v[start], seg_len)


def _before(v: np.ndarray, c: np.ndarray, start: np.ndarray, seg_len: np.ndarray) -> np.ndarray:
    """The cost of a name's sale before each of its lots (:func:`sale_segments`' ``before``)."""
    vc = v * c
    cum_c = np.cumsum(vc)
    return cum_c - vc - np.repeat(cum_c[start] - vc[start], seg_len)


@dataclass(frozen=True, eq=False)
class FundData:
    """The held fund's part of a pattern's Lagrangian data (:func:`_fund_setup`).

    Attributes
    ----------
    m : np.ndarray
        The fund's look-through column: weight of each model name per unit of the fund.
    hf : float
        The fund's weight today.
    lo : float
        The least weight of it the pattern sells (its weight cap; at most its lots).
    lots : np.ndarray
        The fund's lots that may be sold (indices into the problem's lots).
    size, unit : np.ndarray
        Their weights and costs per unit sold (tax, penalty, trading cost; objective units).
    brows : np.ndarray
        Their rows in the three gain budgets (3 x lots).
    Sm : np.ndarray
        The sector rows' look-through of the fund (``S @ m``).
    """

    m: np.ndarray
    hf: float
    lo: float
    lots: np.ndarray
    size: np.ndarray
    unit: np.ndarray
    brows: np.ndarray
    Sm: np.ndarray


@dataclass(frozen=True, eq=False)
class _Fixed:
    """The pattern's arrays no multiplier or cost weight changes (:attr:`PatternData.fixed`)."""

    q2: np.ndarray
    sq: np.ndarray
    Es: np.ndarray
    both: np.ndarray | None
    diag: np.ndarray
    inf: np.ndarray
    cash_gap: float
    none: np.ndarray
    sides: np.ndarray


@dataclass(frozen=True, eq=False)
class _Centre:
    """The arrays of ``h - w_t`` (:attr:`PatternData.centre`)."""

    hw: np.ndarray
    hold: np.ndarray
    Bwt: np.ndarray


class _SortMemo:
    """One ascent's lots sorted for sale at the last budget multipliers, and the fund's sale.

    Shared by the copies of a pattern's data an ascent evaluates (:meth:`PatternData.
    replace` keeps it while the lots' data stays, e.g. :func:`_fund_dual`'s at other
    targets); a pattern's data without one (:func:`_setup`'s) sorts the lots with the cash
    multiplier on every evaluation (:func:`_dual`).
    """

    __slots__ = ("key", "sorted", "cut_any", "fund_s", "fund_sorted", "both", "centre")

    def __init__(self) -> None:
        self.key: bytes | None = None
        self.sorted: tuple | None = None
        self.cut_any = False  # whether the sort's ``cut`` has a segment
        # the first lots (in the sort) of the names with both sides open: (fixed, indices)
        self.both: tuple | None = None
        # ``h - w_t`` per lot in the sort: (centre, sorted, array)
        self.centre: tuple | None = None
        self.fund_s: float | None = None
        # the fund's lots sorted at the last budget multipliers: (fund, key, arrays)
        self.fund_sorted: tuple | None = None


@dataclass(frozen=True, eq=False)
class PatternData:
    """A sign pattern's Lagrangian data (:func:`_setup`): what :func:`_dual` needs.

    Immutable: a variant (other costs, targets, sides, names) is :meth:`replace`'s copy.
    The arrays computed from it once (:attr:`fixed`, :attr:`centre`) are cached on the
    copy that computed them and carried to a copy whose data they do not depend on.

    Attributes
    ----------
    n : int
        Model names (the first ``n`` assets).
    h, wt, q : np.ndarray
        Per name: weight today, target weight and specific risk (objective units).
    B : np.ndarray
        Factor loadings (names x factors).
    S : np.ndarray
        Sector rows (sectors x names).
    tc : float
        Trading cost per unit traded (objective units).
    unit, brows, asset, size, lots : np.ndarray
        Per lot that may be sold (model names' only): its cost per unit sold (tax,
        penalty, trading cost), rows in the three gain budgets (3 x lots), name, weight
        and index into the problem's lots.
    z_hi : np.ndarray
        Per name: the most it may buy (0: not a buyer).
    buy_ok, sell_ok, hold_ok : np.ndarray
        Per name: whether it may buy, sell, hold (its caps and the pattern's sides).
    lo_sell : np.ndarray
        Per name: the least it must sell (its weight cap).
    cash, cash_target : float
        The cash row's Parameters.
    budget, sector_hi : np.ndarray
        The gain budgets' and sector limits' Parameters.
    fund : FundData | None
        The one fund held (``None``: none).
    memo : _SortMemo | None
        The lots' sort cached across an ascent's evaluations (``None``: sorted per
        evaluation); private to :func:`_dual` and :func:`_fund_dual`.
    """

    n: int
    h: np.ndarray
    wt: np.ndarray
    q: np.ndarray
    B: np.ndarray
    S: np.ndarray
    tc: float
    unit: np.ndarray
    brows: np.ndarray
    asset: np.ndarray
    size: np.ndarray
    lots: np.ndarray
    z_hi: np.ndarray
    buy_ok: np.ndarray
    lo_sell: np.ndarray
    sell_ok: np.ndarray
    hold_ok: np.ndarray
    cash: float
    cash_target: float
    budget: np.ndarray
    sector_hi: np.ndarray
    fund: FundData | None
    memo: _SortMemo | None = field(default=None, repr=False)

    def replace(self, **changes) -> PatternData:
        """A copy with ``changes``, keeping the cached arrays that do not depend on them.

        As cheap as copying a dict (:func:`_fund_dual` makes one per evaluation of the
        fund's sale): no validation, no recomputation. A copy whose lots' data change
        gets its own sort memo (none if this one has none).
        """
        if not _FIELDS.issuperset(changes):
            raise TypeError(f"PatternData has no field {sorted(set(changes) - _FIELDS)}")
        new = object.__new__(PatternData)
        d = new.__dict__
        d.update(self.__dict__)
        d.update(changes)
        for name, deps in _CACHED_FROM.items():
            if name in d and not deps.isdisjoint(changes):
                del d[name]
        if (d["memo"] is not None and "memo" not in changes
                and not _SORTED_FROM.isdisjoint(changes)):
            d["memo"] = _SortMemo()
        return new

    def with_memo(self) -> PatternData:
        """A copy with a new sort memo: the lots' sort kept across an ascent's evaluations."""
        return self.replace(memo=_SortMemo())

    @cached_property
    def fixed(self) -> _Fixed:
        """The arrays that no multiplier or cost weight changes, computed once.

        Each is the same operation on the same operands as :func:`_dual` did per
        evaluation before session 15, so every value is the same to the bit.
        """
        n, q, B, S = self.n, self.q, self.B, self.S
        ns, nk = S.shape[0], B.shape[1]
        sq = np.sqrt(2 * q)
        # the Hessian's rows per name, d(gradient)/d(weight), divided by sqrt(2 q); the
        # budgets' columns (a selling name's lot) are filled per evaluation
        E = np.zeros((n, 4 + ns + nk))
        E[:, 0] = -1.0
        if ns:
            E[:, 4:4 + ns] = S.T
        E[:, 4 + ns:] = B
        both = self.buy_ok & self.sell_ok
        return _Fixed(q2=2 * q, sq=sq, Es=E / sq[:, None], both=both if both.any() else None,
                      diag=np.arange(4 + ns, 4 + ns + nk), inf=np.full(n, np.inf),
                      none=np.full(n, -1), sides=np.full((3, n), np.inf),
                      cash_gap=self.cash - self.cash_target)

    @cached_property
    def centre(self) -> _Centre:
        """The arrays of ``h - w_t``: it, the holding's risk ``q (h - w_t)^2`` and ``B' w_t``."""
        hw = self.h - self.wt
        return _Centre(hw=hw, hold=self.q * hw ** 2, Bwt=self.B.T @ self.wt)


_FIELDS = frozenset(f.name for f in fields(PatternData))
_CACHED_FROM = {
    "fixed": frozenset(("n", "q", "B", "S", "buy_ok", "sell_ok", "cash", "cash_target")),
    "centre": frozenset(("h", "wt", "q", "B")),
}
"""Each cached property of :class:`PatternData` and the fields it is computed from."""
_SORTED_FROM = frozenset(("unit", "brows", "asset", "size", "lo_sell", "q"))
"""The fields :func:`_sorted` reads (besides the budgets' multipliers)."""


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
           w_cap: np.ndarray) -> PatternData | None:
    """The pattern's Lagrangian data (``None``: not covered)."""
    s = p.settings
    if p.na > p.nm + 1 or not p.aggregated or s.tax_credit != "linear" or not p.nl:
        return None
    P = p.P
    n = p.nm
    fixed = _constants(p)
    q = fixed["q"]
    if np.any(q <= 0):
        return None
    rel = p._loss_relevant()
    sell = np.asarray(sell, dtype=bool)
    nb_all = np.where(rel & sell, 0.0, buy)
    nb = nb_all[:n]
    nl = np.where(rel & ~sell, 0.0, lot_cap)
    lock_ok = float(P["lock_slack"].value) > 0
    la = p.lot_asset
    on_all = np.flatnonzero((nl[la] > 0) & (p.v > 0) & (~p.locked_loss | lock_ok))
    on = on_all[la[on_all] < n]
    tc = _SCALE * float(P["gamma_tc"].value) * p.trading_cost.spread
    unit = _SCALE * (float(P["gamma_tax"].value) * p.tax_term.coef
                     + float(P["lt_soon"].value) * p.soon) + tc
    h, wt = p.h[:n], p.wt
    wc_all = np.asarray(w_cap, dtype=float)
    wc = wc_all[:n]
    fund = None
    if p.na > n:
        fund = _fund_setup(p, fixed, nb_all[n], wc_all[n], on_all[la[on_all] == n], unit)
        if fund is None:
            return None
    cap = np.bincount(la[on], weights=p.v[on], minlength=n)
    lo_sell = np.maximum(h - wc, 0.0)
    buy_ok = (nb > 0) & (h <= wc)
    # a sale the cap requires may exceed the lots' sum by round-off (a must-sell name):
    # the bound allows it to fall short by 1e-12 (a larger set: still a lower bound)
    sell_ok = (cap > 0) & (cap >= lo_sell - 1e-12)
    lo_sell = np.minimum(lo_sell, cap)
    # a name sold in full: :func:`_dual` reaches its last lot's end through cumulative
    # sums over the whole book, which can fall short of ``cap`` by round-off (~1e-16),
    # and then no segment reached the sale (-inf: not covered; 7 of retiree's plan
    # comparison's QPs): the sale may fall short of it by 1e-13 (a larger set: still a
    # lower bound; the certificate checks the weight cap to 1e-9)
    full = sell_ok & (cap > 0) & (lo_sell >= cap)
    lo_sell = np.where(full, np.maximum(cap - 1e-13, 0.0), lo_sell)
    hold_ok = h <= wc
    if not np.all(buy_ok | sell_ok | hold_ok):
        return None
    return PatternData(
        n=n, h=h, wt=wt, q=q, B=fixed["B"], S=fixed["S"], tc=tc, unit=unit[on],
        brows=p.brows[:, on], asset=la[on], size=p.v[on], lots=on,
        z_hi=np.where(buy_ok, np.minimum(nb, wc - h), 0.0), buy_ok=buy_ok,
        lo_sell=lo_sell, sell_ok=sell_ok, hold_ok=hold_ok, cash=float(P["cash"].value),
        cash_target=float(P["cash_target"].value),
        budget=np.asarray(P["budget"].value, dtype=float),
        sector_hi=np.asarray(P["sector_hi"].value, dtype=float), fund=fund)


def _fund_setup(p: RebalanceProblem, fixed: dict, buy_cap: float, w_cap: float,
                lots: np.ndarray, unit: np.ndarray) -> FundData | None:
    """The held fund's data for :func:`_fund_dual` (``None``: not covered).

    The fund (asset ``nm``, the one asset after the model names) is never bought (its
    buy cap is 0, :func:`pma_lab.optimize.limits.base_caps`); it may be sold, its lots
    cheapest first, down to its weight cap. Its look-through column ``m`` (weight of
    each model name per unit of the fund) moves the names' active weights.
    """
    n = p.nm
    if buy_cap > 0:
        return None
    hf = float(p.h[n])
    size = p.v[lots]
    cap = float(size.sum())
    lo = max(hf - w_cap, 0.0)
    if cap < lo - 1e-12:
        return None
    M = p.M
    m = np.asarray(M[:, n].toarray() if hasattr(M, "toarray") else M[:, n],
                   dtype=float).ravel()
    return FundData(m=m, hf=hf, lo=min(lo, cap), lots=lots, size=size, unit=unit[lots],
                    brows=p.brows[:, lots], Sm=fixed["S"] @ m)


def _sorted(c: PatternData, beta: np.ndarray, nu: float | None = None,
            prev: tuple | None = None) -> tuple:
    """The lots sorted for sale by name, cheapest first, at budget multipliers ``beta``.

    ``(order, ao, vo, cost, start, left, before, qa, q2a, seg_lo, seg_hi, cut, seg_len)``:
    each lot's cost per unit sold and the name's sale's cost before it (with the cash
    multiplier ``nu`` when given, else without: added per evaluation), each lot's
    name's ``q`` and ``2 q``, the segment's bounds, the segments the name's minimum
    sale cuts out and each name's number of lots. ``prev``: this data's sort at other
    multipliers; where the lots' order is the same (an ascent's later steps move
    ``beta`` little) only the costs are computed again (session 20; the same operations
    on the same operands, so the same bits); where it is not, the lots' names in order
    (sorted by name whatever the order within a name), so the names' segments and ``q``,
    are still ``prev``'s (session 23).
    """
    a = c.asset
    unit_b = c.unit + beta @ c.brows
    if nu is not None:
        unit_b = unit_b + nu
    order = np.lexsort((unit_b, a))  # stable: ties in lot order
    cbo = unit_b[order]
    if prev is not None and np.array_equal(order, prev[0]):
        _, ao, vo, _, start, left, _, qa, q2a, seg_lo, seg_hi, cut, seg_len = prev
        return (order, ao, vo, cbo, start, left, _before(vo, cbo, start, seg_len), qa, q2a,
                seg_lo, seg_hi, cut, seg_len)
    vo = c.size[order]
    if prev is not None:
        ao, start, qa, q2a, seg_len = prev[1], prev[4], prev[7], prev[8], prev[12]
        left, before_b = _left(vo, start, seg_len), _before(vo, cbo, start, seg_len)
    else:
        ao = a[order]
        start, left, before_b, seg_len = _segments(ao, vo, cbo)
        qa = c.q[ao]
        q2a = 2 * qa
    seg_lo = np.maximum(left, c.lo_sell[ao])
    seg_hi = np.maximum(left + vo, seg_lo)
    return (order, ao, vo, cbo, start, left, before_b, qa, q2a, seg_lo, seg_hi,
            ~(seg_lo <= left + vo), seg_len)


class _Lazy:
    """A Hessian formed when first called (:func:`_dual`'s ``hessian="lazy"``), then kept.

    The ascent's trial points that are not kept (a line search's rejected step,
    :func:`_kink_step`'s points short of the best, the fund's sales :func:`_fund_dual`
    passes on its way to the minimum) never form theirs; one that is formed is the same
    computation on the same arrays as :func:`_dual`'s with ``hessian=True``, so the same
    bits.
    """

    __slots__ = ("_form", "_H")

    def __init__(self, form) -> None:  # noqa: ANN001 - a closure of _dual's
        self._form, self._H = form, None

    def __call__(self) -> np.ndarray:
        if self._H is None:
            self._H, self._form = self._form(), None
        return self._H


def _formed(H: np.ndarray | _Lazy | None) -> np.ndarray | None:
    """``H`` as a matrix (a :class:`_Lazy` one formed now)."""
    return H() if isinstance(H, _Lazy) else H


def _dual(c: PatternData, y: np.ndarray, trades: dict | None = None,
          hessian: bool | str = True, lin: np.ndarray | None = None) -> tuple:
    """``D(y)``, its gradient, Hessian (smooth names) and the Lagrangian's minimising weights.

    ``(-inf, None, None, None)`` when a name with both sides open could lower the Lagrangian by
    buying and selling at once (not covered). ``trades``: a dict given here receives the
    minimiser's trades, ``sold`` (weight sold of each lot of ``c.lots``) and ``bought``
    (weight bought per model name), and with the Hessian ``inner`` and ``rows`` (its rows
    per name, for :mod:`pma_lab.optimize.relax_dual`'s model). ``hessian=False``: the
    Hessian is not formed (``None`` in its place; a caller that reads only the gradient
    and weights, the cap search's slope). ``hessian="lazy"``: a :class:`_Lazy` in its
    place, which forms it (and ``trades``' rows) when called: an ascent's trial points
    that are not kept never pay for theirs (session 20). ``lin``: ``B mu + S' sigma`` at
    ``y`` when the caller has it (:func:`_fund_dual`'s names' duals, one per fund sale
    at the same ``y``: computed there once, the same operations, so the same bits).

    Each name's side (hold, sell, buy) is the first of the three with the least value, as
    ``argmin`` over them chose before session 23 (by comparisons on the rows: the same
    choice, the minimum the same value).
    """
    if c.fund is not None:
        _ = c.fixed  # computed here: shared by the names' copies _fund_dual makes
        return _fund_dual(c, y, trades, hessian)
    h, wt, q, B, S = c.h, c.wt, c.q, c.B, c.S
    k, ce = c.fixed, c.centre
    ns = S.shape[0]
    nu, beta, sigma, mu = y[0], y[1:4], y[4:4 + ns], y[4 + ns:]
    if lin is None:
        lin = B @ mu + (S.T @ sigma if ns else 0.0)  # d Lagrangian / d w per name
    cb = c.tc - nu  # buying: trading cost less cash
    a = c.asset
    # selling y of a name: its lots cheapest first (segments of the sale); the order
    # depends on the budgets' multipliers only (cash moves every lot's cost alike)
    memo = c.memo
    if memo is None:
        srt = _sorted(c, beta, nu)
        order, ao, vo, co, start, left, before, qa, q2a, seg_lo, seg_hi, cut, _ = srt
        cut_any = bool(cut.any())
    else:
        # sorted once per ``beta`` (pma_lab.optimize.dual_qp) and data (a copy with
        # other lots' data has its own memo: PatternData.replace)
        key = beta.tobytes()
        if memo.key != key:
            memo.key, memo.sorted = key, _sorted(c, beta, prev=memo.sorted)
            memo.cut_any = bool(memo.sorted[11].any())
        srt = memo.sorted
        order, ao, vo, cbo, start, left, before_b, qa, q2a, seg_lo, seg_hi, cut, _ = srt
        cut_any = memo.cut_any
        co = cbo + nu
        before = before_b + nu * left
    heads = ao[start]  # each selling name (its first lot)
    if k.both is not None and len(a):
        # a name with both sides open whose cheapest lot's sale and a purchase together
        # lower the Lagrangian: its cheapest lot is its first (the same sums as a
        # name-length array of them would give)
        if memo is None or memo.both is None or memo.both[0] is not k:
            first_both = start[k.both[heads]]
            if memo is not None:
                memo.both = (k, first_both)
        else:
            first_both = memo.both[1]
        if (co[first_both] + cb < 0).any():
            return -np.inf, None, None, None
    # each lot's name's h - w_t: per centre and sort (an ascent's names keep both)
    got = None if memo is None else memo.centre
    if got is not None and got[0] is ce and got[1] is srt:
        center = got[2]
    else:
        center = ce.hw[ao]
        if memo is not None:
            memo.centre = (ce, srt, center)
    la_ = -lin[ao]
    stat = center - (la_ + co) / q2a
    ys_pad = np.empty(len(ao) + 1)  # ys, then a 0 that arg's -1 (no sale) reads
    ys_pad[-1] = 0.0
    ys = _clip(stat, seg_lo, seg_hi, out=ys_pad[:-1])
    val = qa * (center - ys) ** 2 + la_ * ys + before + co * (ys - left)
    if cut_any:
        val[cut] = np.inf
    best = k.inf.copy()
    if len(ao):
        best[heads] = np.minimum.reduceat(val, start)  # the lots are grouped by name
    arg = k.none.copy()
    hit = (val <= best[ao]).nonzero()[0][::-1]
    arg[ao[hit]] = hit  # the first segment at the minimum
    y_sell = ys_pad[arg]
    lin_h = lin * h
    V = k.sides.copy()  # hold, sell, buy: each name's value on each side (inf: closed)
    np.copyto(V[0], ce.hold + lin_h, where=c.hold_ok)
    np.copyto(V[1], best + lin_h, where=c.sell_ok)
    zs = -(lin + cb) / k.q2 - ce.hw
    z = _clip(zs, 0.0, c.z_hi)
    hz = h + z
    np.copyto(V[2], q * (hz - wt) ** 2 + lin * hz + cb * z, where=c.buy_ok)
    v_hold, v_sell, v_buy = V
    vals = np.minimum(np.minimum(v_hold, v_sell), v_buy)  # (a NaN stays: not finite)
    if not np.isfinite(vals).all():
        return -np.inf, None, None, None
    # the first side with the least value (argmin's choice): every value is finite or inf
    sell_side = (v_sell < v_hold) & (v_sell <= v_buy)
    buy_side = (v_buy < v_hold) & (v_buy < v_sell)
    sold_y = np.where(sell_side, y_sell, 0.0)
    bought = np.where(buy_side, z, 0.0)
    w = h - sold_y + bought
    D = (float(vals.sum()) - float(mu @ ce.Bwt) - float(mu @ mu) / (4 * _SCALE)
         + nu * k.cash_gap - float(beta @ c.budget)
         - (float(sigma @ c.sector_hi) if ns else 0.0))
    sold_lot = np.zeros(len(a))
    sold_lot[order] = _clip(sold_y[ao] - left, 0.0, vo)
    if trades is not None:
        trades["sold"], trades["bought"] = sold_lot, bought
    grad = np.empty_like(y)
    grad[0] = k.cash_gap + sold_y.sum() - bought.sum()
    grad[1:4] = c.brows @ sold_lot - c.budget
    if ns:
        grad[4:4 + ns] = S @ w - c.sector_hi
    grad[4 + ns:] = B.T @ (w - wt) - mu / (2 * _SCALE)
    if not hessian:
        return D, grad, None, w

    def form() -> np.ndarray:
        # Hessian: -sum e e' / (2 q) over the names whose minimiser is a stationary point
        inner_buy = buy_side & (zs > 0) & (zs < c.z_hi)
        seg = np.where(sell_side, arg, -1)
        inner_sell = seg >= 0
        idx = seg[inner_sell]
        inner_sell[inner_sell] = (stat[idx] > seg_lo[idx]) & (stat[idx] < seg_hi[idx])
        inner = inner_buy | inner_sell
        Ei = k.Es[inner]
        rows = inner_sell.nonzero()[0]
        if len(rows):
            at = np.cumsum(inner)[rows] - 1  # the selling names' rows in Ei
            # -(x / s) as x / -s: the same bits (division rounds the magnitude alone)
            Ei[at, 1:4] = c.brows[:, order[seg[rows]]].T / -k.sq[rows][:, None]
        H = -(Ei.T @ Ei)
        d = k.diag
        H[d, d] -= 1.0 / (2 * _SCALE)
        if trades is not None:  # the Hessian's rows per name on its piece (relax_dual's model)
            trades["inner"], trades["rows"] = inner, Ei
            # the selling names among them and the lot each sells on its piece
            trades["sell_names"], trades["sell_lots"] = rows, order[seg[rows]]
        return H

    return D, grad, (_Lazy(form) if hessian == "lazy" else form()), w


FUND_STEPS = 60
"""Evaluations of the names' dual at most in :func:`_fund_dual`'s search for the fund's sale."""


def _fund_dual(c: PatternData, y: np.ndarray, trades: dict | None = None,
               hessian: bool | str = True) -> tuple:
    """``D(y)`` of a pattern whose account holds one fund (as :func:`_dual`).

    The fund's sale ``s`` moves every name's look-through weight by ``m (h_f - s)``, so
    given ``s`` the Lagrangian still separates by name with the target shifted to
    ``t(s) = w_t - m (h_f - s)`` (:func:`_dual` on it), and the fund adds its own terms:
    its lots sold cheapest first (tax, budgets, trading cost and cash), its look-through
    in the sector rows. That function ``G(y, s)`` is convex in ``s`` (a partial minimum
    of a jointly convex Lagrangian), with a continuous slope between the fund's lot
    kinks (each name's minimum is a Moreau envelope in its target), so its minimum over
    ``s`` is found by bisection over the kinks and a safeguarded secant (exact on the
    names' current pieces) inside a segment. ``D(y)`` is taken as ``G(y, s*)`` lowered
    by the one-sided slopes there times the distance to the ends of ``s``'s range
    (convexity: a lower bound whatever round-off is left in ``s*``). The gradient is
    ``G``'s in ``y`` at ``s*`` (Danskin); the Hessian on the current pieces subtracts
    ``c c' / G_ss`` when ``s*`` is inside a segment (``c = d grad / ds``, ``G_ss`` the
    slope's derivative, both differences over a step of ``1e-8``: exact on the pieces).
    The weights returned are look-through weights (names plus the fund's look-through);
    ``trades`` also receives ``fund_sold`` (weight sold of each lot of the fund's
    ``lots``) and ``fund_look`` (the fund's look-through weights after the sale).
    ``hessian``: as :func:`_dual`'s (``False``: not formed, and the names' dual is not
    evaluated again at ``s* + 1e-8``, which only the Hessian reads); the names' own
    Hessian is formed at ``s*`` alone, not at the sales the search passes (session 20).
    """
    fd = c.fund
    ns = c.S.shape[0]
    nu, beta, sigma, mu = y[0], y[1:4], y[4:4 + ns], y[4 + ns:]
    m, hf, lo, Sm = fd.m, fd.hf, fd.lo, fd.Sm
    memo = c.memo
    key = beta.tobytes()
    got = memo.fund_sorted if memo is not None else None
    if got is not None and got[0] is fd and got[1] == key:
        order, cbo, size_o, kinks = got[2]  # sorted at these budget multipliers before
    else:
        unit_b = fd.unit + beta @ fd.brows
        order = np.lexsort((np.arange(len(unit_b)), unit_b))
        cbo, size_o = unit_b[order], fd.size[order]
        kinks = np.concatenate(([0.0], np.cumsum(size_o)))
        if memo is not None:
            memo.fund_sorted = (fd, key, (order, cbo, size_o, kinks))
    co = cbo + nu  # each lot's cost per unit sold, cheapest first
    hi = float(kinks[-1])
    lo = min(lo, hi)
    cost_before = np.concatenate(([0.0], np.cumsum(size_o * co)))
    names = c.replace(fund=None)
    Bmu = c.B @ mu
    lin = Bmu + (c.S.T @ sigma if ns else 0.0)  # the names' (as _dual computes it)
    q, wt = c.q, c.wt
    sig_m = float(Sm @ sigma) if ns else 0.0
    seen: dict[float, tuple] = {}

    def at(s: float) -> tuple | None:
        """The names' dual at the fund's sale ``s`` and the names' part of ``dG/ds``."""
        got = seen.get(s)
        if got is None:
            t = wt - m * (hf - s)
            tr: dict = {}
            D, g, H, w = _dual(names.replace(wt=t), y, tr, "lazy", lin)
            if g is None:
                got = None
            else:
                gs = -float(m @ (2 * q * (w - t) + Bmu)) - sig_m
                got = (D, g, H, w, tr, gs)
            seen[s] = got
        return got

    def slopes(s: float, gs: float) -> tuple[float, float]:
        """``G``'s right and left slopes in ``s`` (``+inf`` / ``-inf`` past the ends)."""
        r = int(kinks.searchsorted(s, side="right")) - 1  # the lot sold right of s
        left = int(kinks.searchsorted(s, side="left")) - 1  # and left of it
        gr = gs + co[r] if s < hi and 0 <= r < len(co) else np.inf
        gl = gs + co[left] if s > lo and 0 <= left < len(co) else -np.inf
        return gr, gl

    s0 = memo.fund_s if memo is not None and memo.fund_s is not None else lo
    s = min(max(s0, lo), hi)
    got = at(s)
    if got is None:
        return -np.inf, None, None, None
    gr, gl = slopes(s, got[5])
    if gr < 0 or gl > 0:
        # the points where the slope may turn (the kinks in the range and its ends): the
        # first whose right slope is >= 0 holds the minimum or ends its segment
        pts = np.unique(np.concatenate(([lo], kinks[(kinks > lo) & (kinks < hi)], [hi])))
        if gr < 0:
            a, b = int(pts.searchsorted(s, side="right")), len(pts) - 1
        else:
            a, b = 0, int(pts.searchsorted(s, side="left"))
        # from the last evaluation's sale (an ascent's: the minimum mostly a kink or two
        # away) the search gallops out from it (1, 2, 4, ... points), then bisects the
        # bracket found (session 22); from the range's end it bisects: either finds the
        # same first point (the slopes rise with s)
        gallop, up, step = memo is not None and memo.fund_s is not None, gr < 0, 1
        while a < b:
            if gallop:
                mid = min(a + step - 1, b - 1) if up else max(b - step, a)
                step *= 2
            else:
                mid = (a + b) // 2
            g_mid = at(float(pts[mid]))
            if g_mid is None:
                return -np.inf, None, None, None
            if slopes(float(pts[mid]), g_mid[5])[0] >= 0:
                b = mid
                gallop = gallop and not up
            else:
                a = mid + 1
                gallop = gallop and up
        s = float(pts[a])
        got = at(s)
        if got is None:
            return -np.inf, None, None, None
        gr, gl = slopes(s, got[5])
        if gl > 0:  # inside the segment left of pts[a]: the secant (Illinois) on its slope
            t_lo, t_hi = float(pts[a - 1]), s
            c_seg = co[int(kinks.searchsorted(t_lo, side="right")) - 1]
            g_lo = at(t_lo)
            if g_lo is None:
                return -np.inf, None, None, None
            root = Illinois(t_lo, g_lo[5] + c_seg, t_hi, gl)
            for _ in range(FUND_STEPS):
                t_new = root.point()
                g_new = at(t_new)
                if g_new is None:
                    return -np.inf, None, None, None
                f_new = g_new[5] + c_seg
                s, got = t_new, g_new
                if f_new == 0 or root.t_hi - root.t_lo <= 1e-15 * max(hi, 1e-300):
                    break
                root.update(t_new, f_new)
                if abs(f_new) <= 1e-15 * max(1.0, abs(c_seg)):
                    break
            gr, gl = slopes(s, got[5])
    if memo is not None:
        memo.fund_s = s
    Dn, g, H, w, tr, gs = got
    wf = hf - s
    j = int(kinks.searchsorted(s, side="right")) - 1  # the lot being sold at s
    jc = min(max(j, 0), len(co) - 1) if len(co) else 0
    G = float(Dn) + sig_m * wf + (float(cost_before[j] + co[jc] * (s - kinks[j]))
                                  if len(co) and j >= 0 else 0.0)
    # convexity in s: G(s') >= G(s) + slope (s' - s) on each side of s
    D = G + min(0.0, gr * (hi - s) if np.isfinite(gr) else 0.0,
                gl * (lo - s) if np.isfinite(gl) else 0.0)
    sold_o = np.clip(s - kinks[:-1], 0.0, fd.size[order])
    sold = np.zeros(len(co))
    sold[order] = sold_o
    g = g.copy()
    g[0] += s
    g[1:4] += fd.brows @ sold
    if ns:
        g[4:4 + ns] += Sm * wf
    look = m * wf

    def form() -> np.ndarray:
        Hs = H()  # the names' Hessian at s (and their rows in ``tr``)
        inside = len(co) and lo < s < hi and not np.any(kinks == s)
        if inside:
            step = 1e-8 * max(hi, 1e-12)
            if s + step >= kinks[j + 1]:
                step = -step
            g2 = at(s + step)
            if g2 is not None:
                gss = (g2[5] - gs) / step
                dg = (g2[1] - got[1]) / step
                dg[0] += 1.0
                dg[1:4] += fd.brows[:, order[jc]]
                if ns:
                    dg[4:4 + ns] -= Sm
                if gss > 1e-12 * max(1.0, float(np.max(np.abs(q)))) * float(m @ m):
                    Hs = Hs - np.outer(dg, dg) / gss
        if trades is not None:  # the names' rows, formed with their Hessian
            trades["inner"], trades["rows"] = tr["inner"], tr["rows"]
        return Hs

    if trades is not None:
        trades.update(tr)
        trades["fund_sold"], trades["fund_look"] = sold, look
    if not hessian:
        return D, g, None, w + look
    return D, g, (_Lazy(form) if hessian == "lazy" else form()), w + look


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
    if c is None or y is None or len(y) != 4 + c.S.shape[0] + c.B.shape[1]:
        return -np.inf, None, np.inf
    y, D, g, _, w = maximise(c, y, target, steps, converge)
    return float(D), w, _stationarity(c, y, g)


def _singular(err: str, flag: int) -> None:
    """The error :func:`np.linalg.solve` raises for a singular matrix (:func:`_solve`)."""
    raise np.linalg.LinAlgError("Singular matrix")


def _solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.linalg.solve(A, b)`` for a float square ``A`` and a vector ``b``: the same bits.

    The same LAPACK call (``_umath_linalg.solve1``) under the same error state (a
    singular ``A`` raises :class:`numpy.linalg.LinAlgError`), without the wrapper's
    checks of shapes and types (session 23: ~40 % of it on the ascent's small systems).
    """
    if _solve1 is None:  # pragma: no cover - another numpy layout
        return np.linalg.solve(A, b)
    with np.errstate(call=_singular, invalid="call", over="ignore", divide="ignore",
                     under="ignore"):
        return _solve1(A, b, signature="dd->d")


def _lower(c: PatternData, n: int) -> np.ndarray:
    """The multipliers' lower bounds: 0 for the gain budgets and sector limits."""
    lo = np.full(n, -np.inf)
    lo[1:4 + c.S.shape[0]] = 0.0
    return lo


def _stationarity(c: PatternData, y: np.ndarray, g: np.ndarray | None,
                  lo: np.ndarray | None = None) -> float:
    """The largest projected gradient of ``D`` at ``y`` (0: ``y`` maximises ``D``).

    ``lo``: the multipliers' lower bounds (:func:`_lower`; ``None``: computed here).
    """
    if g is None:
        return np.inf
    if lo is None:
        lo = _lower(c, len(y))
    return float(np.max(np.abs(np.where(y > lo, g, np.maximum(g, 0.0)))))


def maximise(c: PatternData, y: np.ndarray, target: float = np.inf, steps: int = 12,
             converge: bool = True, kinks: bool = False, trades: dict | None = None,
             adapt: bool = False) -> tuple:
    """Projected Newton ascent of ``D`` from ``y`` (the loop of :func:`pattern_solution`).

    Parameters
    ----------
    c : PatternData
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
        (:func:`_kink_step`) and go on; and end without evaluating a step that cannot
        gain enough to go on (the projected gradient at most :data:`KINK_STATIONARY`
        and ``D``'s rise along the step, at most the gradient times it, below the stop's
        threshold; session 24). Off (the bound's use): as before session 13.
    trades : dict | None
        Receives the Lagrangian's minimising trades at the returned multipliers (as
        :func:`_dual`'s ``trades``: those of the evaluation that returned them, so no
        evaluation again to get them).
    adapt : bool
        Start each Newton step's line search at twice the last accepted step's length (at
        most the full step) instead of the full step (session 24, the certified solver's
        ascents: where the names' pieces change along the steps, ~1 trial in 4 failed and
        was halved, every step again). A function of the ascent's own points: as
        deterministic as before.

    Returns
    -------
    tuple
        ``(y, D, grad, H, w)`` at the last multipliers (the best found).
    """
    lo = _lower(c, len(y))
    y = np.where(y < lo + 1e-10, lo, y)  # interior-point multipliers of slack limits
    keep = trades is not None
    tr = {} if keep else None
    # the Hessian is formed only at the points kept (:class:`_Lazy`): not at a line
    # search's rejected step nor where the loop ends before a Newton step
    D, g, H, w = _dual(c, y, tr, "lazy")
    t_last = 1.0
    for _ in range(steps):
        if (D >= target and not converge) or g is None:
            break
        H = _formed(H)
        curv = -H.diagonal()
        free = (((y > lo) | (g > 0)) & (curv > 1e-12 * curv.max())).nonzero()[0]
        if not len(free):
            break
        step = np.zeros(len(y))
        try:
            step[free] = _solve(_regularised(H, free, curv[free]), g[free])
        except np.linalg.LinAlgError:
            break
        if D < target < np.inf and D + 0.5 * float(g[free] @ step[free]) < target:
            # the quadratic model on the names' current pieces peaks below the target:
            # the pattern is not proven (it may well win), stop (the bound is not used)
            break
        if kinks and _stationarity(c, y, g, lo) <= KINK_STATIONARY and float(
                g @ (np.maximum(y + step, lo) - y)) <= 1e-15 * max(1.0, abs(D)):
            # at the maximum already: D is concave, so the step gains at most ``g'`` times
            # it, below what ends the ascent, which would end at the next point anyway
            # (session 24: one evaluation fewer an ascent, up to 9 where it lost
            # round-off and the line search halved it)
            break
        t = min(1.0, 2.0 * t_last) if adapt else 1.0
        gained = None
        # with ``kinks`` a step that loses only round-off is taken (the maximum's
        # neighbourhood, where D is flat to the last digits and the gradient still falls)
        noise = 1e-14 * max(1.0, abs(D)) if kinks else 0.0
        for _ in range(8):
            y_new = np.maximum(y + t * step, lo)
            tr_new = {} if keep else None
            D_new, g_new, H_new, w_new = _dual(c, y_new, tr_new, "lazy")
            if D_new >= D - noise:
                gained = D_new - D
                y, D, g, H, w, tr = y_new, D_new, g_new, H_new, w_new, tr_new
                t_last = t
                break
            t *= 0.5
        if gained is None:  # no gain along the Newton step
            if not kinks:
                break
            gained = 0.0
        if gained <= 1e-15 * max(1.0, abs(D)):
            if not kinks or g is None or _stationarity(c, y, g, lo) <= KINK_STATIONARY:
                break
            if gained != 0.0 and _stationarity(c, y, g, lo) < 1e-9:
                continue  # round-off steps near the maximum: Newton again
            y_k, D_k, g_k, H_k, w_k, tr_k = _kink_step(c, y, D, g, _formed(H), lo, keep)
            if not D_k > D:
                break
            y, D, g, H, w, tr = y_k, D_k, g_k, H_k, w_k, tr_k
    H = _formed(H)  # (and the trades' rows with it)
    if keep:
        trades.update(tr)
    return y, D, g, H, w


def _regularised(H: np.ndarray, free: np.ndarray, dd: np.ndarray) -> np.ndarray:
    """``Hf + 1e-12 diag(Hf)`` for ``Hf = -H[free, free]`` (``dd``: its diagonal), as before.

    The Newton system of :func:`maximise`, built with the same operations per entry as
    ``Hf + 1e-12 * np.diag(np.diag(Hf))`` (off the diagonal ``-H_ij + 0.0``, i.e.
    ``0.0 - H_ij``, zeros' signs included; on it ``dd + 1e-12 dd``), so the same bits,
    without the two ``np.diag`` calls and ``np.ix_`` (session 23).
    """
    A = np.subtract(0.0, H[free][:, free])
    A.flat[::len(free) + 1] = dd + 1e-12 * dd
    return A


KINK_STATIONARY = 1e-13
""":func:`maximise` with ``kinks``: a projected gradient below this is the maximum."""


def _kink_step(c: PatternData, y: np.ndarray, D: float, g: np.ndarray, H: np.ndarray,
               lo: np.ndarray, keep: bool = False) -> tuple:
    """The best point found along the projected gradient from ``y``: ``(y, D, g, H, w, trades)``.

    ``D`` is concave along the ray ``y + t d`` and piecewise quadratic, so its slope
    ``s(t)`` (the gradient there, dotted with ``d``) is piecewise linear and falling,
    often in many short pieces (one per lot a name sells past). Steps grow fourfold
    from the first piece's Newton step until the slope turns, then the Illinois
    variant of the secant (regula falsi) finds its zero, to a millionth of the first
    slope. ``keep``: the best point's ``trades`` (:func:`_dual`) too, else ``None``. The
    best point's Hessian is a :class:`_Lazy` (formed when the ascent reads it).

    The path ``max(y + t d, lo)`` bends where a multiplier falling along ``d`` reaches its
    bound (a gain budget's or sector limit's 0: a breakpoint); past it that multiplier
    stays, so where it was the only one moving the path is flat there, its slope 0 but no
    maximum. Where the search has found no better point yet, a point with a slope that
    small past a breakpoint (beyond the last point known to rise) sends it back to that
    breakpoint (session 21): if the slope there (the multiplier still moving) has
    turned, the zero is before it; if it still rises, the search goes on past it only if
    the path still rises there (the multiplier stopped), else the breakpoint is the best
    point. Before, a first step scaled by the other rows' curvature could land far past
    the bound of a multiplier with no curvature and stop there with no better point: the
    ascent stalled (young-pro's held fund, gap 1.18; session 20's ``dual_qp._bound_step``
    patched :func:`pma_lab.optimize.dual_qp._ascend` alone). Every other search (one that
    gained, or whose slope never flattened past a breakpoint) is as before, to the bit.
    """
    d = np.where(y > lo, g, np.maximum(g, 0.0))
    diag = -H.diagonal()
    ref = float(np.median(diag[diag > 0])) if np.any(diag > 0) else 1.0
    dd = float(d @ d)
    s0 = float(g @ d)
    best = (y, D, g, H, None, None)
    root = Illinois(0.0, s0, np.inf, -np.inf)  # no upper end yet
    curv = -float(d @ H @ d)
    t = s0 / curv if curv > 1e-9 * ref * dd else 1.0 / ref
    # the path's breakpoints: where each multiplier falling along d reaches its bound
    down = (d < 0) & (lo > -np.inf)
    reach = np.full(len(y), np.inf)
    reach[down] = (lo[down] - y[down]) / d[down]
    back = False  # t is a breakpoint the search came back to
    t_flat = t  # the flat point past it
    seen: dict[bytes, tuple] = {}  # the search can return to a point (retiree: 1 in 5)
    for _ in range(40):
        y_t = np.maximum(y + t * d, lo)
        if back:
            y_t[reach <= t] = lo[reach <= t]  # exactly at the bound
        got = seen.get(key := y_t.tobytes())
        if got is None:
            tr_t = {} if keep else None
            got = seen[key] = (*_dual(c, y_t, tr_t, "lazy"), tr_t)  # H formed for the best alone
        D_t, g_t, H_t, w_t, tr_t = got
        # the path's own direction: components clipped at their bound stay there (at a
        # breakpoint, the multiplier reaching its bound still moves: the piece before it)
        if g_t is None:
            s_t = -np.inf
        elif back:
            s_t = float(g_t @ np.where(reach >= t, d, 0.0))
        else:
            s_t = float(g_t @ np.where(y + t * d > lo, d, 0.0))
        if g_t is not None and D_t > best[1]:
            best = (y_t, D_t, g_t, H_t, w_t, tr_t)
        if abs(s_t) <= 1e-6 * s0:
            passed = reach[(reach > root.t_lo) & (reach < t)]
            if back or not len(passed) or best[1] > D:
                break
            # flat past a breakpoint with no gain: back to the breakpoint
            t_flat, t, back = t, float(passed.min()), True
            continue
        if back and s_t > 0:
            # still rising at the bound: on past it if the path still rises there
            s_past = float(g_t @ np.where(reach > t, d, 0.0))
            if not s_past > 1e-6 * s0:
                break
            root = Illinois(t, s_past, np.inf, -np.inf)
            t, back = (t_flat if t_flat > t else 4.0 * t), False
            continue
        back = False
        root.update(t, s_t)
        if root.t_hi < np.inf and root.t_hi - root.t_lo <= 1e-12 * root.t_hi:
            break
        t = 4.0 * t if root.t_hi == np.inf else root.point()
    return best
