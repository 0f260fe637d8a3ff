"""Tests of pma_lab.plan.accounting: what a plan's year-by-year "Tax on gains" means."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pma_lab.io.client import load_client
from pma_lab.optimize.engine import prepare
from pma_lab.plan.accounting import (
    _dividends,
    _interest,
    _tax_context,
    return_carryforward,
)
from pma_lab.plan.montecarlo import revalue
from pma_lab.plan.scenarios import MonteCarloPaths, expected_path, step_dates
from pma_lab.plan.simulation import _cash_rate, simulate
from pma_lab.plan.transition import TransitionSettings, parse_plan, run_transition
from pma_lab.tax.liability import yearly_netting

# review rev1's client1: single, $150,000 of taxable income (24 % bracket) and 5 % state;
# $1,000 short- and $4,000 long-term loss carried in; MSFT and PFE sold at a $10,000 loss
# on Jun 15 and bought back within 30 days (wash sales: $5,000 of it disallowed)
PROFILE = """schema_version = 1

[client]
id = "rev-client1"
name = "Review Client One"
as_of = 2026-07-31

[tax]
filing_status = "single"
tax_year = 2026
taxable_income = 150000.0
state_rate = 0.05
niit = "auto"
carryforward_st = 1000.0
carryforward_lt = 4000.0

[[accounts]]
id = "taxable"
type = "taxable"
relief = "min_tax"
cash = 5000.0

[lots]
files = ["lots.csv"]
default_account = "taxable"
recent_trades = "recent_trades.csv"

[target]
model = "sp500"
names = 30
"""

LOTS = """account,lot_id,ticker,acquired,shares,cost_per_share
taxable,A-AAPL,AAPL,2025-07-31,100,250.00
taxable,B-KO,KO,2025-07-30,100,70.00
taxable,C-JNJ,JNJ,2024-03-01,100,300.00
taxable,D-INTC,INTC,2026-03-02,100,120.00
taxable,G-NVDA,NVDA,2026-01-15,100,180.00
taxable,R-MSFT,MSFT,2026-07-15,100,395.00
taxable,R-PFE,PFE,2026-07-16,1000,24.00
taxable,H-XOM,XOM,2015-06-01,200,80.00
"""

TRADES = """date,account,account_type,ticker,side,shares,price,lot_id,method
2025-01-15,taxable,taxable,MSFT,buy,100,450.00,E-MSFT,
2025-01-15,taxable,taxable,PFE,buy,1000,30.00,F-PFE,
2026-06-15,taxable,taxable,MSFT,sell,100,400.00,E-MSFT,specific
2026-06-15,taxable,taxable,PFE,sell,1000,25.00,F-PFE,specific
2026-07-15,taxable,taxable,MSFT,buy,100,395.00,R-MSFT,
2026-07-16,taxable,taxable,PFE,buy,1000,24.00,R-PFE,
"""


@pytest.fixture(scope="module")
def client1(tmp_path_factory: pytest.TempPathFactory):
    """Review rev1's client1, hold and budget:0 over 5 years (annual steps, no paths)."""
    d: Path = tmp_path_factory.mktemp("client1")
    (d / "profile.toml").write_text(PROFILE)
    (d / "lots.csv").write_text(LOTS)
    (d / "recent_trades.csv").write_text(TRADES)
    s = prepare(load_client(d / "profile.toml"))
    st = TransitionSettings(mc_paths=0, horizon_years=5, steps_per_year=1, workers=1)
    plans = [parse_plan(p) for p in ("hold", "budget:0")]
    an = run_transition(s, plans, st)
    runs = {r.plan.name: r for r in an.runs if r.path == "expected"}
    return s, st, an, runs


