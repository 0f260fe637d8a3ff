"""Why each lot is sold, harvested, held or deferred: a rebalance's decision text.

:func:`lot_decisions` reads a solved :class:`~pma_lab.optimize.rebalance.RebalanceProblem`
and the trades, and explains every lot in the client's terms (the restriction, wash-sale
lock, holding-period deferral, gains budget or tracking-error cap that binds): the table
the CLI writes to ``decisions.csv`` and the proposal shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pma_lab.formatting import fmt_rate, fmt_shares
from pma_lab.optimize.state import lot_columns

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pma_lab.optimize.rebalance import RebalanceProblem
    from pma_lab.optimize.settings import RebalanceSettings

__all__ = ["LOSS_SALE", "DecisionColumns", "decision_columns", "harvest_words", "loss_sale_reason",
           "lot_decisions", "wash_words"]


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
        action (``sell``, ``harvest``, either ``(part)``, ``hold`` or ``defer``), the
        reason in the client's terms (the restriction, lock, cap or budget that binds, or
        the trade-off between tax and tracking error) and ``forced_shares``: the shares of
        the sale a restriction forces (a must-sell lot's whole sale; a glide name's part
        of its sale down to its cap, :func:`_glide_parts`; 0 for other lots).
    """
    return decision_columns(p, x, dropped, w_after, s).frame()


def decision_columns(p: RebalanceProblem, x: np.ndarray, dropped: set[str],
                     w_after: np.ndarray, s: RebalanceSettings,
                     washed: Mapping[str, float] | None = None,
                     lost: Mapping[str, float] | None = None) -> DecisionColumns:
    """:func:`lot_decisions`' columns as arrays (the same parameters); no table built.

    ``washed``: the shares of each lot sold whose loss the ledger's replay of the trades
    washes, by lot id (:func:`pma_lab.optimize.result.washed_shares`; ``None``: no ledger
    checked the trades): a harvest of a lot with a purchase within 30 days then says how
    many shares' loss is washed and how many allowed (:func:`harvest_words`), and a loss
    sale a restriction forces says the same after its own reason (:func:`loss_sale_reason`;
    reviewer, session 24: it said the restriction alone). ``lost``: of those, the shares
    an IRA's purchase replaces, by lot id (their loss is lost for good, and the words say
    so).
    """
    st = p.state
    # a constraint binds when it holds with (near) equality at the solution
    used = p.brows @ x if p.nl else np.zeros(3)
    budget_binding = bool(np.any(used >= p._budget_values(s.budgets) - 1e-7))
    te_binding = s.te_cap is not None and p._te(p.M @ w_after) >= s.te_cap - 1e-6
    cols = lot_columns(st)
    tick, gains, terms, ltos = cols.ticker, cols.gain, cols.term, cols.long_term_on
    frac = np.divide(x, p.v, out=np.zeros_like(x), where=p.v > 0)
    # each lot's case, in the order the rules are read (the first that applies)
    sold, loss = frac > 0, gains < 0
    dropped_lot = np.array([t in dropped for t in tick], dtype=bool) if dropped else \
        np.zeros(p.nl, dtype=bool)
    lock = p.locked_loss & (s.wash_sale_mode == "forbid")
    keep = (np.array([t in st.hold_no_add and t in st.no_sell for t in tick], dtype=bool)
            if st.hold_no_add else np.zeros(p.nl, dtype=bool))
    case = np.select(
        [sold & cols.must_sell, sold & cols.glide, sold & dropped_lot, sold & loss, sold,
         cols.glide, keep, lock, p.soon > 0, (gains > 0) & budget_binding,
         np.full(p.nl, bool(te_binding)), gains > 0],
        np.arange(12), default=12)
    reasons = np.array(_REASONS, dtype=object)[case]
    lost = lost or {}

    def wash(j: int) -> tuple[float, float] | None:
        return None if washed is None else (frac[j] * cols.shares[j],
                                            float(washed.get(str(cols.lot_id[j]), 0.0)))

    for j in np.flatnonzero(case == _HARVEST):
        reasons[j] = harvest_words(str(terms[j]), bool(p.locked_loss[j]), wash(j),
                                   float(lost.get(str(cols.lot_id[j]), 0.0)))
    for j in np.flatnonzero(case == _LOCK):
        reasons[j] = f"wash-sale lock until {st.wash_no_loss_sale[tick[j]]}"
    for j in np.flatnonzero(case == _SOON):
        reasons[j] = cols.turns_long_text[j]
    forced = np.where(case == _MUST, frac * cols.shares, 0.0)
    _glide_parts(p, x, frac, w_after, cols, case, reasons, forced)
    # a loss sale a restriction, a glide or the name-count cap forces: its own reason,
    # then the wash-sale words a harvest's has
    for j in np.flatnonzero(sold & loss & (case < _HARVEST)):
        reasons[j] = loss_sale_reason(str(reasons[j]), str(terms[j]),
                                      bool(p.locked_loss[j]), wash(j),
                                      float(lost.get(str(cols.lot_id[j]), 0.0)))
    _sold_short_of_long_term(p, frac, cols, case, reasons)
    part = frac < 1 - 1e-9
    sold_action = np.where(loss, np.where(part, "harvest (part)", "harvest"),
                           np.where(part, "sell (part)", "sell"))
    actions = np.where(sold, sold_action,
                       np.where((case == _LOCK) | (case == _SOON), "defer", "hold"))
    return DecisionColumns(cols.lot_id, cols.ticker, cols.shares.copy(), gains.copy(),
                           cols.term, list(ltos), frac, actions, reasons, forced)


