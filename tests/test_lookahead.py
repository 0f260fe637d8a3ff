"""A forked copy solves the sign patterns a re-solve asks for next (pma_lab.optimize.lookahead,
issue 16, session 11): its life with the problem, and what a request names."""

from __future__ import annotations

import datetime as dt
import gc

import numpy as np
import pandas as pd
import pytest

from pma_lab.optimize.gap import random_account, study_market
from pma_lab.optimize.lookahead import request
from pma_lab.optimize.rebalance import RebalanceProblem, RebalanceSettings

AS_OF = dt.date(2024, 6, 28)


@pytest.fixture(scope="module")
def market():
    return study_market(AS_OF)


def _book(market, seed: int, n: int):
    return random_account(market, seed, n, AS_OF)


def _same(a, b):
    """Same lot sales and trades (to 1e-6 shares), TE (1e-9) and tax (to the cent): a
    constraint that does not bind (the trades with both workers are compared to the bit
    on random books in tests/test_rebalance.py)."""
    assert list(a.lot_trades.lot_id) == list(b.lot_trades.lot_id)
    assert np.allclose(a.lot_trades.shares, b.lot_trades.shares, rtol=0, atol=1e-6)
    assert list(a.trades.ticker) == list(b.trades.ticker)
    assert list(a.trades.side) == list(b.trades.side)
    assert np.allclose(a.trades.shares.astype(float), b.trades.shares.astype(float), rtol=0,
                       atol=1e-6)
    assert a.summary.te_after == pytest.approx(b.summary.te_after, abs=1e-9)
    assert round(a.summary.tax, 2) == round(b.summary.tax, 2)


def test_the_copy_stops_with_the_problem_and_restarts_after_a_constraint(market):
    st, sub, target, led = _book(market, 2, 40)
    # cvxpy alone (dual_qp=False): the added constraint is not in the certified dual, so
    # with it the QPs would go from the dual's exact optimum to PIQP's (~1e-5 shares apart)
    p = RebalanceProblem(st, sub, target, RebalanceSettings(gamma_tax=0.5, min_trade=100.0,
                                                            dual_qp=False), led, workers=2)
    before = p.solve()
    ahead = p._lookahead
    assert ahead is not None and ahead.alive
    # an added constraint changes the problem: the copy (which lacks it) is stopped
    p.add_constraint(lambda q: q.w[0] <= 1.0, name="loose")
    assert p._lookahead is None and not ahead.alive
    _same(p.solve(), before)  # a constraint that does not bind: the same trades
    again = p._lookahead
    assert again is not None and again.alive
    p.workers = 1  # back to one process: the copy is stopped at the next solve
    p.solve()
    assert p._lookahead is None and not again.alive
    p.workers = 2
    p.solve()
    last = p._lookahead
    del p
    gc.collect()
    assert not last.alive  # the copy dies with its problem


def test_a_request_names_everything_the_solve_depends_on(market):
    st, sub, target, led = _book(market, 3, 20)
    p = RebalanceProblem(st, sub, target, RebalanceSettings(gamma_tax=0.5), led)
    sell = p._loss_relevant().copy()
    caps = (p.base_buy, p.base_lot_cap, p.base_w_cap)
    r = request(p, sell, *caps)
    assert r == request(p, sell.copy(), *(c.copy() for c in caps))
    # the sides of a name whose sign is open anyway do not change the solve
    assert r == request(p, sell | ~p._loss_relevant(), *caps)
    if sell.any():
        assert r != request(p, ~sell, *caps)
    buy = caps[0].copy()
    buy[0] = 0.0
    assert r != request(p, sell, buy, *caps[1:])
    p.update(gamma_tax=0.4)
    assert r != request(p, sell, *caps)
    p.update(gamma_tax=0.5)
    assert r == request(p, sell, *caps)
    p._cap_bound = True
    assert r != request(p, sell, *caps)


class _InterruptedOnce:
    """The pipe to the copy, whose next read is interrupted (as a signal handler raising
    KeyboardInterrupt or a batch's SIGTERM would interrupt it); then the real pipe."""

    def __init__(self, conn):
        self.conn, self.hit = conn, False

    def recv_bytes(self):
        if not self.hit:
            self.hit = True
            raise KeyboardInterrupt
        return self.conn.recv_bytes()

    def __getattr__(self, name):
        return getattr(self.conn, name)


def test_an_interrupt_while_waiting_for_the_copy_stops_it(market):
    """Review (session 11): interrupted while it waited for the copy's reply, the problem
    left the reply in the pipe and took it as the answer to its next request: every later
    solve off by one (the benchmark book: 691 lot sales where serial makes 713), with the
    same summary tax. Now the copy is stopped before the interrupt propagates; the next
    solve forks a new one and every later solve is the serial one's."""
    st, sub, target, led = _book(market, 3, 40)
    s = RebalanceSettings(gamma_tax=0.5, min_trade=100.0)
    serial = RebalanceProblem(st, sub, target, s, led)
    want = {}
    for g in (1.0, 0.5, 0.2):
        serial.update(gamma_tax=g)
        want[g] = serial.solve()
    p = RebalanceProblem(st, sub, target, s, led, workers=2)
    p.solve()
    first = p._lookahead
    first._conn = _InterruptedOnce(first._conn)
    p.update(gamma_tax=0.2)
    with pytest.raises(KeyboardInterrupt):
        p.solve()
    assert first._conn.hit and not first.alive
    for g in (1.0, 0.5, 0.2):
        p.update(gamma_tax=g)
        _same(p.solve(), want[g])
    assert p._lookahead is not first and p._lookahead.stats["used"] >= 1