def test_the_tax_on_gains_of_every_year_is_the_returns_capital_gains_tax(client1):
    """Review rev1: the $5,000 loss realised earlier in 2026 and the $5,000 carried in are
    the return's: $3,000 of it offsets ordinary income each year at 24 % + 5 % = $870
    until it is used up. Hold sells nothing: -$870 in 2026, 2027 and 2028, -$290 on the
    last $1,000 in 2029 (before: -$870, -$580, then nothing, although the return still
    deducted the loss). Budget:0's 2026 gains used $4,964 of the loss: the return
    carries $2,036 into 2027 (-$590) and nothing after (before: -$300, +$870, +$290, tax
    on gains in years with no gains). A year's tax on gains is the capital-gains tax of
    the return, from the ledger's own netting, in every year: the rows add up to the
    total shown."""
    s, _, an, runs = client1
    hold = runs["hold"].years
    assert list(hold.tax_gains) == pytest.approx([-870.0, -870.0, -870.0, -290.0, 0.0, 0.0],
                                                 abs=0.01)
    plan = runs["budget:0"].years
    # its 2026 net gain uses the loss: $10,000 - $3,000 - the gain is carried into 2027
    carried = 7000.0 - float(plan["st"].iloc[0] + plan["lt"].iloc[0])
    assert 0 < carried < 3000
    assert float(return_carryforward(plan).iloc[0]) == pytest.approx(carried, abs=0.01)
    assert list(plan.tax_gains) == pytest.approx(
        [-870.0, -carried * 0.29, 0.0, 0.0, 0.0, 0.0], abs=0.02)
    # no year without a net gain shows a tax on gains
    for run in runs.values():
        y = run.years
        assert (y.tax_gains[(y["st"] + y["lt"]).abs() < 0.005] <= 0.005).all(), run.plan.name
    # by hand from the ledger: the return's netting (the earlier sales, the plan's own,
    # the carry-ins) less, in 2026, the tax the earlier sales cause on their own ($0:
    # the carry-ins already take the $3,000)
    prof = s.client.profile
    hist = s.ledger.dispositions(as_decimal=True)
    hist = hist[[d.year == 2026 for d in hist.date_sold]]
    assert float(sum(hist.gain_loss)) == pytest.approx(-5000.0)
    carry = (Decimal("1000"), Decimal("4000"))
    comp = an.comparison.set_index("plan")
    for name, run in runs.items():
        y = run.years
        years = list(y.year)
        ctx = _tax_context(s, years, _interest(run.steps, run.interest),
                           _dividends(run.steps))
        both = pd.concat([hist, run.dispositions[list(hist.columns)]], ignore_index=True)
        net = yearly_netting(both, prof.tax, *carry, years=years,
                             interest=dict(zip(years, ctx.interest, strict=True)),
                             dividends=dict(zip(years, ctx.dividends, strict=True)))
        assert float(ctx.hist_tax) == 0.0
        assert list(y.tax_gains) == pytest.approx(list(net.tax.astype(float)), abs=0.01)
        assert float(comp.loc[name, "tax_total"]) == pytest.approx(float(y.tax.sum()))


def test_the_monte_carlo_replay_taxes_the_years_as_the_plan_does(client1):
    """Each plan's schedule replayed on the expected path's own prices gives the run's
    yearly taxes and after-tax wealth (the loss realised earlier in 2026 carried in the
    later years on the paths as in the plan's table), netted in Decimal or vectorised."""
    s, st, _, runs = client1
    rate = _cash_rate(s, st)
    dates = step_dates(s.as_of, st.horizon_years, st.steps_per_year)
    exp = expected_path(s.prices, dates, st.expected_return)
    for name in runs:
        run = simulate(s, parse_plan(name), exp, st, rate=rate, record=True)
        assert list(run.years.tax_gains) == pytest.approx(list(runs[name].years.tax_gains))
        tick = sorted(set(run.schedule.lot_ticker))
        paths = MonteCarloPaths(tuple(dates), tuple(tick),
                                exp.prices[tick].to_numpy()[None], 0.07, 0)
        # the paths add their own cash interest and dividends (as young-pro's test)
        ctx = _tax_context(s, list(run.years.year))
        for decimal in (False, True):
            out = revalue(run.schedule, paths, ctx, dates[-1], rate.rate, decimal=decimal)
            assert out.tax_by_year[0] == pytest.approx(run.years.tax, abs=0.01), name
            assert np.isclose(out.wealth[0], run.after_tax_wealth, atol=0.05), name


def test_the_years_earlier_sales_are_read_once_while_the_ledger_is_unchanged(
        client1, monkeypatch):
    """Every plan's tax context and yearly table read the first year's earlier sales
    (issue 16: 4-6 reads a plan): read from the ledger once while its state is the same,
    each caller its own copy; a sale in the ledger (or another ledger) reads them again."""
    import datetime as dt

    import pma_lab.plan.accounting as acc
    from pma_lab.tax.ledger import Ledger, LotRelief

    setup = client1[0]
    led = setup.ledger.fork()
    reads = []
    read = Ledger.dispositions
    monkeypatch.setattr(Ledger, "dispositions",
                        lambda self, *a, **k: reads.append(self) or read(self, *a, **k))
    monkeypatch.setattr(acc, "_SOLD", {})
    first = acc._sold_in(led, 2026)
    want = read(led, as_decimal=True)
    want = want.loc[[d.year == 2026 for d in want.date_sold]]
    pd.testing.assert_frame_equal(first, want)
    assert list(first.ticker) == ["MSFT", "PFE"]  # sold on Jun 15
    first.loc[first.index[0], "gain_loss"] = Decimal(1)  # a caller's copy
    again = acc._sold_in(led, 2026)
    pd.testing.assert_frame_equal(again, want)
    assert len(reads) == 1
    assert acc._sold_in(led, 2025).empty and len(reads) == 2  # another year: read
    lot = next(lt for lt in led.lots() if lt.ticker == "XOM")
    led.sell(dt.date(2026, 8, 3), "taxable", "XOM", lot.shares, Decimal("110.00"),
             method=LotRelief.SPECIFIC, lot_id=lot.lot_id)
    after = acc._sold_in(led, 2026)
    assert len(reads) == 3 and len(after) == 3
    acc._sold_in(setup.ledger, 2026)  # another ledger
    assert len(reads) == 4
