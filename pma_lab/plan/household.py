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

With several accounts the first step is kept free of names the household would trade the
other way around it (bought by the plan and sold in another account, or the reverse:
:func:`without_pairs`): it is solved again without them when that leaves the return's tax
of today's trades and the household's objective no higher, in the plan's run and in
:func:`pma_lab.plan.simulation.first_trades` alike, so the step the proposal, the
dashboard and the command line show is the one the plan counted.

The budget the household's other taxable accounts trade within is the plan's when the plan
has one (``budget:25000``, ``budget:0``: :func:`household_settings`), else the profile's
``[budgets]``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal

import pandas as pd

from pma_lab.errors import LedgerError, OptimizationError
from pma_lab.formatting import fmt_usd
from pma_lab.optimize.constraints import Additions
from pma_lab.optimize.household import (
    FixedTrades,
    HouseholdResult,
    HouseholdSettings,
    solve_for_client,
)
from pma_lab.plan.plans import Plan, client_plan, parse_plan
from pma_lab.tax.ledger import Ledger, LotRelief

__all__ = ["PLAN_FIRST_STEP", "THESE_TRADES", "household_settings", "around_first_step",
           "around_trades", "opposite_pairs", "without_pairs", "household_objective",
           "PAIR_ROUNDS", "LEFT_AS_THEY_ARE", "NAMES_LISTED", "left_names_note",
           "other_taxable", "book_others"]

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
    other accounts' trades. An immediate plan ("Move now") sells a ``sell_within`` glide's
    names in full today in every account (:attr:`~pma_lab.optimize.household.
    HouseholdSettings.glide_now`), as its own account's first step sells them
    (:func:`pma_lab.optimize.state.go_to_target_state`); other plans sell a glide's first
    year (1/N) in the other accounts. ``plan``: a :class:`~pma_lab.plan.plans.Plan` or its
    code; default the client's plan (:func:`~pma_lab.plan.plans.client_plan`).
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
    # "Move now" goes to the target today in every account: a sell_within glide's names
    # sold in full (glide_now), as the plan's own account sells them (go_to_target_state)
    return HouseholdSettings(gain_budget=total, gain_budget_st=st, gain_budget_lt=lt,
                             whole_shares=not prof.trading.fractional_shares,
                             min_trade_usd=prof.trading.min_trade_usd,
                             # only with a glide: a setting that changes nothing would
                             # keep plans from sharing a cached household solve
                             glide_now=plan.kind == "immediate" and any(
                                 r.action == "sell_within"
                                 for _, r in prof.restrictions.held))


def around_first_step(setup: object, trades: object = None,
                      plan: Plan | str | None = None,
                      additions: Additions | None = None) -> HouseholdResult | None:
    """The household rebalance around a plan's first step; ``None`` with one account.

    ``trades``: the plan's first step (:func:`pma_lab.plan.simulation.first_trades`): that
    taxable account's trades are kept as they are and the other accounts are traded around
    them, within the budget :func:`household_settings` gives for ``plan`` less what the
    year's earlier sales and those trades realised. ``None``: every account optimised (the
    profile's budgets). ``additions``: a researcher's objective terms and constraints
    (:attr:`pma_lab.optimize.rebalance.RebalanceProblem.additions`), added to the
    household's problem (:func:`pma_lab.optimize.household.solve_for_client`).

    Raises
    ------
    InfeasibleError, OptimizationError
        As :meth:`pma_lab.optimize.household.HouseholdProblem.solve`.
    """
    if len(setup.client.profile.accounts) < 2:  # type: ignore[attr-defined]
        return None
    if trades is None:
        return solve_for_client(setup, additions=additions)
    fixed = FixedTrades.from_rebalance(trades, PLAN_FIRST_STEP)
    # one problem per client, one solve per first step and plan settings: the plans
    # compared, their steps solved again without pairs (without_pairs) and the proposal's
    # household section share them (solve_for_client)
    return solve_for_client(setup, household_settings(setup, plan), fixed, additions)


PAIR_ROUNDS = 2
"""At most this many times the plan's first step is solved again without the names the
household would trade the other way (:func:`without_pairs`)."""


