"""The solver policy (pma_lab.solvers)."""

from __future__ import annotations

from dataclasses import replace

import cvxpy as cp
import pytest

from pma_lab.errors import SettingsError
from pma_lab.optimize.rebalance import RebalanceSettings
from pma_lab.solvers import check_solver


def test_settings_checks_do_not_probe_the_installed_solvers_again(monkeypatch):
    """Settings are rebuilt at every transition step and frontier point (replace); cvxpy's
    installed_solvers() imports every solver package each call (15 % of a simulation)."""
    RebalanceSettings()  # the first check in a process may probe

    def probe():  # noqa: ANN202
        raise AssertionError("cp.installed_solvers() called again")

    monkeypatch.setattr(cp, "installed_solvers", probe)
    s = RebalanceSettings(gamma_tax=0.5)
    for g in (0.1, 0.2, 0.3):
        s = replace(s, gamma_tax=g)
    assert s.solver == "CLARABEL" and s.qp_solver == "PIQP"


def test_an_unknown_solver_is_still_refused_with_the_installed_ones_named():
    with pytest.raises(SettingsError, match="unknown solver; use one of .*CLARABEL"):
        RebalanceSettings(solver="CLARABELL")

    class Owner:
        solver = "osqp"

    with pytest.raises(SettingsError, match="quadratic programs only"):
        check_solver(Owner(), "solver", conic=True)
