"""A plan's withdrawal and its gains budget: what the sales of least tax realise.

A plan's withdrawal (``flow=`` below zero, :mod:`pma_lab.plan.plans`) is cash the client
takes out at the start of every plan year. It is raised by the **sales of least tax**
(:func:`least_gains`): lots at a loss first, then the least gain per dollar (the highest
basis), long-term before short-term at the same gain per dollar, in whole shares and at
least the minimum trade in a name (or the whole position when it is smaller). When the
plan's gains budget for the year cannot pay for those sales, the step
(:func:`pma_lab.plan.simulation._solve_step`) decides:

* **the withdrawal fits the budget, its minimum trade does not** (a $10 withdrawal whose
  sale of at least $250, in whole shares, realises more than a $50 budget has left, while
  $10 of the same lot would realise less): the minimum trade is sold, the budgets it
  exceeds are raised automatically, without asking, by the least gains it realises
  (:meth:`ForcedGains.raise_budgets`; the sale chosen is the one exceeding the caps least,
  :func:`least_forced`), the rest of the sale stays in cash, and the plan's note says by
  how much the budget was exceeded (:func:`min_trade_note`);
* **the withdrawal itself needs gains beyond the budget** (no mix of its sales in
  fractional shares, without a minimum trade, stays within every cap the budget leaves,
  :func:`least_overrun`: an account of gains alone under a $0 budget): the plan stops at
  that step with :class:`~pma_lab.errors.WithdrawalBudgetError`, and its reason
  (:func:`pma_lab.plan.failure.client_reason`) names the withdrawal, the least gains its
  sales realise, what the budget leaves and the fix (a smaller withdrawal, or a budget
  larger by the difference). The budget is broken only by the rounding of the first case
  (whole shares and the minimum trade, noted), never for the withdrawal's own gains.

A withdrawal larger than the account can pay is refused before any step, naming the plan
and the fix (:func:`pma_lab.plan.simulation._check_withdrawal`).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import linprog

from pma_lab.errors import DataError
from pma_lab.formatting import fmt_usd
from pma_lab.optimize.settings import Budgets, BudgetUnit, RebalanceSettings
from pma_lab.optimize.state import AccountState, least_gain_order
from pma_lab.schema import LIMITS

__all__ = ["ForcedGains", "Overrun", "CAP_WORDS", "CAP_KEYS", "least_gains", "least_overrun",
           "least_forced", "cash_needed", "min_trade_note", "gain_budget", "parse_withdrawal",
           "with_withdrawal"]

MIN_TRADE_NOTE = ("the withdrawal of {withdrawal} is smaller than the minimum trade "
                  "({min_trade}): the sale that pays it realised {over} of gains beyond the "
                  "gains budget ({budget}){kept}")
"""The note of a step whose withdrawal fits the gains budget but whose sale of at least
the minimum trade does not (:func:`min_trade_note`)."""


CAP_WORDS = {"total": "gains budget", "short_term": "short-term gains cap",
             "long_term": "long-term gains cap"}
"""A :class:`~pma_lab.optimize.settings.Budgets` cap (its field) in the client's words."""

CAP_KEYS = {"total": ("budget:<USD>", "[transition] annual_budget (or [budgets] total "
                      "without a [transition])"),
            "short_term": ("st=<USD>", "[budgets] short_term"),
            "long_term": ("lt=<USD>", "[budgets] long_term")}
"""Where a plan's cap (a :class:`~pma_lab.optimize.settings.Budgets` field) is set: the
plan's text (:func:`pma_lab.plan.plans.parse_plan`) and, for the client's own plan
(:func:`pma_lab.plan.plans.client_plan`), the profile's key."""


