"""Core allocations (60/40, 70/30): an equity sleeve and a bond ladder with a rebalance band.

The equity sleeve is direct-indexed (or an active + index core,
:mod:`pma_lab.portfolio.completion`);
the bond sleeve is a ladder (:mod:`pma_lab.portfolio.ladder`). The household holds the split at the
target within a **band** (default 5 percentage points either way). Rebalancing between the
sleeves is tax-aware in the usual order:

1. **Cash first**: new cash, coupons and maturing rungs go to the sleeve that is under its
   target (maturing rungs are otherwise reinvested at the long end of the ladder).
2. **Inside the band, nothing is sold.**
3. **Outside the band, sell only back to the band's edge** (not to the target), so the
   least gain is realised; the equity sale itself is then made lot by lot by the tax-aware
   rebalance (a withdrawal of that amount from the equity account: the ``contribution``
   argument of :func:`pma_lab.optimize.rebalance.account_state`), which sells losses and high-basis
   lots first. Bonds bought at par and sold before maturity are assumed to sell at par
   (no rate move), so moving bonds to equity realises no gain in this model.
4. **A budget plan's gains budget limits the sale** (``max_sell_equity``,
   :func:`pma_lab.plan.simulation.band_sale_limit`): an account far above the band (an
   all-equity book moving to 60/40) sells this year only what the sales of least tax
   allow within the budget, and the move's reason says how much of the move to the edge
   it made and that the rest follows as later years' budgets allow; the budget is never
   broken for the band. Each later tax year's budget goes first to that move: the plan's
   steps before the next plan-year start in the same tax year hold back the gains of its
   band sale (:class:`pma_lab.plan.simulation.LaterSales`), and only the rest goes to
   trades toward the target, until the account is inside the band. The band is held
   between the one equity account and the ladder: a household's other accounts are
   neither sold nor bought for it.

All amounts are USD; :class:`SleevePlan` lists every move with its reason. Every
transition plan applies these rules at the start of each plan year
(:mod:`pma_lab.plan.sleeves`), so its figures cover the whole portfolio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pma_lab.errors import DataError
from pma_lab.formatting import fmt_usd

__all__ = ["CoreAllocation", "SleevePlan", "plan_sleeves", "CORE_ALLOCATIONS",
           "BAND_MOVE_PART"]

BAND_MOVE_PART = ("moved {moved} of the {needed} needed to reach the band (the sales of "
                  "least tax that the capital-gains budget allows this year); the rest "
                  "over the next years as the budget allows")
"""The reason of a band move the capital-gains budget limits (:func:`plan_sleeves`'s
``max_sell_equity``): the proposal, the dashboard and the command line show it as is."""


@dataclass(frozen=True)
class CoreAllocation:
    """A core allocation: equity share and rebalance band.

    Attributes
    ----------
    equity : float
        Target equity share (0.60 for 60/40).
    band : float
        Allowed drift either way before selling, in share points (0.05 = 5 points).
    name : str
    """

    equity: float
    band: float = 0.05
    name: str = ""

    def __post_init__(self) -> None:
        if not 0 < self.equity < 1:
            raise DataError(f"equity share {self.equity!r} must be between 0 and 1 "
                            "(0.6 for 60/40)")
        if not 0 <= self.band < min(self.equity, 1 - self.equity):
            raise DataError(f"band {self.band!r} must be at least 0 and leave both sleeves "
                            "a positive share (e.g. 0.05 for 5 points)")

    @property
    def label(self) -> str:
        """``60/40`` style label."""
        return self.name or f"{round(self.equity * 100)}/{round((1 - self.equity) * 100)}"


CORE_ALLOCATIONS = {"60/40": CoreAllocation(0.60, name="60/40"),
                    "70/30": CoreAllocation(0.70, name="70/30")}
"""The program's two core allocations (5-point bands)."""


@dataclass(frozen=True)
class SleevePlan:
    """How much moves between the sleeves, and why.

    Attributes
    ----------
    allocation : CoreAllocation
    moves : pd.DataFrame
        One row per move: ``source``, ``destination``, ``amount`` (USD), ``reason``.
    before, after : pd.Series
        ``equity``, ``bonds``, ``cash`` (USD) and ``equity_share`` before and after.
    sell_equity : float
        USD the equity sleeve must sell (its tax-aware rebalance's withdrawal).
    sell_bonds : float
        USD of bonds sold before maturity.
    account : str
        The account whose holdings and cash the equity sleeve is, in the client's words,
        when the client has several accounts (a household's plans follow one taxable
        account: :func:`pma_lab.report.shelf.sleeves`); ``""`` for one account.
    """

    allocation: CoreAllocation
    moves: pd.DataFrame
    before: pd.Series
    after: pd.Series
    sell_equity: float
    sell_bonds: float
    account: str = ""


