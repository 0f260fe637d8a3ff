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