def harvest_words(term: str, locked: bool, wash: tuple[float, float] | None = None,
                  lost: float = 0.0) -> str:
    """A harvest's reason: ``harvest ST loss``, with what the wash-sale rule does to it.

    ``locked``: the lot's name was bought within 30 days (the optimiser's wash-sale lock,
    sold in ``"disallow"`` mode: it credits none of the lot's loss). ``wash``: the shares
    sold and the shares whose loss the ledger washes (only as many as the purchases can
    absorb; the loss of the rest is allowed), ``None`` when no ledger checked the trades.
    ``lost``: of the washed shares, those an IRA's purchase replaces: their loss is lost
    for good (Rev. Rul. 2008-5: no basis goes to the IRA's shares), not deferred.

    >>> harvest_words("LT", False)
    'harvest LT loss'
    >>> harvest_words("LT", True)
    'harvest LT loss (disallowed: bought within 30 days)'
    >>> harvest_words("LT", True, (65.0, 40.0))[16:]
    '(bought within 30 days: the loss of 40 of the 65 shares sold is washed, of 25 allowed)'
    >>> harvest_words("ST", True, (30.0, 30.0))
    'harvest ST loss (bought within 30 days: the loss of all 30 shares sold is washed)'
    >>> harvest_words("ST", True, (30.0, 0.0))
    'harvest ST loss (bought within 30 days, but the loss of the 30 shares sold is allowed)'
    >>> print(harvest_words("ST", True, (30.0, 30.0), 30.0))
    ... # doctest: +NORMALIZE_WHITESPACE
    harvest ST loss (bought within 30 days: the loss of all 30 shares sold is washed and
    lost for good, an IRA bought the replacement shares)
    >>> print(harvest_words("LT", True, (65.0, 40.0), 10.0))
    ... # doctest: +NORMALIZE_WHITESPACE
    harvest LT loss (bought within 30 days: the loss of 40 of the 65 shares sold is washed,
    of 25 allowed; the washed loss of 10 of them is lost for good, an IRA bought their
    replacement shares)
    """
    words = wash_words(locked, wash, lost)
    return f"harvest {term} loss" + (f" ({words})" if words else "")


def wash_words(locked: bool, wash: tuple[float, float] | None = None,
               lost: float = 0.0) -> str:
    """What the wash-sale rule does to a loss sale, in words (``""``: nothing to say).

    The words of :func:`harvest_words` (its parameters) in its parentheses; a sale that is
    not a harvest (one a restriction forces) carries them too (:func:`loss_sale_reason`).
    """
    if wash is None:
        return "disallowed: bought within 30 days" if locked else ""
    sold, washed = wash
    if washed <= 1e-9:
        return (f"bought within 30 days, but the loss of the {fmt_shares(sold)} shares sold "
                "is allowed" if locked else "")
    if washed >= sold - 1e-9:
        words = f"bought within 30 days: the loss of all {fmt_shares(sold)} shares sold is washed"
    else:
        words = (f"bought within 30 days: the loss of {fmt_shares(washed)} of the "
                 f"{fmt_shares(sold)} shares sold is washed, of {fmt_shares(sold - washed)} "
                 "allowed")
    if lost <= 1e-9:
        return words
    if lost >= washed - 1e-9:  # an IRA replaces every washed share: no basis goes on
        return (words.replace(" is washed", " is washed and lost for good", 1)
                + ", an IRA bought the replacement shares" if washed >= sold - 1e-9 else
                f"{words}; the washed loss is lost for good, an IRA bought the replacement "
                "shares")
    return (f"{words}; the washed loss of {fmt_shares(lost)} of them is lost for good, an IRA "
            "bought their replacement shares")