def _state(equity: float, bonds: float, cash: float) -> pd.Series:
    total = equity + bonds
    return pd.Series({"equity": equity, "bonds": bonds, "cash": cash,
                      "equity_share": equity / total if total > 0 else np.nan})


def plan_sleeves(allocation: CoreAllocation, equity: float, bonds: float, cash: float = 0.0,
                 maturing: float = 0.0, max_sell_equity: float | None = None) -> SleevePlan:
    """Plan the moves between the equity sleeve and the bond ladder (see the module docs).

    Parameters
    ----------
    allocation : CoreAllocation
    equity : float
        Equity sleeve value (USD).
    bonds : float
        Bond ladder value (USD), including ``maturing``.
    cash : float
        New cash and coupons to invest (USD).
    maturing : float
        Rungs maturing now (USD), part of ``bonds``: cash that can go to equity without
        selling a bond.
    max_sell_equity : float | None
        The most equity (USD) that may be sold toward the band's edge now (a plan's
        capital-gains budget: :func:`pma_lab.plan.simulation.todays_flow`); ``None``: no
        limit. A band move larger than that sells only this much, and its reason says
        how much of the move to the edge was made (:data:`BAND_MOVE_PART`).

    Returns
    -------
    SleevePlan

    Raises
    ------
    DataError
        For negative amounts or maturing rungs larger than the ladder.
    """
    for name, v in (("equity", equity), ("bonds", bonds), ("cash", cash),
                    ("maturing", maturing)):
        if not (np.isfinite(v) and v >= 0):
            raise DataError(f"{name} {v!r} must be a non-negative amount in USD")
    if maturing > bonds + 1e-9:
        raise DataError(f"maturing rungs ${maturing:,.2f} exceed the ladder's ${bonds:,.2f}")
    if equity + bonds + cash <= 0:
        raise DataError("nothing to allocate: the sleeves and the cash are all zero")
    t, band = allocation.equity, allocation.band
    before = _state(equity, bonds, cash)
    moves: list[tuple[str, str, float, str]] = []
    total = equity + bonds + cash
    # 1. cash (and maturing rungs when equity is under target) to the underweight sleeve
    gap_eq = t * total - equity  # > 0: equity is under target
    if cash > 0:
        to_eq = float(np.clip(gap_eq, 0.0, cash))
        if to_eq > 0:
            moves.append(("cash", "equity", to_eq, "new cash to the sleeve under target"))
        if cash - to_eq > 0:
            moves.append(("cash", "bonds", cash - to_eq, "new cash to the sleeve under "
                          "target" if to_eq == 0 else "rest of the new cash"))
        equity += to_eq
        bonds += cash - to_eq
        gap_eq -= to_eq
    if maturing > 0 and gap_eq > 0:
        m = float(min(maturing, gap_eq))
        moves.append(("bonds (maturing rungs)", "equity", m,
                      "maturing rungs to equity instead of a new long rung"))
        equity += m
        bonds -= m
        maturing -= m
    if maturing > 0:
        moves.append(("bonds (maturing rungs)", "bonds", float(maturing),
                      "reinvested at the long end of the ladder"))
    # 2./3. outside the band: sell back to the band's edge
    share = equity / (equity + bonds)
    sell_eq = sell_bd = 0.0
    if share > t + band + 1e-12:
        sell_eq = equity - (t + band) * (equity + bonds)
        why = (f"equity {share:.1%} above the {t + band:.0%} band edge: sell back "
               "to the edge (tax-aware lot selection)")
        if max_sell_equity is not None and sell_eq > max(max_sell_equity, 0.0) + 0.005:
            why = (f"equity {share:.1%} above the {t + band:.0%} band edge: "
                   + BAND_MOVE_PART.format(moved=fmt_usd(max(max_sell_equity, 0.0)),
                                           needed=fmt_usd(sell_eq)))
            sell_eq = max(float(max_sell_equity), 0.0)
        if sell_eq > 0:
            moves.append(("equity", "bonds", float(sell_eq), why))
        equity -= sell_eq
        bonds += sell_eq
    elif share < t - band - 1e-12:
        sell_bd = (t - band) * (equity + bonds) - equity
        moves.append(("bonds", "equity", float(sell_bd),
                      f"equity {share:.1%} below the {t - band:.0%} band edge: sell bonds "
                      "back to the edge"))
        equity += sell_bd
        bonds -= sell_bd
    frame = pd.DataFrame(moves, columns=["source", "destination", "amount", "reason"])
    return SleevePlan(allocation, frame, before, _state(equity, bonds, 0.0), float(sell_eq),
                      float(sell_bd))
