"""Constraints of the rebalance as small objects.

Each constraint does three things (the pattern of cvxportfolio's constraint classes,
which compile themselves to cvxpy, and of PyPortfolioOpt's ``add_constraint``):

* :meth:`RebalanceConstraint.compile` writes itself with the problem's expressions and
  Parameters (:class:`Formulation`), once, when the problem is built (DPP: its limits are
  Parameters the problem sets from the settings);
* :meth:`RebalanceConstraint.evaluate` checks itself at a candidate trade
  (:class:`Candidate`: after the whole-share step, any result), giving rows
  ``(constraint, limit, value, ok)`` of :meth:`RebalanceProblem.check_constraints`;
* :meth:`RebalanceConstraint.relax` lifts its limit and :attr:`RebalanceConstraint.fix`
  says, naming the setting, how to loosen it: the infeasibility search
  (``RebalanceProblem._diagnose``) relaxes the active constraints one at a time and
  names those whose relaxation makes the problem feasible.

A researcher's constraint is either a subclass (passed to
:meth:`RebalanceProblem.add_constraint`) or a function returning cvxpy constraints
(wrapped in :class:`CallableConstraint`); both are evaluated at the rounded trades by
their cvxpy violation. Weights are fractions of the account's value ``V``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:
    from pma_lab.optimize.rebalance import (
        AccountState,
        RebalanceProblem,
        RebalanceResult,
        RebalanceSettings,
    )

__all__ = [
    "BIG",
    "CLEAN",
    "Formulation",
    "Candidate",
    "Check",
    "RebalanceConstraint",
    "ParameterLimit",
    "GainBudgets",
    "TrackingErrorCap",
    "CashTarget",
    "BuyRestrictions",
    "WeightCaps",
    "WashSaleLocks",
    "OneSidePerName",
    "MaxNames",
    "SectorLimits",
    "MinTrade",
    "WholeShares",
    "CallableConstraint",
]

BIG = 1e3  # "no cap" for weight-unit budgets and caps
CLEAN = 1e-7  # weights below this are solver round-off (about $0.10 on $1M)

Check = tuple[str, float, float, bool]  # constraint, limit, value, ok


@dataclass(frozen=True, eq=False)
class Formulation:
    """The problem's cvxpy expressions and Parameters that constraints are written with.

    Attributes
    ----------
    P : Mapping[str, cvxpy.Parameter]
        The problem's Parameters (``budget``, ``te2_cap``, ``w_cap``, ``buy_cap``,
        ``sector_hi``, ``cash``, ``cash_target``, ``lock_slack``, ...).
    w : cvxpy.Expression
        Weights after the trade per asset (``state.assets`` order).
    b : cvxpy.Variable
        Weight bought per asset.
    a : cvxpy.Variable
        Active look-through weights against the target (risk-model order).
    sold_total : cvxpy.Expression
        Total weight sold.
    look : cvxpy.Expression
        Look-through weights after the trade (risk-model order).
    budget_lhs : cvxpy.Expression
        Net realised gain (total, ST, LT) in the budget's unit.
    sale : cvxpy.Variable
        Weight sold per lot, or per lot class when lots are aggregated.
    sale_cap : np.ndarray
        Most that each entry of ``sale`` can sell.
    locked : np.ndarray
        Positions in ``sale`` of loss lots locked by a recent purchase.
    S : scipy.sparse matrix
        Model names to sectors.
    asset_index : Mapping[str, int]
        Ticker to its position in ``w`` and ``b``.
    te2 : cvxpy.Expression | None
        Tracking variance of the problem being built (exact or relaxed form).
    """

    P: Mapping[str, cp.Parameter]
    w: cp.Expression
    b: cp.Variable
    a: cp.Variable
    sold_total: cp.Expression
    look: cp.Expression
    budget_lhs: cp.Expression
    sale: cp.Variable
    sale_cap: np.ndarray
    locked: np.ndarray
    S: sp.csr_matrix
    asset_index: Mapping[str, int]
    te2: cp.Expression | None = None


@dataclass(frozen=True, eq=False)
class Candidate:
    """A trade to check against the constraints.

    Attributes
    ----------
    problem : RebalanceProblem
        The problem it is a trade of (its data: lots, caps, budgets, sectors).
    settings : RebalanceSettings
        The settings it was solved or rounded with.
    result : RebalanceResult
        The result (trades, ledger-checked gains, TE, cash).
    x, b, w : np.ndarray
        Lot sales, buys and weights after the trade (weights of the account).
    """

    problem: RebalanceProblem
    settings: RebalanceSettings
    result: RebalanceResult
    x: np.ndarray
    b: np.ndarray
    w: np.ndarray

    @property
    def state(self) -> AccountState:
        """The account state."""
        return self.problem.state


class RebalanceConstraint:
    """One constraint of the rebalance: compiles, evaluates and relaxes itself.

    Subclasses set :attr:`name` (named in checks and errors), :attr:`setting` (the
    setting that controls it) and :attr:`fix` (how to loosen it), and override the
    methods they need. A researcher's subclass usually overrides :meth:`compile` only:
    it is then evaluated by its cvxpy violation at the trade and never relaxed.

    Examples
    --------
    A per-name cap, passed to :meth:`RebalanceProblem.add_constraint`::

        class NameCap(RebalanceConstraint):
            def __init__(self, ticker, cap):
                self.ticker, self.cap = ticker, cap
                self.name = f"{ticker} <= {cap:.0%}"

            def compile(self, f):
                return [f.w[f.asset_index[self.ticker]] <= self.cap]
    """

    name: str = "constraint"
    setting: str = ""
    fix: str = ""
    #: whether the infeasibility search may lift it (:meth:`relax`)
    relaxable: ClassVar[bool] = False

    def compile(self, f: Formulation) -> list[cp.Constraint]:
        """The cvxpy constraints, written with the problem's expressions (default: none)."""
        return []

    def active(self, settings: RebalanceSettings, state: AccountState) -> bool:
        """Whether the constraint restricts anything under these settings and state."""
        return True

    def relax(self, P: Mapping[str, cp.Parameter]) -> None:
        """Set the constraint's Parameters to "no limit" (for the infeasibility search)."""
        raise NotImplementedError(f"{self.name} is not relaxed by the infeasibility search")

    def evaluate(self, c: Candidate) -> list[Check]:
        """Rows ``(constraint, limit, value, ok)`` at the candidate trade ``c``."""
        viol = c.problem.violation(self, c.x, c.b)
        return [(self.name + " (largest violation)", 0.0, viol, viol <= 1e-7)]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class ParameterLimit(RebalanceConstraint):
    """A constraint whose limit is one Parameter of the problem, lifted to :attr:`free`.

    Subclasses set :attr:`param` (the key in the problem's Parameters) and :attr:`free`
    (its value meaning "no limit").
    """

    relaxable = True
    param: ClassVar[str] = ""
    free: ClassVar[float] = BIG

    def relax(self, P: Mapping[str, cp.Parameter]) -> None:
        """Set the limit's Parameter to :attr:`free` (no limit)."""
        P[self.param].value = np.full(P[self.param].shape, self.free)


