"""Transition plans: budgets hold, timelines arrive, immediate = one trade, ledger replay."""

from __future__ import annotations

import datetime as dt
import textwrap

import numpy as np
import pytest

from pma_lab.client import load_client
from pma_lab.engine import default_settings, prepare, problem_for_client
from pma_lab.errors import DataError
from pma_lab.paths import clients_dir
from pma_lab.rebalance import Budgets
from pma_lab.tax import yearly_netting
from pma_lab.transition import (
    TransitionSettings,
    historical_paths,
    parse_plan,
    replay_events,
    run_transition,
)

FAST = TransitionSettings(horizon_years=3, steps_per_year=2, workers=2)


@pytest.fixture(scope="module")
def retiree():
    return prepare(load_client(clients_dir() / "retiree" / "profile.toml"))


@pytest.fixture(scope="module")
def analysis(retiree):
    return run_transition(retiree, ["immediate", "2y", "budget:0", "budget:25000"], FAST)


def test_parse_plan():
    p = parse_plan("budget:25000:st=0:te=0.03:gift=1000")
    assert (p.kind, p.budget, p.st_budget, p.te_cap, p.gift) == ("budget", 25000, 0, 0.03, 1000)
    assert parse_plan("5y").years == 5 and parse_plan("immediate").kind == "immediate"
    with pytest.raises(DataError, match="not understood"):
        parse_plan("soon")
    with pytest.raises(DataError, match="unknown option"):
        parse_plan("budget:0:xx=1")


def test_zero_budget_never_realises_net_gains(analysis):
    y = analysis.yearly()
    z = y[y.plan == "budget:0"]
    assert ((z.realized_st + z.realized_lt) <= 0.01).all()
    b = y[y.plan == "budget:25000"]
    assert ((b.realized_st + b.realized_lt) <= 25000 + 0.01).all()


def test_timeline_reaches_the_target_by_its_last_year(analysis):
    run = next(r for r in analysis.runs if r.plan.name == "2y" and r.path == "expected")
    at_end = run.steps[run.steps.step == 2 * FAST.steps_per_year - 1].iloc[0]
    assert at_end.te_target <= 0.003
    assert run.steps.te_target.iloc[0] > at_end.te_target


def test_immediate_equals_the_single_period_go_to_target_trade(retiree, analysis):
    run = next(r for r in analysis.runs if r.plan.name == "immediate" and r.path == "expected")
    first_day = run.steps.date.iloc[0]
    sims = run.dispositions[[d == first_day for d in run.dispositions.date_sold]]
    prob = problem_for_client(retiree, settings=default_settings(retiree))
    prob.update(gamma_tax=0.0, budgets=Budgets())
    single = prob.solve()
    assert float(sims.gain_loss[sims.term == "LT"].sum()) == pytest.approx(
        single.summary.realized_lt, abs=0.05)
    assert float(sims.gain_loss[sims.term == "ST"].sum()) == pytest.approx(
        single.summary.realized_st, abs=0.05)


def test_tables_agree_with_replaying_the_trades_through_the_ledger(retiree, analysis):
    prof = retiree.client.profile
    for run in analysis.runs:
        led = replay_events(retiree, run)
        n0 = len(retiree.ledger.dispositions())
        disp = led.dispositions(as_decimal=True).iloc[n0:]
        assert disp.equals(run.dispositions)
        net = yearly_netting(disp, prof.tax, years=list(run.years.year))
        realized = (net.st_gains + net.st_losses).astype(float).to_numpy()
        assert np.allclose(realized, run.years.realized_st.to_numpy(), atol=1e-9)


def test_comparison_has_every_plan_and_the_hold_reference(analysis):
    c = analysis.comparison.set_index("plan")
    assert set(c.index) == {"immediate", "2y", "budget:0", "budget:25000", "hold"}
    assert c.loc["hold", "total_tax"] <= 0 and c.loc["hold", "vs_hold"] == 0
    assert c.loc["immediate", "tax_year1"] > c.loc["budget:0", "tax_year1"]
    assert analysis.assumptions and "total-return" in " ".join(analysis.assumptions)
    assert not c.failed.astype(bool).any()


def test_historical_paths_use_real_returns(retiree):
    (p,) = historical_paths(retiree, FAST, [dt.date(2012, 1, 3)])
    assert p.prices.shape[0] == FAST.horizon_years * FAST.steps_per_year + 1
    assert np.allclose(p.prices.iloc[0], retiree.prices.reindex(p.prices.columns))


def test_all_losses_client_transitions_at_no_tax(tmp_path):
    (tmp_path / "lots.csv").write_text(textwrap.dedent("""\
        ticker,acquired,shares,cost_per_share
        INTC,2021-04-01,400,64.00
        PYPL,2021-07-23,100,305.00
        NKE,2021-11-05,100,170.00
        """))
    (tmp_path / "profile.toml").write_text(textwrap.dedent("""\
        schema_version = 1
        [client]
        id = "all-losses"
        name = "All Losses"
        as_of = 2026-07-31
        [tax]
        filing_status = "single"
        st_rate = 0.35
        lt_rate = 0.20
        [[accounts]]
        id = "taxable"
        type = "taxable"
        cash = 0.0
        [lots]
        files = ["lots.csv"]
        default_account = "taxable"
        """))
    setup = prepare(load_client(tmp_path / "profile.toml"), names=30)
    a = run_transition(setup, ["immediate"], TransitionSettings(horizon_years=1,
                                                                steps_per_year=1, workers=1))
    run = next(r for r in a.runs if r.plan.name == "immediate")
    assert (run.years.total_tax <= 0).all()
    assert (run.years.realized_st + run.years.realized_lt < 0).any()


def test_a_clients_own_te_ceiling_is_never_loosened(retiree):
    """A zero budget with a 0.1 % TE ceiling cannot both hold: the plan fails, saying why."""
    an = run_transition(retiree, ["budget:0:te=0.001"], FAST)
    row = an.comparison.set_index("plan").loc["budget:0:te=0.001"]
    assert "te_cap" in row.failed and "budget" in row.failed
    assert row.notes == ""


def test_an_account_given_away_entirely_keeps_simulating_without_trades():
    """Gifts larger than the account empty it; later steps say so and hold, the plan
    does not fail, and the yearly table still agrees with the ledger replay."""
    setup = prepare(load_client(clients_dir() / "philanthropist" / "profile.toml"))
    s = TransitionSettings(horizon_years=4, steps_per_year=1, workers=1)
    an = run_transition(setup, ["budget:0:gift=900000"], s)
    run = next(r for r in an.runs if r.plan.name == "budget:0:gift=900000")
    assert not run.failed
    empty = run.steps[run.steps.status == "empty"]
    assert len(empty) >= 1 and empty.te_target.isna().all()
    assert (empty.names == 0).all() and (empty.value < 0.01).all()
    assert empty.note.str.contains("given away").all()
    replayed = replay_events(setup, run).dispositions()
    n_hist = len(setup.ledger.dispositions())
    assert len(replayed) - n_hist == len(run.dispositions)
