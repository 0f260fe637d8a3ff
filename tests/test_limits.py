"""The limits of the rebalance (:mod:`pma_lab.optimize.limits`): caps, forced sales and
budgets from the settings and the account's restrictions, on test_constraints' book."""

from __future__ import annotations

import pytest
from test_constraints import BOOK  # tests/ is on sys.path (pytest's prepend mode)
from test_rebalance import ledger, problem

from pma_lab.optimize.constraints import BIG
from pma_lab.optimize.limits import (
    base_caps,
    budget_limits,
    forced_sales,
    parameter_values,
    sector_caps,
)
from pma_lab.optimize.rebalance import Budgets, RebalanceSettings


def test_caps_forced_sales_and_budgets_follow_the_restrictions():
    s = RebalanceSettings(te_cap=0.02)
    p = problem(ledger(BOOK), s, must_sell=["AAA"], no_buy=["DDD"], no_sell=["CCC"],
                sector_limits={"Energy": 0.4})
    assert list(p.state.assets[:4]) == ["AAA", "BBB", "CCC", "DDD"]
    buy, w_cap, lot_cap = base_caps(p, s)
    assert buy[:4].tolist() == [0.0, 1.0, 1.0, 0.0]  # must-sell and no-buy names
    assert w_cap[:4].tolist() == [0.0, 1.0, 1.0, 1.0]  # a must-sell name goes
    assert lot_cap[:4].tolist() == [1.0, 1.0, 0.0, 1.0]  # CCC's lots are not sold
    assert sector_caps(p).tolist() == [0.4, 1.0]  # Energy, Utilities
    # AAA's whole lot is forced out: $30,000 of long-term gain
    x = forced_sales(p, w_cap, lot_cap, s.wash_sale_mode)
    aaa = (p.state.lots.ticker == "AAA").to_numpy()
    assert x[aaa].tolist() == p.v[aaa].tolist() and not x[~aaa].any()
    # a zero budget is raised to that gain (and says by how much); no budget stays free
    raised, by = budget_limits(p, Budgets(total=0.0, long_term=50000.0), x)
    assert by[0] == pytest.approx(30000.0) and by[1:].tolist() == [0.0, 0.0]
    assert raised[0] * p.V == pytest.approx(30000.0) and raised[1] == BIG
    assert raised[2] * p.V == pytest.approx(50000.0)
    assert parameter_values(p, s)["te2_cap"] == pytest.approx(0.02 ** 2)
    assert parameter_values(p, RebalanceSettings())["te2_cap"] == BIG
    assert p.P["budget"].value.tolist() == budget_limits(p, s.budgets, x)[0].tolist()