class GainBudgets(ParameterLimit):
    """Net realised capital-gain budgets for the tax year (total, ST, LT)."""

    name = "budgets"
    setting = "budgets"
    fix = ("raise the capital-gains budget (or allow more realised gain): "
           "RebalanceSettings.budgets")
    param = "budget"
    free = BIG

    def compile(self, f: Formulation) -> list[cp.Constraint]:
        """The cvxpy constraints (see :meth:`RebalanceConstraint.compile`)."""
        return [f.budget_lhs <= f.P["budget"]]

    def active(self, settings: RebalanceSettings, state: AccountState) -> bool:
        """Whether it restricts anything (see :meth:`RebalanceConstraint.active`)."""
        b = settings.budgets
        return any(x is not None for x in (b.total, b.short_term, b.long_term))


    def evaluate(self, c: Candidate) -> list[Check]:
        """Rows at the candidate (see :meth:`RebalanceConstraint.evaluate`)."""
        p, s, st = c.problem, c.settings, c.state
        summary = c.result.summary
        realized = (float(summary.realized_st + summary.realized_lt),
                    float(summary.realized_st), float(summary.realized_lt))
        model_used = p.brows @ c.x if p.nl else np.zeros(3)
        limits = p._budget_values(s.budgets)
        rows: list[Check] = []
        for k, name in enumerate(("total", "short_term", "long_term")):
            lim = getattr(s.budgets, name)
            if lim is None:
                continue
            if s.budgets.unit == "gain":
                used = realized[k] + (st.ytd_st + st.ytd_lt, st.ytd_st, st.ytd_lt)[k]
                # a budget yields to the restrictions' forced sales (raised, never above),
                # in whole shares rounded up (one share of gain per lot of a glide name)
                lim += float(p.budget_raise[k])
                label = f"budget.{name}" + (" (raised by the restrictions' sales)"
                                            if p.budget_raise[k] > 0.005 else "")
                if p.budget_raise[k] > 0.005:
                    lim += float(p._forced_margin[k]) * p.V
                rows.append((label, lim, used, used <= lim + 0.01))
            else:
                rows.append((f"budget.{name} ({s.budgets.unit}, as a share of the account)",
                             float(limits[k]), float(model_used[k]),
                             model_used[k] <= limits[k] + 1e-9))
        return rows


