"""Withdrawals of every size and budget (session 16).

A real sample client's lots (``philanthropist``) with its lots at a loss left out and no
cash: every sale realises a gain, so a withdrawal is paid by selling gains alone.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from pma_lab.io.client import load_client
from pma_lab.optimize.engine import prepare
from pma_lab.paths import clients_dir
from pma_lab.plan.transition import TransitionSettings, run_transition

SAMPLE = clients_dir() / "philanthropist"
LOSS_LOTS = ("PH-0037", "PH-0040")  # the sample's two lots at a loss on 2026-07-31


def gains_only(folder, cash: float = 0.0) -> object:
    """The sample client with no cash, no lot at a loss, no gift and no [transition]."""
    text = (SAMPLE / "profile.toml").read_text()
    text = text.replace("cash = 20000.0", f"cash = {cash!r}").split("[transition]")[0]
    text = text.replace('id = "philanthropist"', 'id = "gains-only"')
    (folder / "profile.toml").write_text(text)
    rows = (SAMPLE / "lots.csv").read_text().splitlines(keepends=True)
    (folder / "lots.csv").write_text("".join(r for r in rows
                                             if not any(i in r for i in LOSS_LOTS)))
    return prepare(load_client(folder / "profile.toml"))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    s = gains_only(tmp_path_factory.mktemp("gains-only"))
    lots = s.ledger.lots(account="taxable")
    assert all(float(s.prices[lt.ticker]) * float(lt.shares) > float(lt.basis) for lt in lots)
    return s


def test_a_withdrawal_below_the_minimum_trade_is_paid_at_a_maintenance_step(setup):
    """Defect 1: once at the target, a later year's $100 withdrawal (below the $250
    minimum trade) left the step "within band" and the account $59 overdrawn (cash below
    zero for the rest of the horizon); the step now sells at least the minimum trade."""
    s = TransitionSettings(horizon_years=2, steps_per_year=4, workers=1, mc_paths=0)
    a = run_transition(setup, ["immediate:flow=-100"], s)
    run = next(r for r in a.runs if r.plan.name == "immediate:flow=-100")
    assert not run.failed
    steps = run.steps
    assert (steps.cash >= -0.01).all(), steps[["date", "status", "cash"]]
    second = steps[(steps.flow < 0) & (steps.step > 0)].iloc[0]
    assert second.phase == "maintain" and second.status != "within band"


# ------------------------------------------------- a withdrawal beyond the gains budget
def test_a_withdrawal_a_zero_budget_cannot_pay_stops_the_plan_saying_by_how_much(setup):
    """Defect 2, decided: the gains budget is the client's and is never broken for a
    withdrawal that itself needs gains. Under a $0 budget an account of gains alone cannot
    raise $100 without a gain: the plan stops there (as on main) but its reason now names
    the least gains the sales of least tax realise ($100 of the lot with the least gain per
    dollar), what the budget leaves and the fix with its figure (main: "would break the
    plan's gains budget", no figure). A budget larger by that figure pays it."""
    from pma_lab.errors import WithdrawalBudgetError
    from pma_lab.optimize.engine import account_state_for, default_settings
    from pma_lab.plan.failure import client_reason
    from pma_lab.plan.simulation import first_trades
    from pma_lab.plan.withdrawal import least_gains

    base = default_settings(setup)
    st = account_state_for(setup, "taxable", cash=-100.0)
    least = least_gains(st, 100.0, replace(base, min_trade=0.0, whole_shares=False))
    per = st.lots.gain / st.lots.value
    assert least.st + least.lt == pytest.approx(100.0 * float(per.min()))
    with pytest.raises(WithdrawalBudgetError) as caught:
        first_trades(setup, "budget:0:flow=-100")
    e = caught.value
    assert (e.withdrawal, e.allowed) == (100.0, 0.0) and e.conflicts == ("budgets",) or \
        "budgets" in e.conflicts
    assert e.gains == pytest.approx(least.st + least.lt)
    s = TransitionSettings(horizon_years=1, steps_per_year=1, workers=1, mc_paths=0)
    a = run_transition(setup, ["budget:0:flow=-100"], s)
    run = next(r for r in a.runs if r.plan.name == "budget:0:flow=-100")
    why = client_reason(run.failure)
    g = f"${e.gains:,.0f}"
    assert why == ("On 2026-07-31 (year 1 of the plan) the plan withdraws $100 from an "
                   f"account then worth ${run.failure.value_before:,.0f}; the sales of least "
                   "tax that raise it (losses first, then the highest cost basis) would "
                   f"realise {g} of gains and the plan's gains budget leaves $0 for 2026. To "
                   f"fix: a smaller withdrawal or a gains budget at least {g} larger."), why
    # the fix works: that budget pays it (its minimum trade beyond the budget, noted)
    fixed = first_trades(setup, f"budget:{math.ceil(e.gains)}:flow=-100")
    assert "the withdrawal of $100 is smaller than the minimum trade ($250)" in \
        fixed.summary.note


def test_a_withdrawal_below_the_minimum_trade_that_the_budget_covers_but_not_the_trade(
        setup):
    """Defect 1: $100 out, a $50 budget. $100 of the lot with the least gain per dollar
    realises about $30, within the budget, but an order is whole shares of at least $250
    and that realises more than $50 (main: InfeasibleError "whole-share trades cannot
    raise the cash ... within the gain budgets", the plan failed). The minimum trade is
    sold, the excess kept in cash, and the note says both, with the gains beyond the
    budget."""
    from pma_lab.plan.simulation import first_trades

    for flow in (10, 100):
        res = first_trades(setup, f"budget:50:flow=-{flow}")
        s = res.summary
        over = float(s.realized_st + s.realized_lt) - 50.0
        assert over > 0 and float(s.cash_after) >= 0
        sells = res.trades[res.trades.side == "sell"]
        assert float(sells.value.abs().sum()) >= 250
        assert s.note.startswith(
            f"the withdrawal of ${flow} is smaller than the minimum trade ($250): the sale "
            f"that pays it realised ${over:,.0f} of gains beyond the gains budget ($50 a "
            "year)"), s.note
        if float(s.cash_after) >= 1:
            assert f"and ${float(s.cash_after):,.0f} of it stays in cash" in s.note


def test_the_least_tax_sales_sell_losses_first_then_the_highest_basis():
    """least_gains on the sample client as it is (two lots at a loss): losses first, then
    the least gain per dollar; a need the losses cover realises a net loss."""
    from pma_lab.optimize.engine import account_state_for, default_settings
    from pma_lab.plan.withdrawal import least_gains

    s = prepare(load_client(SAMPLE / "profile.toml"))
    st = account_state_for(s, "taxable", cash=-1000.0)
    base = default_settings(s)
    small = least_gains(st, 1000.0, base)
    assert small.st + small.lt < 0 and small.sold >= 1000.0
    losses = float(-st.lots.gain.clip(upper=0).sum())
    # beyond the losses: the next lots by gain per dollar, so the net gain is at most the
    # gain of the lots with the least gain per dollar worth the rest
    big = least_gains(st, 50_000.0, base)
    lots = st.lots.assign(per=st.lots.gain / st.lots.value).sort_values("per")
    worth = lots.value.cumsum()
    upto = lots[worth.shift(fill_value=0.0) < big.sold]
    assert big.st + big.lt <= float(upto.gain.sum()) + 1e-6
    assert big.st + big.lt > -losses


def test_a_withdrawal_the_budget_covers_is_unchanged(setup):
    """$100 out of a $25,000 budget: the plan's own trades, and no withdrawal note."""
    from pma_lab.plan.simulation import first_trades

    res = first_trades(setup, "budget:25000:flow=-100")
    assert "withdrawal" not in res.summary.note
    assert float(res.summary.realized_st + res.summary.realized_lt) <= 25_000 + 0.01


def test_the_plan_comparison_prints_the_reason_and_the_note(setup):
    """The reason (a withdrawal beyond the budget) and the note (its minimum trade beyond
    it) reach the comparison table the proposal, the dashboard and the CLI print."""
    from pma_lab.plan.failure import client_reason
    from pma_lab.report.proposal import comparison_table

    s = TransitionSettings(horizon_years=1, steps_per_year=1, workers=1, mc_paths=0)
    for plan, words in (("budget:0:flow=-100", "would realise $30 of gains and the plan's "
                                               "gains budget leaves $0 for 2026"),
                        ("budget:50:flow=-100", "is smaller than the minimum trade ($250)")):
        a = run_transition(setup, [plan], s)
        run = next(r for r in a.runs if r.plan.name == plan)
        text = " ".join(repr(comparison_table(a)).split())
        assert words in text, text
        if run.failed:
            assert " ".join(client_reason(run.failure).split())[1:] in text  # "on ..."


# ------------------------------------------------- the Monte Carlo paths of a withdrawal
def test_hold_pays_on_every_path_a_withdrawal_its_cash_covers_on_the_expected_path(setup):
    """Review 16 H1: hold with $100 a year out. The expected path's 2027 sale (whole
    shares) leaves more than $100 in cash, so its 2028 step is held; on a path whose
    prices fell that sale raised less, and the 2028 withdrawal took the cash below zero.
    The held step recorded no restore, so the replay sold nothing and booked the $100 as
    a shortfall (main: about 40 % of the paths "could not pay" a $100 withdrawal from a
    $1.3M account). The step now records what hold sells for a withdrawal: every path
    pays, by selling, and the expected path is as it was (the step held)."""
    s = TransitionSettings(horizon_years=3, steps_per_year=4, workers=1, mc_paths=200)
    a = run_transition(setup, ["3y:flow=-100"], s)
    hold = next(r for r in a.runs if r.plan.kind == "hold")
    steps = hold.steps
    out = steps[(steps.flow < 0) & (steps.step > 0)]
    assert (out.status == "held").any() and (steps.cash >= -0.01).all()  # covered by cash
    held = out[out.status == "held"].iloc[0]
    step = next(x for x in hold.schedule.steps if x.date == held.date)
    assert step.restore == 0.0 and not len(step.sell_lot)
    o = hold.mc
    assert o.short_paths().sum() == 0, o.shortfall_by_year.sum(axis=1).max()
    yi = list(hold.years.year).index(held.date.year)
    assert (o.restored_by_year[:, yi] > 0).any()  # the paths below zero sold
    for r in a.runs:
        assert r.mc.short_paths().sum() == 0, r.plan.name


# ------------------------------------------------- separate short- and long-term caps
def test_separate_caps_are_met_by_any_mix_of_sales_not_one_order_of_sale(setup):
    """Review 16b H2: with short-term gains capped at $0 and long-term at $50,000, the lot
    with the least gain per dollar is short-term (AMGN, 30 %), so the one order of sale of
    least tax exceeded the $0 cap and the withdrawal was refused, while selling a
    long-term lot is within every cap. The check now looks for any mix of sales within
    every cap (a linear programme over the lots)."""
    from pma_lab.optimize.engine import account_state_for, default_settings
    from pma_lab.optimize.settings import Budgets
    from pma_lab.plan.withdrawal import least_gains, least_overrun

    base = default_settings(setup)
    st = account_state_for(setup, "taxable", cash=-100.0)
    caps = Budgets(short_term=0.0, long_term=50_000.0)
    one_order = least_gains(st, 100.0, replace(base, min_trade=0.0, whole_shares=False))
    assert one_order.overrun(caps, 0.0, 0.0) is not None and one_order.st > 0  # main's test
    mix = least_overrun(st, 100.0, base, caps)
    assert mix.overrun(caps, 0.0, 0.0) is None
    assert mix.st == pytest.approx(0.0, abs=1e-6) and mix.sold == pytest.approx(100.0)
    lt = st.lots[st.lots.term == "LT"]
    assert mix.lt == pytest.approx(100.0 * float((lt.gain / lt.value).min()))
    # one cap (a total): the sales of least tax, as before
    total = Budgets(total=0.0)
    assert least_overrun(st, 100.0, base, total).overrun(total, 0.0, 0.0) == \
        pytest.approx(one_order.overrun(total, 0.0, 0.0))


def test_a_withdrawal_within_separate_caps_is_paid_not_refused(setup):
    """budget:st=0:lt=100 with $100 out (main: WithdrawalBudgetError "needs at least $30
    of realised gain ... leaves $0"): $100 of the long-term lot with the least gain per
    dollar realises $55, within both caps; only its whole-share minimum trade of $250 is
    beyond the $100 long-term cap, so it is sold and noted, realising no short-term gain
    (the short-term lot's minimum trade would exceed the $0 cap by more)."""
    from pma_lab.plan.simulation import first_trades

    res = first_trades(setup, "budget:st=0:lt=100:flow=-100")
    s = res.summary
    assert float(s.realized_st) == pytest.approx(0.0, abs=0.01)
    assert 100 < float(s.realized_lt) < 250 and float(s.cash_after) >= 0
    over = float(s.realized_lt) - 100.0
    assert s.note.startswith(
        "the withdrawal of $100 is smaller than the minimum trade ($250): the sale that pays "
        f"it realised ${over:,.0f} of gains beyond the gains budget ($0 short-term, $100 "
        "long-term)"), s.note


def test_a_withdrawal_beyond_separate_caps_names_the_least_overrun(setup):
    """budget:st=0:lt=40 with $100 out: the long-term cap pays $40 of gain ($72 of the
    long-term lot with the least gain per dollar), the other $28 comes from the short-term
    lot, so the least short-term gain is about $8 (main: $30, the short-term lot alone),
    and the fix is a short-term budget larger by that."""
    from pma_lab.errors import WithdrawalBudgetError
    from pma_lab.optimize.engine import account_state_for
    from pma_lab.plan.simulation import first_trades

    st = account_state_for(setup, "taxable", cash=-100.0)
    per = st.lots.gain / st.lots.value
    lt = float(per[st.lots.term == "LT"].min())
    short = float(per[st.lots.term == "ST"].min())
    with pytest.raises(WithdrawalBudgetError) as caught:
        first_trades(setup, "budget:st=0:lt=40:flow=-100")
    e = caught.value
    assert e.allowed == pytest.approx(0.0)
    assert e.gains == pytest.approx((100.0 - 40.0 / lt) * short, abs=0.01)
