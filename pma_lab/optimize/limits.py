"""The limits of the rebalance: what the settings and the account's restrictions allow.

The values the problem's Parameters take (:meth:`RebalanceProblem.update`), computed from
the account state, the problem's data and the settings alone (no solver state), so the
solve, the whole-share step (:meth:`RebalanceProblem.rounding_data`), the constraint
checks and the per-lot explanations read the same numbers:

* :func:`base_caps`: per asset, may it be bought, its weight cap (zero for a must-sell
  name, the glide's cap for a name sold within a deadline), may its lots be sold;
* :func:`forced_sales`: the lot sales the restrictions force, least gain first;
* :func:`budget_limits`: the gain budgets (total, ST, LT) left for the year in the
  problem's unit, a budget below the least gain the forced sales realise raised to it;
* :func:`forced_margin`: the extra gain the whole-share step may realise on a glide's
  partial sale (rounded up by a share);
* :func:`sector_caps`: each model sector's weight limit;
* :func:`parameter_values`: the scalar Parameters (aversions, TE cap, cash, credit cap).

Weights are fractions of the account's value ``V`` (see :mod:`pma_lab.optimize.rebalance`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pma_lab.optimize.constraints import BIG, CLEAN
from pma_lab.optimize.state import lot_columns
from pma_lab.tax.rules import CAPITAL_LOSS_LIMIT

if TYPE_CHECKING:
    from pma_lab.optimize.rebalance import RebalanceProblem
    from pma_lab.optimize.settings import Budgets, RebalanceSettings

__all__ = ["base_caps", "forced_sales", "forced_margin", "budget_limits", "sector_caps",
           "parameter_values"]


def base_caps(p: RebalanceProblem, s: RebalanceSettings
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Caps per asset from the state and settings only (no Parameter values).

    Returns
    -------
    tuple[np.ndarray, np.ndarray, np.ndarray]
        May it be bought (1/0); its weight cap (0 for must-sell names, the glide's cap for
        names sold within a deadline, else 1); may its lots be sold (1/0).
    """
    st = p.state
    buy = np.ones(p.na)
    w_cap = np.ones(p.na)
    for i, t in enumerate(st.assets):
        if (i >= p.nm or t in st.no_buy or t in st.must_sell or t in st.hold_no_add
                or t in st.wash_no_buy or (s.buy_only_target and p.wt[i] <= 0)):
            buy[i] = 0.0
        if t in st.must_sell:
            w_cap[i] = 0.0
        elif t in st.max_weight:
            w_cap[i] = min(w_cap[i], st.max_weight[t])
    lot_cap = p.has_lots.astype(float)  # per asset: 1 = its lots may be sold
    for i, t in enumerate(st.assets):
        if t in st.no_sell:
            lot_cap[i] = 0.0
    return buy, w_cap, lot_cap


def forced_sales(p: RebalanceProblem, w_cap: np.ndarray, lot_cap: np.ndarray,
                 wash_mode: str) -> np.ndarray:
    """Lot sales (weights) the restrictions force, the least-gain lots first.

    A must-sell name goes entirely; a glide name down to its cap. The least net gain the
    restrictions force is ``g @ x`` of this selection; :func:`budget_limits` raises a
    smaller budget to it (the sale happens whatever the tax).
    """
    x = np.zeros(p.nl)
    need = np.where(p.has_lots & (lot_cap > 0), np.maximum(p.h - w_cap, 0.0), 0.0)
    for i in np.flatnonzero(need > CLEAN):
        lots = np.flatnonzero(p.lot_asset == i)
        if wash_mode == "forbid":
            lots = lots[~p.locked_loss[lots]]
        left = need[i]
        for j in lots[np.argsort(p.g_eff[lots], kind="stable")]:
            x[j] = min(p.v[j], left)
            left -= x[j]
            if left <= CLEAN:
                break
    return x