class TrackingErrorCap(ParameterLimit):
    """Annualised tracking error to the target at most ``te_cap``."""

    name = "te_cap"
    setting = "te_cap"
    fix = "raise the tracking-error cap: RebalanceSettings.te_cap"
    param = "te2_cap"
    free = BIG

    def compile(self, f: Formulation) -> list[cp.Constraint]:
        """The cvxpy constraints (see :meth:`RebalanceConstraint.compile`)."""
        return [f.te2 <= f.P["te2_cap"]]

    def active(self, settings: RebalanceSettings, state: AccountState) -> bool:
        """Whether it restricts anything (see :meth:`RebalanceConstraint.active`)."""
        return settings.te_cap is not None


    def evaluate(self, c: Candidate) -> list[Check]:
        """Rows at the candidate (see :meth:`RebalanceConstraint.evaluate`)."""
        cap = c.settings.te_cap
        if cap is None:
            return []
        te = float(c.result.summary.te_after)
        return [("te_cap", cap, te, te <= cap + 1e-6)]


class CashTarget(ParameterLimit):
    """Cash after trading equals the cash target (after contributions and withdrawals)."""

    name = "cash_target"
    setting = "cash_target"
    fix = "lower the cash target or the withdrawal: RebalanceSettings.cash_target"
    param = "cash_target"
    free = 0.0

    def compile(self, f: Formulation) -> list[cp.Constraint]:
        """The cvxpy constraints (see :meth:`RebalanceConstraint.compile`)."""
        return [f.P["cash"] + f.sold_total - cp.sum(f.b) == f.P["cash_target"]]

    def active(self, settings: RebalanceSettings, state: AccountState) -> bool:
        """Whether it restricts anything (see :meth:`RebalanceConstraint.active`)."""
        return settings.cash_target > 0 or state.contribution < 0


    def evaluate(self, c: Candidate) -> list[Check]:
        """Rows at the candidate (see :meth:`RebalanceConstraint.evaluate`)."""
        cash = float(c.result.summary.cash_after)
        floor = c.settings.cash_target * c.problem.V
        return [("cash >= target" if floor > 0 else "cash >= 0", floor, cash,
                 cash >= floor - 0.01)]


class BuyRestrictions(RebalanceConstraint):
    """No buy of a restricted name (no-buy, must-sell, hold-but-don't-add) or a locked one.

    The buy caps are also how the two-step method fixes a name to "sell only", so they
    are never lifted by the infeasibility search.
    """

    name = "restrictions.no_buy"
    setting = "AccountState.no_buy / must_sell / hold_no_add"
    fix = ("allow buying the restricted names (no_buy, must_sell, hold_no_add of the "
           "account's restrictions) or wait for the wash-sale locks to expire")

    def compile(self, f: Formulation) -> list[cp.Constraint]:
        """The cvxpy constraints (see :meth:`RebalanceConstraint.compile`)."""
        return [f.b <= f.P["buy_cap"]]

    def evaluate(self, c: Candidate) -> list[Check]:
        """Rows at the candidate (see :meth:`RebalanceConstraint.evaluate`)."""
        st = c.state
        bought = set(c.result.trades[c.result.trades.side == "buy"].ticker)
        forbidden = bought & (set(st.no_buy) | set(st.must_sell) | set(st.hold_no_add) |
                              set(st.wash_no_buy))
        return [("no buy of restricted or locked names", 0, len(forbidden), not forbidden)]


