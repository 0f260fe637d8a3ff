"""A household's other accounts around a plan's first step, on the household's one tax return.

A plan follows one taxable account (the first); the household rebalance trades the other
accounts around the plan's first step (:class:`pma_lab.optimize.household.FixedTrades`).
One client files one return, so the gains budget is the household's: the other taxable
accounts' sales today count against it at every later step of the tax year, as the year's
earlier sales do, and their gains and losses net with the plan's (short- and long-term
netting, the $3,000 limit against ordinary income, the carryforward into later years).
Retirement accounts (traditional IRA, Roth) realise nothing and never count.

:func:`pma_lab.plan.simulation.simulate` solves the household around its first step with
:func:`around_first_step` and books the other accounts' trades today in its ledger
(:func:`book_others`), so every later step's budget and every year's netting see them; its
run keeps their sales (``PlanRun.others``), which the plan's tax accounting treats as the
year's earlier sales (:mod:`pma_lab.plan.accounting`). The proposal, the dashboard and
``pma-lab household`` solve the household with the same function
(:func:`pma_lab.report.shelf.household`), so the trades they show are those the plan counted.

The budget the household's other taxable accounts trade within is the plan's when the plan
has one (``budget:25000``, ``budget:0``: :func:`household_settings`), else the profile's
``[budgets]``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd

from pma_lab.errors import LedgerError
from pma_lab.optimize.household import (
    FixedTrades,
    HouseholdResult,
    HouseholdSettings,
    household_for_client,
)
from pma_lab.plan.plans import Plan, client_plan, parse_plan
from pma_lab.tax.ledger import Ledger, LotRelief

__all__ = ["PLAN_FIRST_STEP", "THESE_TRADES", "household_settings", "around_first_step",
           "around_trades", "other_taxable", "book_others"]

PLAN_FIRST_STEP = "the first step of your plan (the trades proposed today)"
"""How the household's notes name the fixed account's trades (:class:`FixedTrades`)."""


def other_taxable(setup: object, account_id: str | None = None) -> list[str]:
    """The household's taxable accounts other than the one the plan follows."""
    taxable = list(setup.taxable_accounts())  # type: ignore[attr-defined]
    acc = account_id or (taxable[0] if taxable else "")
    return [a for a in taxable if a != acc]


def household_settings(setup: object, plan: Plan | str | None = None) -> HouseholdSettings:
    """The household rebalance's settings around ``plan``'s first step.

    A budget plan's budgets (total, short- and long-term) are the household's for the tax
    year: every taxable account's net realised gain counts against them. A plan without a
    budget (immediate, a timeline, hold) leaves the profile's ``[budgets]`` to cap the
    other accounts' trades. ``plan``: a :class:`~pma_lab.plan.plans.Plan` or its code;
    default the client's plan (:func:`~pma_lab.plan.plans.client_plan`).
    """
    prof = setup.client.profile  # type: ignore[attr-defined]
    if plan is None:
        plan = client_plan(setup)  # type: ignore[arg-type]
    elif isinstance(plan, str):
        plan = parse_plan(plan)
    if plan.kind == "budget":
        b = plan.budgets()
        total, st, lt = b.total, b.short_term, b.long_term
    else:
        total, st, lt = (prof.budgets.total, prof.budgets.short_term,
                         prof.budgets.long_term)
    return HouseholdSettings(gain_budget=total, gain_budget_st=st, gain_budget_lt=lt,
                             whole_shares=not prof.trading.fractional_shares,
                             min_trade_usd=prof.trading.min_trade_usd)


def around_first_step(setup: object, trades: object = None,
                      plan: Plan | str | None = None) -> HouseholdResult | None:
    """The household rebalance around a plan's first step; ``None`` with one account.

    ``trades``: the plan's first step (:func:`pma_lab.plan.simulation.first_trades`): that
    taxable account's trades are kept as they are and the other accounts are traded around
    them, within the budget :func:`household_settings` gives for ``plan`` less what the
    year's earlier sales and those trades realised. ``None``: every account optimised (the
    profile's budgets).

    Raises
    ------
    InfeasibleError, OptimizationError
        As :meth:`pma_lab.optimize.household.HouseholdProblem.solve`.
    """
    if len(setup.client.profile.accounts) < 2:  # type: ignore[attr-defined]
        return None
    if trades is None:
        return household_for_client(setup).solve()
    fixed = FixedTrades.from_rebalance(trades, PLAN_FIRST_STEP)
    return household_for_client(setup, household_settings(setup, plan), fixed=fixed).solve()


