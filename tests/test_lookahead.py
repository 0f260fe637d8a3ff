"""A forked copy solves the sign patterns a re-solve asks for next (pma_lab.optimize.lookahead,
issue 16, session 11): its life with the problem, and what a request names."""

from __future__ import annotations

import datetime as dt
import gc

import numpy as np
import pandas as pd
import pytest

from pma_lab.market.data import load_market
from pma_lab.optimize.gap import random_book
from pma_lab.optimize.lookahead import request
from pma_lab.optimize.rebalance import RebalanceProblem, RebalanceSettings, account_state
from pma_lab.portfolio.risk import estimate_risk_model
from pma_lab.tax.liability import TaxProfile

AS_OF = dt.date(2024, 6, 28)


@pytest.fixture(scope="module")
def market():
    m = load_market()
    rm = estimate_risk_model(AS_OF, market=m)
    px = m.prices.at(AS_OF, list(rm.tickers))
    sectors = m.universe.frame().set_index("ticker").gics_sector
    return rm, px, sectors


def _book(market, seed: int, n: int):
    rm, px, sectors = market
    led, sub, target = random_book(np.random.default_rng(seed), rm, px, sectors, n)
    tax = TaxProfile.from_rates(0.408, 0.238)
    etf = pd.DataFrame({"ticker": [], "category": [], "gics_sector": []})
    st = account_state(led, "T", AS_OF, px, sub, target, tax, sectors=sectors, etf_info=etf)
    return st, sub, target, led


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
    p = RebalanceProblem(st, sub, target, RebalanceSettings(gamma_tax=0.5, min_trade=100.0),
                         led, workers=2)
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