@dataclass(frozen=True)
class Overrun:
    """The gains cap a withdrawal's sales exceed most (:meth:`ForcedGains.binding`).

    Attributes
    ----------
    cap_name : str
        The :class:`~pma_lab.optimize.settings.Budgets` field: ``"total"``,
        ``"short_term"`` or ``"long_term"``.
    cap : float
        The cap for the year (USD of net gain).
    used : float
        The net gain the year's earlier sales realised against it (USD).
    gains : float
        The sales' own net gain it counts (USD: short-term, long-term or both).
    """

    cap_name: str
    cap: float
    used: float
    gains: float

    @property
    def allowed(self) -> float:
        """What the cap leaves for the year (USD; below zero when already used)."""
        return self.cap - self.used


@dataclass(frozen=True)
class ForcedGains:
    """The least net gains (USD) the sales of least tax realise to raise ``need`` USD.

    Attributes
    ----------
    need : float
        USD the step must raise by sales (the withdrawal, less the cash above the floor).
    st, lt : float
        Net short- and long-term gain of those sales (negative: a net loss).
    sold : float
        USD the sales raise (at least ``need``: whole shares, the minimum trade).
    """

    need: float
    st: float
    lt: float
    sold: float

    def overrun(self, b: Budgets, ytd_st: float, ytd_lt: float
                ) -> tuple[float, float] | None:
        """``(gains, allowed)`` of the cap the sales exceed most (``None``: none).

        ``gains``: the sales' net gain counted by that cap; ``allowed``: what the cap leaves
        for the year after ``ytd_st`` and ``ytd_lt`` (below zero when already used).
        """
        over = self.binding(b, ytd_st, ytd_lt)
        return (over.gains, over.allowed) if over is not None else None

    def binding(self, b: Budgets, ytd_st: float, ytd_lt: float) -> Overrun | None:
        """The cap of ``b`` the sales exceed most, with its figures (``None``: none).

        As :meth:`overrun`, naming the cap (:class:`Overrun`): on a tie the total first,
        then the short-term cap, then the long-term one.
        """
        rows = (("total", b.total, ytd_st + ytd_lt, self.st + self.lt),
                ("short_term", b.short_term, ytd_st, self.st),
                ("long_term", b.long_term, ytd_lt, self.lt))
        worst: Overrun | None = None
        for name, cap, used, gain in rows:
            if cap is not None and used + gain - cap > max(
                    worst.used + worst.gains - worst.cap if worst else 0.0, 0.005):
                worst = Overrun(name, float(cap), float(used), float(gain))
        return worst

    def raise_budgets(self, b: Budgets, ytd_st: float, ytd_lt: float,
                      cushion: float = 1.0) -> Budgets:
        """``b`` with each cap the sales would exceed raised to what they realise.

        A cap is raised to the year's gains so far (``ytd_st``, ``ytd_lt``) plus the sales'
        own, plus ``cushion`` USD (the solver's and the rounding's tolerance); a cap that
        is not exceeded, or no cap, is kept as it is.
        """
        def up(cap: float | None, used: float) -> float | None:
            if cap is None or used <= cap:
                return cap
            return float(math.ceil(used + cushion))

        return replace(b, total=up(b.total, ytd_st + ytd_lt + self.st + self.lt),
                       short_term=up(b.short_term, ytd_st + self.st),
                       long_term=up(b.long_term, ytd_lt + self.lt))


def cash_needed(st: AccountState, settings: RebalanceSettings) -> float:
    """USD the step must raise by sales: its cash target less the cash (and flow) it has."""
    return float(settings.cash_target * st.value - (st.cash + st.contribution))