class WeightCaps(ParameterLimit):
    """Weight caps: must-sell names at zero, glide names at their cap."""

    name = "restrictions.never_hold"
    setting = "AccountState.must_sell / max_weight"
    fix = ("let the restricted names be held for now, or accept the gains their sale "
           "realises (the account's must_sell / sell_within restrictions)")
    param = "w_cap"
    free = 1.0

    def compile(self, f: Formulation) -> list[cp.Constraint]:
        """The cvxpy constraints (see :meth:`RebalanceConstraint.compile`)."""
        return [f.w <= f.P["w_cap"]]

    def active(self, settings: RebalanceSettings, state: AccountState) -> bool:
        """Whether it restricts anything (see :meth:`RebalanceConstraint.active`)."""
        return bool(state.must_sell) or bool(state.max_weight)


    def evaluate(self, c: Candidate) -> list[Check]:
        """Rows at the candidate (see :meth:`RebalanceConstraint.evaluate`)."""
        p, st, w = c.problem, c.state, c.w
        held_must = [t for t in st.must_sell
                     if t in p.asset_index and w[p.asset_index[t]] > 1e-9]
        _, w_cap, _ = p._base_caps(c.settings)
        over = float(np.max(w - w_cap, initial=0.0))
        return [("must-sell names gone", 0, len(held_must), not held_must),
                ("weight caps (largest excess, share of the account)", 0.0, over,
                 over <= 1e-9)]


class WashSaleLocks(ParameterLimit):
    """Loss lots of a group bought in the last 30 days are not sold (``"forbid"`` mode)."""

    name = "wash_sale_locks"
    setting = "wash_sale_mode"
    fix = ("wait until the wash-sale locks expire, or allow "
           "RebalanceSettings.wash_sale_mode='disallow'")
    param = "lock_slack"
    free = 1.0

    def compile(self, f: Formulation) -> list[cp.Constraint]:
        """The cvxpy constraints (see :meth:`RebalanceConstraint.compile`)."""
        i = f.locked
        return [f.sale[i] <= f.P["lock_slack"] * f.sale_cap[i]] if len(i) else []

    def active(self, settings: RebalanceSettings, state: AccountState) -> bool:
        """Whether it restricts anything (see :meth:`RebalanceConstraint.active`)."""
        return bool(state.wash_no_loss_sale)


    def evaluate(self, c: Candidate) -> list[Check]:
        """Rows at the candidate (see :meth:`RebalanceConstraint.evaluate`)."""
        # in "disallow" mode a locked loss may be sold (the loss is booked as disallowed)
        if c.settings.wash_sale_mode != "forbid" or not c.problem.locked_loss.any():
            return []
        n = int(np.count_nonzero(c.x[c.problem.locked_loss] > 0))
        return [("wash-sale locked losses not sold", 0, n, n == 0)]


class OneSidePerName(RebalanceConstraint):
    """No name both bought and sold (the two-step method fixes each name's side)."""

    name = "one_side_per_name"
    fix = "this is enforced by the sign-fixed solve; a violation is a bug"

    def evaluate(self, c: Candidate) -> list[Check]:
        """Rows at the candidate (see :meth:`RebalanceConstraint.evaluate`)."""
        bought = set(c.result.trades[c.result.trades.side == "buy"].ticker)
        both = set(c.result.lot_trades.ticker) & bought
        return [("no name bought and sold", 0, len(both), not both)]


class MaxNames(RebalanceConstraint):
    """At most ``max_names`` names held after trading (enforced by re-solving)."""

    name = "max_names"
    setting = "max_names"
    fix = "raise the name-count cap: RebalanceSettings.max_names"

    def active(self, settings: RebalanceSettings, state: AccountState) -> bool:
        """Whether it restricts anything (see :meth:`RebalanceConstraint.active`)."""
        return settings.max_names is not None

    def evaluate(self, c: Candidate) -> list[Check]:
        """Rows at the candidate (see :meth:`RebalanceConstraint.evaluate`)."""
        if c.settings.max_names is None:
            return []
        n = int((c.w > 1e-9).sum())
        return [("max_names", c.settings.max_names, n, n <= c.settings.max_names)]


