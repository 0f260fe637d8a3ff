"""A household whose profile names its accounts (``[[accounts]] name``/``number``).

The two-taxable client read "Taxable account (“taxable”)" and "Taxable account
(“trust”)": the profile's internal keys. With ``name``/``number`` set, every place the
command line, the proposal's household section and the target's sizing name an account
uses the client's words; the trade files keep the ids a custodian needs.
"""

from __future__ import annotations

import csv

import pytest
from test_household_two_taxable import two_taxable_profile  # tests/ is on sys.path

from pma_lab.app.cli import main

pytestmark = pytest.mark.slow


def _named(folder):
    p = two_taxable_profile(folder)
    text = p.read_text()
    for old, new in (('id = "trust"\n', 'id = "trust"\nname = "Family trust"\n'
                                          'number = "XXXX-5678"\n'),
                     ('id = "taxable"\ntype', 'id = "taxable"\nname = "Joint account"\ntype')):
        assert text.count(old) == 1
        text = text.replace(old, new)
    p.write_text(text)
    return p


def test_the_household_names_its_accounts_in_the_clients_words(tmp_path, capsys):
    p = _named(tmp_path)
    out = tmp_path / "out"
    assert main(["household", "--profile", str(p), "--out", str(out)]) == 0
    cap = capsys.readouterr()
    text = cap.out
    for words in ("One plan across your 3 accounts, Joint account, Family trust "
                  "(XXXX-5678) and IRA:",
                  "Joint account $", "Family trust (XXXX-5678) $",
                  "= Tax for 2026 of your plan and today's trades in the Family trust "
                  "(XXXX-5678)",
                  "+ the tax that today's trades in the Family trust (XXXX-5678) save",
                  "your plan follows the Joint account alone",
                  "Family trust (XXXX-5678): 1 lot sold"):
        assert words in text, words
    assert "\u201ctrust\u201d" not in text and "\u201ctaxable\u201d" not in text
    assert "taxable account 1" not in text  # named: not numbered
    assert "share a kind and have no name" not in cap.err  # named: no note to set it
    # the trade file keeps the ids a custodian needs
    with open(out / "trades.csv", newline="") as f:
        assert {r["account"] for r in csv.DictReader(f)} <= {"taxable", "trust", "ira"}


def test_unnamed_twins_are_numbered_and_the_service_team_told(tmp_path, capsys):
    p = two_taxable_profile(tmp_path)
    assert main(["household", "--profile", str(p)]) == 0
    cap = capsys.readouterr()
    assert "One plan across your 3 accounts, taxable account 1, taxable account 2 and " \
        "IRA:" in cap.out
    assert "\u201ctrust\u201d" not in cap.out
    assert ('[[accounts]] id = "taxable", [[accounts]] id = "trust" share a kind and have '
            "no name") in cap.err


def test_the_intro_names_the_plans_account_and_its_number_stays_on_one_line(tmp_path):
    """The opening paragraph named the plan's account "your taxable account" although the
    profile names it; its number (here given to the joint account) wrapped in the PDF as
    "(XXXX-" / "4821)": the HTML keeps it in a nowrap span, the same characters (the trade
    files' Account column is the plain id)."""
    import re

    from pma_lab.io.client import load_client
    from pma_lab.report import proposal as report

    p = _named(tmp_path)
    text = p.read_text()
    one = 'id = "taxable"\nname = "Joint account"\n'
    assert text.count(one) == 1
    p.write_text(text.replace(one, one + 'number = "XXXX-4821"\n'))
    client = load_client(p)
    words = repr(report.intro(client))
    assert "the plan for your Joint account (XXXX-4821) first" in words, words
    assert "your taxable account" not in words
    page = report.intro(client)._repr_html_()
    assert '(<span style="white-space: nowrap">XXXX-4821</span>)' in page, page
    # a table cell too, and the escaping is kept around the number
    import pandas as pd

    cell = report.ReportTable(pd.DataFrame({"Account": ["Family trust (XXXX-5678) <b>"]}),
                              formats={})._repr_html_()
    assert '<span style="white-space: nowrap">XXXX-5678</span>) &lt;b&gt;' in cell
    # page one's sentence on whose figures they are names the accounts too
    from pma_lab.optimize.engine import prepare
    from pma_lab.plan.transition import TransitionSettings, run_transition

    setup = prepare(client)
    a = run_transition(setup, ["immediate"], TransitionSettings(
        horizon_years=1, steps_per_year=1, workers=1, mc_paths=0))
    one = report.recommendation(setup, a)._repr_html_()
    assert "your Joint account (<span" in one and "Family trust (<span" in one
    assert not re.search(r"XXXX-\d+(?!\d*</span>)", page + cell + one)  # none to break