def least_gains(st: AccountState, need: float, settings: RebalanceSettings,
                growth: float = 1.0) -> ForcedGains:
    """The sales of least tax that raise ``need`` USD, and the gains they realise.

    Lots at a loss first, then the least gain per dollar (the highest basis), long-term
    before short-term at the same gain per dollar; never a name the step may not sell
    (``st.no_sell``) nor, when wash sales are forbidden, a loss a recent purchase locks
    (``st.wash_no_loss_sale``). Whole shares (``settings.whole_shares``) and, in each
    name, at least ``settings.min_trade`` USD or the whole position if it is smaller.
    A withdrawal the lots cannot pay sells them all (the caller refuses it before,
    :func:`pma_lab.plan.simulation._check_withdrawal`). ``growth``: the lots' prices are
    ``st``'s times this factor (a later withdrawal's, at the plan's expected return; the
    basis is unchanged).
    """
    lots = st.lots
    value = lots.value.to_numpy(dtype=float)
    gain = lots.gain.to_numpy(dtype=float)
    if growth != 1.0:
        gain = gain + value * (growth - 1.0)
        value = value * growth
    shares = lots.shares.to_numpy(dtype=float)
    ticker = lots.ticker.to_numpy()
    ok = _sellable(st, settings, value, gain)
    per = np.divide(gain, value, out=np.zeros_like(gain), where=value > 0)
    short = (lots.term == "ST").to_numpy()
    order = least_gain_order(per, short, ok)
    position = {t: float(value[(ticker == t) & ok].sum()) for t in set(ticker[ok])}
    sold_in: dict[str, float] = {}

    def short_of_min(t: str) -> float:  # USD still to sell in ``t`` for its minimum trade
        return min(float(settings.min_trade), position[t]) - sold_in.get(t, 0.0)

    left, st_gain, lt_gain, sold = float(need), 0.0, 0.0, 0.0
    for j in order:
        t = ticker[j]
        if left <= 0.005:  # paid: only a name's minimum trade may be left to complete
            if not any(short_of_min(n) > 0.005 for n in sold_in):
                break
            if t not in sold_in or short_of_min(t) <= 0.005:
                continue
            want = short_of_min(t)
        else:
            want = max(left, short_of_min(t))
        if settings.whole_shares:
            px = value[j] / shares[j]
            n = min(math.ceil(want / px - 1e-9), shares[j])
            amount, g = n * px, gain[j] * n / shares[j]
        else:
            amount = min(want, value[j])
            g = gain[j] * amount / value[j]
        sold_in[t] = sold_in.get(t, 0.0) + amount
        sold += amount
        left -= amount
        if short[j]:
            st_gain += g
        else:
            lt_gain += g
    return ForcedGains(float(need), st_gain, lt_gain, sold)


def _sellable(st: AccountState, settings: RebalanceSettings, value: np.ndarray,
              gain: np.ndarray) -> np.ndarray:
    """Which of ``st.lots`` (worth ``value``, at a ``gain``) a withdrawal may sell.

    A lot of positive value, not in ``st.no_sell``, and not a loss a recent purchase locks
    (``st.wash_no_loss_sale``) when wash sales are forbidden.
    """
    ticker = st.lots.ticker.to_numpy()
    ok = (value > 0) & ~np.isin(ticker, list(st.no_sell))
    if settings.wash_sale_mode == "forbid":
        ok &= ~((gain < 0) & np.isin(ticker, list(st.wash_no_loss_sale)))
    return ok


