"""The dashboard's withdrawal input (session 16): the planner's "Withdraw $/yr" and "When".

A withdrawal typed in reaches every plan the dashboard compares as ``flow=-<USD>``, the form
``pma-lab transition --plans`` and ``pma-lab propose`` take; bad input is refused with a
clear error and never applied. The dashboard's figures for a client with a withdrawal are
the command line's (comparison.csv of ``pma-lab transition``) and today's trades are
:func:`first_trades` of the same plan.
"""

from __future__ import annotations

import pandas as pd
import pytest
from test_dashboard import build  # the notebook's wiring, one copy

from pma_lab.app.cli import main
from pma_lab.app.dashboard import DashboardSettings, ProposalEngine
from pma_lab.app.dashboard.widgets import TransitionPlanner, load_profile_client
from pma_lab.paths import clients_dir
from pma_lab.plan.simulation import first_trades

YOUNG = clients_dir() / "young-pro" / "profile.toml"
QUICK = {"plans": ("3y",), "horizon_years": 1, "steps_per_year": 1, "mc_paths": 0,
         "workers": 1, "frontier_points": 3}


def test_the_planner_reads_a_withdrawal_and_refuses_bad_input():
    planner = TransitionPlanner()
    planner.client = load_profile_client(YOUNG)
    assert planner.plan == "immediate" and planner.error == ""  # young-pro's own plan
    planner._withdraw.value = "$20,000"
    assert planner.plan == "immediate:flow=-20000" and planner.withdrawal == 20_000.0
    assert "Withdraws $20,000 at the start of every plan year" in planner._text.value
    # the client's own plan, with a withdrawal the profile does not have (review 16b M2)
    assert ("This is the client&#x27;s own plan (from the profile), with this "
            "withdrawal.") in planner._text.value
    for amount, when, said in (
            ("-500", "today", "enter the dollars taken out as a positive amount"),
            ("20,00", "today", "is not a dollar amount"),
            ("1e5", "today", "is not a dollar amount"),
            ("2000000000000", "today", "beyond the plausible range"),
            ("500", "2027-01-31", "a plan pays its withdrawal at the start of every plan "
                                  "year, the first today (2026-07-31); write today"),
            ("500", "soon", "is not a date; write today or a date as YYYY-MM-DD")):
        planner._when.value = when
        planner._withdraw.value = amount
        assert said in planner.error, (amount, when, planner.error)
        assert "not applied: the plans keep the withdrawal before, $20,000 a year" in \
            planner.error
        assert planner.plan == "immediate:flow=-20000"  # never applied
        assert "pma-error" in planner._werror.value
        planner._when.value = "today"
        planner._withdraw.value = "20000"
    planner._when.value = "2026-07-31"  # the analysis date is today
    planner._withdraw.value = "1,500.50"
    assert planner.error == "" and planner.plan == "immediate:flow=-1500.5"
    planner._withdraw.value = ""
    assert planner.plan == "immediate" and planner._werror.value == ""
    assert "This is the client&#x27;s own plan (from the profile)." in planner._text.value
    assert "with this withdrawal" not in planner._text.value
    planner.close()


def test_every_compared_plan_makes_the_chosen_withdrawal():
    s = DashboardSettings.from_proposal(**QUICK)
    assert s.plan_list("budget:0:flow=-30000") == ["3y:flow=-30000", "budget:0:flow=-30000"]
    assert s.plan_list("3y:flow=-30000") == ["3y:flow=-30000"]
    assert s.plan_list("3y") == ["3y"]


@pytest.fixture(scope="module")
def withdrawing_view():
    engine = ProposalEngine(DashboardSettings.from_proposal(**QUICK))
    widgets = build(engine, selected="young-pro")
    planner, view = widgets[3], widgets[4]
    planner._withdraw.value = "450,000"  # more than its cash: lots are sold
    assert planner.error == "" and view.plan == "immediate:flow=-450000"
    assert view.error == "", view.error
    yield view
    for w in widgets:
        w.close()