def test_a_problem_carried_into_a_forked_process_solves_serially_there(market):
    """Review (session 11): a workers=2 problem used in a process forked after its copy
    (a batch's worker, efficient_frontier(workers=2)) failed with "can only test a child
    process", and the child's exit printed "can only join a child process". There it
    now solves serially (the same trades) and exits cleanly; the parent keeps its copy."""
    import os

    st, sub, target, led = _book(market, 3, 40)
    s = RebalanceSettings(gamma_tax=0.5, min_trade=100.0)
    p = RebalanceProblem(st, sub, target, s, led, workers=2)
    p.solve()
    assert p._lookahead.alive
    serial = RebalanceProblem(st, sub, target, s, led)
    serial.update(gamma_tax=0.2)
    want = serial.solve()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: solve, report, leave (the clean exit: the next test)
        os.close(r)
        code = 1
        try:
            p.update(gamma_tax=0.2)
            got = p.solve()
            ok = (p._lookahead is None and list(got.lot_trades.lot_id) ==
                  list(want.lot_trades.lot_id) and round(got.summary.tax, 2) ==
                  round(want.summary.tax, 2))
            os.write(w, b"ok" if ok else b"differs")
            code = 0
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            os.write(w, repr(e).encode())
        finally:
            os.close(w)
            os._exit(code)
    os.close(w)
    _, status = os.waitpid(pid, 0)
    said = os.read(r, 10_000).decode()
    os.close(r)
    assert said == "ok" and os.waitstatus_to_exitcode(status) == 0
    assert p._lookahead.alive  # the parent's copy is untouched
    p.update(gamma_tax=0.2)
    _same(p.solve(), want)


_FORKED_EXIT = """
import os, sys
sys.path.insert(0, {tests!r})
from test_lookahead import _book, AS_OF
from pma_lab.market.data import load_market
from pma_lab.optimize.rebalance import RebalanceProblem, RebalanceSettings
from pma_lab.portfolio.risk import estimate_risk_model
m = load_market()
rm = estimate_risk_model(AS_OF, market=m)
mk = (rm, m.prices.at(AS_OF, list(rm.tickers)), m.universe.frame().set_index("ticker").gics_sector)
st, sub, target, led = _book(mk, 3, 40)
p = RebalanceProblem(st, sub, target, RebalanceSettings(gamma_tax=0.5, min_trade=100.0), led,
                     workers=2)
p.solve()
pid = os.fork()
if pid == 0:
    p.update(gamma_tax=0.2)
    p.solve()
    sys.exit(0)  # the interpreter's exit: atexit, multiprocessing's and the finalizers
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def test_a_forked_process_exits_cleanly_with_an_inherited_copy():
    """The child's normal exit printed multiprocessing's "can only join a child process"
    (the parent's copy in its list of children)."""
    import subprocess
    import sys
    from pathlib import Path

    code = _FORKED_EXIT.format(tests=str(Path(__file__).parent))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "can only" not in done.stderr, done.stderr


def test_a_frontier_on_two_workers_takes_a_problem_with_a_copy(market):
    """Review (session 11): efficient_frontier(problem, workers=2) of a workers=2 problem
    always failed ("can only test a child process"); its points are the serial sweep's."""
    from pma_lab.optimize.frontier import efficient_frontier

    st, sub, target, led = _book(market, 3, 40)
    s = RebalanceSettings(gamma_tax=0.5, min_trade=100.0)
    gammas = [1.0, 0.3, 0.1, 0.03]
    want = efficient_frontier(RebalanceProblem(st, sub, target, s, led), gammas=gammas)
    p = RebalanceProblem(st, sub, target, s, led, workers=2)
    p.solve()
    got = efficient_frontier(p, gammas=gammas, workers=2)
    cols = ["te", "tax_economic", "tax_this_year", "trades"]
    pd.testing.assert_frame_equal(got.all_points[cols], want.all_points[cols])


@pytest.mark.parametrize("workers", [0, 3, True, 2.0, "2", None])
def test_workers_is_one_or_two(market, workers):
    """Review (session 11): workers=True ran serially and 2.0 forked; setting the
    attribute to 5 later forked a copy unchecked."""
    from pma_lab.errors import SettingsError

    st, sub, target, led = _book(market, 3, 12)
    with pytest.raises(SettingsError, match="use 1 .* or 2"):
        RebalanceProblem(st, sub, target, RebalanceSettings(), led, workers=workers)
    p = RebalanceProblem(st, sub, target, RebalanceSettings(), led)
    with pytest.raises(SettingsError, match="use 1 .* or 2"):
        p.workers = 5