def least_overrun(st: AccountState, need: float, settings: RebalanceSettings,
                  b: Budgets, growth: float = 1.0) -> ForcedGains:
    """The sales that raise ``need`` USD exceeding the caps of ``b`` the least, and gains.

    Fractional shares, no minimum trade: the withdrawal's own gains.

    With one cap, the sales of least tax (:func:`least_gains`) exceed it the least. With
    separate short- and long-term caps (and a total) one order of sale does not do: under
    ``st=0`` and ``lt=50000``, the lot with the least gain per dollar may be short-term,
    over its $0 cap, while a long-term lot raises the withdrawal within every cap. So this
    solves a small linear programme over the lots: USD sold of each lot between 0 and its
    value, at least ``need`` in all, each lot's gain in proportion to the USD sold, and the
    sum of each cap's overrun for the year (after ``st.ytd_st``, ``st.ytd_lt``) as low as
    it goes; then, among the sales with that overrun, the least net gain. The result's
    :meth:`ForcedGains.overrun` is ``None`` when some mix of sales raises the withdrawal
    within every cap. Lots the step may not sell are left out as in :func:`least_gains`;
    when the lots it may sell cannot raise ``need`` (refused before,
    :func:`pma_lab.plan.simulation._check_withdrawal`), the result is :func:`least_gains`'.
    ``growth``: the lots' prices are ``st``'s times this factor, as in :func:`least_gains`.
    """
    bare = replace(settings, min_trade=0.0, whole_shares=False)
    caps = [(cap, used, term) for cap, used, term in
            ((b.total, st.ytd_st + st.ytd_lt, "both"), (b.short_term, st.ytd_st, "ST"),
             (b.long_term, st.ytd_lt, "LT")) if cap is not None]
    value = st.lots.value.to_numpy(dtype=float) * growth
    gain = st.lots.gain.to_numpy(dtype=float) + st.lots.value.to_numpy(dtype=float) * (
        growth - 1.0)
    ok = _sellable(st, settings, value, gain)
    value, gain = value[ok], gain[ok]
    if not caps or need <= 0 or value.sum() < need - 0.005:
        return least_gains(st, need, bare, growth=growth)
    per = gain / value
    short = (st.lots.term == "ST").to_numpy()[ok]
    n, k = len(value), len(caps)
    # variables: USD sold of each lot (n), then each cap's overrun (k, >= 0)
    a_ub = np.zeros((k + 2, n + k))
    b_ub = np.zeros(k + 2)
    for i, (cap, used, term) in enumerate(caps):  # used + gain - overrun <= cap
        counted = np.ones(n, bool) if term == "both" else (short if term == "ST" else ~short)
        a_ub[i, :n] = np.where(counted, per, 0.0)
        a_ub[i, n + i] = -1.0
        b_ub[i] = cap - used
    a_ub[k, :n] = -1.0  # sold >= need
    b_ub[k] = -float(need)
    bounds = [(0.0, v) for v in value] + [(0.0, None)] * k
    # first the least overrun, then the least net gain among the sales that overrun that
    sol = linprog(np.concatenate([np.zeros(n), np.ones(k)]), A_ub=a_ub[:k + 1],
                  b_ub=b_ub[:k + 1], bounds=bounds, method="highs")
    if sol.status != 0:
        return least_gains(st, need, bare, growth=growth)
    a_ub[k + 1, n:] = 1.0  # overrun <= the least (the solver's tolerance)
    b_ub[k + 1] = float(sol.fun) + 1e-6
    sol = linprog(np.concatenate([per, np.zeros(k)]), A_ub=a_ub, b_ub=b_ub, bounds=bounds,
                  method="highs")
    if sol.status != 0:
        return least_gains(st, need, bare, growth=growth)
    x = np.asarray(sol.x[:n])
    gain = per * x
    return ForcedGains(float(need), float(gain[short].sum()), float(gain[~short].sum()),
                       float(x.sum()))


def _excess(g: ForcedGains, b: Budgets, ytd_st: float, ytd_lt: float) -> float:
    """USD by which ``g``'s gains exceed the caps of ``b``, summed over the caps."""
    return sum(max(used + gain - cap, 0.0) for cap, used, gain in
               ((b.total, ytd_st + ytd_lt, g.st + g.lt), (b.short_term, ytd_st, g.st),
                (b.long_term, ytd_lt, g.lt)) if cap is not None)


def least_forced(st: AccountState, need: float, settings: RebalanceSettings,
                 b: Budgets) -> ForcedGains:
    """The sales of least tax raising ``need`` USD that exceed the caps of ``b`` the least.

    In whole shares and minimum trades (``settings``), as :func:`least_gains` sells.

    :func:`least_gains` over every lot, or over one term's lots alone (separate short- and
    long-term caps: under ``st=0`` a long-term sale may exceed its cap by less than the
    short-term lot with the least gain per dollar exceeds $0): of those that raise
    ``need``, the one whose gains exceed the caps by the least USD (ties: every lot).
    """
    best = least_gains(st, need, settings)
    if b.short_term is None and b.long_term is None:
        return best
    term = st.lots.term
    for t in ("LT", "ST"):
        g = least_gains(replace(st, lots=st.lots[term == t]), need, settings)
        if g.sold >= need - 0.005 and _excess(g, b, st.ytd_st, st.ytd_lt) < \
                _excess(best, b, st.ytd_st, st.ytd_lt) - 0.005:
            best = g
    return best


