"""The decision text lives in :mod:`pma_lab.optimize.decisions` (split out of
``rebalance.py``, issue 15): the result's ``decisions`` table is exactly
:func:`lot_decisions` of the problem and the trades."""

from __future__ import annotations

import pandas as pd
import pytest

from pma_lab.io.client import load_client
from pma_lab.optimize.decisions import lot_decisions
from pma_lab.optimize.engine import default_settings, prepare, problem_for_client
from pma_lab.paths import samples_dir


@pytest.fixture(scope="module")
def problem():
    c = load_client(samples_dir() / "clients" / "muni-ca" / "profile.toml")
    setup = prepare(c)
    return problem_for_client(setup, None, default_settings(
        setup, whole_shares=False, min_trade=0.0))


def test_the_result_explains_every_lot_with_lot_decisions(problem):
    res = problem.solve()
    x, _ = problem._arrays(res)
    w = res.weights.reindex(list(problem.state.assets)).to_numpy()
    again = lot_decisions(problem, x, set(), w, problem.settings)
    pd.testing.assert_frame_equal(again, res.decisions, check_exact=False, rtol=1e-9)
    assert len(res.decisions) == len(problem.state.lots)
    assert res.decisions.reason.str.len().gt(0).all()
    sold = res.decisions.sold_fraction > 0
    assert res.decisions.action[sold].str.match(r"^(sell|harvest)").all()
    assert res.decisions.action[~sold].isin(["hold", "defer"]).all()
    harvest = res.decisions.action.str.startswith("harvest")
    assert (res.decisions.gain[harvest] < 0).all()
    assert (res.decisions.gain[res.decisions.action.str.startswith("sell")] >= 0).all()
