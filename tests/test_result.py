"""Result construction lives in :mod:`pma_lab.optimize.result` (:func:`build_result`, split
out of ``rebalance.py``, issue 15): a result rebuilt from its own trades is the same, and a
name both bought and sold is refused outside the relaxation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pma_lab.errors import SolverFailedError
from pma_lab.io.client import load_client
from pma_lab.optimize.engine import default_settings, prepare, problem_for_client
from pma_lab.optimize.result import build_result
from pma_lab.paths import samples_dir


@pytest.fixture(scope="module")
def solved():
    c = load_client(samples_dir() / "clients" / "balanced-6040" / "profile.toml")
    setup = prepare(c)
    p = problem_for_client(setup, None, default_settings(setup, whole_shares=False,
                                                           min_trade=0.0))
    return p, p.solve()


def test_a_result_rebuilt_from_its_trades_is_the_same(solved):
    p, res = solved
    x, b = p._arrays(res)
    again = build_result(p, "two_step", res.status, 0.0, set(), x=x, b=b)
    for name in ("lot_trades", "trades", "decisions"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(res, name),
                                      check_exact=False, rtol=1e-9)
    for k in ("tax", "realized_st", "realized_lt", "te_after", "turnover", "cash_after"):
        assert again.summary[k] == pytest.approx(res.summary[k], rel=1e-9, abs=1e-6), k
    assert again.summary.ledger_checked and again.summary.seconds == 0.0


def test_a_name_bought_and_sold_is_a_bug_except_in_the_relaxation(solved):
    p, _ = solved
    j = int(np.flatnonzero(p.v > 0)[0])
    i = int(p.lot_asset[j])
    x = np.zeros(p.nl)
    x[j] = p.v[j] / 2
    b = np.zeros(p.na)
    b[i] = p.v[j] / 4
    with pytest.raises(SolverFailedError, match="both bought and sold"):
        build_result(p, "two_step", "optimal", 0.0, set(), x=x, b=b)
    r = build_result(p, "relaxed", "optimal", 0.0, set(), x=x, b=b)
    assert r.trades.side.tolist() == ["sell"]


def test_a_lots_round_off_weight_is_no_sale(solved):
    """A lot whose sold weight is solver round-off (a billionth of a share) is not sold: it
    reached the ledger check as a zero-share sale ('shares must be positive', the frontier
    benchmark's COF lot at one point of its sweep)."""
    p, res = solved
    x, b = p._arrays(res)
    held = np.flatnonzero((p.v > 0) & (x == 0))
    j = int(held[0])
    x = x.copy()
    x[j] = 1e-9 * p.v[j] / float(p.state.lots.shares.iloc[j])  # 1e-9 of a share
    r = build_result(p, "two_step", res.status, 0.0, set(), x=x, b=b)
    assert p.state.lots.lot_id.iloc[j] not in set(r.lot_trades.lot_id)
    assert (r.lot_trades.shares > 0).all() and r.summary.ledger_checked
    pd.testing.assert_frame_equal(r.lot_trades, res.lot_trades, check_exact=False, rtol=1e-9)


def test_a_result_solved_without_the_ledger_then_checked_is_the_ledgers():
    """ledger_checked: the same problem solved without a ledger, then replayed through it,
    is the result of solving it with the ledger, every table and figure to the last bit
    (balanced-6040's gain budget: its check reads the ledger's gains, 3.6e-12 from the
    trades' own). A result already checked is refused."""
    from pma_lab.errors import SettingsError
    from pma_lab.optimize.rebalance import RebalanceProblem
    from pma_lab.optimize.result import ledger_checked

    setup = prepare(load_client(samples_dir() / "clients" / "balanced-6040" /
                                "profile.toml"))
    p = problem_for_client(setup)
    want = p.solve()
    bare = RebalanceProblem(p.state, p.risk, setup.target.weights, p.settings, None)
    res = bare.solve()
    assert not res.summary.ledger_checked and "wash_loss_disallowed" not in res.lot_trades
    assert (res.checks.constraint == "budget.total").any()
    got = ledger_checked(res, p.state, setup.ledger)
    for name in ("lot_trades", "trades", "decisions", "checks"):
        pd.testing.assert_frame_equal(getattr(got, name), getattr(want, name),
                                      check_exact=True, obj=name)
    skip = {"seconds", "solver_seconds", "build_seconds"}
    assert {k: v for k, v in dict(got.summary).items() if k not in skip} == \
        {k: v for k, v in dict(want.summary).items() if k not in skip}
    with pytest.raises(SettingsError, match="already replayed through a ledger"):
        ledger_checked(want, p.state, setup.ledger)
