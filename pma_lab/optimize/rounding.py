"""Whole shares and the minimum trade: a stateless step after the solve.

:func:`round_trades` reads the problem's data (:class:`RoundingData`: the account state,
lot and asset arrays, caps and budgets for the settings, the tracking-variance term) and a
solution's lot sales ``x`` and buys ``b`` (weights of the account), never the solver's
variables or Parameters, so it rounds any solution of a problem, relaxed or exact, and can
be tested on its own. Weights are fractions of the account's value ``V``.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from pma_lab.errors import InfeasibleError
from pma_lab.optimize.state import least_gain_order, lot_columns
from pma_lab.optimize.terms import TrackingVariance

if TYPE_CHECKING:
    from pma_lab.optimize.rebalance import AccountState, RebalanceSettings

__all__ = ["RoundingData", "round_trades", "fund_cash"]


@dataclass(frozen=True, eq=False)
class RoundingData:
    """The data of one rebalance problem that the whole-share step reads.

    Attributes
    ----------
    state : AccountState
        The account (lots, prices, restrictions, sector limits, wash-sale groups).
    V : float
        The account's value after the cash flow (USD).
    nm, na, nl : int
        Model names, assets (model names, then held funds) and lots.
    v, g, g_eff : np.ndarray
        Per lot: weight, gain per unit of weight, and that gain with a disallowed loss at 0.
    lot_asset : np.ndarray
        Per lot: its asset's position.
    locked_loss : np.ndarray
        Per lot: a loss lot locked by a recent purchase (wash sale).
    A, M, S : scipy.sparse matrix
        Lots to assets, assets to look-through model weights, model names to sectors.
    h, wt : np.ndarray
        Weights before the trade (per asset) and the target (per model name).
    brows : np.ndarray
        Budget rows (total, ST, LT) per lot, in the budget's unit.
    sec_names : list[str]
        Sectors, in the order of ``S``'s rows.
    tracking : TrackingVariance
        The tracking-variance term.
    cash0 : float
        Cash plus the flow before trading (weight).
    buy_base, w_cap, budget : np.ndarray
        For the settings rounded with: may each asset be bought (1/0), its weight cap,
        and the budget limits (rows of ``brows``).
    user_ok : Callable[[np.ndarray, np.ndarray], bool] | None
        Whether trades ``(x, b)`` keep the researcher's added constraints (``None``:
        none added).
    user_violation : Callable[[np.ndarray, np.ndarray], float] | None
        The largest violation of the added constraints at trades ``(x, b)`` (how the
        last step, a sale rounded down that broke one, picks the share to add).
    term_grad : Callable[[np.ndarray, np.ndarray], np.ndarray] | None
        The researcher's objective terms' derivative with respect to the buys per asset
        at trades ``(x, b)`` (:func:`pma_lab.optimize.checks.term_gradient`; ``None``:
        none added): the leftover cash's purchases count its first-order change.
    """

    state: AccountState
    V: float
    nm: int
    na: int
    nl: int
    v: np.ndarray
    g: np.ndarray
    g_eff: np.ndarray
    lot_asset: np.ndarray
    locked_loss: np.ndarray
    A: sp.csr_matrix
    M: sp.csr_matrix
    S: sp.csr_matrix
    h: np.ndarray
    wt: np.ndarray
    brows: np.ndarray
    sec_names: list[str]
    tracking: TrackingVariance
    cash0: float
    buy_base: np.ndarray
    w_cap: np.ndarray
    budget: np.ndarray
    user_ok: Callable[[np.ndarray, np.ndarray], bool] | None = None
    user_violation: Callable[[np.ndarray, np.ndarray], float] | None = None
    term_grad: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None

    def te(self, look: np.ndarray) -> float:
        """Tracking error of look-through weights ``look`` to the target."""
        return self.tracking.te(look - self.wt)


def fund_cash(data: RoundingData, x: np.ndarray, b: np.ndarray, need: float,
              s: RebalanceSettings, lot_px: np.ndarray, budget: np.ndarray,
              keeps: Callable[[np.ndarray], bool] | None = None) -> np.ndarray:
    """Sell whole shares worth at least ``need`` (weight of V) within the budgets.

    Lots of names already being sold come first, then lots of any name not being
    bought (a sale of a bought name would be a same-day buy and sell); within each,
    least gain per dollar first (losses before gains). Each lot sells the whole shares
    that raise what is left (all of the lot when it is smaller, and the next lot goes
    on); a lot is skipped only when that sale would break a gain budget. Loss lots
    locked by a recent purchase are skipped when wash sales are forbidden. When that
    leaves the cash short (the budget spent by the solution's sales, rounded down),
    :func:`_least_gain_refund` finds the sales of least gain instead, which keep every
    budget (total, ST, LT) exactly and, by ``keeps``, the constraints the rounded sales
    already keep.

    Parameters
    ----------
    keeps : Callable[[np.ndarray], bool] | None
        Whether lot sales ``x`` (with the buys ``b``) keep the constraints that giving
        back a sale can break (:func:`round_trades` passes its sector limits and the
        researcher's added constraints); ``None``: every candidate is kept.

    Raises
    ------
    InfeasibleError
        No sale within the gain budgets raises the cash (a withdrawal or cash target
        that the budgets do not allow).
    """
    x0, need0 = x, need
    x = x.copy()
    V = data.V
    sold = (data.A @ x > 0)[data.lot_asset]
    bought = (b > 0)[data.lot_asset]
    locked = data.locked_loss if s.wash_sale_mode == "forbid" else \
        np.zeros(data.nl, dtype=bool)
    pool = np.flatnonzero((x < data.v - 1e-12) & ~bought & ~locked)
    pool = pool[np.lexsort((data.g_eff[pool], ~sold[pool]))]
    for j in pool:
        if need <= 1e-15:
            break
        left = data.v[j] - x[j]
        n = math.ceil(max(need, s.min_trade / V if x[j] <= 0 else 0.0)
                      * V / lot_px[j] - 1e-9)
        d = min(n * lot_px[j] / V, left) if s.whole_shares else min(need, left)
        if np.any(data.brows @ x + data.brows[:, j] * d > budget + 1e-12):
            continue
        x[j] += d
        need -= d
    if need > 1e-15:
        again = _least_gain_refund(data, x0, b, need0, s, lot_px, budget, keeps)
        if again is not None:
            return again
        raise InfeasibleError(
            f"whole-share trades cannot raise the cash the account needs "
            f"(${need * V:,.2f} short) within the gain budgets; lower the withdrawal or "
            "the cash target, raise the gain budget, or allow fractional shares",
            ["cash", "budgets"])
    return x


def _least_gain_refund(data: RoundingData, x: np.ndarray, b: np.ndarray, need: float,
                       s: RebalanceSettings, lot_px: np.ndarray, budget: np.ndarray,
                       keeps: Callable[[np.ndarray], bool] | None = None
                       ) -> np.ndarray | None:
    """Sales ``x`` plus whole shares raising ``need`` (weight of V) within every budget.

    :func:`fund_cash`'s second way, when its lots of names already sold could not raise
    the cash within the budgets: the solver's sales of a name at a gain (not forced by a
    weight cap) are given back, one name more at a time, the name with the most gain per
    dollar first, and the cash is raised again by the **sales of least gain**, as
    :func:`pma_lab.plan.withdrawal.least_gains` finds them (losses first, then the least
    gain per dollar, long-term before short-term at the same gain per dollar, whole
    shares and at least ``s.min_trade`` USD a name or the whole position), each lot
    limited to the whole shares every budget row still allows. The first of these that
    raises the cash and that ``keeps`` accepts (a sale given back raises its name's
    weight, which can break a sector limit or an added constraint) is returned: when the
    least-gain sales of the cash fit the budgets (what
    :func:`pma_lab.plan.simulation.band_sale_limit` asks of a band's sale), the last one
    (every gain sale given back) does, unless ``keeps`` refuses it. ``None`` when none
    does (:func:`fund_cash` then raises the budgets' error). Never a name
    bought (a same-day buy and sell), one the account may not sell (``no_sell``) nor,
    when wash sales are forbidden, a loss lot a recent purchase locks.
    """
    st, V = data.state, data.V
    cols = lot_columns(st)
    whole, mt = s.whole_shares, float(s.min_trade)
    la = data.lot_asset
    must = data.w_cap < 1
    locked = data.locked_loss if s.wash_sale_mode == "forbid" else \
        np.zeros(data.nl, dtype=bool)
    no_sell = np.array([t in st.no_sell for t in st.assets], dtype=bool)
    ok = ~(b > 0)[la] & ~locked & ~no_sell[la] & (data.v > 0)
    order = least_gain_order(data.g_eff, cols.term == "ST", ok)
    # the smallest sale a name may make: the minimum trade, or its whole position
    least = np.minimum(mt, np.bincount(la, weights=data.v, minlength=data.na) * V)
    gain_sold = (x > 0) & (data.g_eff > 0) & ~must[la]
    names = sorted({int(i) for i in la[gain_sold]},
                   key=lambda i: (-float(data.g_eff[gain_sold & (la == i)].max()), i))
    for k in range(len(names) + 1):
        y, left = x.copy(), need
        for i in names[:k]:
            js = gain_sold & (la == i)
            left += float(y[js].sum())
            y[js] = 0.0
        out = _fill_least_gain(data, y, left, order, least, must, whole, lot_px, cols.shares,
                               budget)
        if out is not None and (keeps is None or keeps(out)):
            return out
    return None


def _fill_least_gain(data: RoundingData, y: np.ndarray, left: float, order: list[int],
                     least: np.ndarray, must: np.ndarray, whole: bool, lot_px: np.ndarray,
                     lot_sh: np.ndarray, budget: np.ndarray) -> np.ndarray | None:
    """``y`` plus the least-gain sales of ``left`` (weight) in ``order``, or None.

    See :func:`_least_gain_refund`: each lot sells what is left (or what its name's
    minimum trade still needs), limited to the whole shares (or the weight) every budget
    row allows; None when the cash is not raised or a name's sale ends below its minimum.
    """
    V = data.V
    la = data.lot_asset
    sold = np.bincount(la, weights=y, minlength=data.na) * V  # USD sold per asset
    used = data.brows @ y

    def short_of_min(i: int) -> float:  # USD still to sell in asset i for its minimum
        return 0.0 if must[i] or sold[i] <= 0 else float(least[i] - sold[i])

    for j in order:
        i = int(la[j])
        rest = float(data.v[j] - y[j])
        if rest <= 1e-15:
            continue
        if left <= 1e-15:  # paid: only a name's minimum trade may be left to complete
            if not any(short_of_min(n) > 0.005 for n in np.flatnonzero(sold > 0)):
                break
            if short_of_min(i) <= 0.005:
                continue
            want = short_of_min(i) / V
        else:
            want = max(left, (0.0 if must[i] else float(least[i] - sold[i])) / V)
        if whole:
            n = math.ceil(want * V / lot_px[j] - 1e-9)
            d = rest if n >= rest * V / lot_px[j] - 1e-9 else n * lot_px[j] / V
        else:
            d = min(want, rest)
        per = data.brows[:, j]
        pos = per > 0
        if np.any(pos):
            fit = float(np.min((budget[pos] - used[pos]) / per[pos]))
            if d > fit + 1e-12:
                d = (math.floor(max(fit, 0.0) * V / lot_px[j] + 1e-9) * lot_px[j] / V
                     if whole else max(fit, 0.0))
                if sold[i] + d * V < least[i] - 0.005 and not must[i]:
                    d = 0.0  # below the name's minimum trade: not sold
        if d <= 0:
            continue
        y[j] += d
        used = used + per * d
        sold[i] += d * V
        left -= d
    if left > 1e-15 or any(short_of_min(int(i)) > 0.005 for i in np.flatnonzero(sold > 0)):
        return None
    return y


def _new_sector_sale(data: RoundingData, x: np.ndarray, b: np.ndarray, k: int, over: float,
                     sec_load: np.ndarray, s: RebalanceSettings, lot_px: np.ndarray,
                     lot_sh: np.ndarray, budget: np.ndarray
                     ) -> tuple[float, str, np.ndarray, np.ndarray] | None:
    """A sale of lots not sold yet that lowers sector ``k`` (``over`` above its limit).

    The last way of :func:`round_trades`' step 2b, reached only when no purchase of the
    sector can be given back and no lot being sold can sell more within the budgets (the
    minimum trade dropped the sector's small gain sales): the sector's lots not sold yet,
    least gain per dollar first (:func:`~pma_lab.optimize.state.least_gain_order`), each
    tried first, selling what the excess needs; in a name not sold yet at least the
    minimum trade, its next lots in the same order added while the sale is below it (a
    name whose lots are each below the minimum trade is sold when together they reach it;
    a lot that reaches it is sold alone, as before);
    in whole shares when ``s.whole_shares``, within every budget; never a name of a group
    bought, one the account may not sell, nor a loss a recent purchase locks when wash
    sales are forbidden. ``(0, "x", lots, weights)`` (the lots' positions and the weight
    each sells) or ``None``.
    """
    st, V = data.state, data.V
    la = data.lot_asset
    groups = st.groups
    bought = {groups.get(t, t) for t, v in zip(st.assets, b, strict=True) if v > 0}
    no = np.array([t in st.no_sell or groups.get(t, t) in bought for t in st.assets],
                  dtype=bool)
    locked = data.locked_loss if s.wash_sale_mode == "forbid" else \
        np.zeros(data.nl, dtype=bool)
    ok = (x <= 0) & (data.v > 0) & (sec_load[k, la] > 0) & ~no[la] & ~locked
    sold = np.bincount(la, weights=x, minlength=data.na) * V
    order = least_gain_order(data.g_eff, lot_columns(st).term == "ST", ok)
    mt = float(s.min_trade)
    for pos, j in enumerate(order):
        i = int(la[j])
        new_name = sold[i] <= 0
        want = over / sec_load[k, i] + 1e-12
        if new_name:
            want = max(want, mt / V)
        # this lot, then (a name not sold yet) its next lots until the sale is enough
        lots = [j] + ([q for q in order[pos + 1:] if la[q] == i] if new_name else [])
        idx, ds, left = [], [], want
        for q in lots:
            if s.whole_shares:
                n = math.ceil(left * V / lot_px[q] - 1e-9)
                d = data.v[q] if n >= lot_sh[q] - 1e-9 else n * lot_px[q] / V
            else:
                d = min(left, data.v[q])
            idx.append(q)
            ds.append(d)
            left -= d
            # as one lot sold before: more lots only while below the minimum trade
            if left <= 1e-15 or not new_name or sum(ds) * V >= mt - 0.005:
                break
        d_all = np.array(ds)
        if new_name and float(d_all.sum()) * V < mt - 0.005:
            continue  # the name's lots from here on are worth less than the minimum trade
        q_all = np.array(idx, dtype=int)
        if not np.any(data.brows @ x + data.brows[:, q_all] @ d_all > budget + 1e-12):
            return (0.0, "x", q_all, d_all)
    return None


def _trim_to_budgets(data: RoundingData, x: np.ndarray, must: np.ndarray,
                     lot_px: np.ndarray, lot_of: _LotsOf, whole: bool,
                     mt: float) -> np.ndarray:
    """Lower the gain sales of names not forced to sell until ``brows @ x <= budget``.

    The sales rounded up because a weight cap forces them (glide and must-sell names) are
    kept; the other lots sold at a gain give back whole shares (or the exact weight
    without whole shares), the most gain per dollar first; a name whose sale falls below
    the minimum trade is not sold. When only forced sales are left, ``x`` is returned as
    it is (the budget check allows the forced sales' rounding).
    """
    V = data.V
    over = data.brows @ x - data.budget
    if not np.any(over > 1e-12):
        return x
    x = x.copy()
    pool = [j for j in np.flatnonzero(x > 0)
            if not must[data.lot_asset[j]] and np.any(data.brows[over > 1e-12, j] > 0)]
    for j in sorted(pool, key=lambda j: -float(data.g_eff[j])):
        over = data.brows @ x - data.budget
        rows = over > 1e-12
        if not np.any(rows):
            break
        per = data.brows[:, j]
        need = float(np.max(np.where(rows & (per > 0), over / np.where(per > 0, per, 1.0),
                                     0.0)))
        if need <= 0:
            continue
        d = math.ceil(need * V / lot_px[j] - 1e-9) * lot_px[j] / V if whole else need
        x[j] = max(x[j] - d, 0.0)
        if whole and x[j] * V / lot_px[j] < 1 - 1e-9:
            x[j] = 0.0
        js = lot_of[data.lot_asset[j]]
        val = float(x[js].sum()) * V
        if mt > 0 and 0 < val < mt - 0.005 and float(data.g_eff[js] @ x[js]) >= 0:
            x[js] = 0.0
    if np.any(data.brows @ x - data.budget > 1e-12):
        x = _give_back_forced(data, x, must, lot_px, whole)
    return x


def _give_back_forced(data: RoundingData, x: np.ndarray, must: np.ndarray,
                      lot_px: np.ndarray, whole: bool) -> np.ndarray:
    """Lower a capped name's sale beyond what its cap forces until ``brows @ x <= budget``.

    The relaxed solve may sell more of a glide name than its line asks (it lowers the
    tracking error within the budget, spending the budget to the cent); rounding that
    sale up by a share (:func:`round_trades`, step 1) then takes the gains over a budget
    the relaxed solve met, and no budget note says why (reviewer 1, session 24: chen's
    ``budget:40000`` realised $40,050.99 in 2027, the year's last glide sale 37 XOM where
    its line asked 36 and the budget left paid 36.55). The shares of a capped name sold
    beyond the least sale its cap forces (in whole shares, that sale rounded up: the
    margin the budget check allows) are given back, the most gain per dollar first,
    until every budget holds or only the forced sales are left. ``x`` is not changed in
    place.
    """
    V = data.V
    sold = np.bincount(data.lot_asset, weights=x, minlength=data.na)
    x = x.copy()
    for j in sorted((j for j in np.flatnonzero(x > 0) if must[data.lot_asset[j]]),
                    key=lambda j: -float(data.g_eff[j])):
        over = data.brows @ x - data.budget
        rows = over > 1e-12
        if not np.any(rows):
            break
        per = data.brows[:, j]
        if not np.any(rows & (per > 0)):
            continue
        need = float(np.max(np.where(rows & (per > 0), over / np.where(per > 0, per, 1.0),
                                     0.0)))
        i = int(data.lot_asset[j])
        least = max(float(data.h[i] - data.w_cap[i]), 0.0)  # the sale the cap forces
        if whole:
            one = lot_px[j] / V  # one share (a name's lots share its price)
            spare = math.floor((sold[i] - math.ceil(least / one - 1e-9) * one) / one + 1e-9)
            d = min(math.ceil(need / one - 1e-9), spare,
                    math.floor(x[j] / one + 1e-9)) * one
        else:
            d = min(need, sold[i] - least, x[j])
        if d <= 0:
            continue
        x[j] = max(x[j] - d, 0.0)
        sold[i] -= d
    return x


class _LotsOf:
    """Each asset's lots, ``lot_of[i]``: ``np.split(order, bounds)[i]``, made when read.

    ``order`` is the lots' positions sorted by asset (stable), ``bounds`` where each asset
    after the first starts in it; an asset's lots are the same view of ``order`` that
    ``np.split`` gives, without making one array per asset up front (most are never read).
    """

    def __init__(self, order: np.ndarray, bounds: np.ndarray) -> None:
        self.order = order
        self.edges = [0, *bounds.tolist(), len(order)]

    def __getitem__(self, i: int) -> np.ndarray:
        return self.order[self.edges[i]:self.edges[i + 1]]

    def __len__(self) -> int:
        return len(self.edges) - 1


# per tracking term: its arrays when last read, and what was computed from them
_TERMS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _of_term(tracking: TrackingVariance, what: str, make: Callable[[], object]) -> object:
    """``make()`` for ``tracking``, computed again only when the term's arrays change.

    A plan's steps share a few terms; a term is frozen but its arrays can be changed in
    place (``tests/test_tracking``), so each use compares them with a copy kept when the
    values were computed (a few microseconds, against the einsum's or eigvalsh's cost).
    """
    entry = _TERMS.get(tracking)
    if entry is None or not entry[0].same_values(tracking):
        entry = _TERMS[tracking] = (tracking.snapshot(), {})
    if what not in entry[1]:
        entry[1][what] = make()
    return entry[1][what]


def _diagonal(tracking: TrackingVariance) -> np.ndarray:
    """``tracking.diagonal()``, computed once per term and values of its arrays."""

    def make() -> np.ndarray:
        diag = tracking.diagonal()
        diag.flags.writeable = False
        return diag

    return _of_term(tracking, "diagonal", make)


def _quad_bound(tracking: TrackingVariance) -> tuple[np.ndarray, float, float] | None:
    """:meth:`TrackingVariance.magnitudes`, once per term and values of its arrays.

    ``(||X_i|| per name, ||F||_F, max D)``, what bounds ``|dl|'(|X||F||X'| + D)|dl|``;
    ``None`` (no pruning) when ``Sigma`` is not positive semidefinite: ``dl' Sigma dl >= 0``
    is what :meth:`_MoveCost.floor` rests on.
    """
    return _of_term(tracking, "magnitudes", tracking.magnitudes)


class _MoveCost:
    """The change of ``TE^2`` of a whole-share move: ``2 dl' Sigma a + dl' Sigma dl``.

    ``dw`` maps assets to weight changes; ``dl`` is its look-through change (a model
    name's entry, a held fund's column of ``M``), made as :func:`round_trades` always made
    it: a zero vector, each item added in ``dw``'s order. ``dl' Sigma dl`` depends on
    ``dw`` alone, so it is computed once per ``dw`` (the same items in the same order give
    the same ``dl`` and the same product) and read again in later rounds of the TE-cap
    step; each held fund's dense column of ``M`` is made once.

    For one model name ``i`` (``dl = d e_i``) the linear part is ``2 (d sa_i)``: ``dl @ sa``
    is a sum of ``d sa_i`` and products ``0 sa_j`` (zeros), and adding zeros, in any order
    a BLAS sums in, leaves ``d sa_i`` as it is, so the two are the same double.
    """

    def __init__(self, data: RoundingData) -> None:
        self.data = data
        self.cols: dict[int, np.ndarray] = {}
        self.quad: dict[tuple, float] = {}
        self.bound = _quad_bound(data.tracking)
        # per asset: sum_i |dl_i| ||X_i|| and sum_i |dl_i| of its move of weight 1
        self.per: dict[int, tuple[float, float]] = {}

    def floor(self, dw: dict[int, float]) -> float:
        """``delta`` with ``dl' Sigma dl >= -delta`` as computed, for the move ``dw``.

        ``dl' Sigma dl`` is at least 0 (``Sigma`` is positive semidefinite, up to
        :func:`_quad_bound`'s allowance); the sums that compute it err by at most
        ``gamma (|dl|'|X||F||X'||dl| + |dl|' D |dl|)`` with ``gamma`` ~ (number of terms)
        x 1.1e-16, and ``|dl|'|X||F||X'||dl| <= ||F||_F (sum_i |dl_i| ||X_i||)^2``,
        ``|dl|' D |dl| <= max D (sum_i |dl_i|)^2``; each sum is bounded by the moves'
        items (``dl`` is their sum). ``delta`` takes 1e-8 for ``gamma`` (1e-12 for
        10,000 names): a wide margin.
        """
        xn, f_norm, d_max = self.bound
        sx = s1 = 0.0
        for i, d in dw.items():
            per = self.per.get(i)
            if per is None:
                if i < self.data.nm:  # a model name's move: its unit vector
                    per = (float(xn[i]), 1.0)
                else:  # a fund's: its column of M
                    col = abs(self.column(i))
                    per = (float(col @ xn), float(col.sum()))
                self.per[i] = per
            sx += abs(d) * per[0]
            s1 += abs(d) * per[1]
        return 1e-8 * (f_norm * sx * sx + d_max * s1 * s1)

    def pruned(self, dw: dict[int, float], sa: np.ndarray, best: float) -> float | None:
        """The move's cost, or None when it is at least ``best`` (a cost before it).

        The move cannot be chosen then: :func:`round_trades` takes the first move of
        least cost, and ``best`` is the cost of a move before it (or 0, the cost a move
        needs to be taken at all). With ``L = dl @ sa`` computed as :meth:`__call__` does
        and ``Q >= -delta`` (:meth:`floor`), the cost ``fl(2 L + Q)`` is at least
        ``fl(2 L - delta)`` (rounding is monotone), so ``fl(2 L - delta) >= best``
        proves the cost is ``>= best`` without computing ``Q`` (``Sigma dl``).
        """
        key = tuple(dw.items())
        if key in self.quad or self.bound is None:
            return self(dw, sa)
        dl = self.look(dw)
        lin = 2 * float(dl @ sa)
        if lin >= best and lin - self.floor(dw) >= best:  # (floor >= 0: lin < best keeps it)
            return None
        quad = self.quad[key] = float(dl @ self.data.tracking.sigma(dl))
        return lin + quad

    def column(self, i: int) -> np.ndarray:
        """Asset ``i``'s column of ``M`` as a dense vector (made once)."""
        col = self.cols.get(i)
        if col is None:
            col = self.cols[i] = self.data.M[:, i].toarray().ravel()
        return col

    def look(self, dw: dict[int, float]) -> np.ndarray:
        """``dl``: the look-through change of the asset weight changes ``dw``."""
        nm = self.data.nm
        dl = np.zeros(nm)
        for i, d in dw.items():
            if i >= nm:
                dl += d * self.column(i)
            else:
                # d times the unit vector, added: only entry i changes (the others add a
                # signed zero to a value that is never -0.0)
                dl[i] += d
        return dl

    def __call__(self, dw: dict[int, float], sa: np.ndarray) -> float:
        """The change of ``TE^2`` of the move ``dw`` at ``sa = Sigma a``."""
        key = tuple(dw.items())
        quad = self.quad.get(key)
        dl = None
        if quad is None:
            dl = self.look(dw)
            quad = self.quad[key] = float(dl @ self.data.tracking.sigma(dl))
        if len(key) == 1 and key[0][0] < self.data.nm:
            i, d = key[0]
            return 2 * float(d * sa[i]) + quad
        if dl is None:
            dl = self.look(dw)
        return 2 * float(dl @ sa) + quad


def _buy_moves(data: RoundingData, s: RebalanceSettings, cands: np.ndarray, b: np.ndarray,
               w: np.ndarray, look: np.ndarray, sa: np.ndarray, sig_ii: np.ndarray,
               step: np.ndarray, px: np.ndarray, allowed: np.ndarray, sec_of: np.ndarray,
               hi: np.ndarray, room: float) -> tuple[tuple[list, ...], tuple[list, ...]]:
    """The one-name moves of :func:`round_trades`' TE-cap step, for all candidates.

    For each candidate ``i`` (in ``cands``' order), buying a share more (``n = 1``; a
    name not bought yet: the shares of the minimum trade) and giving one back
    (``n = -1``): whether the move may be made, its weight ``d`` and its cost
    ``2 d sa_i + d^2 Sigma_ii``; for a purchase also whether it needs sales to fund it
    (``d`` above the cash ``room`` over the target). The same tests and arithmetic, element
    by element, as one candidate's in turn: a purchase is allowed (``allowed``), keeps the
    name count (``s.max_names``: a name not held needs one free) and its sector's limit
    (``hi``: the sector's look-through weight plus ``d``); a share given back leaves no
    bought weight below ``-1e-15`` nor a purchase below the minimum trade.

    Returns
    -------
    tuple[tuple[list, ...], tuple[list, ...]]
        ``(ok, d, funded, cost)`` of the purchases and ``(ok, d, cost)`` of the shares
        given back, each a list over ``cands`` (Python numbers).
    """
    V, mt = data.V, float(s.min_trade)
    bc, stc, sac, sgc = b[cands], step[cands], sa[cands], sig_ii[cands]
    # a share more: a name not bought yet buys the shares of the minimum trade
    rest = bc + stc
    d_up = np.where(bc <= 0, np.maximum(1.0, np.ceil((mt - 0.005) / px[cands])) * stc, stc)
    ok_up = ~(rest < -1e-15) & allowed[cands]
    if s.max_names is not None and int((w > 1e-9).sum()) + 1 > s.max_names:
        ok_up &= ~(w[cands] <= 1e-9)  # a name not held needs a free place
    k = sec_of[cands]
    if len(hi):
        sectors = data.S @ look
        kk = np.maximum(k, 0)
        ok_up &= (k < 0) | (sectors[kk] + d_up <= hi[kk] + 1e-12)
    funded = d_up > room + 1e-12
    c_up = 2 * d_up * sac + d_up * d_up * sgc
    # a share given back
    d_dn = -stc
    rest = bc + d_dn
    ok_dn = ~((rest < -1e-15) | ((0 < rest * V) & (rest * V < mt - 0.005)))
    c_dn = 2 * d_dn * sac + d_dn * d_dn * sgc
    return ((ok_up.tolist(), d_up.tolist(), funded.tolist(), c_up.tolist()),
            (ok_dn.tolist(), d_dn.tolist(), c_dn.tolist()))


def round_trades(data: RoundingData, x: np.ndarray, b: np.ndarray, s: RebalanceSettings,
                 dropped: set[str]) -> tuple[np.ndarray, np.ndarray]:
    """Whole shares and the minimum trade on weight arrays (copies returned).

    The rules are those of :meth:`~pma_lab.optimize.rebalance.RebalanceProblem.round_shares`
    (sales, buys, sector limits, cash, leftover cash, TE cap, in that order).

    Parameters
    ----------
    data : RoundingData
        The problem's data for the settings ``s`` (:meth:`RebalanceProblem.rounding_data`).
    x, b : np.ndarray
        Lot sales and buys per asset (weights of the account) to round: the solver's
        solution, or any result's trades.
    s : RebalanceSettings
        ``whole_shares``, ``min_trade``, ``cash_target``, ``max_names``, ``te_cap`` and
        ``wash_sale_mode`` are read.
    dropped : set[str]
        Names dropped by the name-count cap (never bought back).

    Returns
    -------
    tuple[np.ndarray, np.ndarray]
        The rounded lot sales and buys.

    Raises
    ------
    InfeasibleError
        When whole-share trades cannot keep a sector limit, the cash or the TE cap.
    """
    st, V = data.state, data.V
    x, b = x.copy(), b.copy()
    nm = data.nm
    cols = lot_columns(st)  # the lots' prices and shares as arrays, read once per state
    lot_px, lot_sh = cols.price, cols.shares
    px = st.prices.to_numpy(dtype=float)
    whole, mt = s.whole_shares, float(s.min_trade)
    # each asset's lots, in lot order (one stable sort, not a scan of every lot per asset)
    order = np.argsort(data.lot_asset, kind="stable")
    lot_of = _LotsOf(order, np.searchsorted(data.lot_asset[order], np.arange(1, data.na)))
    w_cap = data.w_cap
    # names whose weight is capped below 1 (must-sell, or a glide cap) are sold as the
    # restriction forces: rounded up, exempt from the minimum trade
    must = w_cap < 1
    # 1. sales: whole shares (gain lots down, loss lots up), then the minimum per name
    full = x >= data.v - 1e-12
    if whole:
        for j in np.flatnonzero((x > 0) & ~full):
            q = x[j] * V / lot_px[j]
            up = data.g[j] < 0 or must[data.lot_asset[j]]
            q = math.ceil(q - 1e-9) if up else math.floor(q + 1e-9)
            x[j] = data.v[j] if q >= lot_sh[j] - 1e-9 else q * lot_px[j] / V
    if mt > 0:
        # only names selling something below the minimum can change (x >= 0, so a name's
        # sum is > 0 exactly when one of its lots is sold, whatever the order of the sum)
        per_name = np.bincount(data.lot_asset, weights=x, minlength=data.na) * V
        for i in np.flatnonzero((per_name > 0) & (per_name < mt)):
            js = lot_of[i]
            val = float(x[js].sum()) * V
            if val <= 0 or val >= mt - 0.005 or must[i] or np.all(x[js] >= data.v[js]):
                continue
            if float(data.g_eff[js] @ x[js]) >= 0:
                x[js] = 0.0  # a gain sale: dropping it lowers realised gains
                continue
            locked = data.locked_loss if s.wash_sale_mode == "forbid" else \
                np.zeros(data.nl, dtype=bool)
            for j in sorted((j for j in js if data.g[j] < 0 and (x[j] > 0 or not
                                                                   locked[j])),
                            key=lambda j: data.g[j]):
                need = (mt - float(x[js].sum()) * V) / lot_px[j]
                if need <= 0:
                    break
                q = x[j] * V / lot_px[j] + need
                q = math.ceil(q - 1e-9) if whole else q
                x[j] = data.v[j] if q >= lot_sh[j] - 1e-9 else q * lot_px[j] / V
            if float(x[js].sum()) * V < mt - 0.005 and not np.all(x[js] >= data.v[js]):
                x[js] = 0.0
    # 1b. the gain budgets: a glide or must-sell name's sale rounded up (its cap forces it)
    # can push the realised gains over a budget; take back whole shares of the other
    # gain sales, most gain per dollar first, until every budget holds again
    x = _trim_to_budgets(data, x, must, lot_px, lot_of, whole, mt)
    # 2. buys: whole shares down, small ones dropped
    if whole:
        b = np.floor(b * V / px + 1e-9) * px / V
    b[b * V < mt - 0.005] = 0.0
    # what may still be bought: the base caps, not a sold group, not dropped by the cap
    base_buy = data.buy_base
    groups = st.groups
    sold_groups = {groups.get(t, t) for t, v in zip(st.assets, data.A @ x, strict=True)
                   if v > 0}
    allowed = (base_buy > 0) & (np.arange(data.na) < nm) & np.array(
        [groups.get(t, t) not in sold_groups and t not in dropped for t in st.assets])
    cash0 = data.cash0
    target_cash = s.cash_target
    step = px / V
    sig_ii = _diagonal(data.tracking)
    hi = np.ones(len(data.sec_names))
    for sec, lim in st.sector_limits.items():
        if sec in data.sec_names:
            hi[data.sec_names.index(sec)] = lim
    sec_of = np.full(nm, -1)
    sec_index = {sec: k for k, sec in enumerate(data.sec_names)}
    for i, sec in enumerate(st.sectors.tolist()[:nm]):
        if sec in sec_index:
            sec_of[i] = sec_index[sec]

    cur: dict[str, np.ndarray] = {}  # of the last state_of: A @ x and the look-through M @ w

    def state_of(x: np.ndarray, b: np.ndarray, ax: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, float]:
        # ``ax``: ``A @ x`` when the caller has it (the same x: the same product)
        ax = data.A @ x if ax is None else ax
        w = data.h + b - ax
        look = data.M @ w
        cur["ax"], cur["look"] = ax, look
        return w, look - data.wt, cash0 + float(ax.sum()) - float(b.sum())

    # 2b. sector limits: rounding sales down can leave a limited sector above its limit;
    # give back bought shares of the sector (least TE cost first), then sell whole
    # shares more of its lots being sold (least gain first, within the budgets)
    sec_load = (data.S @ data.M).toarray() if len(data.sec_names) else \
        np.zeros((0, data.na))
    budget = data.budget
    w, a, cash = state_of(x, b)
    for k in np.flatnonzero(hi < 1):
        while float(sec_load[k] @ w) > hi[k] + 1e-12:
            sa = data.tracking.sigma(a)
            best = None
            for i in np.flatnonzero((b > 0) & (sec_load[k] > 0)):
                rest = b[i] - step[i] if whole else b[i] - (float(sec_load[k] @ w)
                                                            - hi[k]) / sec_load[k, i]
                d = (rest if rest * V >= mt - 0.005 and rest > 1e-15 else 0.0) - b[i]
                cost = 2 * d * sa[i] + d * d * sig_ii[i] if i < nm else 0.0
                if best is None or cost < best[0]:
                    best = (cost, "b", i, d)
            if best is None:
                for j in sorted(np.flatnonzero((x > 0) & (x < data.v)
                                               & (sec_load[k, data.lot_asset] > 0)),
                                key=lambda j: data.g_eff[j]):
                    d = min(lot_px[j] / V if whole else
                            (float(sec_load[k] @ w) - hi[k])
                            / sec_load[k, data.lot_asset[j]], data.v[j] - x[j])
                    if not np.any(data.brows @ x + data.brows[:, j] * d > budget + 1e-12):
                        best = (0.0, "x", j, d)
                        break
            if best is None:
                best = _new_sector_sale(data, x, b, k, float(sec_load[k] @ w) - hi[k],
                                        sec_load, s, lot_px, lot_sh, budget)
            if best is None:
                raise InfeasibleError(
                    f"whole-share trades cannot keep the {data.sec_names[k]} sector within "
                    f"its limit {hi[k]:.2%}; raise the sector limit or the gain budget, "
                    "or allow fractional shares", ["sector_limits", "budgets"])
            _, kind, idx, d = best
            if kind == "b":
                b[idx] += d
            else:
                x[idx] += d
            w, a, cash = state_of(x, b)
    def keeps(x: np.ndarray) -> bool:
        # what step 2b and the added constraints ask of sales ``x`` (with the buys ``b``):
        # fund_cash's least-gain sales give back sales, which raises those names' weights
        w = data.h + b - data.A @ x  # (state_of's w, without changing its ``cur``)
        if np.any((sec_load @ w > hi + 1e-12) & (hi < 1)):
            return False
        return data.user_ok is None or data.user_ok(x, b)

    # 3. cash below its target: give back bought shares where TE rises least
    w, a, cash = state_of(x, b)
    while cash < target_cash - 1e-12:
        sa = data.tracking.sigma(a)
        best, best_cost = None, np.inf
        for i in np.flatnonzero(b[:nm] > 0):
            rest = b[i] - step[i] if whole else max(b[i] - (target_cash - cash), 0.0)
            d = (rest if rest * V >= mt - 0.005 and rest > 1e-15 else 0.0) - b[i]
            cost = (2 * d * sa[i] + d * d * sig_ii[i]) / -d
            if cost < best_cost:
                best, best_cost = (i, d), cost
        if best is not None:
            b[best[0]] += best[1]
        else:
            # nothing bought is left to give back (a withdrawal funded by sales rounded
            # down): sell more whole shares, least gain per dollar first
            x = fund_cash(data, x, b, target_cash - cash, s, lot_px, budget, keeps)
            # names it sold (and their wash-sale groups) are not bought with what is left
            now = {groups.get(t, t) for t, v in zip(st.assets, data.A @ x, strict=True)
                   if v > 0} - sold_groups
            if now:
                allowed &= np.array([groups.get(t, t) not in now for t in st.assets])
                sold_groups |= now
        w, a, cash = state_of(x, b)
    # 4. leftover cash: the purchase that lowers TE most, while TE falls (TE and the
    # researcher's objective terms, when added)
    if whole:
        cand = np.flatnonzero(allowed)
        block = np.maximum(1, np.ceil((mt - 0.005) / px[cand]))  # a first purchase
        while len(cand):
            sa = data.tracking.sigma(a)[cand]
            d = np.where(b[cand] > 0, 1.0, block) * step[cand]
            gain = -(2 * d * sa + d * d * sig_ii[cand])
            if data.term_grad is not None:  # the researcher's terms, to first order
                gain = gain - d * data.term_grad(x, b)[cand]
            ok = (d <= cash - target_cash + 1e-12) & (gain > 0)
            new_name = w[cand] <= 1e-9
            if s.max_names is not None and int((w > 1e-9).sum()) >= s.max_names:
                ok &= ~new_name
            if len(hi):
                sec_w = data.S @ cur["look"]
                k = sec_of[cand]
                ok &= (k < 0) | (sec_w[np.maximum(k, 0)] + d <= hi[np.maximum(k, 0)]
                                 + 1e-12)
            if not ok.any():
                break
            best = int(np.argmax(np.where(ok, gain, -np.inf)))
            if data.user_ok is not None:  # the best purchase that keeps the added constraints
                order = [k for k in np.argsort(-np.where(ok, gain, -np.inf),
                                               kind="stable") if ok[k]]
                best = next((k for k in order if data.user_ok(
                    x, b + d[k] * np.eye(1, data.na, cand[k]).ravel())), -1)
                if best < 0:
                    break
            b[cand[best]] += d[best]
            w, a, cash = state_of(x, b, cur["ax"])  # x is unchanged: the same A @ x
    # 5. TE cap: whole-share moves while they lower TE (buy / give back a share, sell
    # one more share of a lot being sold, or sell one share less)
    if s.te_cap is not None:
        te2 = _MoveCost(data)  # the moves' TE^2 changes, their quadratic parts memoised
        lot_asset_l = data.lot_asset.tolist()
        limit = budget + 1e-12
        while data.te(a + data.wt) > s.te_cap:
            ax = cur["ax"]  # A @ x of this round's x (state_of's)
            sold_names = np.flatnonzero((ax > 0) & ~must)
            sa = data.tracking.sigma(a)
            look = cur["look"]  # M @ w

            # lots that can fund a purchase: more whole shares of lots of names being
            # sold, least gain first
            selling = (ax > 0)[data.lot_asset] & (x < data.v) & ~(
                data.locked_loss & (s.wash_sale_mode == "forbid"))
            pool = np.flatnonzero(selling)
            pool = pool[np.argsort(data.g_eff[pool], kind="stable")]
            have = np.floor((data.v - x) * V / lot_px + 1e-9)
            # the pool's lots, shares left and prices as Python numbers, read once for
            # every candidate purchase of the round (the same doubles: the arithmetic
            # below gives the numpy scalars' results to the bit, without their overhead)
            # (a lot without a whole share left never sells: n = min(left, ...) <= 0)
            pool_rows = [row for row in zip(pool.tolist(), have[pool].astype(int).tolist(),
                                            lot_px[pool].tolist(), strict=True) if row[1] > 0]

            def fund(need: float, pool_rows: list = pool_rows
                     ) -> list[tuple[str, int, float]] | None:
                # whole shares raising ``need`` (weight) within the budgets, or None
                out = []
                for j, left, p in pool_rows:
                    if need <= 1e-15:
                        break
                    n = min(left, math.ceil(need * V / p - 1e-9))
                    if n <= 0:
                        continue
                    d = n * p / V
                    out.append(("x", j, d))
                    need -= d
                if need > 1e-15:
                    return None
                # x + dx, dx the sales out (each lot once): x where dx is 0, the same sums
                idx = [j for _, j, _ in out]
                y = x.copy()
                y[idx] = x[idx] + np.array([d for _, _, d in out])
                if (data.brows @ y > limit).any():
                    return None
                return out

            moves: list[tuple[float, list[tuple[str, int, float]]]] = []
            room = cash - target_cash
            best = 0.0  # the least cost of the moves so far (0: a move must lower TE)
            cands = np.flatnonzero(allowed | (b > 0)) if whole else np.zeros(0, dtype=int)
            # each candidate's share bought (n = 1) and given back (n = -1), in its order:
            # the tests and costs of the one-name moves for all candidates at once, element
            # by element the arithmetic of one candidate's (the same doubles)
            up, dn = _buy_moves(data, s, cands, b, w, look, sa, sig_ii, step, px, allowed,
                                sec_of, hi, room)
            for i, ok_up, d_up, funded, c_up, ok_dn, d_dn, c_dn in zip(
                    cands.tolist(), *up, *dn, strict=True):
                if ok_up:
                    if funded:
                        extra = fund(d_up - room)  # buy funded by sales
                        if extra is not None:
                            dw = {i: d_up}
                            for _, j, dx in extra:
                                k = lot_asset_l[j]
                                dw[k] = dw.get(k, 0.0) - dx
                            cost = te2.pruned(dw, sa, best)
                            if cost is not None:  # None: at least an earlier move's cost
                                best = min(best, cost)
                                moves.append((cost, [("b", i, d_up), *extra]))
                    else:
                        best = min(best, c_up)
                        moves.append((c_up, [("b", i, d_up)]))
                if ok_dn:
                    best = min(best, c_dn)
                    moves.append((c_dn, [("b", i, d_dn)]))
            # one share more of a lot being sold (x is the same for every candidate: the
            # budget test of all lots at once, element by element as one lot's test)
            more = np.flatnonzero((x > 0) & (x < data.v))
            d_more = np.minimum(lot_px[more] / V, data.v[more] - x[more])
            fits = ~((data.brows @ x)[:, None] + data.brows[:, more] * d_more
                     > limit[:, None]).any(axis=0)
            for j, d in zip(more[fits].tolist(), d_more[fits].tolist(), strict=True):
                moves.append((te2({lot_asset_l[j]: -d}, sa), [("x", j, d)]))
            sec_w = sec_load @ w  # (w is the same for every name below)
            for i in sold_names:  # one share less (or none of the name's sale)
                js = [j for j in lot_of[i] if x[j] > 0]
                j = js[-1]
                q = x[j] * V / lot_px[j]
                change = [("x", j, (math.ceil(q - 1e-9) - 1) * lot_px[j] / V - x[j])]
                left = float(x[lot_of[i]].sum()) + change[0][2]
                if 0 < left * V < mt - 0.005:
                    change = [("x", jj, -x[jj]) for jj in js]
                dx = np.zeros(data.nl)
                for _, jj, d in change:
                    dx[jj] = d
                freed = float(dx.sum())  # negative: less cash
                if ((data.brows @ (x + dx) > limit).any()
                        or cash + freed < target_cash - 1e-12
                        or (sec_w - sec_load[:, i] * freed > hi + 1e-12).any()):
                    continue
                moves.append((te2({int(i): -freed}, sa), change))
            moves = [m for m in moves if m[0] < 0]
            if not moves:
                raise InfeasibleError(
                    f"whole-share trades cannot keep tracking error within the cap "
                    f"{s.te_cap:.2%} (reached {data.te(a + data.wt):.2%}); raise the "
                    "tracking-error cap, lower min_trade or allow fractional shares",
                    ["te_cap", "min_trade"])
            for kind, k, d in min(moves, key=lambda m: m[0])[1]:
                if kind == "b":
                    b[k] += d
                else:
                    x[k] = max(x[k] + d, 0.0)
            w, a, cash = state_of(x, b)
    # 6. the researcher's added constraints: a sale rounded down (a held name trimmed to
    # a cap, say) can leave one broken by less than a share; sell one more whole share of
    # a lot being sold, or give back one bought share, where that lowers the largest
    # violation most, within the budgets and the TE cap (reviewer 1, session 23)
    if (whole and data.user_ok is not None and data.user_violation is not None
            and not data.user_ok(x, b)):
        x, b = _repair_added(data, x, b, s, lot_px, px, budget, state_of)
    return x, b


def _repair_added(data: RoundingData, x: np.ndarray, b: np.ndarray, s: RebalanceSettings,
                  lot_px: np.ndarray, px: np.ndarray, budget: np.ndarray,
                  state_of: Callable) -> tuple[np.ndarray, np.ndarray]:
    """Whole-share moves that keep the added constraints, when rounding broke them.

    One share at a time: one more share of a lot of a name being sold (not a locked loss
    in ``forbid`` mode, within the gain budgets), or one bought share given back, the move
    that lowers the largest added-constraint violation most (TE within its cap), until
    they hold or no move lowers it; what is left is :func:`pma_lab.optimize.checks.checked`'s
    to report.
    """
    V = data.V
    locked = data.locked_loss if s.wash_sale_mode == "forbid" else \
        np.zeros(data.nl, dtype=bool)
    viol = data.user_violation
    assert viol is not None and data.user_ok is not None
    now = viol(x, b)
    for _ in range(100):
        if data.user_ok(x, b):
            break
        selling = (data.A @ x > 0)[data.lot_asset] & (x < data.v - 1e-12) & ~locked
        moves: list[tuple[str, int, float]] = []
        for j in np.flatnonzero(selling):
            d = min(lot_px[j] / V, data.v[j] - x[j])
            if not np.any(data.brows[:, j] * d + data.brows @ x > budget + 1e-12):
                moves.append(("x", int(j), d))
        moves += [("b", int(i), -min(px[i] / V, b[i])) for i in np.flatnonzero(b > 0)]
        best = None
        for kind, k, d in moves:
            x2, b2 = x.copy(), b.copy()
            (x2 if kind == "x" else b2)[k] += d
            if s.te_cap is not None:
                _, a2, _ = state_of(x2, b2)
                if data.te(a2 + data.wt) > s.te_cap:
                    continue
            v2 = viol(x2, b2)
            if v2 < now - 1e-15 and (best is None or v2 < best[0]):
                best = (v2, x2, b2)
        if best is None:
            break
        now, x, b = best
    state_of(x, b)
    return x, b