def test_the_dashboards_figures_are_the_command_lines(withdrawing_view, tmp_path):
    """young-pro withdrawing $450,000 a year (its $380,000 of cash and a sale): the plan
    comparison the dashboard shows holds the figures of ``pma-lab transition`` with the
    same plans, and today's trades are the plan's first step, as the proposal's."""
    view = withdrawing_view
    a = view.analysis
    assert a is not None
    out = tmp_path / "cli"
    code = main(["transition", "--profile", str(YOUNG), "--plans",
                 "3y:flow=-450000,immediate:flow=-450000", "--years", "1", "--annual",
                 "--mc-paths", "0", "--workers", "1", "--out", str(out)])
    assert code == 0
    cli = pd.read_csv(out / "comparison.csv").set_index("plan")
    dash = a.comparison.set_index("plan")
    assert sorted(cli.index) == sorted(dash.index)
    for col in ("tax_total", "after_tax_wealth", "te_start", "te_year1"):
        pd.testing.assert_series_equal(cli[col].sort_index(), dash[col].sort_index(),
                                       check_names=False, rtol=1e-9)
    mine = first_trades(view.setup, "immediate:flow=-450000")
    pd.testing.assert_frame_equal(view.first_year.trades.reset_index(drop=True),
                                  mine.trades.reset_index(drop=True))
    sells = mine.trades[mine.trades.side == "sell"]
    assert len(sells)  # the withdrawal beyond the cash is raised by sales


def test_a_withdrawal_the_budget_cannot_pay_is_said_in_the_plans_words(tmp_path):
    """Today's trades of a plan whose withdrawal needs gains beyond its $0 budget cannot be
    shown: the page says why in the words of the plan's reason (no engine jargon), with the
    least gains and the fix's figure, as the proposal and ``pma-lab transition`` do."""
    from test_withdrawal import gains_only
    from traitlets import dlink

    from pma_lab.app.dashboard import ProposalView

    gains_only(tmp_path)
    profile = tmp_path / "profile.toml"
    profile.write_text(profile.read_text().replace("total = 25000.0", "total = 0.0"))
    client = load_profile_client(profile)
    view = ProposalView(engine=ProposalEngine(DashboardSettings.from_proposal(**QUICK)),
                        debounce=0.0)
    planner = TransitionPlanner()
    planner.client = client
    dlink((planner, "plan"), (view, "plan"))
    view.client = client
    planner._withdraw.value = "100"
    assert view.plan == "budget:0:flow=-100"
    assert view.error.startswith(
        "The plan withdraws $100 today; the sales of least tax that raise it (losses "
        "first, then the highest cost basis) would realise $30 of gains and the plan's "
        "gains budget leaves $0 for 2026. To fix: a smaller withdrawal or a gains budget "
        "at least $31 larger."), view.error
    for jargon in ("RebalanceSettings", "[budgets", "infeasible"):
        assert jargon not in view.error
    planner.close()
    view.close()


def later_retiree(folder):
    """The retiree sample with its analysis date two weeks later (2026-08-14)."""
    import shutil

    d = folder / "retiree"
    shutil.copytree(clients_dir() / "retiree", d)
    p = d / "profile.toml"
    p.write_text(p.read_text().replace("as_of = 2026-07-31", "as_of = 2026-08-14"))
    return load_profile_client(p)


