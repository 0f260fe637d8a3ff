"""The infeasibility diagnosis (:mod:`pma_lab.optimize.diagnose`): the relaxed problem it
re-solves is checked to be DPP first, as every other solve (review 15 L2). Books are
test_constraints' (test_rebalance's synthetic 4-stock model)."""

from __future__ import annotations

import cvxpy as cp
import pytest
from test_constraints import BOOK  # tests/ is on sys.path (pytest's prepend mode)
from test_rebalance import ledger, problem

from pma_lab.errors import InfeasibleError, NotDPPError
from pma_lab.optimize.diagnose import diagnose
from pma_lab.optimize.rebalance import RebalanceSettings


def test_the_relaxation_the_diagnosis_solves_is_checked_to_be_dpp():
    """A relaxed problem that is not DPP (a Parameter times a Parameter times a variable)
    is refused before cvxpy compiles it; a DPP one is checked once and diagnosed."""
    p = problem(ledger(BOOK), RebalanceSettings(dual_qp=False, dual_relaxation=False))
    rel = p.relaxed
    p.relaxed = cp.Problem(cp.Minimize(p.P["gamma_tax"] * p.P["gamma_tc"] * cp.sum(p.b)),
                           rel.constraints)
    with pytest.raises(NotDPPError, match="relaxed rebalance problem is not DPP"):
        diagnose(p, "infeasible")
    ok = problem(ledger(BOOK), RebalanceSettings(dual_qp=False, dual_relaxation=False))
    assert ok.relaxed not in ok._dpp_checked.values()
    got = diagnose(ok, "infeasible", "at the test")
    assert ok.relaxed in ok._dpp_checked.values()
    assert isinstance(got, InfeasibleError) and "at the test" in str(got)
