"""Checkpoints (pma_lab.checkpoints): where a background computation may pause or stop."""

from __future__ import annotations

import threading

import cvxpy as cp
import pytest

from pma_lab.checkpoints import checkpoint, on_checkpoint
from pma_lab.errors import CancelledError
from pma_lab.io.client import load_client
from pma_lab.optimize.engine import prepare
from pma_lab.paths import clients_dir
from pma_lab.solvers import solve_problem


def test_a_hook_runs_in_its_own_thread_only_and_is_restored():
    seen: list[str] = []
    checkpoint()  # no hook: nothing happens
    with on_checkpoint(lambda: seen.append("outer")):
        checkpoint()
        other = threading.Thread(target=checkpoint)  # another thread has no hook
        other.start()
        other.join()
        with on_checkpoint(lambda: seen.append("inner")):
            checkpoint()
        checkpoint()
    checkpoint()
    assert seen == ["outer", "inner", "outer"]


def test_a_hook_that_raises_stops_the_solve_before_it_runs():
    x = cp.Variable()
    prob = cp.Problem(cp.Minimize(cp.square(x - 1)))

    def stop() -> None:
        raise CancelledError("stopped by the test")

    with on_checkpoint(stop), pytest.raises(CancelledError, match="stopped by the test"):
        solve_problem(prob, "CLARABEL")
    assert prob.status is None  # never solved
    assert solve_problem(prob, "CLARABEL") == "optimal"  # without the hook it solves


def test_a_clients_setup_and_trades_reach_checkpoints_between_their_solves():
    """The dashboard's prefetch pauses at these (pma_lab.app.dashboard.widgets): the target's
    name selection and the rebalance's solves each pass one."""
    from pma_lab.plan.transition import first_trades

    c = load_client(clients_dir() / "young-pro" / "profile.toml")
    counts = {"setup": 0, "trades": 0}
    stage = ["setup"]

    def count() -> None:
        counts[stage[0]] += 1

    with on_checkpoint(count):
        setup = prepare(c)
        stage[0] = "trades"
        first_trades(setup, "3y")
    assert counts["setup"] >= 5 and counts["trades"] >= 1, counts