THESE_TRADES = "the trades of this rebalance"
"""How the household's notes name a rebalance's trades kept as they are
(:func:`around_trades`)."""


def around_trades(setup: object, result: object) -> HouseholdResult | None:
    """The household around one taxable account's rebalance; ``None`` with one account.

    ``result``: a :class:`~pma_lab.optimize.rebalance.RebalanceResult` of a taxable account
    of ``setup`` (``pma-lab rebalance``'s), kept as it is (:class:`FixedTrades`) with the
    other accounts traded around it, as :func:`around_first_step` trades them around a
    plan's first step, within the profile's ``[budgets]`` (a rebalance follows no plan).
    Its loss carryforward is the tax return's: every taxable account's trades today
    netted with the year's other sales and the carry-ins.

    Raises
    ------
    InfeasibleError, OptimizationError
        As :meth:`pma_lab.optimize.household.HouseholdProblem.solve`.
    """
    if len(setup.client.profile.accounts) < 2:  # type: ignore[attr-defined]
        return None
    fixed = FixedTrades.from_rebalance(result, THESE_TRADES)
    return household_for_client(setup, fixed=fixed).solve()


def book_others(led: Ledger, result: HouseholdResult, account_id: str, day: dt.date,
                prices: pd.Series) -> None:
    """Book the household's trades today outside ``account_id`` in a plan's ledger.

    The other accounts' lot sales (a whole lot, as the household's ``full_lot`` flags it,
    at the lot's exact shares, as the household's own ledger check relieves it:
    :func:`_lot_shares`) and purchases, at ``prices`` (the household's), sales first: the
    taxable accounts' sales become dispositions of the year, which the plan's later steps
    count against its gains budget and its tax accounting nets on the return.

    Raises
    ------
    LedgerError
        When a sale does not fit its lot in ``led`` (:func:`_lot_shares`).
    """
    exact = {(lt.account, lt.lot_id): lt.shares for lt in led.lots()
             if lt.account != account_id}
    sales = result.lot_sales[result.lot_sales.account != account_id]
    for r in sales.itertuples():
        q = _lot_shares(r, exact[(r.account, r.lot_id)])
        led.sell(day, str(r.account), str(r.ticker), q,
                 Decimal(repr(float(prices[r.ticker]))), method=LotRelief.SPECIFIC,
                 lot_id=str(r.lot_id))
    t = result.trades
    for r in t[(t.side == "buy") & (t.account != account_id)].itertuples():
        led.buy(day, str(r.account), str(r.ticker), Decimal(repr(float(r.shares))),
                Decimal(repr(float(r.price))))


def _lot_shares(sale: object, held: Decimal) -> Decimal:
    """The shares a household lot sale relieves: the lot's exact ``held`` for a whole lot.

    The household's ``full_lot`` flag says which sales are of a whole lot (set where it
    rounds its trades; its own ledger check and
    :func:`pma_lab.optimize.result._lot_sales` read the same kind of flag): such a sale
    sells the lot's exact shares, a part sells the sale's shares. No tolerance decides it.

    Raises
    ------
    LedgerError
        When a part asks for more than the lot holds, or a whole-lot sale's shares are
        not the lot's (the household was solved on other lots than ``led``'s), naming the
        lot and both share counts: never turned into a whole-lot sale.
    """
    acc, lot, tick, shares, whole = (getattr(sale, k) for k in (
        "account", "lot_id", "ticker", "shares", "full_lot"))
    q = Decimal(repr(float(shares)))
    if q > held or (whole and float(shares) != float(held)):
        raise LedgerError(
            f"the household sells {q} shares of lot {lot} ({tick}) in account {acc}"
            f"{' (the whole lot)' if whole else ''}, which holds {held}", column="shares",
            fix="solve the household again on the ledger the plan books it in (the same "
                "lots and shares as the household's own)")
    return held if whole else q