LOSS_SALE = "; a loss sale ("
"""What joins a forced sale's reason and its wash-sale words (:func:`loss_sale_reason`)."""


def loss_sale_reason(reason: str, term: str, locked: bool,
                     wash: tuple[float, float] | None = None, lost: float = 0.0) -> str:
    """A loss sale's reason with the wash-sale words of :func:`wash_words` (its parameters).

    A harvest's reason (``harvest ...``) is :func:`harvest_words`; another (a sale a
    restriction or a glide forces, or the name-count cap's) keeps its own words and adds
    the same wash-sale words after :data:`LOSS_SALE`, in place of any it had (the words
    of a lock, before a ledger checked the trades).

    >>> print(loss_sale_reason("restriction: must not hold", "ST", True, (65.0, 40.0)))
    ... # doctest: +NORMALIZE_WHITESPACE
    restriction: must not hold; a loss sale (bought within 30 days: the loss of 40 of the
    65 shares sold is washed, of 25 allowed)
    """
    if reason.startswith("harvest"):
        return harvest_words(term, locked, wash, lost)
    words = wash_words(locked, wash, lost)
    base = reason.split(LOSS_SALE)[0]
    return f"{base}{LOSS_SALE}{words})" if words else base


@dataclass(frozen=True)
class DecisionColumns:
    """The columns of :func:`lot_decisions`' table as arrays, one entry per lot.

    :func:`decision_columns` works them out when a rebalance's result is built (they read
    the problem, which a plan's next step changes); the table is built of them when it is
    first read (:meth:`frame`): a plan's steps never read most of their results' decisions
    (building the table was ~1 CPU-ms of every result, string columns converted to Arrow).

    Attributes
    ----------
    lot_id, ticker, term : np.ndarray
        Object arrays of str.
    shares, gain, sold_fraction, forced_shares : np.ndarray
        Float arrays.
    long_term_on : list
        The date each lot turns long-term (None: long-term already).
    action, reason : np.ndarray
        Arrays of str.
    """

    lot_id: np.ndarray
    ticker: np.ndarray
    shares: np.ndarray
    gain: np.ndarray
    term: np.ndarray
    long_term_on: list
    sold_fraction: np.ndarray
    action: np.ndarray
    reason: np.ndarray
    forced_shares: np.ndarray

    def frame(self) -> pd.DataFrame:
        """The decisions table (see :func:`lot_decisions`)."""
        return pd.DataFrame({
            "lot_id": pd.array(self.lot_id.tolist(), dtype="str"),
            "ticker": pd.array(self.ticker.tolist(), dtype="str"),
            "shares": self.shares, "gain": self.gain,
            "term": pd.array(self.term.tolist(), dtype="str"),
            "long_term_on": list(self.long_term_on), "sold_fraction": self.sold_fraction,
            "action": self.action.tolist(), "reason": self.reason.tolist(),
            "forced_shares": self.forced_shares})




