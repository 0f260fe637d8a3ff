"""Historical replays (pma_lab.plan.simulation on pma_lab.plan.scenarios.historical_paths):
each step's cash earns the bill rate of the day the previous step replays and its holdings
pay the trailing dividend yields of the day it replays, never today's (or later) yields."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from pma_lab.io.client import load_client
from pma_lab.market.rates import cash_rate
from pma_lab.optimize.engine import prepare
from pma_lab.paths import clients_dir
from pma_lab.plan.analysis import HISTORICAL_YIELDS
from pma_lab.plan.dividends import (
    historical_dividend_yields,
    plan_dividend_yields,
    with_historical_yields,
)
from pma_lab.plan.plans import parse_plan
from pma_lab.plan.scenarios import historical_paths, step_dates
from pma_lab.plan.simulation import TransitionSettings, replay_events, simulate
from pma_lab.plan.transition import run_transition
from pma_lab.report.proposal import assumptions, vintages_table

S = TransitionSettings(horizon_years=2, steps_per_year=1, workers=1, mc_paths=0)
START = dt.date(2008, 1, 2)


@pytest.fixture(scope="module")
def retiree():
    return prepare(load_client(clients_dir() / "retiree" / "profile.toml"))


@pytest.fixture(scope="module")
def path(retiree):
    dates = step_dates(retiree.as_of, S.horizon_years, S.steps_per_year)
    (p,) = with_historical_yields(retiree, historical_paths(retiree.market, retiree.prices,
                                                            dates, [START]))
    return p


def test_a_historical_path_carries_its_days_rates_and_yields(retiree, path):
    """The days replayed start on 2008-01-02 a year apart; each day's cash rate is the
    bill par yield of that day's curve (3.26 % on 2008-01-02, 0.37 % a year later), and
    each step's yields are the trailing yields of its own day (XOM 1.46 % in January
    2008), none of today's."""
    assert path.history[0] == START
    assert list(path.history) == sorted(path.history)
    assert [(d - START).days for d in path.history] == pytest.approx([0, 365, 730], abs=4)
    assert path.cash_rates == tuple(cash_rate(retiree.market, d).rate for d in path.history)
    assert path.cash_rates[0] == pytest.approx(0.0326)
    assert path.cash_rates[1] < 0.01  # the 2009 bill rate
    by_day = historical_dividend_yields(retiree, list(path.history))
    for d, dy in zip(path.history, path.dividends, strict=True):
        assert dy.yields.equals(by_day[d].yields)
        assert pd.Timestamp(dy.source[-10:]) <= pd.Timestamp(d)  # no later data
    assert path.dividends[0].yields["XOM"] == pytest.approx(1.37 / 93.69, rel=2e-2)
    today = plan_dividend_yields(retiree).yields
    assert not path.dividends[1].yields.equals(today.reindex(path.dividends[1].yields.index))


def test_a_replays_interest_and_dividends_are_those_of_its_days(retiree, path):
    """Immediate on the 2008 replay: step 1's interest is the cash after step 0 grown at
    2008-01-02's bill rate (on main: today's rate), and its dividends are the holdings
    after step 0 at step 1's prices times the trailing yields of step 1's day (on main:
    today's yields)."""
    run = simulate(retiree, parse_plan("immediate"), path, S)
    st = run.steps
    days = (st.date[1] - st.date[0]).days
    assert st.interest[1] == pytest.approx(st.cash[0] * ((1 + 0.0326) ** (days / 365.25) - 1),
                                           rel=1e-12)
    acc = retiree.taxable_accounts()[0]
    held = [(lt.ticker, float(lt.shares)) for lt in
            replay_events(retiree, run, st.date[0]).lots(account=acc)]
    prices = path.prices.loc[st.date[1]].to_dict()
    q, r = path.dividends[1].paid(held, prices, days / 365.25)
    assert (st.dividends_qualified[1], st.dividends_reit[1]) == pytest.approx((q, r),
                                                                            rel=1e-12)
    q_today, _ = plan_dividend_yields(retiree).paid(held, prices, days / 365.25)
    assert abs(q - q_today) > 100.0  # the 2009 yields are not today's


def test_the_replays_say_which_yields_they_use(retiree):
    """The assumptions state the historical yields when replays are run (and only then),
    once: the vintages table's caption points to them (the CLI prints both, and printed
    the text twice)."""
    with_v = run_transition(retiree, ["immediate"], S, vintages=[START])
    assert HISTORICAL_YIELDS in with_v.assumptions
    caption = vintages_table(with_v).caption
    assert HISTORICAL_YIELDS not in caption
    assert caption.endswith("Each replay's dividend yields and cash rate are those of the "
                            "day it replays (see the assumptions).")
    assert repr(assumptions(with_v)).count("Historical replays use the yields") == 1
    without = run_transition(retiree, ["immediate"], S)
    assert HISTORICAL_YIELDS not in without.assumptions