def forced_margin(p: RebalanceProblem, w_cap: np.ndarray, whole_shares: bool) -> np.ndarray:
    """Gain (budget rows, weights) a glide's partial sale may add when rounded up.

    In whole shares a glide's partial sale is rounded up (``round_shares``): one more
    share of gain per lot of a glide name at most, which the budget check allows.
    """
    st = p.state
    cap = w_cap[p.lot_asset] if p.nl else np.zeros(0)
    share = np.where((cap > 0) & (cap < 1), lot_columns(st).price / p.V, 0.0) if p.nl \
        else np.zeros(0)
    return np.maximum(p.brows, 0.0) @ share if whole_shares and p.nl else np.zeros(3)


def budget_limits(p: RebalanceProblem, bud: Budgets, forced_x: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The budgets left for the year (total, ST, LT) as weights, and how much was raised.

    Parameters
    ----------
    p : RebalanceProblem
    bud : Budgets
        In gain dollars, tax dollars or a share of the embedded gain; gains realised
        earlier in the year count against them.
    forced_x : np.ndarray
        The lot sales the restrictions force (:func:`forced_sales`).

    Returns
    -------
    tuple[np.ndarray, np.ndarray]
        The limits (``BIG`` for no budget), a budget below the least gain the forced sales
        realise raised to it (never above; each to it less its offset,
        ``bud.forced_offset``, ``forced_offset_st``, ``forced_offset_lt``, never below the
        budget); and the raise per row in USD.
    """
    st = p.state
    # the lots' gains as the state's columns hold them (the lots table's, without a pandas
    # column read at each of a solve's several calls)
    embedded = float(np.clip(lot_columns(st).gain, 0, None).sum()) if p.nl else 0.0
    out = []
    ytd = (st.ytd_st + st.ytd_lt, st.ytd_st, st.ytd_lt)
    for k, val in enumerate((bud.total, bud.short_term, bud.long_term)):
        if val is None:
            out.append(BIG)
            continue
        if bud.unit == "embedded_pct":
            dollars, used = val * embedded, ytd[k]
        elif bud.unit == "tax":
            rate = (st.tax.st_rate, st.tax.st_rate, st.tax.lt_rate)[k]
            dollars = val
            used = (st.ytd_st * st.tax.st_rate + st.ytd_lt * st.tax.lt_rate) if k == 0 \
                else ytd[k] * rate
        else:
            dollars, used = val, ytd[k]
        out.append((dollars - used) / p.V)
    out_arr = np.array(out)
    forced = p.brows @ forced_x if p.nl else np.zeros(3)
    # the restrictions' sales happen whatever the tax: a budget below the least gain
    # they realise is raised to it (never above), and the result reports the raise; the
    # raise less its offset (``bud.forced_offset`` and the short- and long-term ones): the
    # losses the step harvests offset the forced gains, they make no room for other gains
    # (review rev1, retiree's budget:0)
    offset = (bud.forced_offset, bud.forced_offset_st, bud.forced_offset_lt)
    if any(offset):
        forced = forced - np.array(offset) / p.V
    raised = np.where(out_arr < BIG, np.maximum(out_arr, forced + 1e-12), out_arr)
    return raised, (raised - out_arr) * p.V


def sector_caps(p: RebalanceProblem) -> np.ndarray:
    """Each model sector's look-through weight limit (1: none), in ``p.sec_names`` order."""
    hi = np.ones(len(p.sec_names))
    for sec, lim in p.state.sector_limits.items():
        if sec in p.sec_names:
            hi[p.sec_names.index(sec)] = lim
    return hi


def parameter_values(p: RebalanceProblem, s: RebalanceSettings) -> dict[str, float]:
    """The scalar Parameters' values under settings ``s`` (by the problem's keys)."""
    st, V = p.state, p.V
    ytd_gain = max(st.ytd_st + st.ytd_lt, 0.0)
    loss_limit = float(CAPITAL_LOSS_LIMIT[st.tax.filing_status])
    return {
        "gamma_tax": s.gamma_tax,
        "gamma_tc": s.gamma_tc,
        "lt_soon": s.lt_soon_penalty,
        "lock_slack": 1.0 if s.wash_sale_mode == "disallow" else 0.0,
        "te2_cap": BIG if s.te_cap is None else s.te_cap ** 2,
        "cash": (st.cash + st.contribution) / V,
        "cash_target": s.cash_target,
        "credit_cap": st.tax.st_rate * (ytd_gain + loss_limit) / V,
    }