def opposite_pairs(setup: object, result: HouseholdResult
                   ) -> tuple[frozenset[str], frozenset[str]]:
    """The fixed account's names another account trades the other way today.

    ``result``: a household solved around a plan's first step (:class:`FixedTrades`).
    A name (with its substantially identical share classes: the ledger's wash-sale
    identity groups) the plan's step buys while another account sells it, or sells while
    another account buys it, is a pair that nearly cancels across the accounts: the
    household undoing part of the plan's account-alone step, at the spread and, for a
    taxable sale, at its tax.

    Returns
    -------
    (the plan's purchases in such a pair, the plan's sales in such a pair): tickers of
    the fixed account.
    """
    t = result.trades
    fixed = result.fixed_account
    if not fixed or not len(t):
        return frozenset(), frozenset()
    group = setup.ledger.identity.group  # type: ignore[attr-defined]
    # the orders as lists (a handful of rows; read at every plan's first step)
    rows = [(a, x, side, group(x)) for a, x, side in zip(
        t.account.tolist(), t.ticker.tolist(), t.side.tolist(), strict=True)]
    others_sell = {g for a, _, side, g in rows if a != fixed and side == "sell"}
    others_buy = {g for a, _, side, g in rows if a != fixed and side == "buy"}
    bought = frozenset(x for a, x, side, g in rows
                       if a == fixed and side == "buy" and g in others_sell)
    sold = frozenset(x for a, x, side, g in rows
                     if a == fixed and side == "sell" and g in others_buy)
    return bought, sold


def without_pairs(setup: object, plan: Plan | str | None, today: object,
                  solve: Callable[[frozenset[str], frozenset[str]], tuple[object, object]],
                  first: object = None, additions: Additions | None = None
                  ) -> tuple[object, object, HouseholdResult | None, tuple[str, ...]]:
    """A plan's first step with no name the household trades the other way today.

    The plan's first step is solved for its account alone and the household's other
    accounts are traded around it (:func:`around_first_step`), so another account may
    sell a name the step buys, or buy one it sells (:func:`opposite_pairs`): pairs the
    household optimised as a whole never makes. The step is then solved again with those
    names left as they are in its account (not bought, not sold: ``solve(no_buy,
    no_sell)``; every pair, else only the step's purchases, else only its sales in them)
    and the household around it again, at most :data:`PAIR_ROUNDS` times; the first new
    step is kept that is no worse: the household optimiser's objective of every account's
    trades (:func:`household_objective`: tracking variance, tax, location cost, spread) no
    higher and the return's tax of today's trades (:attr:`HouseholdResult.tax_this_year`,
    every taxable account's) no higher. Otherwise the step before it stays, with its pairs,
    which the household's notes explain. Wash sales across the accounts hold as in every
    household solve (the household buys no name the step sells at a loss; IRA purchases
    included).

    Parameters
    ----------
    setup : ClientSetup
    plan : Plan | str | None
    today : RebalanceResult
        The step as :func:`pma_lab.plan.simulation.first_trades` hands it on (replayed
        through the ledger).
    solve : Callable
        ``solve(no_buy, no_sell)``: the step solved again with these tickers also not
        bought / not sold in its account; returns ``(result, today)``: the step's result
        and the same replayed through the ledger as ``today`` is (``None`` for ``today``
        when it cannot be).
    first : RebalanceResult | None
        The step's own result behind ``today`` (default ``today``).
    additions : Additions | None
        A researcher's terms and constraints, added to every household problem solved
        here (:func:`around_first_step`); the comparison of objectives stays the
        built-in one (:func:`household_objective`).

    Returns
    -------
    (result, today, household, names)
        The step kept (its result and its ``today``), the household around it (``None``
        with one account) and the names left as they are in the step's account (empty when
        the first step was kept).

    Raises
    ------
    InfeasibleError, OptimizationError
        When the household around the first step cannot be solved (as
        :func:`around_first_step`); a later step that cannot be solved leaves the one
        before it.
    """
    res = today if first is None else first
    hh = around_first_step(setup, today, plan, additions)
    if hh is None:
        return res, today, None, ()
    no_buy: frozenset[str] = frozenset()
    no_sell: frozenset[str] = frozenset()
    for _ in range(PAIR_ROUNDS):
        bought, sold = opposite_pairs(setup, hh)
        if not bought and not sold:
            break
        # every pair left as it is, else only the step's purchases or only its sales in
        # them (a sale kept out may make the step sell a name of more gain instead): the
        # first of those no worse than the step before
        best = None
        for b, s in dict.fromkeys([(bought, sold), (bought, frozenset()),
                                   (frozenset(), sold)]):
            if not b and not s:
                continue
            nb, ns = no_buy | b, no_sell | s
            try:
                res2, today2 = solve(nb, ns)
                hh2 = None if today2 is None else \
                    around_first_step(setup, today2, plan, additions)
            except OptimizationError:
                continue
            if hh2 is not None and _no_worse(hh2, hh):
                best = (res2, today2, hh2, nb, ns)
                break
        if best is None:
            break
        res, today, hh, no_buy, no_sell = best
    return res, today, hh, tuple(sorted(no_buy | no_sell))


