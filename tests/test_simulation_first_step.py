"""A plan's first step: :func:`pma_lab.plan.simulation.first_trades` reuses the plan
comparison's own step 0 (:class:`~pma_lab.plan.simulation.FirstStep`) when it is the step it
would solve, replayed through the ledger, and solves it otherwise; the trades, the tax and
every figure are those of solving it (the proposal's trades today, ``report.todays_trades``,
used to solve it a second time: 0.08-0.19 CPU-s a client)."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from pma_lab.io.client import load_client
from pma_lab.optimize.engine import prepare
from pma_lab.paths import clients_dir
from pma_lab.plan.transition import TransitionSettings, first_trades, run_transition
from pma_lab.report import proposal as report

QUICK = TransitionSettings(horizon_years=2, steps_per_year=1, mc_paths=0, workers=1)
TIMES = {"seconds", "solver_seconds", "build_seconds"}  # wall clock: not a figure


def _setup(name: str):
    return prepare(load_client(clients_dir() / name / "profile.toml"))


def _clients_run(setup, analysis):
    mine = analysis.comparison.plan[analysis.comparison.is_client_plan.astype(bool)].iloc[0]
    return next(r for r in analysis.runs if r.path == "expected" and r.plan.name == mine)


def assert_same_result(got, want) -> None:
    """Every table and figure of two rebalance results equal, to the last bit."""
    for name in ("lot_trades", "trades", "decisions", "checks"):
        pd.testing.assert_frame_equal(getattr(got, name), getattr(want, name),
                                      check_exact=True, obj=name)
    pd.testing.assert_series_equal(got.weights, want.weights, check_exact=True)
    a, b = dataclasses.asdict(got.summary), dataclasses.asdict(want.summary)
    gifts_a, gifts_b = a.pop("gifts"), b.pop("gifts")
    assert {k: v for k, v in a.items() if k not in TIMES} == \
        {k: v for k, v in b.items() if k not in TIMES}
    if gifts_b is None:
        assert gifts_a is None
    else:
        pd.testing.assert_frame_equal(gifts_a, gifts_b, check_exact=True)


@pytest.mark.parametrize("name", [
    "balanced-6040",  # a gain budget: its checks read the ledger's gains (3.6e-12 apart)
    "philanthropist",  # the year's gift of stock before the trades
    "retiree",  # a 5-year timeline (glide cap from the TE) with forced sales
    "young-pro",  # immediate, funds held
])
def test_todays_trades_are_the_comparisons_first_step_replayed_through_the_ledger(name):
    setup = _setup(name)
    analysis = report.transition(setup, "immediate", 2, True)
    run = _clients_run(setup, analysis)
    assert run.first_step is not None
    trades = report.todays_trades(setup, analysis)
    # the comparison's own solve (its per-lot decisions), not a second one ...
    assert trades.decisions is run.first_step.result.decisions
    assert trades.summary.ledger_checked and not run.first_step.result.summary.ledger_checked
    # ... with every figure of solving the step with the ledger
    assert_same_result(trades, first_trades(setup, run.plan, analysis.settings))


def test_a_first_step_that_is_not_the_one_asked_for_is_solved():
    """Other step-0 settings or another plan: solved (the same result as without the
    run); settings step 0 does not read: reused."""
    setup = _setup("balanced-6040")
    a = run_transition(setup, ["immediate"], QUICK)
    run = _clients_run(setup, a)
    assert first_trades(setup, run.plan, QUICK, run=run).decisions is \
        run.first_step.result.decisions
    # the horizon, the paths and the workers do not change step 0: still reused
    other = dataclasses.replace(QUICK, horizon_years=3, mc_paths=10, workers=2)
    assert first_trades(setup, run.plan, other, run=run).decisions is \
        run.first_step.result.decisions
    for settings, plan in [(dataclasses.replace(QUICK, budget_gamma_tax=0.01), run.plan),
                           (dataclasses.replace(QUICK, steps_per_year=4), run.plan),
                           (QUICK, dataclasses.replace(run.plan, budget=20_000.0))]:
        got = first_trades(setup, plan, settings, run=run)
        assert got.decisions is not run.first_step.result.decisions
        assert_same_result(got, first_trades(setup, plan, settings))


def test_a_first_step_the_simulation_skipped_is_solved():
    """Hold with less cash than the minimum trade skips its solve: no step to reuse."""
    c = load_client(clients_dir() / "young-pro" / "profile.toml")
    acc = dataclasses.replace(c.profile.accounts[0], cash=10.0)
    setup = prepare(dataclasses.replace(c, profile=dataclasses.replace(c.profile,
                                                                       accounts=(acc,))))
    a = run_transition(setup, ["immediate"], QUICK)
    hold = next(r for r in a.runs if r.path == "expected" and r.plan.kind == "hold")
    assert hold.steps.status.iloc[0] == "held" and hold.first_step is None
    assert_same_result(first_trades(setup, hold.plan, QUICK, run=hold),
                       first_trades(setup, hold.plan, QUICK))


def test_a_run_of_the_setup_before_an_edit_is_not_reused():
    """Review (session 11): a setup prepared again after an edit (tax rates, minimum cash,
    a buy restriction, a carryforward) got the old run's trades: it bought the restricted
    names and ignored the new cash floor. Now the step is solved for the new setup; the
    same profile prepared again still reuses the run's step 0."""
    c = load_client(clients_dir() / "young-pro" / "profile.toml")
    setup = prepare(c)
    a = run_transition(setup, ["immediate"], QUICK)
    run = _clients_run(setup, a)
    p, acc = c.profile, c.profile.accounts[0]
    again = prepare(c)
    assert first_trades(again, run.plan, QUICK, run=run).decisions is \
        run.first_step.result.decisions
    no_buy = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOGL")
    edits = {
        "tax": dataclasses.replace(p, tax=dataclasses.replace(
            p.tax, taxable_income=(p.tax.taxable_income or 100_000) * 0.2, state_rate=0.0,
            state_lt_rate=0.0)),
        "min_cash": dataclasses.replace(p, accounts=(dataclasses.replace(
            acc, min_cash=acc.cash * 0.5),) + p.accounts[1:]),
        "no_buy": dataclasses.replace(p, restrictions=dataclasses.replace(
            p.restrictions, no_buy=tuple(p.restrictions.no_buy) + no_buy)),
        "carryforward": dataclasses.replace(p, carryforward_lt=p.carryforward_lt + 50_000.0),
    }
    for label, profile in edits.items():
        edited = prepare(dataclasses.replace(c, profile=profile))
        got = first_trades(edited, run.plan, QUICK, run=run)
        assert got.decisions is not run.first_step.result.decisions, label
        assert_same_result(got, first_trades(edited, run.plan, QUICK))
        if label == "no_buy":
            bought = set(got.trades.ticker[got.trades.side == "buy"])
            assert not bought & set(no_buy)


def test_run_must_be_one_plans_run():
    from pma_lab.errors import SettingsError

    setup = _setup("young-pro")
    a = run_transition(setup, ["immediate"], QUICK)
    with pytest.raises(SettingsError, match="run must be one plan's PlanRun"):
        first_trades(setup, None, QUICK, run=a)
