"""Why a plan could not be completed, in the client's words and in the service team's.

A plan stops at the first step whose rebalance has no solution
(:func:`pma_lab.plan.simulation.simulate`). The engine's reason
(:func:`pma_lab.optimize.diagnose.diagnose`: the constraint groups, the profile keys) is
for the service team (``PlanRun.failed``, the command line's standard error); the client
reads :func:`client_reason`: the step's date, the real cause in plain words (a withdrawal
against what the account was worth, when the step paid one) and the fix, with no constraint
group or profile key. When the plan's gains budget is among the rules that conflict and a
loss was carried into the step's tax year, it also says how the budget counts gains: the
year's realised gains less its realised losses, before any loss carried in from earlier
years (:func:`pma_lab.optimize.limits.budget_limits` counts the year's sales and never the
carryforward), so the carryforward lowers the tax but does not enlarge the budget of a
rebalance; a withdrawal's own gains may go beyond the budget as far as that loss offsets
them (:func:`pma_lab.plan.simulation._withdrawal_over_budget`), so a withdrawal that still
stops is told how much of them the loss offsets with no tax, and the fix asks for a
budget that holds all of them.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import pandas as pd

from pma_lab.errors import WithdrawalBudgetError
from pma_lab.formatting import fmt_usd
from pma_lab.plan.withdrawal import CAP_WORDS

__all__ = ["StepFailure", "client_reason", "loss_carried_in", "withdrawal_budget_reason"]

#: an engine constraint group -> (what it is, how to loosen it), in the client's words
_WORDS = {
    "budgets": ("the plan's gains budget", "a larger gains budget"),
    "te_cap": ("the plan's tracking-error ceiling", "a looser tracking-error ceiling"),
    "cash_target": ("the cash the account keeps", "a smaller cash reserve"),
    "restrictions.no_buy": ("your restrictions", "fewer restrictions"),
    "restrictions.never_hold": ("your restrictions", "fewer restrictions"),
    "wash_sale_locks": ("the wash-sale rules", "waiting for the wash-sale window to pass"),
    "sector_limits": ("the sector limits", "looser sector limits"),
    "max_names": ("the limit on the number of names", "more names"),
    "min_trade": ("the minimum trade size", "a smaller minimum trade"),
    "whole_shares": ("whole-share trading", "fractional shares"),
}
_WEIGHT_CAP = ("the limits on single names' weights", "looser limits on single names")


def _words(group: str) -> tuple[str, str] | None:
    if group in _WORDS:
        return _WORDS[group]
    if "<=" in group or group == "weight_caps":  # a name's cap ("AAPL <= 5%")
        return _WEIGHT_CAP
    return None  # an internal group (one side per name) or a researcher's: not named


def _and(items: list[str], word: str = "and") -> str:
    items = list(dict.fromkeys(items))
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {word} {items[-1]}"


@dataclass(frozen=True)
class StepFailure:
    """The step at which a plan stopped, as :func:`client_reason` words it.

    Attributes
    ----------
    step : int
        The step's number (0 is today).
    day : datetime.date
        The step's date.
    plan_year : int
        The plan year the step is in (1 is the first).
    withdrawal : float
        USD the plan withdrew at this step (its yearly ``flow``, positive), 0 when none.
    value_before : float
        The account's value that day before the withdrawal: lots at the day's prices and
        cash (USD).
    conflicts : tuple[str, ...]
        The engine's constraint groups: those whose relaxation alone makes the step
        feasible (``single``), else every active one.
    single : bool
        Whether relaxing one of ``conflicts`` alone makes the step feasible.
    carried_in : float
        The capital loss carried into the step's tax year from earlier years (USD,
        positive), 0 when none or not known: the error's (``carried``) when the withdrawal
        itself needs gains beyond the budget, else :func:`loss_carried_in`.
    carried_st, carried_lt : float
        Then: that loss by character (the error's; USD), 0 otherwise.
    gains_offset : float
        Then: the withdrawal's net gain that loss offsets with no tax (the error's
        ``offset``: the loss less the year's loss limit against ordinary income and the
        year's other net gains; USD), 0 otherwise.
    gains_needed, gains_allowed : float
        When the withdrawal itself needs gains beyond the plan's budget
        (:class:`~pma_lab.errors.WithdrawalBudgetError`): the least net gain its sales of
        least tax realise and what the budget leaves for the year (USD); 0 otherwise.
    gains_spent, gains_budget : float
        Then: the gains the tax year's earlier sales realised against that budget, and the
        budget (USD); 0 when none.
    gains_cap : str
        Then: the budget's cap that binds (the error's ``cap``: ``"total"``,
        ``"short_term"`` or ``"long_term"``), which ``gains_needed``, ``gains_allowed``,
        ``gains_spent`` and ``gains_budget`` are of; ``""`` otherwise (the total).
    gains_forced : float
        Then: the part of ``gains_needed`` the restrictions' sales of that day realise
        (the error's ``forced``); 0 when none.
    """

    step: int
    day: dt.date
    plan_year: int
    withdrawal: float
    value_before: float
    conflicts: tuple[str, ...] = ()
    single: bool = False
    carried_in: float = 0.0
    gains_needed: float = 0.0
    gains_allowed: float = 0.0
    gains_spent: float = 0.0
    gains_budget: float = 0.0
    carried_st: float = 0.0
    carried_lt: float = 0.0
    gains_offset: float = 0.0
    gains_cap: str = ""
    gains_forced: float = 0.0


def loss_carried_in(years: pd.DataFrame, year: int, first: float) -> float:
    """The capital loss carried into tax ``year`` from earlier years (USD, positive).

    ``years`` is a plan run's yearly table (:func:`pma_lab.plan.accounting.
    return_carryforward`: the loss the return carries out of each year, after the year's
    netting and its offset against income); ``first`` is the loss carried into the run's
    first year (short- plus long-term: :meth:`pma_lab.io.profile.ClientProfile.
    carryforward_into` of the analysis year).
    """
    from pma_lab.plan.accounting import return_carryforward

    if len(years) and ("carryforward" in years or "carryforward_return" in years):
        before = years[years.year.astype(int) < int(year)]
        if len(before):
            v = float(return_carryforward(before.sort_values("year")).iloc[-1])
            return v if math.isfinite(v) and v > 0 else 0.0
    return max(float(first), 0.0)


_BUDGET_RULE = ("The gains budget counts the year's realised gains less its realised losses, "
                "before any loss carried in from earlier years: the loss of {carried} carried "
                "into {year} lowers the tax on those gains but does not enlarge the budget. ")
"""How the budget counts gains (:func:`pma_lab.optimize.limits.budget_limits`), said when the
budget conflicts in a year that carries a loss in."""

_WITHDRAWAL_RULE = ("The gains budget counts the year's realised gains less its realised "
                    "losses; a withdrawal's own gains may go beyond it when the loss carried "
                    "in from earlier years offsets them with no tax (after what that loss "
                    "offsets against ordinary income and the year's other gains), and the "
                    "loss of {carried} carried into {year} offsets only {offset} of them. ")
"""How the budget counts a withdrawal's gains (:func:`pma_lab.plan.simulation.
_withdrawal_over_budget`), said when a withdrawal needs more gains than the budget and the
loss carried into the year together allow."""


def _over_budget(gains: float, allowed: float, year: int, spent: float = 0.0,
                 budget: float = 0.0, cap: str = "", forced: float = 0.0
                 ) -> tuple[str, str]:
    """A withdrawal's gains beyond the budget in words: (the cause, the budget's fix).

    ``spent``: the gains the year's earlier sales realised against the ``budget`` (USD),
    said when a dollar or more: the cause, when the withdrawal alone would fit. ``cap``:
    the budget's cap that binds (``"short_term"``, ``"long_term"``; ``"total"`` or ``""``:
    the total, "the gains budget"); a short- or long-term cap is named with its value and
    the gains of its term, so the fix raises the cap that binds, not a total the plan may
    not have. The fix is that cap larger by all of the gains beyond it: a loss carried
    into the year that offsets only part of them with no tax pays none of them
    (:func:`pma_lab.plan.simulation._offset_by_loss_in`: the rest would be taxed), and
    by what the earlier sales took it over (``allowed`` below zero: the restrictions'
    sales, made whatever the tax, raise a budget, e.g. a ``sell_within`` glide's at the
    year's earlier steps), rounded up to the dollar: a budget that much larger pays the
    withdrawal (review rev1: "$877 larger" failed again asking "$874 larger", the glide's
    $1,193 over the budget left out). ``forced``: the part of ``gains`` the restrictions'
    sales of the same day realise (said when a dollar or more).
    """
    extra = math.ceil(max(gains - allowed, 0.0) - 0.005)
    words = CAP_WORDS.get(cap or "total", CAP_WORDS["total"])
    term = {"short_term": "short-term ", "long_term": "long-term "}.get(cap, "")
    value = f" of {fmt_usd(budget)} a year" if term else ""
    over = spent - budget
    earlier = (f": the year's earlier sales realised {fmt_usd(spent)} of the plan's "
               f"{fmt_usd(budget)} {words} for {year} before this withdrawal"
               + (f", {fmt_usd(over)} over it from the sales your restrictions force "
                  "(made whatever the tax)" if round(over) > 0 else "")
               if round(spent) > 0 else "")
    among = (f", {fmt_usd(forced)} of them from the sales your restrictions force that day "
            "(made whatever the tax)" if round(forced) > 0 else "")
    return (f"the sales of least tax that raise it (losses first, then the highest cost "
            f"basis) would realise {fmt_usd(gains)} of {term}gains{among} and the plan's "
            f"{words}"
            f"{value} leaves {fmt_usd(max(allowed, 0.0))} for {year}{earlier}",
            f"a {words} at least {fmt_usd(extra)} larger")


def withdrawal_budget_reason(e: WithdrawalBudgetError) -> str:
    """Today's step refused for its withdrawal, in :func:`client_reason`'s words.

    ``e``: :class:`~pma_lab.errors.WithdrawalBudgetError` from today's trades; the
    dashboard shows this when it cannot show them.
    """
    cause, fix = _over_budget(e.gains, e.allowed, e.year, e.spent, e.budget, e.cap,
                              e.forced)
    return (f"The plan withdraws {fmt_usd(e.withdrawal)} today; {cause}. To fix: a smaller "
            f"withdrawal or {fix}.")


def client_reason(failure: StepFailure) -> str:
    """Why the plan stopped and what to change, in plain words (one or two sentences).

    The cause named is the withdrawal against the account's value when the step paid one
    (the sales that raise it break the rule that conflicts, or what is left is too little
    to trade within the plan's rules), else the rules that could not all hold that day.
    No constraint group or profile key appears: those are the service team's
    (``PlanRun.failed``).
    """
    f = failure
    when = f"On {f.day.isoformat()} (year {f.plan_year} of the plan)"
    named = [w for w in (_words(g) for g in f.conflicts) if w is not None]
    rules = _and([w[0] for w in named]) if named else ""
    loosen = [w[1] for w in named] if f.single else []
    rule = _BUDGET_RULE.format(carried=fmt_usd(f.carried_in), year=f.day.year) \
        if _WORDS["budgets"] in named and round(f.carried_in) > 0 else ""
    if f.withdrawal > 0:
        head = (f"{when} the plan withdraws {fmt_usd(f.withdrawal)} from an account then "
                f"worth {fmt_usd(f.value_before)}")
        if f.single and rules and f.gains_needed > 0:
            # the withdrawal itself needs more gain than the budget leaves: how much more
            cause, fix = _over_budget(f.gains_needed, f.gains_allowed, f.day.year,
                                      f.gains_spent, f.gains_budget, f.gains_cap,
                                      f.gains_forced)
            cause, loosen = f"; {cause}", [fix]
            if rule:
                rule = _WITHDRAWAL_RULE.format(carried=fmt_usd(f.carried_in),
                                               year=f.day.year,
                                               offset=fmt_usd(f.gains_offset))
        elif f.single and rules:
            cause = f"; the sales that raise it would break {rules}"
        else:
            left = max(f.value_before - f.withdrawal, 0.0)
            cause = (f", which leaves {fmt_usd(left)}: too little to trade within the plan's "
                     "rules" + (f" ({rules})" if rules else ""))
        return (f"{head}{cause}. {rule}To fix: "
                f"{_and(['a smaller withdrawal', *loosen], 'or')}.")
    if f.single and rules:
        return (f"{when} no trade could keep to {rules} together with the plan's other "
                f"rules. {rule}To fix: {_and(loosen, 'or')}.")
    return (f"{when} no trade could keep to all of the plan's rules at once"
            + (f" ({rules})" if rules else "") + f". {rule}To fix: change the plan or its "
            "limits; your advisor has the details.")