def _glide_parts(p: RebalanceProblem, x: np.ndarray, frac: np.ndarray, w_after: np.ndarray,
                 cols: object, case: np.ndarray, reasons: np.ndarray,
                 forced: np.ndarray) -> None:
    """A glide name's sale: the shares its glide forces, and the optimiser's part beyond.

    A ``sell_within`` name must come down to its cap (``state.max_weight``) at this step:
    the shares that takes, rounded up to whole shares, are the glide's; the shares sold
    beyond them are the optimiser's choice (a loss harvested, or a move toward the target).
    The glide's shares are counted in ``forced`` (per lot, in place), from the name's
    sold lots of least gain per share first (as
    :func:`pma_lab.optimize.limits.forced_sales` counts the least gain the restrictions
    force); a sale within the glide's step and its whole-share round-up is all the
    glide's. Reviewer 1 (session 20): a glide lot sold 100 % read "sold along its glide"
    alone where most of the sale was the optimiser's; its reason (``reasons``, in place)
    then says the name's split, once for the name: how many of its shares sold the glide
    needs, from how many lots when more than one, and what the rest are.
    """
    glide_sold = np.flatnonzero(case == _GLIDE)
    if not glide_sold.size:
        return
    tick, shares, gains, terms = cols.ticker, cols.shares, cols.gain, cols.term
    sold_lot = frac * shares
    for t in dict.fromkeys(tick[glide_sold].tolist()):
        lots = np.flatnonzero(tick == t)
        mine = lots[case[lots] == _GLIDE]
        per_share = p.v[lots[0]] / shares[lots[0]] if shares[lots[0]] > 0 else 0.0
        if not per_share > 0 or t not in p.asset_index:
            forced[mine] = sold_lot[mine]
            continue
        sold = float(x[lots].sum())
        need = max(0.0, float(w_after[p.asset_index[t]]) + sold - p.state.max_weight[t])
        sold_sh = float((frac[lots] * shares[lots]).sum())
        need_sh = min(math.ceil(need / per_share - 1e-6), round(sold_sh))
        if sold_sh - need_sh < 1 - 1e-6:  # the glide's step, up to its whole-share round-up
            forced[mine] = sold_lot[mine]
            continue
        left = float(need_sh)
        rest_lots = []
        for j in sorted(mine, key=lambda j: (gains[j] / shares[j] if shares[j] else 0.0, j)):
            forced[j] = min(sold_lot[j], left)
            left -= forced[j]
            if sold_lot[j] - forced[j] > 1e-9:
                rest_lots.append(j)
        rest = " and ".join(dict.fromkeys(
            f"harvest {terms[j]} loss" if gains[j] < 0 else
            "rebalance toward the target (tracking error)"
            for j in sorted(rest_lots or mine)))
        of = f" from {len(mine)} lots" if len(mine) > 1 else ""
        reasons[mine] = (f"{_REASONS[_GLIDE]}: the glide needs {need_sh:,} of the "
                         f"{round(sold_sh):,} {t} shares sold{of}; the other "
                         f"{round(sold_sh) - need_sh:,} are the optimiser's choice ({rest})")


def _sold_short_of_long_term(p: RebalanceProblem, frac: np.ndarray, cols: object,
                             case: np.ndarray, reasons: np.ndarray) -> None:
    """Flag a short-term gain sold within ``SOON_FLAG_DAYS`` of turning long-term.

    Reviewer 1 (session 21): a lot sold for a short-term gain a day before it would have
    been long-term read "rebalance toward the target" alone, though waiting a few days
    would have taxed its gain at the long-term rate. The reason now says so, with the date,
    the days left and the two all-in rates of the client's profile (the sale may still be
    right: a restriction, a loss elsewhere, or the tracking error may call for it), and
    that the year's losses may offset the gain (session 23: "is taxed at 37 %" ignored the
    netting).
    ``reasons`` is updated in place; the harvest, lock and deferral cases are not sales of
    a gain and are left as they are.
    """
    if not p.nl:
        return
    days = cols.days_to_lt  # the state's arrays: no lots table built (s22-frames)
    gains = cols.gain
    flag = ((frac > 0) & (gains > 0) & (cols.term == "ST") & (days > 0)
            & (days <= SOON_FLAG_DAYS) & (case != _HARVEST))
    if not flag.any():
        return
    tax = p.state.tax
    for j in np.flatnonzero(flag):
        n = int(days[j])
        reasons[j] = (f"{reasons[j]}; a short-term gain: the lot turns long-term on "
                      f"{cols.long_term_on[j]} ({n} day{'s' if n != 1 else ''}), so the "
                      f"gain sold now is taxed at the short-term rate "
                      f"({fmt_rate(tax.st_rate)}, not the long-term {fmt_rate(tax.lt_rate)}) "
                      "unless the year's losses offset it")


SOON_FLAG_DAYS = 30
"""A short-term gain sold this many days or fewer before it turns long-term is flagged in
its reason (:func:`lot_decisions`)."""

# the reason of each case of :func:`lot_decisions` (the harvest, lock and deferral cases
# name the lot's term or date)
_REASONS = (
    "restriction: must not hold (sold now, whatever the tax)",
    "restriction: sold along its glide (sell_within)",
    "name-count cap",
    "",  # harvest: by term
    "rebalance toward the target (tracking error)",
    "restriction glide (sell_within): kept for now, sold by its deadline",
    "on your keep-but-do-not-add list: kept, never sold or added to",
    "",  # wash-sale lock: until its date
    "",  # turns long-term: on its date
    "capital-gains budget",
    "tracking-error cap",
    "tax cost exceeds the tracking-error benefit",
    "kept: a sale would raise tracking error more than the tax saving",
)
_MUST, _GLIDE, _HARVEST, _LOCK, _SOON = 0, 1, 3, 7, 8