def min_trade_note(withdrawal: float, budgets: Budgets, over: float, min_trade: float,
                   kept: float) -> str:
    """The plan's note when a withdrawal's minimum trade realised gains beyond its budget.

    ``over``: USD of gains beyond ``budgets``; ``kept``: USD of the sale left in cash (said
    when a dollar or more).
    """
    caps = [f"{fmt_usd(v)} {w}" for v, w in ((budgets.total, "a year"),
                                              (budgets.short_term, "short-term"),
                                              (budgets.long_term, "long-term"))
            if v is not None]
    rest = f", and {fmt_usd(kept)} of it stays in cash" if kept >= 1.0 else ""
    return MIN_TRADE_NOTE.format(withdrawal=fmt_usd(withdrawal), min_trade=fmt_usd(min_trade),
                                 over=fmt_usd(max(over, 0.0)), budget=", ".join(caps),
                                 kept=rest)


def gain_budget(b: Budgets) -> bool:
    """Whether ``b`` caps gains in USD of net gain (the plans' budgets), so it can be raised."""
    return b.unit is BudgetUnit.GAIN and any(
        v is not None for v in (b.total, b.short_term, b.long_term))


_AMOUNT = re.compile(r"^\$?([0-9]{1,3}(,[0-9]{3})+|[0-9]+)(\.[0-9]{1,2})?$")
"""A dollar amount as an advisor types it: ``20000``, ``20,000``, ``$20,000.50``; ASCII
digits only (``\\d`` and :class:`float` take other scripts' digits, ``٢٠٠٠``)."""


def parse_withdrawal(amount: str, when: str = "today", as_of: dt.date | None = None
                     ) -> float:
    """A withdrawal typed in (the dashboard's inputs): USD a year, 0 for none.

    ``amount``: dollars taken out each plan year (``20000``, ``20,000``, ``$20,000.50``;
    empty or 0: none). ``when``: ``today`` or the analysis date ``as_of`` (ISO): a plan
    pays its withdrawal at the start of every plan year, the first on the analysis date.

    Raises
    ------
    DataError
        Naming the input, the value and the fix: not a dollar amount, negative, more than
        cents, beyond the plausible range, or a date other than today.
    """
    text = amount.strip()
    if text in ("", "0"):
        usd = 0.0
    else:
        if text.startswith("-") or text.startswith("$-"):
            raise DataError(f"withdrawal {amount!r}: enter the dollars taken out as a "
                            "positive amount, e.g. 20000 for $20,000 a year")
        if not _AMOUNT.match(text):
            raise DataError(f"withdrawal {amount!r} is not a dollar amount; write the "
                            "digits 0-9, e.g. 20000 or 20,000 (cents at most: 20000.50)")
        usd = float(text.lstrip("$").replace(",", ""))
        if usd > LIMITS.max_amount:
            raise DataError(f"withdrawal {amount!r} is beyond the plausible range (at most "
                            f"{fmt_usd(LIMITS.max_amount)} a year); correct the amount")
    day = when.strip().lower()
    if day in ("", "today") or (as_of is not None and day == as_of.isoformat()):
        return usd
    try:
        dt.date.fromisoformat(day)
    except ValueError:
        raise DataError(f"withdrawal date {when!r} is not a date; write today or a date "
                        "as YYYY-MM-DD") from None
    first = f" ({as_of.isoformat()})" if as_of is not None else ""
    raise DataError(f"withdrawal date {when!r}: a plan pays its withdrawal at the start of "
                    f"every plan year, the first today{first}; write today (another date "
                    "is not supported)")


def with_withdrawal(plan: str, usd: float) -> str:
    """A plan's text with ``usd`` a year withdrawn (``flow=-usd``; 0: the text unchanged)."""
    if usd <= 0:
        return plan
    flow = f"{-usd:.2f}".rstrip("0").rstrip(".")
    return f"{plan}:flow={flow}"