def test_another_client_starts_without_the_previous_clients_withdrawal(tmp_path):
    """Review 16b M1: a withdrawal typed for young-pro carried over to the next client
    (the boxes and the trait kept $25,000, so its plans withdrew it), and a "When" date
    was checked against the previous client's analysis date. Another client now starts
    with no withdrawal and the boxes read against its own date; the same client with
    other inputs keeps what was typed."""
    planner = TransitionPlanner()
    planner.client = load_profile_client(YOUNG)
    planner._when.value = "2026-07-31"  # young-pro's analysis date
    planner._withdraw.value = "25000"
    assert planner.plan == "immediate:flow=-25000" and planner.error == ""
    later = later_retiree(tmp_path)
    planner.client = later
    assert planner.withdrawal == 0.0 and "flow=" not in planner.plan, planner.plan
    assert (planner._withdraw.value, planner._when.value, planner.error) == ("", "today", "")
    assert "Withdraws" not in planner._text.value
    # the same client again (other lots, cash or tax): the typed withdrawal is kept
    planner._withdraw.value = "1,000"
    planner._when.value = "2026-08-14"  # the new client's date
    assert planner.error == "" and planner.plan.endswith(":flow=-1000")
    from dataclasses import replace

    planner.client = replace(later, lots=later.lots)
    assert planner.plan.endswith(":flow=-1000") and planner.error == ""
    planner.close()


def test_a_date_typed_before_the_client_is_read_against_the_clients_date(tmp_path):
    """The "When" box read with no client (no analysis date) is read again when the
    client arrives (main: the error of no date stayed): 2026-07-31 is not the later
    retiree's analysis date, so the withdrawal typed before it is kept and said."""
    planner = TransitionPlanner()
    planner._withdraw.value = "500"
    planner._when.value = "2026-07-31"
    assert "(2026-" not in planner.error  # no client: no analysis date to name
    planner.client = later_retiree(tmp_path)
    assert "the first today (2026-08-14); write today" in planner.error, planner.error
    assert "not applied: the plans keep the withdrawal before, $500 a year" in planner.error
    assert planner.plan.endswith(":flow=-500")
    planner._when.value = "2026-08-14"
    assert planner.error == "" and planner.plan.endswith(":flow=-500")
    planner.close()


def test_todays_trades_mark_the_clients_plan_with_a_typed_withdrawal(withdrawing_view):
    """Review 16b M2: young-pro's own plan (Move now) with $450,000 a year typed in: the
    summary of today's trades marked it "Your plan" as if the withdrawal were the
    profile's; it now says the plan is the client's own with this withdrawal."""
    line = withdrawing_view._summary_line
    assert "\u2605 Your plan, with this withdrawal: Move now" in line, line
    assert "\u2605 Your plan: " not in line


def test_todays_trades_mark_an_addition_as_the_clients_plan(withdrawing_view):
    """Review 17: the summary of today's trades marked the client's own plan "with this
    withdrawal" whenever its flow was not the profile's, an addition (flow above zero)
    included, where the proposal and the command line mark only a withdrawal (flow below
    zero, :func:`pma_lab.report.labels.plan_cell`). young-pro's own plan with $5,000
    added reads "Your plan"; since session 18 "Your plan, with this addition", as the
    proposal's and the command line's tables say it."""
    view = withdrawing_view
    before = (view.first_year, view.plan)
    plan = "immediate:flow=5000"
    view._show_first_year(view._gen, view.setup, first_trades(view.setup, plan), plan)
    try:
        line = view._summary_line
        assert "\u2605 Your plan, with this addition: Move now" in line, line
        assert "with this withdrawal" not in line and "\u2605 Your plan: " not in line
    finally:
        view._show_first_year(view._gen, view.setup, *before)
    assert "\u2605 Your plan, with this withdrawal: Move now" in view._summary_line


def _household_with_six_lots(tmp_path):
    """The household sample with six lots of one taxable account uploaded (the reviewer's)."""
    from pma_lab.io.client import load_client

    lots = tmp_path / "lots.csv"
    lots.write_text("lot_id,account,ticker,acquired,shares,cost_per_share\n"
                    "L1,taxable,AAPL,2018-03-15,200,42.50\n"
                    "L2,taxable,GOOGL,2026-03-02,150,300.00\n"
                    "L3,taxable,MSFT,2025-11-10,100,500.00\n"
                    "L4,taxable,NVDA,2016-06-01,1000,1.20\n"
                    "L5,taxable,XOM,2024-09-03,150,118.00\n"
                    "L6,taxable,JNJ,2021-05-05,80,165.00\n")
    return load_client(clients_dir() / "household" / "profile.toml", lots_files=[lots])


