"""Infeasibility diagnosis of the rebalance: which constraints conflict and how to fix them.

When a solve is infeasible, :func:`diagnose` lifts the limit of one relaxable constraint
at a time (:meth:`~pma_lab.optimize.constraints.RebalanceConstraint.relax`: the built-in
ones in the order of :data:`RELAX_ORDER`, then any relaxable added one), re-solves the
relaxed problem and names those whose relaxation makes it feasible, with each one's
:attr:`~pma_lab.optimize.constraints.RebalanceConstraint.fix`. The relaxed problem is
checked to be DPP before cvxpy compiles it (:func:`~pma_lab.optimize.formulate.check_dpp`,
as every other solve of the problem).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pma_lab.errors import InfeasibleError, SolverFailedError
from pma_lab.optimize.constraints import (
    CashTarget,
    GainBudgets,
    RebalanceConstraint,
    SectorLimits,
    TrackingErrorCap,
    WashSaleLocks,
    WeightCaps,
)

if TYPE_CHECKING:
    from pma_lab.optimize.rebalance import RebalanceProblem

__all__ = ["RELAX_ORDER", "SOLVED", "diagnose"]

#: the built-in constraints the infeasibility search relaxes, in this order
RELAX_ORDER = (GainBudgets, TrackingErrorCap, WeightCaps, WashSaleLocks, SectorLimits,
               CashTarget)
SOLVED = ("optimal", "optimal_inaccurate")  # statuses with a solution


def diagnose(problem: RebalanceProblem, status: str, note: str = ""
             ) -> InfeasibleError | SolverFailedError:
    """Find which constraints conflict by relaxing one active constraint at a time.

    The relaxable constraints (:attr:`RebalanceConstraint.relaxable`, the built-in ones
    in the order of :data:`RELAX_ORDER`, then any added one) lift their limit in
    turn; those whose relaxation makes the relaxed problem feasible are named, with
    their :attr:`~pma_lab.optimize.constraints.RebalanceConstraint.fix`.

    Parameters
    ----------
    problem : RebalanceProblem
        The problem whose solve failed (its Parameters are restored afterwards).
    status : str
        The solver status.
    note : str
        Added to the message (e.g. the step that failed).

    Returns
    -------
    InfeasibleError | SolverFailedError
        To raise: the conflicting constraints and their fixes, or, for a status other
        than infeasible, that the solver failed.

    Raises
    ------
    NotDPPError
        The relaxed problem is not DPP (a formulation bug: an added constraint's product
        of Parameters, say), before cvxpy compiles it.

    """
    if status not in ("infeasible", "infeasible_inaccurate"):
        return SolverFailedError(f"the rebalance problem ended with status {status} "
                                 f"({problem.settings.solver}); retrying will not help; try "
                                 "another solver or check the inputs' scale")
    # deferred: formulate imports aggregate, which imports SOLVED from here
    from pma_lab.optimize.formulate import check_dpp

    st, s = problem.state, problem.settings
    check_dpp(problem, problem.relaxed)  # as problem._run does before it compiles
    # every Parameter of the problem, an added constraint's own ones included
    params = {id(p): p for p in [*problem.P.values(), *problem.relaxed.parameters()]}
    saved = {k: (None if p.value is None else np.array(p.value, copy=True))
             for k, p in params.items()}
    added = [obj for _, _, obj in problem._user]
    order = [problem.constraints[t] for t in RELAX_ORDER] + [c for c in added
                                                            if c.relaxable]
    culprits: list[RebalanceConstraint] = []
    for con in order:
        for k, v in saved.items():
            params[k].value = v
        con.relax(problem.P)
        if problem._solve_with(problem.relaxed, s.solver) in SOLVED:
            culprits.append(con)
    for k, v in saved.items():
        params[k].value = v
    active = [c.name for c in order if c.active(s, st)]
    # added constraints are listed; those that are not relaxable are never relaxed
    active += [label for label, _, obj in problem._user if not obj.relaxable]
    names = [c.name for c in culprits]
    if culprits:
        msg = (f"the rebalance is infeasible{' ' + note if note else ''}: it becomes "
               f"feasible when any one of [{', '.join(names)}] is relaxed, so they "
               f"conflict with the rest of [{', '.join(active)}]. To fix: "
               + "; or ".join(c.fix for c in culprits))
    elif active:
        msg = (f"the rebalance is infeasible{' ' + note if note else ''} and relaxing a "
               f"single constraint group does not help; the active groups are "
               f"[{', '.join(active)}]: relax several")
    else:
        msg = (f"the rebalance is infeasible{' ' + note if note else ''} and no constraint "
               "group applies (no gain budget, tracking-error cap, weight cap, wash-sale "
               "lock, sector limit, cash target or restriction): the account's own lots and "
               "cash on this date leave no feasible trade. To fix: check the account's lots "
               "and cash on this date (a withdrawal may have left too little to trade) and "
               "the [trading] rules (minimum trade, whole shares)")
    if problem._user:  # a researcher's own constraints: the equality no search lifts
        msg += (". The search never lifts the cash equality (cash after trading = "
                "RebalanceSettings.cash_target, 0 by default: fully invested): an added cap "
                "on purchases also caps the sales that fund them; raise cash_target to let "
                "cash build up")
    return InfeasibleError(msg, names or active)
