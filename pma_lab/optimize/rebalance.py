"""Lot-level tax-aware rebalancing (single period) with cvxpy.

Notation (weights are fractions of the account's value after cash flows, ``V``):

* ``h`` current weights per asset: the risk model's stocks, then any held S&P 500 or
  sector fund, which the risk model sees through its look-through composition ``M``;
* ``x_j`` weight sold from lot ``j`` (``0 <= x_j <= v_j``, the lot's weight), ``b_i``
  weight bought of asset ``i``, ``s = A x`` weight sold per asset, ``w = h + b - s``;
* ``a = M w - w_t`` active look-through weights against the target ``w_t``; tracking
  variance ``TE^2 = ||B' a||^2 + ||d o a||^2`` (annualised, :mod:`pma_lab.portfolio.risk`);
* ``g_j`` gain per unit of weight sold from lot ``j`` (negative for a loss) and
  ``rho_j`` the client's ST or LT rate, so the tax of a sale is ``sum_j rho_j g_j x_j``;
* objective ``TE^2 + gamma_tax * tax + gamma_tc * kappa * sum(b + x)
  + pi * (ST gains on lots turning long-term soon)``. With ``tax_credit="capped"`` the
  credit for losses cannot exceed the ST rate times (gains realised this year + the $3,000
  offset), instead of being credited in full.

Constraints: fully invested at the cash target (contributions and withdrawals change
``V``), long-only, restrictions (no-buy, must-sell, hold-but-don't-add, and a maximum weight
per name for restricted names sold along a glide), wash-sale locks
(no buy of a group with an unmatched loss sale in the last 30 days; loss lots of a group
bought in the last 30 days are not sold at a loss, or with ``wash_sale_mode="disallow"``
may be sold with the loss booked as disallowed), sector limits, net realised gain budgets
for the tax year (total / ST / LT as gain dollars, tax dollars or a share of the embedded
gain; zero allowed; gains realised earlier in the year count; a sale the restrictions force
is made whatever the tax, so a budget smaller than the least gain it realises is raised to
that gain and the summary says so), an optional tracking-error
cap, a name-count cap and a minimum trade size.

Lot classes (issue 16). With the linear credit the solver does not see lots: the lots
of one name with the same term, holding-period penalty and wash-sale lock form a class,
and every cost of selling from a class (tax, each budget row, the penalty) is the lot's
gain per dollar times a non-negative constant, so the lots are sold in order of gain per
dollar (highest basis first) whatever the settings. The class's net gain is then a convex
piecewise-linear function of its sale (:func:`pma_lab.optimize.aggregate.lot_classes`),
written as an epigraph (one row per lot, two nonzeros); lot sales are recovered from the
class sales in that order (:meth:`RebalanceProblem._x_value`), and every lot rule (locks,
no-sell names, the holding-period penalty, budgets by term) holds exactly.
``aggregate=False`` (and the capped credit) keeps one variable per lot ``x_j``, the
reference the tests compare with.

Never buying and selling the same name at once is the one nonconvex constraint. It is
handled with the two-step method of Moehle, Kochenderfer, Boyd and Ang (2021): (1) solve
a convex relaxation in which each name's choice between "sell" and "buy" is a weight
``lambda_i`` in [0, 1] and the name's separable costs (specific risk, tax, trading cost)
are replaced by their convex envelope across the two branches (the perspective
formulation, which "borrows curvature" from the specific-risk term; for accounts holding
funds, whose trades move every name's look-through weight, the specific risk stays exact
and only the linear parts are relaxed); (2) fix each name to buy or to sell by the sign of
its relaxed net trade and re-solve the exact convex problem. With ``sign_rule="best"``
(the default) the rounding "sell where the relaxed sell share lambda > 0.5" is solved
too, the better kept, and up to ``sign_flips`` names the relaxation splits are flipped one
at a time while that lowers the objective (``"net"``: the net-trade rounding alone).
:meth:`solve` with ``method="enumerate"`` tries every sign pattern of the names where the
choice matters (those holding a loss lot) as an exact reference for small books.

Both problems are compiled once per account state; aversions, budgets, caps, locks and
sign choices are cvxpy Parameters, so re-solves and frontier sweeps reuse the compilation
(DPP, asserted when built).

The parts live in their own modules: the settings and their validation in
:mod:`pma_lab.optimize.settings`; the account state the problem consumes in
:mod:`pma_lab.optimize.state`; the formulation (the problem's arrays, Parameters,
variables and its sign-fixed, relaxed and linear-hull variants) in
:mod:`pma_lab.optimize.formulate`; the objective terms (tracking variance, tax, trading cost)
in :mod:`pma_lab.optimize.terms`; the constraints, which compile, evaluate and relax
themselves, in :mod:`pma_lab.optimize.constraints`; the solve strategies (two-step,
relaxed, enumerate: the registry ``STRATEGIES``) in :mod:`pma_lab.optimize.strategies`;
the infeasibility search in :mod:`pma_lab.optimize.diagnose`; the post-solve constraint
check (each constraint evaluated at a result's trades) in :mod:`pma_lab.optimize.checks`;
the limits the settings and restrictions make (caps, forced sales, budgets left, the
Parameters' values) in :mod:`pma_lab.optimize.limits`; the whole-share / minimum-trade
step in :mod:`pma_lab.optimize.rounding`; the result's construction in
:mod:`pma_lab.optimize.result` and its per-lot explanations in
:mod:`pma_lab.optimize.decisions`. This module orchestrates: it builds the problem
from those parts, sets its Parameters from the limits, runs the solves (the max-names and
minimum-trade re-solves, the rounding, the checks) and adds a researcher's constraints;
it re-exports the settings, state and result types so ``from pma_lab.optimize.rebalance
import X`` keeps working.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import cvxpy as cp
import numpy as np
import pandas as pd

from pma_lab.checkpoints import checkpoint
from pma_lab.errors import (
    ConstraintError,
    InfeasibleError,
    OptimizationError,
    SettingsError,
)
from pma_lab.modes import Method
from pma_lab.optimize.aggregate import WarmSigns
from pma_lab.optimize.checks import (
    ADDED_TOL,
    added_violations,
    check_constraints,
    checked,
    term_gradient,
    trade_arrays,
    violation,
)
from pma_lab.optimize.constraints import (
    CLEAN,
    Additions,
    RebalanceConstraint,
    compile_added,
    compile_term,
)
from pma_lab.optimize.diagnose import SOLVED, diagnose
from pma_lab.optimize.dual_qp import DualQP
from pma_lab.optimize.formulate import (
    check_dpp,
    compile_problems,
    exact_problem,
    linear_hull,
    problem_data,
    relaxation,
)
from pma_lab.optimize.limits import (
    base_caps,
    budget_limits,
    forced_margin,
    forced_sales,
    parameter_values,
    sector_caps,
)
from pma_lab.optimize.lookahead import Lookahead
from pma_lab.optimize.relax_dual import RelaxDual
from pma_lab.optimize.result import RebalanceResult, RebalanceSummary, build_result
from pma_lab.optimize.rounding import RoundingData, round_trades
from pma_lab.optimize.settings import Budgets, RebalanceSettings
from pma_lab.optimize.state import AccountState, _same_state, account_state, lot_columns
from pma_lab.optimize.strategies import strategy
from pma_lab.portfolio.risk import RiskModel
from pma_lab.solvers import solve_problem
from pma_lab.tax.ledger import Ledger
from pma_lab.validation import replace_settings

__all__ = [
    "Budgets",
    "RebalanceSettings",
    "AccountState",
    "account_state",
    "RebalanceProblem",
    "RebalanceResult",
    "RebalanceSummary",
]

_OK = SOLVED
MIN_TRADE_KEPT = ("orders below the {usd} minimum trade ({names}) could not be left out "
                  "and the other trades optimised again (no feasible trade without them), "
                  "so the trades optimised with them are kept and the orders below the "
                  "minimum dropped when rounding")
"""The result's note (``summary.note``) when the minimum trade's re-solve is infeasible:
:meth:`RebalanceProblem.solve` keeps the solution before it (which keeps every constraint)
and the rounding step applies the minimum trade, as it does for any result
(``{names}``: up to five names, else their count)."""
# The relaxation's solver options by solver (RebalanceProblem.relaxation_options), used
# when tax has a real weight (gamma_tax >= RELAXATION_FAST_MIN_GAMMA_TAX: 1 % of the
# account in tax then weighs >= 1e-5 of TE^2, three orders above the solver's accuracy;
# the "go to target" tie-breaker, 1e-6, keeps the solver's defaults).
# Clarabel without iterative refinement: the relaxation only decides each name's side
# (and gives a bound), and on the 456-name benchmark book each of its 45 interior-point
# iterations spent half its time refining the Newton step without changing the steps
# taken (same iteration count, status optimal at the same gap tolerances); 0.22 -> 0.12
# CPU-s per relaxation. Session 10 checked the trades and tax against the code before:
# identical on three sample clients (4 aversions, with and without a TE cap), the
# benchmark book (7 aversions) and 288 random re-solves (12 to 60 names, aversions 0 to
# 1); unrefined at zero aversion too, one of the 288 differed, hence the defaults there.
# The sign-fixed problems, whose solution is the trade list, keep the solver's defaults.
# A relaxation that does not reach "optimal" that way (Clarabel reports
# "optimal_inaccurate" on some tiny books) is solved again with the solver's defaults,
# RELAXATION_DEFAULTS (passed explicitly: cvxpy keeps a solver's settings between solves).
RELAXATION_OPTIONS: dict[str, dict[str, object]] = {
    "CLARABEL": {"iterative_refinement_enable": False}}
RELAXATION_DEFAULTS: dict[str, dict[str, object]] = {
    "CLARABEL": {"iterative_refinement_enable": True, "max_iter": 200}}
RELAXATION_FAST_MIN_GAMMA_TAX = 1e-3
# Where the relaxation's certified dual gave up because of the tracking-error cap (no
# trade of its pattern meets the cap, or names split while the cap binds whose shares it
# does not find: RelaxDual calls ``note_relaxation_dual``), Clarabel's solve without
# iterative refinement stalls (InsufficientProgress, "solver_error") and is solved again
# with the defaults: session 16 saw it stall on every such relaxation (67 of 67:
# bench_public's 6 books and 156 random books of 20-200 names at caps of 0.5-5 %), its
# iterations 0.005-0.035 CPU-s of a 50-200 name rebalance. There the first call only sets
# the solver up (RELAXATION_SETUP_ONLY: no iteration; cvxpy keeps that solver object) and
# the retry hands it the defaults
# (Clarabel's ``update``), as after the stall: the same solution to the bit (the solver's
# equilibration is its setup's; tested), without the stalled iterations. Every other
# relaxation tries the fast solve as before: with a cap that does not bind it mostly
# succeeds (31 of 31 random books at caps of 2-10 % with the dual off; young-pro's linear
# hull at 0.5-2 %, 6 of 6), and a binding cap with the dual off solved fast once in 17.
RELAXATION_SETUP_ONLY: dict[str, dict[str, object]] = {"CLARABEL": {"max_iter": 0}}
_CLEAN = CLEAN  # weights below this are solver round-off (about $0.10 on $1M)


COMPILED_SETTINGS = ("tax_credit", "spread", "wash_sale_mode", "solver", "qp_solver",
                     "lt_soon_days", "aggregate")
"""The settings a compiled problem is built for, with ``budgets.unit``: ``update``
refuses to change them (every other setting is a Parameter's value), and
:class:`pma_lab.plan.simulation.StepProblems` shares a problem only between equal ones."""


def set_value(param: cp.Parameter, value: object) -> None:
    """``param.value = value``, unless ``param`` holds that value already (to the bit).

    cvxpy validates every value set (its shape and sign: ~0.1 ms a Parameter, ~13 of them
    at each update of a problem); a step's update sets most of them to the values they
    hold. A value of another type, shape or dtype, or any bit different, is set (and
    validated) as before; the value cvxpy then reads is the same.

    A value cvxpy's validation would keep as it is (a float64 array of the Parameter's
    shape, or a float, every entry finite and, for a ``nonneg`` Parameter, ``>= 0``) is
    stored without it, as cvxpy stores it (the object itself): the validation (a
    projection, ``allclose`` and conversions) was ~60 % of a step problem's first
    ``update``. Any other value (a negative entry, ``nan``, another dtype or shape, a
    Parameter with other attributes) is set through cvxpy, which raises as before.
    """
    old = param.value
    if old is not None and type(old) is type(value):
        if isinstance(value, np.ndarray):
            if (value.shape == old.shape and value.dtype == old.dtype
                    and value.tobytes() == old.tobytes()):
                return
        elif isinstance(value, float) and np.float64(value).tobytes() == \
                np.float64(old).tobytes():
            return
    if _kept_as_is(param, value):
        param.save_value(value)
        return
    param.value = value


def _kept_as_is(param: cp.Parameter, value: object) -> bool:
    """Whether cvxpy's validation of ``param.value = value`` stores ``value`` itself.

    True for a Parameter without attributes or with ``nonneg`` alone (dense, no sparsity
    pattern) and a float64 ndarray of its shape or a float, finite, ``>= 0`` where
    ``nonneg``: cvxpy's projection leaves such a value unchanged (so its check passes)
    and it stores the value it was given (``intf.convert`` returns an ndarray of float64,
    or a scalar, unchanged).
    """
    n = param.num_attributes
    if param.sparse_idx is not None or n > 1:
        return False
    nonneg = bool(param.attributes["nonneg"])
    if n == 1 and not nonneg:
        return False
    if isinstance(value, np.ndarray):
        if value.dtype != np.float64 or value.shape != param.shape:
            return False
        if not np.isfinite(value).all():
            return False
        return not nonneg or bool((value >= 0).all())
    if isinstance(value, float) and param.shape == ():
        return bool(np.isfinite(value)) and (not nonneg or value >= 0)
    return False


class RebalanceProblem:
    """The compiled rebalance problems (relaxed and sign-fixed) for one account state.

    Parameters
    ----------
    state : AccountState
    risk : RiskModel
    target : pd.Series
        Target weights over model tickers (they sum to one; the cash target is an active
        underweight).
    settings : RebalanceSettings
    ledger : Ledger | None
        The household ledger; when given, every result is checked by replaying its trades
        through a copy of it, and the reported tax is the ledger's.
    workers : {1, 2}
        2: a persistent forked copy of the compiled problem solves the sign pattern a
        two-step re-solve asks for next (the other rounding; the minimum-trade re-solve
        while a flip is solved) on the other core, over a pipe
        (:mod:`pma_lab.optimize.lookahead`): the same trades to the bit as 1, fewer
        solves in this process, two processes busy. Opt-in: a batch's workers, already
        one process per core, stay at 1. It needs :attr:`history_free` (without it no
        copy is forked: the solves stay in this process); a problem carried into a forked
        process (a batch's or a frontier's worker) solves serially there.

    Attributes
    ----------
    history_free : bool
        True (the default): every sign-fixed solve sets its solver up anew, so the same
        settings give the same trades to the bit whatever was solved before (~+0.02
        CPU-s a re-solve); False: cvxpy's in-place solver update, whose round-off depends
        on the solves before it. ``history_free_relaxation`` does the same for the
        relaxation (off: ~+0.025 CPU-s more).
    """

    def __init__(self, state: AccountState, risk: RiskModel, target: pd.Series,
                 settings: RebalanceSettings | None = None, ledger: Ledger | None = None,
                 workers: int = 1):
        t0 = time.perf_counter()
        self._lookahead: Lookahead | None = None
        self._pid = os.getpid()  # a problem carried into a forked process solves serially
        self.workers = workers
        self.state, self.risk, self.ledger = state, risk, ledger
        self.settings = settings or RebalanceSettings()
        # the problem's arrays, then its Parameters, variables and problem variants
        # (pma_lab.optimize.formulate)
        problem_data(self, risk, target)
        # limits that depend on the state and a compiled setting alone (:meth:`update`)
        self._limits_memo: dict[object, object] = {}
        # researcher's constraints (add_constraint): label, compiled, the object
        self._user: list[tuple[str, list[cp.Constraint], RebalanceConstraint]] = []
        # researcher's objective terms (add_objective_term): label -> expression
        self._terms: dict[str, cp.Expression] = {}
        # what was passed to add_objective_term / add_constraint, by label (additions)
        self._added_terms: list[tuple[str, Callable]] = []
        self._added_constraints: list[tuple[str, object]] = []
        self._exact_solved: cp.Problem | None = None  # see :attr:`exact`
        self._cap_bound = False  # the cap bound at an earlier sign-fixed solve of solve()
        # solve each sign-fixed problem without the tracking-error cap first (a QP) and
        # keep it when its TE is within the cap (:meth:`_fixed`); False: always the SOCP
        self.lift_te_cap = True
        compile_problems(self)
        # an optional sign search tried before the relaxation (a callable returning the
        # status of its sign-fixed solve, or None to run the two-step): see
        # pma_lab.optimize.aggregate.WarmSigns
        self.sign_search: Callable[..., str | None] | None = None
        self._warm_signs: WarmSigns | None = None  # reads multipliers (:meth:`_signs`)
        # skip a sign-fixed solve whose optimum is the solution in hand (:meth:`_fixed`);
        # False: every pattern is solved
        self.skip_proven_solves = True
        # skip a sign pattern the two-step would not keep, proven by its Lagrangian bound
        # (pma_lab.optimize.pattern_bound; the same trades); False: every pattern compared
        # is solved
        self.prune_patterns = True
        # the solver of the sign-fixed problem tried before cvxpy's (a callable
        # ``(problem, sell, buy, lot_cap, w_cap) -> status or None``, leaving ``exact``
        # at its solution, with the TE cap where it binds): the certified dual
        # (pma_lab.optimize.dual_qp.DualQP) by default, used while ``settings.dual_qp``
        # (session 14; the frontier installs its own for a sweep, to count its solves);
        # None: cvxpy alone
        self.pattern_solver: Callable[..., str | None] | None = DualQP(self)
        # the relaxation's solver tried before Clarabel's (a callable ``(problem, buy,
        # lot_cap, w_cap) -> status or None`` leaving ``relaxed`` at its solution): the
        # certified dual (pma_lab.optimize.relax_dual.RelaxDual), used while
        # ``settings.dual_relaxation``; None: Clarabel alone
        self.relax_solver: Callable[..., str | None] | None = RelaxDual(self)
        self.pruned_solves = 0  # sign patterns proven not to win, not solved, last solve()
        # options for the relaxation's solver, by solver name ({}: the policy's alone)
        self.relaxation_options = {k: dict(v) for k, v in RELAXATION_OPTIONS.items()}
        # the last sign-fixed solve's sides, caps and status (see :meth:`_fixed`)
        self._tie_base: tuple | None = None
        self.skipped_solves = 0  # sign-fixed solves skipped in the last solve()
        # every sign-fixed solve starts from a new solver object (see :meth:`_run`), so
        # its result does not depend on the solves made before it; False: cvxpy hands the
        # previous call's solver the new data (its ``update``), ~6 ms less a solve.
        # history_free_relaxation: the relaxation too (~+0.025 CPU-s a re-solve of the
        # 456-name book; off: its multipliers may differ at round-off, measured never
        # enough to change a side)
        self.history_free = True
        self.history_free_relaxation = False
        # whether the relaxation's dual gave up because of the TE cap (its Clarabel
        # solve without refinement would stall: see RELAXATION_SETUP_ONLY): set by
        # :meth:`note_relaxation_dual`, read and cleared by the relaxation's next solve
        # (:meth:`_run`)
        self._relax_cap_stalls = False
        # 2: a forked copy solves the sign patterns a solve is about to ask for beside it
        # (pma_lab.optimize.lookahead; the same trades, needs history_free); 1: every
        # solve in this process (the default: a batch's workers stay one process each)
        self.build_seconds = time.perf_counter() - t0
        self.update(self.settings)

    def _x_value(self, sale: np.ndarray | None = None) -> np.ndarray:
        """Each lot's sale (weight) at the solver's solution, or at ``sale``.

        ``sale`` is the sale variable's values (per lot, or per class when aggregated) of
        a kept solution. With classes: each class's sale filled in order of gain per
        dollar (the order the class's gain curve assumes), never beyond a lot.
        """
        if not self.aggregated:
            return np.asarray(self.x.value if sale is None else sale, dtype=float)
        s = np.maximum(np.asarray(self.sc.value if sale is None else sale, dtype=float), 0.0)
        o = self._cls_order
        x = np.zeros(self.nl)
        x[o] = np.clip(s[self._cls_of] - self._cls_before, 0.0, self.v[o])
        return x

    def _exact_problem(self, capped: bool) -> cp.Problem:
        """The sign-fixed problem (:func:`pma_lab.optimize.formulate.exact_problem`)."""
        return exact_problem(self, capped)

    @property
    def exact(self) -> cp.Problem:
        """The sign-fixed problem last solved, else the one for the current settings.

        With a tracking-error cap :meth:`_fixed` solves the problem without it first (a QP)
        and keeps that solution when its TE is within the cap; ``exact`` is then that
        problem (the same variables, objective and optimum).
        """
        if self._exact_solved is not None:
            return self._exact_solved
        return self._exact_problem(self.settings.te_cap is not None)

    @property
    def relaxed(self) -> cp.Problem:
        """The relaxed problem (:func:`pma_lab.optimize.formulate.relaxation`).

        Written when first read: a problem whose solves never need it (a plan step
        skipped by the maintenance rule, a pattern the certified dual solves after a
        sign search) does not pay for it.
        """
        return relaxation(self)

    @relaxed.setter
    def relaxed(self, prob: cp.Problem) -> None:
        relaxation(self)  # the linear hull's parts are the first relaxation's
        self._relaxed = prob

    @property
    def lam(self) -> cp.Expression:
        """Each asset's branch weight in the relaxation (1 where both sides are open)."""
        relaxation(self)
        return self._lam

    def _linear_hull(self) -> cp.Problem:
        """The linear-hull relaxation (:func:`pma_lab.optimize.formulate.linear_hull`)."""
        return linear_hull(self)

    def add_constraint(self, build: RebalanceConstraint | Callable[
            [RebalanceProblem], cp.Constraint | Sequence[cp.Constraint]],
                       name: str = "") -> None:
        """Add a researcher's own constraint to every problem solved from now on.

        Parameters
        ----------
        build : RebalanceConstraint | Callable[[RebalanceProblem], Constraint | ...]
            A constraint object (:class:`~pma_lab.optimize.constraints.RebalanceConstraint`:
            it compiles itself from :attr:`formulation`, is checked at the rounded trades
            by :meth:`~pma_lab.optimize.constraints.RebalanceConstraint.evaluate` and, if
            relaxable, takes part in the infeasibility search), or a function called once
            with this problem that returns cvxpy constraints written with its
            expressions: ``w`` (weights after the trade per asset, in the order of
            ``state.assets``; :attr:`asset_index` maps a ticker to its position), ``x``
            (weight sold per lot; ``None`` when the lots are aggregated into classes,
            ``RebalanceSettings.aggregate``), ``b`` (weight bought per asset) and ``a``
            (active look-through weights against the target, in the risk model's order).
            Weights are fractions of the account. The problem always has the cash
            equality ``cash after trading == cash target`` (``RebalanceSettings.
            cash_target``, 0 by default: fully invested), so a cap on purchases (say
            ``cp.sum(p.b) <= 0.2``) also caps the sales that fund them, and with the
            restrictions' forced sales a cap below what they raise is infeasible: raise
            ``cash_target`` to let cash build up. The infeasibility search lowers the
            cash target to 0 but never lifts the equality, so it cannot name it.
        name : str
            Named in :meth:`check_constraints` and in error messages (default: the
            object's ``name``, or "user constraint N"); unique within the problem.

        Raises
        ------
        ConstraintError
            When it is added (never later, at solve), if ``build`` is neither a function
            of one argument nor a constraint object, raises when called with the problem
            (e.g. ``KeyError`` for a ticker the account neither holds nor targets, a shape
            mismatch), returns something other than cvxpy constraints, returns constraints
            on another problem's variables or on none, or constraints that are not convex
            (DCP) or not DPP; a relaxable constraint object without ``relax`` or ``fix``;
            a name already used. The message says what was wrong, what the function receives
            and must return, with an example; the problem is left unchanged.

        Examples
        --------
        A per-name cap of 2 % on AAPL::

            problem.add_constraint(lambda p: p.w[p.asset_index["AAPL"]] <= 0.02,
                                   name="AAPL <= 2 %")

        Notes
        -----
        The whole-share rounding step does not know the constraint; the result's
        ``checks`` evaluate it at the rounded trades, so a rounding that breaks it shows
        (and :meth:`solve` raises, as for any other broken constraint).
        """
        label, cons, obj = compile_added(self, build, name)
        relaxed = cp.Problem(self.relaxed.objective, self.relaxed.constraints + cons)
        if not relaxed.is_dcp(dpp=True):
            raise ConstraintError(f"add_constraint({label!r}): with the constraint the "
                                  "problem is not convex (DCP) or not DPP; write it as "
                                  "affine <= constant or convex <= affine")
        self._user.append((label, cons, obj))
        self._added_constraints.append((label, build))
        if self._lookahead is not None:  # the copy solves the problem without it
            self._lookahead.close()
            self._lookahead = None
        self.relaxed = relaxed
        cons_e, obj_e = self._exact_parts
        self._exact_parts = (cons_e + cons, obj_e)
        self._exact_cache.clear()
        self._exact_solved = None
        self._tie_base = None
        common, *rest = self._hull_parts
        self._hull_parts = (common + cons, *rest)
        self._hull = None

    @property
    def additions(self) -> Additions:
        """The terms and constraints added (the functions, by name), to add to other problems.

        :class:`~pma_lab.optimize.constraints.Additions`: pass it where a path builds its
        own problems, so they carry the same terms and constraints: a plan's steps
        (``run_transition(setup, plans, additions=problem.additions)``, ``simulate``,
        ``first_trades``) and the household (``additions.apply(household_problem)``).
        The frontier sweeps this problem itself: it carries them already.
        """
        return Additions(tuple(self._added_terms), tuple(self._added_constraints))

    @property
    def objective_terms(self) -> dict[str, cp.Expression]:
        """The researcher's objective terms (:meth:`add_objective_term`), by name."""
        return dict(self._terms)

    def add_objective_term(self, build: Callable[[RebalanceProblem], cp.Expression],
                           name: str = "") -> None:
        """Add a researcher's own convex cost to the objective of every problem solved from now on.

        Like skfolio's and cvxportfolio's custom objective terms: a function called once
        with this problem returns one scalar cvxpy expression written with its variables
        (``w``, ``b``, ``a``, ``x``, as :meth:`add_constraint`'s function receives them),
        convex and DPP. It is added to the objective in the objective's own units: the
        objective minimised is ``TE^2 + gamma_tax * tax + gamma_tc * trading cost (+ the
        long-term-soon penalty) + your terms``, tracking variance per year and the costs as
        fractions of the account (so ``0.001 * cp.sum(p.b)`` costs a purchase 10 bp of
        its value). A Parameter in the term (given a value) can be changed between solves
        without compiling again.

        Parameters
        ----------
        build : Callable[[RebalanceProblem], cvxpy.Expression]
            The function of the problem returning the term.
        name : str
            Its name in :attr:`objective_terms` and in error messages (default
            "objective term N"); unique within the problem.

        Raises
        ------
        ConstraintError
            When it is added (never later, at solve), if ``build`` is not a function of one
            argument, raises when called with the problem, returns something other than
            one scalar cvxpy expression (a constraint, a number, a vector), an expression
            on another problem's variables or on none, with a Parameter without a value,
            or one that is not convex or not DPP; a name already used. The message says
            what was wrong, what the function receives and must return, with an example;
            the problem is left unchanged.

        Examples
        --------
        A quadratic penalty on AAPL's weight after the trade, and a cost on purchases::

            problem.add_objective_term(
                lambda p: 0.5 * cp.square(p.w[p.asset_index["AAPL"]]), name="AAPL penalty")
            problem.add_objective_term(lambda p: 0.001 * cp.sum(p.b), name="buy cost")

        Notes
        -----
        The relaxation, the sign-fixed problems and the linear hull all carry the term, so
        the two-step's comparisons and its lower bound include it. The shortcuts written
        for the built-in objective alone are not used while a term is added: the
        certified duals (``settings.dual_qp``, ``dual_relaxation``), the Lagrangian
        pruning of sign patterns, the skip of a solve proven by the previous solution's
        multipliers and an installed sign search; every pattern is solved by cvxpy (the
        same trades as the built-in objective gets from them, more solves). The
        whole-share rounding step rounds the optimum's trades keeping every constraint;
        its investing of the cash left over counts the terms' first-order change with
        each purchase (:func:`pma_lab.optimize.checks.term_gradient`), so it does not
        buy back what a term sold (until session 25 it bought a penalised name back).
        The frontier sweeps this problem, so its points carry the terms; a plan's steps
        and the household build their own problems: pass them :attr:`additions`.
        """
        label, expr = compile_term(self, build, name)
        relaxed = self.relaxed  # written first: the linear hull's parts come from it
        new = cp.Problem(cp.Minimize(relaxed.objective.expr + 100 * expr),
                         relaxed.constraints)
        if not new.is_dcp(dpp=True):
            from pma_lab.errors import ConstraintError

            raise ConstraintError(f"add_objective_term({label!r}): with the term the "
                                  "problem is not convex (DCP) or not DPP; write a convex "
                                  "expression with at most one Parameter per product")
        self._terms[label] = expr
        self._added_terms.append((label, build))
        if self._lookahead is not None:  # the copy solves the problem without it
            self._lookahead.close()
            self._lookahead = None
        self.relaxed = new
        cons_e, obj_e = self._exact_parts
        self._exact_parts = (cons_e, obj_e + 100 * expr)
        self._exact_cache.clear()
        self._exact_solved = None
        self._tie_base = None
        common, bounds, factor, spec, extra = self._hull_parts
        self._hull_parts = (common, bounds, factor, spec, extra + expr)
        self._hull = None

    # ------------------------------------------------------------------ parameters
    def update(self, settings: RebalanceSettings | None = None, **changes: object) -> None:
        """Change settings without rebuilding: every change goes through Parameters.

        ``tax_credit``, ``spread``, ``budgets.unit`` and ``wash_sale_mode`` shape the
        problem and can not change after it is built.
        """
        new = replace_settings(settings or self.settings, changes, "RebalanceProblem.update")
        for fixed in COMPILED_SETTINGS:
            if getattr(new, fixed) != getattr(self.settings, fixed):
                raise ValueError(f"{fixed} is part of the compiled problem; build a new "
                                 "RebalanceProblem to change it")
        if new.budgets.unit != self.settings.budgets.unit:
            raise ValueError("the budget unit is part of the compiled problem")
        self.settings = new
        self._tie_base = None  # the Parameters change: no solution in hand is optimal
        s, P = new, self.P
        # the limits the settings and restrictions make (pma_lab.optimize.limits)
        for key, value in parameter_values(self, s).items():
            set_value(P[key], value)
        buy, w_cap, lot_cap = self._base_caps(s)
        self.base_buy = buy
        self.base_w_cap = w_cap
        self.base_lot_cap = lot_cap
        # the forced sales depend on the caps and the wash-sale mode (both fixed with the
        # problem: the caps a sale is forced by are not the settings'), the margin on
        # whole_shares too: computed once per problem
        memo = self._limits_memo
        key = ("forced", s.wash_sale_mode)
        if key not in memo:
            memo[key] = self._forced_sales(w_cap, lot_cap, s.wash_sale_mode)
        self._forced_x = memo[key]
        key = ("margin", bool(s.whole_shares))
        if key not in memo:
            memo[key] = forced_margin(self, w_cap, s.whole_shares)
        self._forced_margin = memo[key]
        set_value(P["budget"], self._budget_values(s.budgets))
        if "sector_hi" not in memo:
            memo["sector_hi"] = sector_caps(self)
        set_value(P["sector_hi"], memo["sector_hi"])
        self._set_caps(buy, lot_cap, w_cap)

    REBASE_FIELDS = ("no_buy", "no_sell")
    """The account state's fields :meth:`rebase` may change (they set Parameters only)."""

    def rebase(self, state: AccountState) -> None:
        """Take ``state``: this problem's own but for the names not bought or not sold.

        Those names only set the buy and sell caps (Parameters' values,
        :func:`~pma_lab.optimize.limits.base_caps`), so the compiled problem is kept and
        the limits the state makes are made again (:meth:`update`), as a new build of
        ``state`` makes them; the next solves start from new solver objects
        (:meth:`forget_solvers`). A household's first step solved again with names left
        as they are (:func:`pma_lab.plan.household.without_pairs`) built and compiled
        its problem anew each time (issue 16).

        Raises
        ------
        SettingsError
            When ``state`` differs from the problem's in another field than
            :attr:`REBASE_FIELDS` (numbers to the bit), or the problem has added
            constraints; build a new problem for it.
        """
        if not isinstance(state, AccountState):
            raise SettingsError(f"RebalanceProblem.rebase({type(state).__name__}): pass an "
                                "AccountState")
        if self._user:
            raise SettingsError("RebalanceProblem.rebase: a problem with added constraints "
                                "(add_constraint) is built for its state; build a new one")
        if not _same_state(self.state, state, self.REBASE_FIELDS):
            raise SettingsError("RebalanceProblem.rebase: the state differs from the "
                                "problem's in more than the names not bought or not sold "
                                f"({', '.join(self.REBASE_FIELDS)}); build a new "
                                "RebalanceProblem for it")
        self._take_state(state)

    def _take_state(self, state: AccountState) -> None:
        """Take ``state``, which differs from the problem's only in its restrictions' names.

        :meth:`rebase`'s work once it has checked ``state``: the names not bought or not
        sold, and the names that must go (``must_sell``, a glide's ``max_weight``), set
        the Parameters' values alone (:func:`~pma_lab.optimize.limits.base_caps`). The
        frontier solves its "Go to target" point on the account with a glide's names
        sold now (:func:`~pma_lab.optimize.state.go_to_target_state`) this way and takes
        its own state back after it; a researcher's added constraints apply to that point
        as to every other.
        """
        if self._lookahead is not None:  # the forked copy solves the old state
            self._lookahead.close()
            self._lookahead = None
        self.state = state
        self._limits_memo.clear()
        self._exact_solved = None
        self._tie_base = None
        self.forget_solvers()
        self.update(self.settings)

    def forget_solvers(self) -> None:
        """Start the next solves from new solver objects, as a newly built problem would.

        cvxpy keeps each problem's solver object between solves and hands it the new data
        (Clarabel's and PIQP's ``update``), which need not round as a new solver does.
        A problem reused for another account path (:class:`pma_lab.plan.simulation.
        StepProblems`) calls this first, so its solves repeat a fresh build's to the bit;
        the compilation (cvxpy's parametrised program) is kept. With :attr:`history_free`
        (the default) the sign-fixed problems start from new solvers at every call anyway;
        this resets the relaxation's too.
        """
        for prob in (self._relaxed, self._hull, *self._exact_cache.values()):
            if prob is not None:
                prob._solver_cache.clear()

    def _base_caps(self, s: RebalanceSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Caps per asset (:func:`pma_lab.optimize.limits.base_caps`), copies.

        They depend on the state and ``s.buy_only_target`` alone: computed once per
        problem for each (a Python pass over the assets, read by every update, rounding
        and check of a solve).
        """
        key = ("caps", bool(s.buy_only_target))
        got = self._limits_memo.get(key)
        if got is None:
            got = base_caps(self, s)
            self._limits_memo[key] = got
        return got[0].copy(), got[1].copy(), got[2].copy()

    def _forced_sales(self, w_cap: np.ndarray, lot_cap: np.ndarray, wash_mode: str
                      ) -> np.ndarray:
        """Lot sales the restrictions force (:func:`pma_lab.optimize.limits.forced_sales`)."""
        return forced_sales(self, w_cap, lot_cap, wash_mode)

    def _budget_values(self, bud: Budgets) -> np.ndarray:
        """The budgets left, raised to the forced sales' gain; records the raise (USD)."""
        raised, self.budget_raise = budget_limits(self, bud, self._forced_x)
        self.budget_raised = float(self.budget_raise.max(initial=0.0))
        return raised

    def _set_caps(self, buy: np.ndarray, lot_cap: np.ndarray, w_cap: np.ndarray) -> None:
        P = self.P
        set_value(P["buy_cap"], buy)
        set_value(P["sell_ok"], lot_cap)
        set_value(P["w_cap"], w_cap)

    # ------------------------------------------------------------------ solving
    def note_relaxation_dual(self, gave_up_on_cap: bool) -> None:
        """Record whether the relaxation's solver tried first gave up because of the TE cap.

        Called by that solver (:class:`~pma_lab.optimize.relax_dual.RelaxDual`, after each
        attempt); the relaxation's next solve by cvxpy (:meth:`_run`) reads and clears it:
        where it gave up on the cap, Clarabel's first call only sets up
        (``RELAXATION_SETUP_ONLY``).
        """
        self._relax_cap_stalls = bool(gave_up_on_cap)

    def _run(self, prob: cp.Problem) -> str:
        """Solve ``prob`` (a relaxation or a sign-fixed problem); log it; return its status.

        With :attr:`history_free` (the default) a sign-fixed problem's solver is set up
        anew for this call (:meth:`forget_solvers` for this problem), and the
        relaxation's with :attr:`history_free_relaxation`: cvxpy otherwise hands the
        solver object of the problem's last call the changed data (PIQP's and Clarabel's
        ``update``), whose result differs from a new setup's at round-off, so the same
        settings gave lot shares ~1e-9 apart depending on what was solved before (a
        dashboard toggled back and forth), and a solve made in another process
        (:mod:`pma_lab.optimize.lookahead`) would not repeat this one's.
        """
        t0 = time.perf_counter()
        stalls, self._relax_cap_stalls = self._relax_cap_stalls, False  # this call's
        check_dpp(self, prob)
        if self.history_free_relaxation if prob is self._relaxed else self.history_free:
            prob._solver_cache.clear()
        is_qp = prob is self._exact_cache.get(False)
        solver = self.settings.qp_solver if (is_qp and self.settings.qp_solver) else \
            self.settings.solver
        opts = self.relaxation_options.get(solver) if prob is self._relaxed else None
        refined = False  # the relaxation solved again with the solver's defaults
        if opts:
            defaults = RELAXATION_DEFAULTS.get(solver, {})
            # at zero (or a tie-breaking) tax aversion the relaxation's optimum is not
            # unique, or barely, and the one the solver lands on decides the sides: the
            # solver's defaults there
            fast = self.settings.gamma_tax >= RELAXATION_FAST_MIN_GAMMA_TAX
            first = opts if fast else defaults
            if fast and stalls:
                # the certified dual gave up on the binding cap: the solve without
                # refinement would stall, so set up only (see RELAXATION_SETUP_ONLY)
                first = {**opts, **RELAXATION_SETUP_ONLY.get(solver, {})}
            status = solve_problem(prob, solver, first)
            if status != "optimal" and fast:
                # not proven to the solver's tolerances that way: solve it again with
                # the solver's own settings (the bound and the sides as before)
                refined = True
                status = solve_problem(prob, solver, defaults)
            if status not in ("optimal", "optimal_inaccurate") and prob._solver_cache:
                # the solver object of an earlier call, handed this call's data, can
                # fail where a new setup solves (Clarabel updated after a solve at
                # another tax aversion ended "unbounded" on tech-exec): set it up anew
                # once (the call's result is unchanged wherever the update solved)
                prob._solver_cache.clear()
                refined = True
                status = solve_problem(prob, solver, defaults)
        else:
            status = self._solve_with(prob, solver)
        if status != "optimal" and solver != self.settings.solver:
            # the QP solver did not certify optimality: solve again with the conic solver
            # (recorded in the log)
            solver = self.settings.solver
            status = self._solve_with(prob, solver)
        if status == "optimal_inaccurate":
            self._inaccurate += 1
        self._log.append({"problem": "sign-fixed" if prob in self._exact_cache.values()
                          else "relaxed", "solver": solver,
                          "status": status, "seconds": time.perf_counter() - t0,
                          "refined": refined,
                          "solver_seconds": prob.solver_stats.solve_time
                          if prob.solver_stats else None})
        return status

    @staticmethod
    def _solve_with(prob: cp.Problem, solver: str) -> str:
        # tolerances follow the solver policy; an inaccurate solve is recorded in the log
        # and the summary, not printed
        return solve_problem(prob, solver)

    def _loss_relevant(self) -> np.ndarray:
        """Assets whose identity group holds a loss lot that may be sold.

        Only for these does "never buy and sell at once" bind: selling a gain lot and
        buying the same name back only costs tax and spread, so the convex problem never
        does both for the others, which keep both sides open.

        The answer depends on the lots' gains, the locks and ``wash_sale_mode`` only, all
        fixed when the problem is built, so it is computed once (read-only: it was ~1 ms a
        call, ten calls a re-solve).
        """
        rel = getattr(self, "_rel_cache", None)
        if rel is None:
            groups = self.state.groups
            sellable = self.g < 0
            if self.settings.wash_sale_mode == "forbid":
                sellable &= ~self.locked_loss
            loss_groups = {groups.get(t, t)
                           for t in lot_columns(self.state).ticker[sellable].tolist()}
            rel = np.array([groups.get(t, t) in loss_groups for t in self.state.assets],
                           dtype=bool)
            rel.flags.writeable = False
            self._rel_cache = rel
        return rel

    def _fix_signs(self, sell: np.ndarray, buy: np.ndarray, lot_cap: np.ndarray,
                   w_cap: np.ndarray) -> None:
        """Set the caps that make each loss-relevant asset sell-only or buy-only."""
        rel = self._loss_relevant()
        self._set_caps(np.where(rel & sell, 0.0, buy),
                       np.where(rel & ~sell, 0.0, lot_cap), w_cap)

    def _fixed(self, sell: np.ndarray, buy: np.ndarray, lot_cap: np.ndarray,
               w_cap: np.ndarray) -> str:
        """Solve the exact problem with each loss-relevant asset sell-only or buy-only.

        When the solution in hand is already optimal for these sides (:meth:`_still_optimal`)
        the caps are set and the solve is skipped.
        """
        base = self._tie_base
        if base is not None and self.skip_proven_solves and \
                self._still_optimal(base, sell, buy, lot_cap, w_cap):
            self._fix_signs(sell, buy, lot_cap, w_cap)
            self.skipped_solves += 1
            return base[4]
        reply = self._lookahead.take(self, sell, buy, lot_cap, w_cap) \
            if self._lookahead is not None else None
        status = self._adopt(reply, sell, buy, lot_cap, w_cap) if reply is not None else \
            self._fixed_solve(sell, buy, lot_cap, w_cap)
        self._tie_base = (sell.copy(), buy.copy(), lot_cap.copy(), w_cap.copy(), status) \
            if status in _OK else None
        return status

    def _still_optimal(self, base: tuple, sell: np.ndarray, buy: np.ndarray,
                       lot_cap: np.ndarray, w_cap: np.ndarray) -> bool:
        """Whether the last sign-fixed solution is optimal for sides ``sell`` too.

        The last solve had the same caps except the sides of some loss-relevant names.
        If none of them trades at that solution and, at its multipliers (cash, sector
        limits, gain budgets; the tracking-error cap not binding), opening each one's new
        side does not lower the Lagrangian (its derivative there is >= 0: buying costs at
        least its spread and cash, or the cheapest lot's sale at least its tax, budgets
        and cash), the solution satisfies the optimality (KKT) conditions of the new
        sides' problem with the same multipliers: it is that problem's optimum, with the
        same objective, so solving it would only repeat it (to the solver's round-off).
        Specific risk makes each name's value function curve by at least ``2 q_i``
        (``q_i = 100 d_i^2``), so a derivative above ``-1e-7`` can hide at most
        ``1e-14 / (4 q_i)`` of objective, far below what the two-step's comparisons see.
        """
        s = self.settings
        b_sell, b_buy, b_lot, b_w, _ = base
        if (self.na > self.nm or self._user or self._terms or s.tax_credit != "linear"
                or not np.array_equal(buy, b_buy) or not np.array_equal(lot_cap, b_lot)
                or not np.array_equal(w_cap, b_w)):
            return False
        rel = self._loss_relevant()
        moved = np.flatnonzero(rel & (np.asarray(sell, dtype=bool) != b_sell))
        if not len(moved):
            return False
        if self.b.value is None or self.a.value is None:
            return False
        b = np.asarray(self.b.value, dtype=float)
        x = self._x_value()
        sold = np.bincount(self.lot_asset, weights=x, minlength=self.na)
        if np.any(b[moved] > 1e-9) or np.any(sold[moved] > 1e-9):
            return False
        a = np.asarray(self.a.value, dtype=float)
        if s.te_cap is not None and self.tracking.value(a) > 0.999 * s.te_cap ** 2:
            return False  # a binding cap's multiplier would scale the risk terms
        signs = self._signs()
        q = 100.0 * signs.d2
        if np.any(q[moved] <= 0):
            return False
        nu = float(np.sum(signs._dual("cash")))
        sigma = np.atleast_1d(signs._dual("sector"))
        beta = np.atleast_1d(signs._dual("budget"))
        lin = 100.0 * 2.0 * (signs.loadings @ (signs.loadings.T @ a))
        if self.S.shape[0] and sigma.size == self.S.shape[0]:
            lin = lin + self.S.T @ sigma
        w = self.h[: self.nm] - sold[: self.nm] + b[: self.nm]
        grad = lin + 2.0 * q * (w - self.wt)  # d objective / d w per model name
        tc = 100.0 * s.gamma_tc * s.spread
        unit = 100.0 * (s.gamma_tax * self.tax_term.coef + s.lt_soon_penalty * self.soon)
        if beta.size == 3:
            unit = unit + beta @ self.brows
        unit = unit + tc + nu
        new_buy = np.where(rel & sell, 0.0, buy)
        new_lot = np.where(rel & ~sell, 0.0, lot_cap)
        lock_ok = s.wash_sale_mode == "disallow"
        sellable = (new_lot[self.lot_asset] > 0) & (self.v > 0) & (~self.locked_loss | lock_ok)
        eps = 1e-7
        for i in moved:
            if sell[i]:
                on = sellable & (self.lot_asset == i)
                if on.any() and -grad[i] + float(unit[on].min()) < -eps:
                    return False
            elif new_buy[i] > 0 and w[i] < w_cap[i] - 1e-12 and grad[i] + tc - nu < -eps:
                return False
        return True

    def _signs(self) -> WarmSigns:
        """The multipliers' reader (:class:`~pma_lab.optimize.aggregate.WarmSigns`), cached."""
        if self._warm_signs is None:
            self._warm_signs = WarmSigns(self)
        return self._warm_signs

    def _fixed_solve(self, sell: np.ndarray, buy: np.ndarray, lot_cap: np.ndarray,
                     w_cap: np.ndarray) -> str:
        """Solve the exact problem with each loss-relevant asset sell-only or buy-only.

        First by :attr:`pattern_solver` (the certified dual, while
        ``settings.dual_qp``), which solves it with or without a binding TE cap; where
        it returns ``None`` (not covered, not certified), by cvxpy: without the cap first
        (a QP) while the cap has not bound (:attr:`lift_te_cap`), else the capped SOCP.
        """
        self._fix_signs(sell, buy, lot_cap, w_cap)
        s = self.settings
        qp_first = s.te_cap is not None and s.qp_solver and self.lift_te_cap and \
            not self._cap_bound
        if self.pattern_solver is not None and s.dual_qp and not self._terms:
            # solved another way (pma_lab.optimize.dual_qp: by the Lagrangian dual, with a
            # binding TE cap too), certified; None: not covered or not certified (cvxpy)
            status = self.pattern_solver(self, sell, buy, lot_cap, w_cap)
            if status is not None:
                if self._exact_solved is self._exact_cache.get(True):
                    self._cap_bound = True  # the cap binds here (solved with it)
                    return status
                if s.te_cap is None or float(self.te2_exact.value) <= s.te_cap ** 2:
                    return status
                self._cap_bound = True  # the cap binds here: the SOCP below
                qp_first = False
        if qp_first:
            # a cap that does not bind leaves the optimum where it is: solve without it
            # (a QP for the QP solver, ~3x faster than the SOCP) and keep that solution
            # when its TE is within the cap (then it is the capped problem's optimum too)
            qp = self._exact_problem(False)
            self._exact_solved = qp
            status = self._run(qp)
            if status in _OK and float(self.te2_exact.value) <= s.te_cap ** 2:
                return status
            self._cap_bound = True  # it binds here: the next patterns go to the SOCP
        self._exact_solved = self._exact_problem(s.te_cap is not None)
        return self._run(self._exact_solved)

    @property
    def workers(self) -> int:
        """1: every solve in this process; 2: a forked copy solves beside it (see above)."""
        return self._workers

    @workers.setter
    def workers(self, n: int) -> None:
        if isinstance(n, bool) or not isinstance(n, int) or n not in (1, 2):
            raise SettingsError(f"RebalanceProblem(workers={n!r}): use 1 (every solve in "
                                "this process, the default) or 2 (a forked copy solves the "
                                "next sign pattern beside it)")
        self._workers = n

    def _ahead(self) -> Lookahead | None:
        """The forked copy that solves requests beside this process (``workers >= 2``).

        None with one worker, when sign-fixed solves keep cvxpy's warm update
        (``history_free = False``: a solve made in the copy would not repeat this one's),
        and in a process forked after the problem was built (a batch's or a frontier's
        worker, already one process a core): there it solves serially, the same trades.
        """
        if self.workers < 2 or not self.history_free or os.getpid() != self._pid:
            if self._lookahead is not None:
                self._lookahead.close()
                self._lookahead = None
            return None
        if self._lookahead is None or not self._lookahead.alive:
            self._lookahead = Lookahead(self)
        return self._lookahead

    def _adopt(self, reply: tuple, sell: np.ndarray, buy: np.ndarray, lot_cap: np.ndarray,
               w_cap: np.ndarray) -> str:
        """Take the copy's solve of this request as if it had been made here.

        The caps are set, the problem it solved (with or without the TE cap) gets its
        variables' values, its constraints' multipliers, status and value, and the log
        its entry (:mod:`pma_lab.optimize.lookahead`).
        """
        status, capped, cap_bound, p_status, p_value, values, duals, log, inacc = reply
        self._fix_signs(sell, buy, lot_cap, w_cap)
        prob = self._exact_problem(capped)
        for var, val in zip(prob.variables(), values, strict=True):
            var.save_value(val)
        for con, dual in zip(prob.constraints, duals, strict=True):
            con.save_dual_value(dual)
        prob._status, prob._value = p_status, p_value
        self._exact_solved, self._cap_bound = prob, cap_bound
        self._log.extend(dict(e, second_process=True) for e in log)
        self._inaccurate += inacc
        return status

    def _keep_solution(self) -> tuple:
        """The exact problem's solution as it stands (see :meth:`_restore_solution`)."""
        prob = self.exact
        return (prob, prob.status, prob.value,
                [(v, None if v.value is None else np.array(v.value, copy=True))
                 for v in prob.variables()])

    def _restore_solution(self, kept: tuple) -> None:
        """Put back a solution kept by :meth:`_keep_solution`.

        Solving the same problem again with the same Parameter values gives the same
        solution, so the solve is skipped.
        """
        prob, status, value, values = kept
        self._tie_base = None  # the constraints' multipliers are the last solve's
        self._exact_solved = prob
        for var, val in values:
            var.save_value(val)
        prob._status, prob._value = status, value

    def solve(self, method: Method | str = Method.TWO_STEP) -> RebalanceResult:
        """Solve and return the proposed trades.

        Parameters
        ----------
        method : {"two_step", "relaxed", "enumerate"}
            ``two_step``: Moehle et al.'s relaxation, then the sign-fixed exact problem.
            ``relaxed``: the relaxation only (a lower bound; may buy and sell a name).
            ``enumerate``: best of every sign pattern of the names holding a loss lot (an
            exact reference for small books; 2^k solves).

        Raises
        ------
        SettingsError
            For an unknown method (e.g. ``"two-step"``).
        InfeasibleError
            Naming the constraints that conflict and what to relax.
        """
        method, run = strategy(method)
        checkpoint()  # a background thread may pause here (the solves may be duals')
        self._log: list[dict] = []
        self._tie_base = None
        self.skipped_solves = 0
        self.pruned_solves = 0
        self._cap_bound = False
        self._inaccurate = 0
        self._fallbacks = 0
        t0 = time.perf_counter()
        s = self.settings
        buy, lot_cap, w_cap = self.base_buy.copy(), self.base_lot_cap.copy(), \
            self.base_w_cap.copy()
        dropped: set[str] = set()
        while True:
            status = run(self, buy, lot_cap, w_cap)
            if status not in _OK:
                raise self._diagnose(status)
            names = self._held_names()
            if s.max_names is None or len(names) <= s.max_names:
                break
            wv = self._post_weights()
            # ties by asset order: a set's order of strings follows the hash seed (s25-flake)
            keep = set(sorted(names, key=lambda t: (-wv[self.asset_index[t]],
                                                    self.asset_index[t]))[: s.max_names])
            for t in names - keep:
                i = self.asset_index[t]
                w_cap[i] = 0.0
                buy[i] = 0.0
                dropped.add(t)
        note = ""
        if s.min_trade > 0 and method != "relaxed":
            small = self._small_trades(s.min_trade)
            if small:
                kept, before = self._keep_solution(), (buy.copy(), lot_cap.copy())
                for i in small:
                    buy[i] = 0.0
                    lot_cap[i] = 0.0
                again = self._fixed(self._last_sell, buy, lot_cap, w_cap)
                if again in _OK:
                    status = again
                else:  # the solution before the drop keeps every constraint: keep it, and
                    # leave the minimum trade to the rounding step below (as for any result)
                    self._fix_signs(self._last_sell, *before, w_cap)
                    self._restore_solution(kept)
                    names = [self.state.assets[i] for i in small]
                    note = MIN_TRADE_KEPT.format(
                        usd=f"${s.min_trade:,.0f}",
                        names=", ".join(names) if len(names) <= 5 else f"{len(names)} names")
        x, b = self._solution()
        if method != "relaxed" and (s.whole_shares or s.min_trade > 0):
            x, b = self._round(x, b, s, dropped)
            res = build_result(self, method + (" (whole shares)" if s.whole_shares else
                                               " (min trade)"), status,
                               time.perf_counter() - t0, dropped, x=x, b=b, settings=s)
            if not note:
                return checked(self, res, s)
            try:
                res = checked(self, res, s)
            except OptimizationError:  # the rounding cannot keep the kept trades' constraints
                self._fix_signs(self._last_sell, buy, lot_cap, w_cap)  # the re-solve's caps
                raise self._diagnose(again, note="after dropping trades below "
                                     f"min_trade ${s.min_trade:,.0f}") from None
            return replace(res, summary=replace(res.summary, note=note))
        return build_result(self, method, status, time.perf_counter() - t0, dropped, x=x,
                            b=b, settings=s)

    def _post_weights(self) -> np.ndarray:
        sold = self.A @ self._x_value() if self.nl else np.zeros(self.na)
        return self.h + np.asarray(self.b.value) - sold

    def _held_names(self) -> set[str]:
        w = self._post_weights()
        return {t for t, wi in zip(self.state.assets, w, strict=True) if wi > 1e-6}

    def _small_trades(self, min_usd: float, sale: np.ndarray | None = None,
                      bought: np.ndarray | None = None) -> list[int]:
        """Assets trading less than ``min_usd`` at the solution.

        Or at ``sale`` and ``bought``, the sale and buy variables' values of a kept
        solution.
        """
        sold = self.A @ self._x_value(sale) if self.nl else np.zeros(self.na)
        trade = (np.asarray(self.b.value if bought is None else bought) - sold) * self.V
        out = []
        for i, t in enumerate(self.state.assets):
            if 1.0 < abs(trade[i]) < min_usd and t not in self.state.must_sell and \
                    t not in self.state.max_weight:
                out.append(i)
        return out

    # ------------------------------------------------------------------ diagnosis
    def _diagnose(self, status: str, note: str = "") -> InfeasibleError:
        """The error for a failed solve (:func:`pma_lab.optimize.diagnose.diagnose`)."""
        return diagnose(self, status, note)

    # ------------------------------------------------------------------ results
    def _solution(self) -> tuple[np.ndarray, np.ndarray]:
        """The solver's lot sales and buys, with round-off removed.

        Round-off is a weight below the solver's accuracy (:mod:`pma_lab.solvers`; 1e-7
        for interior-point solvers) and any trade a cap of zero forbids (a first-order
        solver meets a zero bound only within its tolerance).
        """
        tol = max(_CLEAN, self.settings.accuracy)
        x = self._x_value() if self.nl else np.zeros(0)
        if self.nl:
            x = np.where(self.A.T @ self.P["sell_ok"].value > 0, x, 0.0)
        x = np.where(x < tol, 0.0, np.where(x > self.v - tol, self.v, x))
        b = np.asarray(self.b.value, dtype=float)
        b = np.where((b < tol) | (self.P["buy_cap"].value <= 0), 0.0, b)
        return self._net(x, b)

    def _net(self, x: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Net a name bought and sold at once into one trade (same weights, same cash).

        Only names whose sign is left open can be both (no sellable loss lot: every lot
        sold has a gain of zero or more). When buying back costs nothing (a zero-gain lot
        with no spread) the solver may return both sides; the sale is reduced, costliest
        lots first (most tax per dollar), by the amount bought, and the buy dropped. Tax,
        budgets and trading cost can only fall; weights, TE and cash are unchanged.
        """
        if not self.nl:
            return x, b
        sold = self.A @ x
        both = np.flatnonzero((b > 0) & (sold > 0))
        if not len(both):
            return x, b
        x, b = x.copy(), b.copy()
        cost = self.tax_term.coef + self.soon
        for i in both:
            d = min(b[i], sold[i])
            lots = np.flatnonzero((self.lot_asset == i) & (x > 0))
            for j in lots[np.argsort(-cost[lots], kind="stable")]:
                take = min(x[j], d)
                x[j] -= take
                d -= take
                if d <= 0:
                    break
            b[i] -= min(b[i], sold[i])
        x = np.where(x < _CLEAN, 0.0, x)
        b = np.where(b < _CLEAN, 0.0, b)
        return x, b

    # ------------------------------------------------------------------ whole shares
    def round_shares(self, result: RebalanceResult,
                     settings: RebalanceSettings | None = None) -> RebalanceResult:
        """Whole shares and the minimum trade, as a separate step that keeps every constraint.

        The step is stateless: it reads the result's trades, the account state and the
        settings (default: the problem's), never the solver's variables or Parameters, so
        it can round any result of this problem. :meth:`solve` runs it whenever the
        settings ask for whole shares or a minimum trade (the engine's settings do, from
        the profile's ``[trading]`` section). The rules, in order:

        1. **Sales.** A lot sold in full stays sold in full (its quantity may be
           fractional: the position is closed). A partial sale of a gain lot is rounded
           down, of a loss lot up (never beyond the lot), so realised net gains can only
           fall and every gain budget still holds. A name whose sale is below
           ``min_trade`` is exempt when the sale closes the position or the name must be
           sold; otherwise a gain sale is dropped (less gain), a loss sale is raised to the
           minimum with more shares of its loss lots (more loss; dropped if they do not
           reach it).
        2. **Buys** are rounded down; a buy below ``min_trade`` is dropped.
        3. **Cash.** If the rounded sales do not pay for the rounded buys (cash below its
           target), bought shares are given back where that raises tracking error least;
           with nothing bought left, whole shares more are sold within every gain budget
           (:func:`pma_lab.optimize.rounding.fund_cash`): of lots of names already being
           sold first, then of any name not being bought, least gain first; or, when the
           budgets are spent (the solution's sales rounded down), the sales of least gain
           in place of the solution's unforced gain sales, so a budget the relaxed
           solution kept is kept in whole shares whenever sales of least gain can (and
           they keep the sector limits and the added constraints).
        4. **Leftover cash** is spent on the purchase that lowers tracking error most: one
           more share of a name already bought, or a first purchase of at least
           ``min_trade`` of a buyable target name, while the cash, the name count and the
           sector limits allow it and tracking error falls.
        5. **TE cap.** If tracking error ends above the cap, whole-share moves (buy, give
           back, sell one more share of a lot being sold within the budgets) are made while
           they lower it; if it cannot reach the cap an :class:`InfeasibleError` names
           ``te_cap`` and ``min_trade`` / whole shares.

        This method always rounds to whole shares (with the settings' minimum trade);
        inside :meth:`solve`, settings with fractional shares allowed get only the minimum
        trade (steps 1-3 without rounding; freed cash stays cash). ``result.checks`` (and
        :meth:`check_constraints`) list every constraint with its limit and value.
        """
        s = replace(settings or self.settings, whole_shares=True)
        x, b = self._arrays(result)
        dropped = {t for t in str(result.summary.get("dropped_for_name_cap", "")).split(", ")
                   if t}
        x, b = self._round(x, b, s, dropped)
        method = str(result.summary.method).split(" (")[0]
        out = build_result(self, method + " (whole shares)", str(result.summary.status),
                           float(result.summary.seconds), dropped, x=x, b=b, settings=s)
        return replace(out, checks=self.check_constraints(out, s))

    def _arrays(self, result: RebalanceResult) -> tuple[np.ndarray, np.ndarray]:
        """Lot sales ``x`` and buys ``b`` (weights of V) of a result."""
        return trade_arrays(self, result)

    def violation(self, constraint: RebalanceConstraint, x: np.ndarray, b: np.ndarray
                  ) -> float:
        """The largest violation of a constraint's cvxpy form at trades ``x``, ``b``.

        See :func:`pma_lab.optimize.checks.violation`.

        Parameters
        ----------
        constraint : RebalanceConstraint
            An added constraint (its compiled form is reused) or any other constraint
            object (compiled from :attr:`formulation` now).
        x, b : np.ndarray
            Weight sold per lot and bought per asset.
        """
        return violation(self, constraint, x, b)

    def _user_violation(self, x: np.ndarray, b: np.ndarray) -> dict[str, float]:
        """The largest violation of each added constraint at trades ``x``, ``b``."""
        return added_violations(self, x, b)

    def _user_max_violation(self, x: np.ndarray, b: np.ndarray) -> float:
        """The largest violation of the added constraints at trades ``x``, ``b``."""
        return max(self._user_violation(x, b).values(), default=0.0)

    def _user_ok(self, x: np.ndarray, b: np.ndarray) -> bool:
        return all(v <= ADDED_TOL for v in self._user_violation(x, b).values())

    def rounding_data(self, settings: RebalanceSettings | None = None) -> RoundingData:
        """The problem's data for the whole-share step (:mod:`pma_lab.optimize.rounding`).

        Parameters
        ----------
        settings : RebalanceSettings | None
            The settings to round with (caps and budgets follow them); default: the
            problem's.
        """
        s = settings or self.settings
        buy, w_cap, _ = self._base_caps(s)
        return RoundingData(
            self.state, self.V, self.nm, self.na, self.nl, self.v, self.g, self.g_eff,
            self.lot_asset, self.locked_loss, self.A, self.M, self.S, self.h, self.wt,
            self.brows, self.sec_names, self.tracking, float(self.P["cash"].value), buy,
            w_cap, self._budget_values(s.budgets), self._user_ok if self._user else None,
            self._user_max_violation if self._user else None,
            self._term_gradient if self._terms else None)

    def _term_gradient(self, x: np.ndarray, b: np.ndarray) -> np.ndarray:
        return term_gradient(self, x, b)

    def _round(self, x: np.ndarray, b: np.ndarray, s: RebalanceSettings,
               dropped: set[str]) -> tuple[np.ndarray, np.ndarray]:
        """The rounding rules of :meth:`round_shares` on weight arrays (copies returned)."""
        return round_trades(self.rounding_data(s), x, b, s, dropped)


    def check_constraints(self, result: RebalanceResult,
                          settings: RebalanceSettings | None = None) -> pd.DataFrame:
        """Every constraint of the problem evaluated at a result: limit, value, ok.

        Each constraint object evaluates itself
        (:meth:`~pma_lab.optimize.constraints.RebalanceConstraint.evaluate`): the built-in
        ones in their order, the added ones after "no name bought and sold"
        (:func:`pma_lab.optimize.checks.check_constraints`).

        Parameters
        ----------
        result : RebalanceResult
        settings : RebalanceSettings | None
            The settings the result was solved with (default: the problem's).
        """
        return check_constraints(self, result, settings or self.settings)

    def current_te(self) -> float:
        """Ex-ante tracking error of today's portfolio (before any trade) to the target."""
        return self._te(self.M @ self.h)

    def current_names(self) -> int:
        """Names held today."""
        return int((self.h > 1e-6).sum())

    def _te(self, look: np.ndarray) -> float:
        """Tracking error of look-through weights ``look`` to the target."""
        return self.tracking.te(look - self.wt)
