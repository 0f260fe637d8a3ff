"""The whole-share / minimum-trade step (:mod:`pma_lab.optimize.rounding`) on hand-checkable
books; the books and the synthetic 4-stock risk model are test_rebalance's."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from test_rebalance import (  # tests/ is on sys.path (pytest's prepend mode)
    DAY,
    ETF,
    SECTORS,
    TARGET,
    TAX,
    _small_trades_book,
    ledger,
    model,
    problem,
)

from pma_lab.optimize.rebalance import Budgets, RebalanceProblem, RebalanceSettings, account_state
from pma_lab.optimize.rounding import RoundingData, round_trades


def test_round_trades_is_a_function_of_the_problem_data_and_the_solution():
    """Issue 15: the rounding reads no solver variable or Parameter and changes none."""
    p, s = _small_trades_book()
    cont = p.solve()
    rules = replace(s, min_trade=250.0, whole_shares=True)
    x, b = p._arrays(cont)
    data = p.rounding_data(rules)
    assert isinstance(data, RoundingData)
    params = {k: np.array(v.value, copy=True) for k, v in p.P.items()}
    x1, b1 = round_trades(data, x, b, rules, set())
    assert all(np.array_equal(params[k], v.value) for k, v in p.P.items())
    # the inputs are not changed, and the step gives round_shares' trades
    x0, b0 = p._arrays(cont)
    assert np.array_equal(x, x0) and np.array_equal(b, b0)
    whole = p.round_shares(cont, rules)
    xw, bw = p._arrays(whole)
    assert np.allclose(x1, xw, atol=1e-12) and np.allclose(b1, bw, atol=1e-12)
    # whole shares bought and sold (a full lot excepted), every order >= the minimum
    px = p.state.prices.to_numpy()
    assert np.allclose(b1 * p.V / px, np.round(b1 * p.V / px))
    # after re-solving with other settings (other Parameter values) the same rounding
    p.update(replace(s, gamma_tax=5.0))
    p.solve()
    x2, b2 = round_trades(data, x, b, rules, set())
    assert np.array_equal(x1, x2) and np.array_equal(b1, b2)


def test_whole_share_rounding_keeps_every_constraint():
    led = ledger([("T", "AAA", 1003.7, 20070, "2018-01-02"),  # gain
                  ("T", "BBB", 333.3, 23331, "2024-01-02"),   # loss
                  ("T", "CCC", 1250.5, 25010, "2020-01-02")])
    s = RebalanceSettings(gamma_tax=0.02, budgets=Budgets(total=0.0))
    p = problem(led, s)
    cont = p.solve()
    whole = p.round_shares(cont)
    assert whole.summary.method.endswith("(whole shares)")
    buys = whole.trades[whole.trades.side == "buy"]
    assert np.allclose(buys.shares, np.round(buys.shares))
    partial = whole.lot_trades[~whole.lot_trades.full_lot]
    assert np.allclose(partial.shares, np.round(partial.shares))
    checks = p.check_constraints(whole)
    assert checks.ok.all(), checks
    assert whole.summary.realized_st + whole.summary.realized_lt <= 0.01  # ledger-checked


def test_round_shares_applies_the_minimum_trade_rules():
    p, s = _small_trades_book()
    cont = p.solve()
    assert (cont.trades.value < 250).all() and len(cont.trades) == 4  # on main: as is
    rules = replace(s, min_trade=250.0)
    whole = p.round_shares(cont, rules)
    t = whole.trades.set_index("ticker")
    # the AAA gain sale ($175) is dropped (less gain); the BBB loss sale is raised to the
    # minimum with whole shares of the loss lot (5 x $50 = $250, more loss); the $175 buys
    # are dropped and the $250 raised buys 25 DDD, the purchase that lowers TE most
    assert "AAA" not in t.index and (t.at["BBB", "side"], t.at["BBB", "shares"]) == ("sell", 5)
    assert (t.at["DDD", "side"], t.at["DDD", "shares"]) == ("buy", 25) and "CCC" not in t.index
    assert whole.summary.smallest_order == 250 and whole.summary.fractional_quantities == 0
    assert whole.summary.realized_st + whole.summary.realized_lt < 0  # ledger-checked
    assert whole.checks.ok.all(), whole.checks
    # stateless: the same result after the problem has been re-solved with other settings
    p.update(replace(s, gamma_tax=5.0))
    p.solve()
    again = p.round_shares(cont, rules)
    pd.testing.assert_frame_equal(again.trades, whole.trades)


def test_whole_shares_keep_a_binding_te_cap():
    # DDD costs $4,000 a share and is 5 % underweight: under a 2 % TE cap the continuous
    # trade buys 0.86 share funded by selling BBB and CCC (no gain). Rounded down, no DDD
    # is bought and TE would end at 2.48 %, above the cap (today: 2.40 %); the step buys
    # one share funded by whole shares more of the lots being sold (least gain first).
    px = pd.Series({"AAA": 100.0, "BBB": 50.0, "CCC": 20.0, "DDD": 4000.0})
    led = ledger([("T", "AAA", 300, 10000, "2018-01-02"),
                  ("T", "BBB", 500, 25000, "2020-01-02"),
                  ("T", "CCC", 1250, 25000, "2020-01-02"),
                  ("T", "DDD", 5, 20000, "2020-01-02")])
    rm = model()
    st = account_state(led, "T", DAY, px, rm, TARGET, TAX, sectors=SECTORS, etf_info=ETF)
    s = RebalanceSettings(gamma_tax=5.0, te_cap=0.02)
    p = RebalanceProblem(st, rm, TARGET, s, led)
    cont = p.solve()
    assert cont.summary.te_after <= 0.02 < p.current_te()
    assert 0 < cont.trades.set_index("ticker").at["DDD", "shares"] < 1
    whole = p.round_shares(cont, replace(s, min_trade=250.0))
    t = whole.trades.set_index("ticker")
    assert t.at["DDD", "shares"] == 1 and whole.summary.te_after <= 0.02
    assert whole.summary.cash_after >= 0 and whole.checks.ok.all(), whole.checks
    assert whole.summary.realized_lt == 0  # funded from the no-gain lots, not AAA's gain


