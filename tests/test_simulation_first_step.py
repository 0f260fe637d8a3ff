"""A plan's first step: :func:`pma_lab.plan.simulation.first_trades` reuses the plan
comparison's own step 0 (:class:`~pma_lab.plan.simulation.FirstStep`) when it is the step it
would solve, replayed through the ledger, and solves it otherwise; the trades, the tax and
every figure are those of solving it (the proposal's trades today, ``report.todays_trades``,
used to solve it a second time: 0.08-0.19 CPU-s a client)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from pma_lab.io.client import load_client
from pma_lab.optimize.engine import prepare
from pma_lab.optimize.settings import go_to_target
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


def _immediate(analysis):
    return next(r for r in analysis.runs if r.path == "expected" and r.plan.kind == "immediate")


@pytest.mark.parametrize("name", ["young-pro", "household"])
def test_the_frontiers_go_to_target_is_the_immediate_plans_step_0(name):
    """Issue 16: the proposal's frontier took "Go to target" from the comparison's
    immediate plan (the same solve: ``go_to_target`` settings, today's account) instead of
    solving it again; the frontier is the one solving it gives, to the bit. A step the
    household changed (s19, its note names the names left) is not taken."""
    from pma_lab.optimize.engine import problem_for_client
    from pma_lab.plan.simulation import go_to_target_result

    setup = _setup(name)
    analysis = report.transition(setup, "immediate,3y", 2, True)
    run = _immediate(analysis)
    got = go_to_target_result(run, setup, problem_for_client(setup))
    if name == "household":
        # s19: the household's immediate plan leaves today the names its IRA would trade
        # the other way (plan.household.without_pairs): its step 0 is no longer the
        # account-alone point, so the frontier solves the point itself (the same table)
        assert run.first_step.note.startswith("today's trades leave ")
        assert got is None
        reused, solved = report.frontier(setup, 5, analysis), report.frontier(setup, 5)
        pd.testing.assert_frame_equal(reused.table, solved.table, check_exact=True)
        return
    assert got is not None and got.decisions is run.first_step.result.decisions
    assert got.summary.ledger_checked
    prob = problem_for_client(setup)
    prob.update(go_to_target(prob.settings))
    assert_same_result(got, prob.solve())
    reused, solved = report.frontier(setup, 5, analysis), report.frontier(setup, 5)
    for f in ("table", "all_points", "certificates"):
        pd.testing.assert_frame_equal(getattr(reused, f), getattr(solved, f), check_exact=True)
    # the other plans' step 0 is not the point
    timeline = next(r for r in analysis.runs if r.path == "expected" and r.plan.name == "3y")
    assert go_to_target_result(timeline, setup, problem_for_client(setup)) is None


def test_a_glide_clients_go_to_target_is_the_immediate_plans_step_0():
    """A client with a ``sell_within`` glide (retiree, fossil fuels over 3 years): "Move
    now"'s step 0 sells the glide's names in full, as the frontier's "Go to target" does
    (:func:`pma_lab.optimize.state.go_to_target_state`), so the step is the point and the
    proposal's frontier takes it (before, the step's glide cap at a quarter and the
    point's at a year made two states, and the point was solved again, keeping one SLB
    share the step sold). The frontier that takes it is the one solving it gives."""
    from pma_lab.optimize.engine import problem_for_client
    from pma_lab.plan.simulation import go_to_target_result

    setup = _setup("retiree")
    analysis = report.transition(setup, "immediate", 2, True)
    run = _immediate(analysis)
    got = go_to_target_result(run, setup, problem_for_client(setup))
    assert got is not None and got.decisions is run.first_step.result.decisions
    glide = ["COP", "CVX", "SLB", "XOM"]
    assert got.weights.reindex(glide).fillna(0.0).abs().max() < 1e-12  # sold in full
    reused, solved = report.frontier(setup, 4, analysis), report.frontier(setup, 4)
    end = [f.all_points[f.all_points.kind == "target"].iloc[0] for f in (reused, solved)]
    assert end[0].trades == end[1].trades == len(got.trades)
    for col in ("tax_this_year", "realized_st", "realized_lt", "carryforward_created"):
        assert end[0][col] == pytest.approx(end[1][col], abs=0.01), col
    for col in ("te", "turnover"):
        assert end[0][col] == pytest.approx(end[1][col], abs=1e-9), col


def test_go_to_target_is_solved_when_the_step_is_another_problem():
    """Refused (None, the frontier solves the point) when anything the solve reads
    differs: a gift before the step (another account state), a setup prepared again after
    an edit, other settings, another target or risk model, a constraint added."""
    from pma_lab.optimize.engine import default_settings, problem_for_client
    from pma_lab.optimize.rebalance import RebalanceProblem
    from pma_lab.plan.simulation import go_to_target_result

    setup = _setup("young-pro")
    run = _immediate(run_transition(setup, ["immediate"], QUICK))
    prob = problem_for_client(setup)
    assert go_to_target_result(run, setup, prob) is not None
    # a gift of stock before the step: the account the step traded is not today's
    giver = _setup("philanthropist")  # the profile's yearly gift of stock
    gifted = _immediate(run_transition(giver, ["immediate"], QUICK))
    assert gifted.plan.gift > 0 and gifted.first_step is not None
    assert go_to_target_result(gifted, giver, problem_for_client(giver)) is None
    # a TE cap of the plan's own: not the point's settings
    capped = next(r for r in run_transition(setup, ["immediate:te=0.02"], QUICK).runs
                  if r.path == "expected" and r.plan.te_cap is not None)
    assert capped.first_step is not None
    assert go_to_target_result(capped, setup, prob) is None
    # the setup prepared again after an edit (tax rates): today's account differs
    c = load_client(clients_dir() / "young-pro" / "profile.toml")
    p = c.profile
    edited = prepare(dataclasses.replace(c, profile=dataclasses.replace(p, tax=dataclasses.replace(
        p.tax, taxable_income=(p.tax.taxable_income or 100_000) * 0.2))))
    assert go_to_target_result(run, edited, problem_for_client(edited)) is None
    # other settings (a minimum trade the step did not use)
    base = default_settings(setup)
    other = problem_for_client(setup, settings=dataclasses.replace(
        base, min_trade=base.min_trade + 1.0))
    assert go_to_target_result(run, setup, other) is None
    # another target, one weight's last bit apart
    w = setup.target.weights.copy()
    w.iloc[0] = np.nextafter(w.iloc[0], 1.0)
    moved = RebalanceProblem(prob.state, prob.risk, w, prob.settings, setup.ledger)
    assert go_to_target_result(run, setup, moved) is None
    # another risk model, one specific variance's last bit apart
    r = prob.risk
    sv = np.array(r.specific_var, dtype=float, copy=True)
    sv[0] = np.nextafter(sv[0], 1.0)
    risk2 = dataclasses.replace(r, specific_var=sv)
    assert go_to_target_result(run, setup, RebalanceProblem(
        prob.state, risk2, setup.target.weights, prob.settings, setup.ledger)) is None
    # a researcher's constraint on the frontier's problem
    added = problem_for_client(setup)
    added.add_constraint(lambda p: p.b[0] <= 1.0, name="cap the first buy")
    assert go_to_target_result(run, setup, added) is None


def test_go_to_target_result_checks_its_arguments():
    from pma_lab.errors import SettingsError
    from pma_lab.optimize.engine import problem_for_client
    from pma_lab.plan.simulation import go_to_target_result

    setup = _setup("young-pro")
    a = run_transition(setup, ["immediate"], QUICK)
    with pytest.raises(SettingsError, match="run must be the immediate plan's PlanRun"):
        go_to_target_result(a, setup, problem_for_client(setup))
    with pytest.raises(SettingsError, match="pass the frontier's RebalanceProblem"):
        go_to_target_result(_immediate(a), setup, None)


def test_a_glide_clients_first_step_is_the_same_solved_apart_short_run_and_compared():
    """Reviewer 2, session 20: with s20-glide, a budget plan's step 0 holds back the gains
    of the tax year's later glide sales; ``first_trades`` solved apart and the dashboard's
    short run (``first_step_run``, two dates) did not, so the dashboard showed other trades
    than the proposal for rv-alex (TE after 7.6148% against 7.7924%, LT gains $45,634
    against $41,470). All three now make the comparison's step 0, to the bit."""
    from pathlib import Path

    from pma_lab.plan.transition import first_step_run, parse_plan

    setup = prepare(load_client(Path(__file__).parent / "fixtures" / "rv-alex"
                                / "profile.toml"))
    s = TransitionSettings(horizon_years=3, steps_per_year=4, workers=1, mc_paths=0)
    plan = parse_plan("budget:25000:st=0")
    an = run_transition(setup, [plan], s)
    run = next(r for r in an.runs if r.plan.name == plan.name)
    compared = first_trades(setup, plan, s, run=run)
    assert compared.decisions is run.first_step.result.decisions  # the comparison's solve
    assert_same_result(first_trades(setup, plan, s), compared)  # solved apart
    short = first_step_run(setup, plan, s)
    assert_same_result(first_trades(setup, plan, s, run=short), compared)
