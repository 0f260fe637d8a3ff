"""Tests for pma_lab.plan.dividends: a held fund pays what the stocks it holds pay."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from pma_lab.formatting import fmt_pct
from pma_lab.io.client import load_client
from pma_lab.market.corpactions import trailing_dividend_yield
from pma_lab.optimize.engine import prepare
from pma_lab.paths import clients_dir
from pma_lab.plan.dividends import historical_dividend_yields, plan_dividend_yields
from pma_lab.report.proposal import _account_weights


@pytest.fixture(scope="module")
def young():
    return prepare(load_client(clients_dir() / "young-pro" / "profile.toml"))


def _table_yield(setup, values: pd.Series) -> float:
    """The characteristics table's dividend yield of an account holding ``values`` (USD):
    its look-through weights and the trailing yields the table reads."""
    w = _account_weights(setup, values)
    names = sorted(set(w.index) | set(setup.benchmark.weights.index))
    y, _covered = trailing_dividend_yield(setup.market, names, setup.as_of).of(w)
    return y


def test_a_held_fund_yields_what_the_characteristics_table_shows(young):
    """young-pro holds SPY: on main it paid no dividend ("1 without data or sector at 0",
    the holdings yielding 0.01 %) while the characteristics table looked through it at
    1.31 %. Its yield is now the look-through one, the same figure the table reads."""
    dy = plan_dividend_yields(young)
    spy = float(dy.yields["SPY"])
    assert spy > 0.005
    assert spy == pytest.approx(_table_yield(young, pd.Series({"SPY": 1.0})), rel=1e-12)
    assert "SPY" not in dy.reits
    assert "SPY (a fund) at the yield of the stocks it holds" in dy.source
    assert "without data or sector at 0" not in dy.source
    # the holdings today (SPY and PYPL) yield what the table's "Today" column shows
    values = pd.Series(0.0, index=["SPY", "PYPL"])
    for lt in young.ledger.lots():
        values[lt.ticker] += float(lt.shares) * float(young.prices[lt.ticker])
    today = fmt_pct(_table_yield(young, values))
    assert today != fmt_pct(0.0001)
    assert f"(the holdings today yield {today})" in dy.source


def test_the_fund_pays_its_yield_on_every_path(young):
    """The Monte Carlo paths read SPY's yield (of_lots), a step pays its dividends, and a
    historical replay's day gives SPY the yield of its stocks that day."""
    dy = plan_dividend_yields(young)
    y, reit = dy.of_lots(["SPY", "PYPL"])
    assert y[0] == float(dy.yields["SPY"]) and not reit.any()
    q, r = dy.paid([("SPY", 10.0)], {"SPY": 700.0}, 1.0)
    assert q == pytest.approx(7000.0 * dy.yields["SPY"]) and r == 0.0
    day = dt.date(2015, 6, 30)
    past = historical_dividend_yields(young, [day])[day]
    assert 0.005 < float(past.yields["SPY"]) < 0.05
    assert float(past.yields["SPY"]) != pytest.approx(float(dy.yields["SPY"]))


def test_a_fund_the_model_cannot_look_through_has_no_composition(young):
    """A bond fund (AGG) is no S&P 500 tracker or sector fund: it gets no look-through
    column (its dividends are stated as not modelled) instead of an invented yield or an
    error; SPY's column is the benchmark's weights."""
    from pma_lab.plan.dividends import _fund_composition

    comp = _fund_composition(young, ["AGG", "SPY"])
    assert list(comp.columns) == ["SPY"]
    assert comp["SPY"].sum() == pytest.approx(1.0)
