"""Why each lot is sold, harvested, held or deferred: a rebalance's decision text.

:func:`lot_decisions` reads a solved :class:`~pma_lab.optimize.rebalance.RebalanceProblem`
and the trades, and explains every lot in the client's terms (the restriction, wash-sale
lock, holding-period deferral, gains budget or tracking-error cap that binds): the table
the CLI writes to ``decisions.csv`` and the proposal shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from pma_lab.optimize.rebalance import RebalanceProblem
    from pma_lab.optimize.settings import RebalanceSettings

__all__ = ["lot_decisions"]


def lot_decisions(p: RebalanceProblem, x: np.ndarray, dropped: set[str],
                  w_after: np.ndarray, s: RebalanceSettings) -> pd.DataFrame:
    """What happens to each lot and why: the result's ``decisions`` table.

    Parameters
    ----------
    p : RebalanceProblem
        The problem solved (its state, budgets and tracking error are read).
    x : np.ndarray
        Weight sold per lot (after any whole-share step).
    dropped : set[str]
        Names dropped for the name-count cap.
    w_after : np.ndarray
        Weights per asset after the trades.
    s : RebalanceSettings
        The settings the trades were made with.

    Returns
    -------
    pd.DataFrame
        One row per lot: lot_id, ticker, shares, gain, term, long_term_on, sold_fraction,
        action (``sell``, ``harvest``, either ``(part)``, ``hold`` or ``defer``) and the
        reason in the client's terms (the restriction, lock, cap or budget that binds, or
        the trade-off between tax and tracking error).
    """
    st = p.state
    lots = st.lots
    # a constraint binds when it holds with (near) equality at the solution
    used = p.brows @ x if p.nl else np.zeros(3)
    budget_binding = bool(np.any(used >= p._budget_values(s.budgets) - 1e-7))
    te_binding = s.te_cap is not None and p._te(p.M @ w_after) >= s.te_cap - 1e-6
    tick = lots.ticker.tolist()
    gains = lots.gain.to_numpy(dtype=float)
    terms = lots.term.tolist()
    ltos = lots.long_term_on.tolist()
    frac = np.divide(x, p.v, out=np.zeros_like(x), where=p.v > 0)
    actions, reasons = [], []
    for j in range(p.nl):
        t, gain, f = tick[j], gains[j], frac[j]
        if f > 0:
            action = "harvest" if gain < 0 else "sell"
            if f < 1 - 1e-9:
                action += " (part)"
            if t in st.must_sell:
                reason = "restriction: must not hold (sold now, whatever the tax)"
            elif t in st.max_weight:
                reason = "restriction: sold along its glide (sell_within)"
            elif t in dropped:
                reason = "name-count cap"
            elif gain < 0:
                reason = f"harvest {terms[j]} loss" + (
                    " (disallowed: bought within 30 days)" if p.locked_loss[j] else "")
            else:
                reason = "rebalance toward the target (tracking error)"
        elif t in st.max_weight:
            action = "hold"
            reason = "restriction glide (sell_within): kept for now, sold by its deadline"
        elif p.locked_loss[j] and s.wash_sale_mode == "forbid":
            action = "defer"
            reason = f"wash-sale lock until {st.wash_no_loss_sale[t]}"
        elif p.soon[j] > 0:
            action = "defer"
            reason = f"turns long-term on {ltos[j]}"
        elif gain > 0 and budget_binding:
            action, reason = "hold", "capital-gains budget"
        elif te_binding:
            action, reason = "hold", "tracking-error cap"
        elif gain > 0:
            action, reason = "hold", "tax cost exceeds the tracking-error benefit"
        else:
            action, reason = "hold", "kept: a sale would raise tracking error more than " \
                                     "the tax saving"
        actions.append(action)
        reasons.append(reason)
    return pd.DataFrame({"lot_id": lots.lot_id.tolist(), "ticker": tick,
                         "shares": lots.shares.to_numpy(dtype=float), "gain": gains,
                         "term": terms, "long_term_on": ltos, "sold_fraction": frac,
                         "action": actions, "reason": reasons})
