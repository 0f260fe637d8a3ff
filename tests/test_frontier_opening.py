"""The warm sweep's first point starts from the opening sides (session 14,
:func:`pma_lab.optimize.frontier.opening_sides`): every name holding a loss lot sells,
kept where the certificate proves them within $0.05 of the optimum, so the first point
solves no relaxation; the two-step otherwise, as before."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_frontier import pin_one_split  # tests/ is on sys.path (pytest's prepend mode)

from pma_lab.io.client import load_client
from pma_lab.optimize import frontier, strategies
from pma_lab.optimize.engine import prepare, problem_for_client
from pma_lab.optimize.frontier import efficient_frontier, opening_sides
from pma_lab.paths import clients_dir

GAMMAS = list(np.logspace(1.0, -3.0, 7))


@pytest.fixture(scope="module")
def setups():
    return {c: prepare(load_client(clients_dir() / c / "profile.toml"))
            for c in ("tech-exec", "muni-ca")}


class _Relaxations:
    """The points (by ``frontier._point``'s ``k``) at which a relaxation was solved."""

    def __init__(self, monkeypatch):
        self.at: list[int] = []
        point, relax = frontier._point, strategies._relaxation
        here = {"k": None}

        def spy_point(problem, k, *a, **kw):
            here["k"] = k
            return point(problem, k, *a, **kw)

        def spy_relax(*a, **kw):
            self.at.append(here["k"])
            return relax(*a, **kw)

        monkeypatch.setattr(frontier, "_point", spy_point)
        monkeypatch.setattr(strategies, "_relaxation", spy_relax)


def test_the_opening_sides_are_the_names_holding_a_loss_lot(setups):
    p = problem_for_client(setups["tech-exec"])
    sides = opening_sides(p)
    assert sides.dtype == bool and sides.flags.writeable  # a copy, not the cached array
    assert np.array_equal(sides, p._loss_relevant() & p.has_lots)
    assert sides.any()


@pytest.mark.parametrize("client", ["tech-exec", "muni-ca"])
def test_the_first_point_is_proven_without_a_relaxation_and_trades_as_before(
        setups, client, monkeypatch):
    prob = problem_for_client(setups[client])
    spy = _Relaxations(monkeypatch)
    new = efficient_frontier(prob, gammas=GAMMAS)
    assert new.certificates.signs.iat[1] == "certified"
    assert new.certificates.gap_usd.iat[1] <= frontier.OPENING_USD_TOL
    assert 1 not in spy.at  # on main the first point solved the relaxation
    spy.at.clear()
    monkeypatch.setattr(frontier, "OPENING_USD_TOL", None)  # the two-step first, as before
    old = efficient_frontier(prob, gammas=GAMMAS)
    assert old.certificates.signs.iat[1] in ("two_step", "two_step_certified")
    assert spy.at[0] == 1
    # the same points, to the share and the cent; only the first point's proof reads
    # "certified" (kept warm) instead of the two-step's
    pd.testing.assert_frame_equal(new.all_points, old.all_points, check_exact=True)
    pd.testing.assert_frame_equal(new.table, old.table, check_exact=True)
    assert (new.certificates.signs.iloc[2:] == old.certificates.signs.iloc[2:]).all()


def test_unproven_opening_sides_leave_the_first_point_to_the_two_step(setups,
                                                                      monkeypatch):
    # a first point at no tax aversion: the certificate does not apply (WarmSigns steps
    # aside), so the two-step decides it exactly as without the opening sides
    prob = problem_for_client(setups["tech-exec"])
    gammas = [0.0, 0.01, 1.0]
    new = efficient_frontier(prob, gammas=gammas)
    monkeypatch.setattr(frontier, "OPENING_USD_TOL", None)
    old = efficient_frontier(prob, gammas=gammas)
    assert new.certificates.signs.iat[1] == old.certificates.signs.iat[1] == "two_step"
    pd.testing.assert_frame_equal(new.all_points, old.all_points, check_exact=True)


def test_two_workers_start_from_the_opening_sides_too(setups, monkeypatch):
    # the schedule pinned (which points a worker takes over depends on which finishes
    # first; before session 25 a chain taken over before its first point was noted
    # started with the two-step, and its points were solved again here)
    prob = problem_for_client(setups["tech-exec"])
    one = efficient_frontier(prob, gammas=GAMMAS)
    pin_one_split(monkeypatch)
    two = efficient_frontier(prob, gammas=GAMMAS, workers=2)
    assert two.chains == ((2, 3), (4, 5), (6, 8))
    assert two.certificates.signs.iat[1] == "certified" and two.resolved == ()
    pd.testing.assert_frame_equal(one.all_points, two.all_points, check_exact=True)
    pd.testing.assert_frame_equal(one.certificates, two.certificates, check_exact=True)


@pytest.mark.parametrize("client", ["tech-exec", "muni-ca"])
def test_a_sweep_does_not_depend_on_the_relaxations_solved_before_it(setups, client):
    # every relaxation of a sweep sets its solver up anew (HISTORY_FREE_RELAXATIONS): on
    # main the sweep's relaxations updated the solver set up by the problem's first
    # relaxation, and after a "go to target" solve (its tie-breaking aversion) tech-exec's
    # first point ended "unbounded" (SolverFailedError) instead of harvesting its losses
    from pma_lab.optimize.settings import go_to_target

    fresh = efficient_frontier(problem_for_client(setups[client]), gammas=GAMMAS)
    prob = problem_for_client(setups[client])
    before = prob.settings
    prob.update(go_to_target(before))
    prob.solve()
    prob.update(before)
    after = efficient_frontier(prob, gammas=GAMMAS)
    assert after.all_points.status.iloc[1:].eq("optimal").all()
    pd.testing.assert_frame_equal(after.all_points, fresh.all_points, check_exact=True)
    pd.testing.assert_frame_equal(after.certificates, fresh.certificates, check_exact=True)
    assert prob.history_free_relaxation is False  # the problem's own setting is put back


def test_a_relaxation_whose_updated_solver_fails_is_set_up_anew(setups, monkeypatch):
    # the problem's own relaxations keep cvxpy's solver update (history_free_relaxation
    # False): after a "go to target" solve, Clarabel handed the first point's data ended
    # "unbounded" (SolverFailedError) with neither the sweep's fresh setups nor its opening
    # sides to hide it; a failed updated solve is now set up anew once (review 14)
    from pma_lab.optimize.settings import go_to_target

    monkeypatch.setattr(frontier, "HISTORY_FREE_RELAXATIONS", False)
    monkeypatch.setattr(frontier, "OPENING_USD_TOL", None)
    prob = problem_for_client(setups["tech-exec"])
    before = prob.settings
    prob.update(go_to_target(before))
    prob.solve()
    prob.update(before)
    got = efficient_frontier(prob, gammas=GAMMAS)
    assert got.all_points.status.iloc[1:].eq("optimal").all()  # point 1 failed before
