"""``pma-lab frontier`` shows the proposal's frontier table (review, session 13, M5).

On main the command swept 25 points by default where the proposal and the dashboard sweep
11, so its "Tax-averse 8 / 10" stood on three rows (7.10 %, 6.15 %, 5.89 %) and its
"Tax-averse 6 / 10" was 5.37/4.92/4.62 % against the proposal's 4.84 %; it had no "Your
plan today" row and its own columns (carryforward ST/LT/value). Now the default lives in
one place (:data:`pma_lab.report.proposal.FRONTIER_POINTS`) and the command prints
:func:`pma_lab.report.proposal.frontier_table`, the proposal's rows, labels and figures.
"""

from __future__ import annotations

import re

import pytest

from pma_lab.app.cli import main
from pma_lab.app.dashboard.compute import DashboardSettings
from pma_lab.io.client import load_client
from pma_lab.optimize.engine import prepare
from pma_lab.paths import clients_dir
from pma_lab.plan.transition import client_plan, first_trades
from pma_lab.report import labels
from pma_lab.report import proposal as report

HOUSEHOLD = clients_dir() / "household" / "profile.toml"


def test_one_default_number_of_frontier_points():
    assert report.FRONTIER_POINTS == 11
    assert report.notebook_parameters()["frontier_points"]["default"] == report.FRONTIER_POINTS
    assert DashboardSettings().frontier_points == report.FRONTIER_POINTS


@pytest.mark.slow
def test_the_cli_frontier_is_the_proposals_table(capsys):
    assert main(["frontier", "--profile", str(HOUSEHOLD)]) == 0
    out = capsys.readouterr().out
    setup = prepare(load_client(HOUSEHOLD))
    trades = first_trades(setup, client_plan(setup), report.transition_settings(mc_paths=0))
    front = report.frontier(setup)
    table = report.frontier_table(front, setup, trades)
    assert repr(table) in out  # the proposal's caption, columns, rows and figures
    # the sweep left out the $20,000 gains budget beside "Your plan today" within it: the
    # proposal's frontier section's words, here too (review 23 #3)
    from pma_lab.optimize.frontier import dropped_note

    dropped = dropped_note(front)
    assert "total $20,000 a year" in dropped and dropped in out
    assert dropped in report.frontier_note(front, setup).text
    rows = list(table.formatted().Point)
    assert rows[-1].startswith("Your plan today (") and "Go to target" in rows
    # each label once: the 1-10 scale is not repeated across rows
    scale = [re.match(r"Tax-averse (\d+) / 10", r).group(1) for r in rows
             if r.startswith("Tax-averse")]
    assert len(scale) == len(set(scale)) >= 5
    for head in ("Tracking error to target", labels.FRONTIER_TAX, labels.CARRYFORWARD_CREATED,
                 "Economic tax (% of account)"):
        assert head in out
    assert "carryforward ST" not in out and "of 11 solved" in out


@pytest.mark.slow
def test_the_frontier_of_another_taxable_account_names_it_and_says_it_is_not_netted(
        tmp_path, capsys):
    """Review 13b M1: ``pma-lab frontier --account trust`` on a household with two taxable
    accounts printed "account value $600,562" without saying which account, its "tax this
    year" netted with the year's earlier sales but not with the plan's trades in the other
    taxable account, as the household section and the one tax return do. The caption now
    names the account and says its figures are its trades alone. An IRA is refused."""
    import sys

    sys.path.insert(0, str(clients_dir().parents[2] / "tests"))
    from test_household_two_taxable import two_taxable_profile

    profile = two_taxable_profile(tmp_path)
    assert main(["frontier", "--profile", str(profile), "--account", "trust"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"Tax against tracking error today in your taxable account 2 \(its "
                     r"trades alone: tax this year is not netted with your plan's trades in "
                     r"your taxable account 1, as your tax return will net them\), account "
                     r"value \$[\d,]+", " ".join(out.split())), out[:600]
    assert "Your plan today" not in out
    assert main(["frontier", "--profile", str(profile), "--account", "ira"]) == 2
    assert "retirement account, whose sales are not taxed" in capsys.readouterr().err


@pytest.mark.slow
def test_a_household_that_cannot_be_solved_leaves_the_table_and_says_so(tmp_path, capsys):
    """Review s18 (r2): the frontier command solved the household around the plan's row
    without a fallback, so a client with several accounts whose household is infeasible
    (here a second taxable account, trust, whose min_cash of $300,000 needs sales far over
    the $20,000 gains budget) aborted the command with the InfeasibleError where it had
    printed the table. Now the table is printed, its plan row the account's own, and the
    dashboard's words (labels.CARRY_FAILED) and the household's error under it."""
    import sys

    sys.path.insert(0, str(clients_dir().parents[2] / "tests"))
    from test_household_two_taxable import two_taxable_profile

    profile = two_taxable_profile(tmp_path)
    text = profile.read_text()
    trust = 'id = "trust"\ntype = "taxable"\n'
    assert text.count(trust) == 1
    profile.write_text(text.replace(trust, trust + "min_cash = 300000.0\n"))
    assert main(["frontier", "--profile", str(profile), "--points", "3"]) == 0
    out = capsys.readouterr().out
    setup = prepare(load_client(profile))
    trades = first_trades(setup, client_plan(setup), report.transition_settings(mc_paths=0))
    table = report.frontier_table(report.frontier(setup, 3), setup, trades)
    assert repr(table) in out  # the account's own row, no household note
    assert list(table.formatted().Point)[-1].startswith("Your plan today (")
    after = out.split(repr(table))[1]
    assert labels.CARRY_FAILED in after
    assert "The household: the household rebalance is infeasible" in after
    assert "min_cash of trust $300,000" in after