def test_a_withdrawal_leaves_the_before_tracking_error_as_today(tmp_path):
    """Household with six lots uploaded, $20,000 typed in "Withdraw $/yr": the line on
    today's trades read tracking error 16.98% -> 14.23% without it and 18.03% -> 15.18%
    with it, the same holdings (step 0's state holds the withdrawal in its cash, so its
    "before" weights were a share of the account after it). "Before" is now the
    holdings' figure today whatever the flow (the dashboard's engine, the proposal's
    first_trades and pma-lab rebalance alike); "after" is the account after it."""
    from pma_lab.app.dashboard.render import first_year_summary
    from pma_lab.formatting import fmt_pct
    from pma_lab.plan.transition import client_plan
    from pma_lab.plan.withdrawal import with_withdrawal

    c = _household_with_six_lots(tmp_path)
    engine = ProposalEngine(DashboardSettings.from_proposal(**QUICK))
    setup = engine.setup(c)[0]
    plan = client_plan(setup).name
    plain, _ = engine.first_year(c, setup, plan)
    out, _ = engine.first_year(c, setup, with_withdrawal(plan, 20_000))
    assert out.summary["value"] == pytest.approx(plain.summary["value"] - 20_000)
    assert out.summary["te_before"] == plain.summary["te_before"]  # to the bit
    assert out.summary["te_after"] != pytest.approx(plain.summary["te_after"], rel=1e-3)
    # the rebalance of the same holdings reads the same figure
    from pma_lab.optimize.engine import problem_for_client

    assert problem_for_client(setup).current_te() == pytest.approx(
        plain.summary["te_before"], rel=1e-12)
    line = first_year_summary(out.summary, with_withdrawal(plan, 20_000), 3)
    assert f'class="pma-te-before">{fmt_pct(plain.summary["te_before"])}<' in line


def test_the_tax_split_of_a_withdrawing_plan_has_no_cancelling_pair(tmp_path):
    """Household with six lots uploaded, $20,000 typed in "Withdraw $/yr": the comparison's
    sentence on the plan's tax this year read "that plus $161 as today's gains are taxed
    on top of the year's dividends and interest, -$161, the tax of 2026's sales if nothing
    is sold (“Hold (no change)”)", two figures cancelling, as Hold (which sells to pay
    the withdrawal) was the no-sale base. Since s18-withdraw's per-plan base
    (accounting.first_year_no_sale) no part cancels another: the dashboard's sentence
    (report.tax_year_note, the proposal's) has no zero-sum pair and still adds up."""
    import re

    from pma_lab.plan.transition import client_plan
    from pma_lab.plan.withdrawal import with_withdrawal
    from pma_lab.report import proposal as report

    c = _household_with_six_lots(tmp_path)
    engine = ProposalEngine(DashboardSettings.from_proposal(
        plans=("immediate",), horizon_years=1, steps_per_year=4, mc_paths=0, workers=1,
        frontier_points=3))
    setup = engine.setup(c)[0]
    plan = with_withdrawal(client_plan(setup).name, 20_000)
    fy, _ = engine.first_year(c, setup, plan)
    an, _ = engine.transition(c, setup, plan)
    today = float(fy.summary["tax"])
    note = report.tax_year_note(an, plan, today)
    assert note.startswith("The tax of today's trades"), note
    parts = [v for v, _, _ in report.plan_year_tax(an, plan).parts(today)]
    assert not any(a == -b for i, a in enumerate(parts) for b in parts[i + 1:]), note
    shown = [float(x.replace("$", "").replace(",", ""))
             for x in re.findall(r"-?\$[\d,]+", note.split(": that plus ", 1)[1])]
    assert shown == parts
    assert report.round_usd(today) + sum(parts) == report.round_usd(
        report.plan_year_tax(an, plan).total)