class SectorLimits(ParameterLimit):
    """Look-through weight of each limited GICS sector at most its limit."""

    name = "sector_limits"
    setting = "sector_limits"
    fix = "raise the sector limits (the account's sector_limits)"
    param = "sector_hi"
    free = 1.0

    def compile(self, f: Formulation) -> list[cp.Constraint]:
        """The cvxpy constraints (see :meth:`RebalanceConstraint.compile`)."""
        return [f.S @ f.look <= f.P["sector_hi"]] if f.S.shape[0] else []

    def active(self, settings: RebalanceSettings, state: AccountState) -> bool:
        """Whether it restricts anything (see :meth:`RebalanceConstraint.active`)."""
        return bool(state.sector_limits)


    def evaluate(self, c: Candidate) -> list[Check]:
        """Rows at the candidate (see :meth:`RebalanceConstraint.evaluate`)."""
        p, st = c.problem, c.state
        if not st.sector_limits:
            return []
        sec_w = p.S @ (p.M @ c.w)
        return [(f"sector_limit.{sec}", lim, float(sec_w[p.sec_names.index(sec)]),
                 float(sec_w[p.sec_names.index(sec)]) <= lim + 1e-6)
                for sec, lim in st.sector_limits.items() if sec in p.sec_names]


class MinTrade(RebalanceConstraint):
    """Every order at least ``min_trade`` USD (enforced by re-solving and rounding)."""

    name = "min_trade"
    setting = "min_trade"
    fix = "lower the minimum trade: RebalanceSettings.min_trade"

    def active(self, settings: RebalanceSettings, state: AccountState) -> bool:
        """Whether it restricts anything (see :meth:`RebalanceConstraint.active`)."""
        return settings.min_trade > 0

    def evaluate(self, c: Candidate) -> list[Check]:
        """Rows at the candidate (see :meth:`RebalanceConstraint.evaluate`)."""
        mt = c.settings.min_trade
        if mt <= 0:
            return []
        small = float(c.result.summary.smallest_order)
        return [("min_trade (smallest order, USD)", mt, small,
                 not small >= 0 or small >= mt - 0.005)]


class WholeShares(RebalanceConstraint):
    """Every quantity a whole number of shares (a whole lot sold is exempt)."""

    name = "whole_shares"
    setting = "whole_shares"
    fix = "allow fractional shares: RebalanceSettings.whole_shares=False"

    def active(self, settings: RebalanceSettings, state: AccountState) -> bool:
        """Whether it restricts anything (see :meth:`RebalanceConstraint.active`)."""
        return settings.whole_shares

    def evaluate(self, c: Candidate) -> list[Check]:
        """Rows at the candidate (see :meth:`RebalanceConstraint.evaluate`)."""
        if not c.settings.whole_shares:
            return []
        frac = int(c.result.summary.fractional_quantities)
        return [("whole shares (fractional quantities)", 0, frac, frac == 0)]


class CallableConstraint(RebalanceConstraint):
    """A researcher's constraint given as a function of the problem.

    Parameters
    ----------
    build : Callable[[RebalanceProblem], Constraint | Sequence[Constraint]]
        Returns cvxpy constraints written with the problem's expressions (``w``, ``x``,
        ``b``, ``a``; see :meth:`RebalanceProblem.add_constraint`).
    name : str
        Named in the checks and in error messages.
    problem : RebalanceProblem
        The problem ``build`` is called with.
    """

    fix = "loosen the added constraint"

    def __init__(self, build: Callable[[RebalanceProblem],
                                       cp.Constraint | Sequence[cp.Constraint]],
                 name: str, problem: RebalanceProblem) -> None:
        self.build, self.name, self.problem = build, name, problem

    def compile(self, f: Formulation) -> list[cp.Constraint]:
        """The cvxpy constraints (see :meth:`RebalanceConstraint.compile`)."""
        made = self.build(self.problem)
        if isinstance(made, cp.constraints.constraint.Constraint):
            return [made]
        return list(made) if isinstance(made, list | tuple) else [made]


def standard_constraints() -> tuple[RebalanceConstraint, ...]:
    """The built-in constraints, in the order of :meth:`RebalanceProblem.check_constraints`."""
    return (GainBudgets(), TrackingErrorCap(), CashTarget(), BuyRestrictions(), WeightCaps(),
            WashSaleLocks(), OneSidePerName(), MaxNames(), SectorLimits(), MinTrade(),
            WholeShares())