LEFT_AS_THEY_ARE = "today's trades leave "
"""How a plan's first-step note begins where :func:`without_pairs` left names as they are
(:func:`left_names_note`; the names themselves are carried as
:attr:`pma_lab.plan.simulation.PlanRun.left_today`, which the proposal counts)."""

NAMES_LISTED = 4
"""Up to this many names left as they are are listed in the first step's note; more are
counted, with the largest few by the value the step would have traded."""

_LARGEST = 3


def left_names_note(kept: Sequence[str], first: object, plan: Plan | None = None) -> str:
    """The plan's first-step note for the names it left as they are (:func:`without_pairs`).

    ``kept``: the names; ``first``: the step solved for its account alone
    (a :class:`~pma_lab.optimize.result.RebalanceResult`: its ``trades``' ``value`` is
    what it would have bought or sold of each); ``plan``: an immediate plan ("Move now")
    takes every other name to the target today, which the note says (its "Time to reach
    the target" is then its next step's). Up to :data:`NAMES_LISTED` names are listed;
    more are counted, with the value of the trades left out and the largest
    (:data:`_LARGEST`) by it: a client reads "26 names ($412,300 of trades)", not 26
    tickers.

    Examples
    --------
    ``today's trades leave AMAT, AVGO as they are in this account: your other accounts
    would trade them the other way (...)``; ``today's trades leave 26 names ($412,300 of
    trades) as they are in this account and take the rest to the target (the largest trades
    left: MSFT, AVGO and LLY; 23 more): your other accounts would trade them the other way
    (...)``.
    """
    names = sorted(kept)
    n = len(names)
    one = n == 1
    t = getattr(first, "trades", None)
    value = {}
    if t is not None and len(t) and "value" in t:
        v = t[t.ticker.isin(names)].assign(value=lambda f: f.value.abs())
        value = v.groupby("ticker").value.sum().to_dict()
    if n <= NAMES_LISTED:
        which = f"{', '.join(names)} as {'it is' if one else 'they are'} in this account"
    else:
        total = sum(float(value.get(x, 0.0)) for x in names)
        worth = f" ({fmt_usd(total)} of trades)" if total > 0 else ""
        which = f"{n} names{worth} as they are in this account"
    immediate = plan is not None and plan.kind == "immediate"
    rest = " and take the rest to the target" if immediate else ""
    largest = ""
    if n > NAMES_LISTED:
        top = sorted(names, key=lambda x: (-float(value.get(x, 0.0)), x))[:_LARGEST]
        largest = (f" (the largest trades left: {', '.join(top[:-1])} and {top[-1]}; "
                   f"{n - len(top)} more)")
    return (f"{LEFT_AS_THEY_ARE}{which}{rest}{largest}: your other accounts would trade "
            f"{'it' if one else 'them'} the other way (so your tax return's tax is no "
            "higher, and the household's balance of tracking error, tax and asset location "
            "no worse)")


def household_objective(result: HouseholdResult,
                        settings: HouseholdSettings | None = None) -> float:
    """The household optimiser's objective of every account's trades in ``result``.

    ``TE^2 + (gamma_tax tax + gamma_location location + gamma_tc spread traded) / V``
    (:mod:`pma_lab.optimize.household`): the household's tracking variance after the
    trades, the economic tax of every taxable account's sales
    (:attr:`HouseholdResult.tax_estimate`), the yearly location cost after them and the
    spread on every order, the fixed account's included, as fractions of the household's
    value ``V``; ``settings``: the aversions (default :class:`HouseholdSettings`'s, those
    the plan's household is solved with).
    """
    s = settings or HouseholdSettings()
    value = float(result.accounts.value.sum())
    cost = (s.gamma_tax * result.tax_estimate
            + s.gamma_location * float(result.location.cost_after.sum())
            + s.gamma_tc * s.spread * float(result.trades.value.abs().sum()))
    return float(result.te_after) ** 2 + cost / value


def _no_worse(new: HouseholdResult, old: HouseholdResult) -> bool:
    """Whether ``new`` is no worse than ``old`` for the household.

    The household optimiser's objective (:func:`household_objective`) no higher, and the
    return's tax of today's trades (:attr:`HouseholdResult.tax_this_year`, the Schedule D
    tax of every taxable account's sales) no higher, to the cent.
    """
    return (household_objective(new) <= household_objective(old)
            and new.tax_this_year <= old.tax_this_year + 0.005)


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
    return solve_for_client(setup, fixed=fixed)


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
