"""The dashboard's shelf panel (pma_lab.app.dashboard.shelf), without a set-up.

The agreement with the proposal, on real set-ups, is in test_dashboard_agrees.py. Here the
panel runs on the muni-ca sample client (a bond ladder, one taxable account, no core):
the shelf functions read only its profile and date for that, so the "set-up" given is the
client and the benchmark weights (no risk model, a few milliseconds).
"""

from __future__ import annotations

import dataclasses
import html
from types import SimpleNamespace

import pandas as pd
import pytest

from pma_lab.app.dashboard.shelf import ShelfPanel, ShelfResults, shelf_results
from pma_lab.app.dashboard.widgets import load_profile_client
from pma_lab.paths import clients_dir
from pma_lab.report import shelf


def _setup(**fixed_income):
    c = load_profile_client(clients_dir() / "muni-ca" / "profile.toml")
    if fixed_income:
        fi = dataclasses.replace(c.profile.fixed_income, **fixed_income)
        c = dataclasses.replace(c, profile=dataclasses.replace(c.profile, fixed_income=fi))
    return SimpleNamespace(client=c, benchmark=SimpleNamespace(weights=pd.Series(
        dtype=float)))


def test_a_ladder_client_gets_the_ladder_section_with_the_modelled_statement_first():
    setup = _setup()
    r = shelf_results(setup)
    assert r.household is None and r.completion is None and r.sleeves is None
    assert r.ladder is not None and not r.empty
    panel = ShelfPanel()
    tm: dict = {}
    panel.update("muni-ca", setup, lambda f: f(), lambda: True, tm)
    assert panel.error == "" and tm["shelf_cached"] is False
    page = panel.html
    assert page.count('class="pma-shelf-section"') == 1
    assert 'data-section="Your-bond-ladder"' in page
    # the proposal's own section, byte for byte
    assert shelf.ladder_view(shelf.ladder(setup.client))._repr_html_() in page
    first = page.index('<p class="pma-prose">')
    assert page[first:].startswith('<p class="pma-prose">Municipal yields in this section '
                                   "are modelled")
    panel.close()


def test_results_are_cached_per_client_key_and_stale_updates_not_shown():
    setup = _setup()
    panel = ShelfPanel()
    a, hit_a = panel.compute("k", setup)
    b, hit_b = panel.compute("k", setup)
    assert (hit_a, hit_b) == (False, True) and a is b and panel.calls == 1
    # an update a newer input change has overtaken shows nothing
    panel.update("k", setup, lambda f: f(), lambda: False, {})
    assert panel.results is None and panel.html == ""
    panel.close()


def test_no_section_for_a_client_without_shelf_products():
    panel = ShelfPanel()
    panel.show(ShelfResults(None, None, None, None))
    assert panel.results.empty and panel.html == ""
    panel.close()


def test_a_failure_stays_in_the_panel_and_says_how_to_fix():
    panel = ShelfPanel()
    panel.show(shelf_results(_setup()))
    tm: dict = {}
    panel.update("bad", _setup(amount=1.0), lambda f: f(), lambda: True, tm)
    assert panel.results is None and "shelf" in tm and "shelf_cached" not in tm
    assert "less than one $5,000 bond per rung" in panel.error
    assert "invest at least $50,000" in panel.error
    assert 'class="pma-error-panel"' in panel.html
    assert html.escape(panel.error) in panel.html
    assert "Your bond ladder" not in panel.html  # the old section is gone
    panel.close()


def test_the_panel_is_a_stage_of_the_proposal_view():
    from pma_lab.app.dashboard import ProposalView

    view = ProposalView(debounce=0)
    assert isinstance(view.shelf, ShelfPanel) and view.shelf in view.children
    view.close()


@pytest.mark.parametrize("text", ["<script>x</script>", "a & b"])
def test_errors_are_escaped(text):
    from pma_lab.errors import DataError

    panel = ShelfPanel()
    panel.fail(DataError(text))
    assert text not in panel.html and html.escape(text) in panel.html
    panel.close()


def test_the_household_tax_rows_reach_page_ones_figure_once_the_comparison_is_ready():
    """The household section shows before the plan comparison; when the comparison is
    ready (the widgets' ``_show_transition``) its "Tax this year" is added, as the proposal
    adds page 1's: $5,616 today + $71.19 later trades + $787.93 dividends and interest =
    $6,475.12."""
    from pma_lab.optimize.household import HouseholdResult

    trades = pd.DataFrame({"account": ["taxable"], "kind": ["taxable"], "ticker": ["AAA"],
                           "side": ["buy"], "shares": [2.0], "price": [50.0],
                           "value": [100.0]})
    accounts = pd.DataFrame({
        "account": ["taxable", "ira"], "kind": ["taxable", "traditional"],
        "value": [3000.0, 1000.0], "cash_before": [100.0, 0.0], "cash_after": [0.0, 0.0],
        "bought": [100.0, 0.0], "sold": [0.0, 0.0], "realized_st": [0.0, 0.0],
        "realized_lt": [0.0, 0.0]})
    location = pd.DataFrame({"account": ["taxable", "ira"], "kind": ["taxable", "traditional"],
                             "cost_before": [0.0, 1.0], "cost_after": [0.0, 1.0]})
    r = HouseholdResult("optimal", trades, pd.DataFrame(columns=["account", "lot_id"]),
                        accounts, pd.DataFrame(), location, 0.05, 0.01, 0.0, pd.DataFrame(),
                        0.1, (), tax_this_year=5_616.0, fixed_account="taxable")
    panel = ShelfPanel()
    panel.show(ShelfResults(household=r, completion=None, sleeves=None, ladder=None))
    assert "(\u201cTax this year\u201d)" not in html.unescape(panel.html)
    panel.show_year_tax(shelf.PlanYearTax(2026, 6_475.12, 5_687.19, 763.96, 23.97))
    text = html.unescape(panel.html)
    assert "= Your plan's tax for 2026 (\u201cTax this year\u201d)" in text
    assert "$6,475" in text and "$71" in text and "$764" in text and "$24" in text
