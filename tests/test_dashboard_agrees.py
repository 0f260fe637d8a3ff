"""The dashboard and the proposal show the same numbers for the same client.

For each of the five sample clients the dashboard is the notebook's page (its own call,
``build_dashboard``, with synchronous updates) with its default settings, which it reads from the
proposal notebook's parameters cell; the proposal side makes the calls the proposal
notebook makes (``report.load``, ``prepare``, ``report.transition`` with the notebook's
``plans``, ``horizon_years`` and ``annual_steps``, ``report.todays_trades``,
``report.trade_list``).
Their headline figures must be equal: plan names, tax in year 1, total tax, after-tax
wealth (and its Monte Carlo range), tracking error at the start and at the horizon, and
today's trades (every row of the trade list, and the totals), and the dashboard's page
must print them as the proposal's formatters do.

The shelf sections (issue 14: household across accounts, active + index core, core
allocation, bond ladder) are compared too: for these five clients on the same wired
dashboard (the household client holds two accounts), and for the four shelf sample clients
through the dashboard's engine set-up and its shelf panel alone (no full plan comparison is
run for them: CI time). A mixed portfolio's plans (the 60/40 client: the bond ladder carried
through every plan, pma_lab.plan.sleeves) are compared once, with quick settings on both
sides (``test_a_mixed_portfolios_plans_agree``). The proposal side
makes the notebook's calls (``shelf.household(setup, trades)``, ``shelf.completion(setup)``,
``shelf.sleeves(setup)``, ``shelf.ladder(client)``); every table of every section must hold
the same numbers and the page must print the proposal's HTML of it.

Only the number of Monte Carlo paths is reduced, on both sides alike, to keep the test
quick: the dashboard through its settings, the proposal by running ``report.transition``
with ``run_transition`` given the same number of paths (``_with_mc_paths``). Nothing else differs.
"""

from __future__ import annotations

import dataclasses
import html
import re
from html.parser import HTMLParser
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import pma_lab.plan.transition as transition
from pma_lab.app.dashboard import (
    DashboardSettings,
    ProposalEngine,
    ProposalView,
    build_dashboard,
)
from pma_lab.app.dashboard.shelf import ShelfPanel
from pma_lab.app.dashboard.widgets import load_profile_client
from pma_lab.formatting import fmt_pct, fmt_usd
from pma_lab.optimize.engine import prepare
from pma_lab.paths import clients_dir
from pma_lab.report import labels, shelf
from pma_lab.report import proposal as report
from pma_lab.report.proposal import ReportTable

pytestmark = pytest.mark.slow

# the five equity personas the proposal and dashboard were written for; each client here
# costs two transition runs of CI time
CLIENTS = ["household", "philanthropist", "retiree", "tech-exec", "young-pro"]
# the shelf's four (issue 14): compared on their shelf sections only (two set-ups each)
SHELF_CLIENTS = {"roth-household": {"One plan across your accounts"},
                 "balanced-6040": {"Your core allocation", "Your bond ladder"},
                 "core-active": {"Your active and index core"},
                 "muni-ca": {"Your bond ladder"}}
MC_PATHS = 40  # both sides (see the module docs)
HEADLINE = ["tax_year1", "tax_total", "after_tax_wealth", "te_start", "te_end",
            "after_tax_wealth_p10", "after_tax_wealth_median", "after_tax_wealth_p90"]
SHOWN = {"tax_year1": fmt_usd, "tax_total": fmt_usd, "pv_tax": fmt_usd,
         "after_tax_wealth": fmt_usd, "vs_hold": fmt_usd, "te_start": fmt_pct,
         "te_end": fmt_pct}

def _with_mc_paths(n: int):
    """``run_transition`` with ``n`` Monte Carlo paths (report.transition builds its
    settings with the engine's default; only the number of paths changes)."""
    real = transition.run_transition

    def run(setup, plans, settings=None, *args, **kwargs):
        return real(setup, plans, dataclasses.replace(settings, mc_paths=n), *args, **kwargs)

    return run



def test_the_compared_clients_are_sample_clients():
    assert set(CLIENTS) <= {p.parent.name for p in clients_dir().glob("*/profile.toml")}


def test_dashboard_settings_are_the_proposal_notebooks_parameters():
    params = {k: v["default"] for k, v in report.notebook_parameters().items()}
    s = DashboardSettings.from_proposal()
    assert ",".join(s.plans) == params["plans"]
    assert s.horizon_years == params["horizon_years"]
    assert s.steps_per_year == (1 if params["annual_steps"] else 4)
    assert s.frontier_points == params["frontier_points"]
    # the same TransitionSettings report.transition builds (Monte Carlo and workers too)
    ts = s.transition_settings()
    default = transition.TransitionSettings(horizon_years=params["horizon_years"],
                                            steps_per_year=ts.steps_per_year)
    assert ts == default
    # and the view uses them when it is given nothing else
    assert ProposalView().engine.settings == s


def _wire(engine: ProposalEngine, name: str):
    """The notebook's page (``build_dashboard``), synchronous updates, without prefetch."""
    d = build_dashboard(name, engine=engine, debounce=0.0, prefetch=False)
    return d.picker, d.upload, d.taxes, d.editor, d.planner, d.view, d.models, d.export


@pytest.fixture(scope="module", params=CLIENTS)
def both(request):
    """(dashboard view, proposal analysis, proposal trades) for one sample client."""
    name = request.param
    engine = ProposalEngine(DashboardSettings.from_proposal(mc_paths=MC_PATHS))
    widgets = _wire(engine, name)
    view = widgets[5]
    assert view.error == "", view.error
    # the proposal notebook's calls, with its parameters
    params = {k: v["default"] for k, v in report.notebook_parameters().items()}
    client = report.load(clients_dir() / name / "profile.toml", [], "")
    setup = prepare(client)
    mp = pytest.MonkeyPatch()
    mp.setattr(transition, "run_transition", _with_mc_paths(MC_PATHS))
    try:
        analysis = report.transition(setup, params["plans"], params["horizon_years"],
                                     params["annual_steps"])
    finally:
        mp.undo()
    trades = report.todays_trades(setup, analysis)
    yield name, view, analysis, trades, setup
    for w in widgets:
        w.close()


def test_same_plans(both):
    name, view, analysis, trades, _ = both
    shown = view.analysis.comparison
    assert list(shown.plan) == list(analysis.comparison.plan)
    assert list(shown.label) == list(analysis.comparison.label)
    # the dashboard starts on the client's own plan, the one the proposal recommends
    mine = transition.client_plan(view.setup)
    assert view.plan == mine.name
    assert shown.set_index("plan").loc[view.plan, "is_client_plan"]


def test_same_headline_figures(both):
    name, view, analysis, trades, _ = both
    a = view.analysis.comparison.set_index("plan")[HEADLINE]
    b = analysis.comparison.set_index("plan")[HEADLINE]
    np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-9, atol=1e-6,
                               err_msg=f"{name}: the dashboard and the proposal differ")


class _PlanTables(HTMLParser):
    """The dashboard's plan tables by kind: caption, headings, and each row's plan code,
    classes and cell texts."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, dict] = {}
        self._t: dict | None = None
        self._cell: list[str] | None = None
        self._where = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            kind = re.search(r"pma-([\w-]+)-table", a.get("class") or "")
            self._t = {"caption": "", "head": [], "plans": [], "classes": [], "rows": []}
            self.tables[kind.group(1) if kind else "?"] = self._t
        elif self._t is None:
            return
        elif tag in ("caption", "thead", "tbody"):
            self._where = tag
            if tag == "caption":
                self._cell = []
        elif tag == "tr" and self._where == "tbody":
            self._t["plans"].append(a.get("data-plan"))
            self._t["classes"].append(set((a.get("class") or "").split()))
            self._t["rows"].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if self._t is None:
            return
        if tag == "table":
            self._t = None
        elif tag == "caption" and self._cell is not None:
            self._t["caption"] = "".join(self._cell)
            self._cell = None
        elif tag in ("td", "th") and self._cell is not None:
            (self._t["head"] if self._where == "thead" else self._t["rows"][-1]).append(
                "".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _plan_tables(page: str) -> dict[str, dict]:
    p = _PlanTables()
    p.feed(page)
    return p.tables


def test_the_page_shows_the_proposals_labelled_plan_tables(both):
    """The dashboard's plan comparison and its tracking error by year are the proposal's
    tables: the same caption, headings, plan labels (the client's marked) and cells, in
    the same order; only the attributes differ (plan codes, the chosen row)."""
    name, view, analysis, trades, setup = both
    shown = _plan_tables(view._comparison.value)
    assert set(shown) == {"comparison", "te-years", "outcomes"}, name
    # the client's plan year by year (its dividends and their tax too) is the proposal's
    yearly = report.yearly_table(analysis)
    assert yearly._repr_html_() in view._assumptions.value, name
    assert "Tax on dividends" in yearly.frame.columns, name
    for kind, table in (("comparison", report.comparison_table(analysis)),
                        ("te-years", report.te_years_table(analysis, setup.benchmark)),
                        ("outcomes", report.outcomes_table(analysis))):
        t, text = shown[kind], table.formatted()
        assert t["caption"] == table.caption, (name, kind)
        assert t["head"] == [table.headers[c] for c in text.columns], (name, kind)
        assert t["plans"] == list(text.index), (name, kind)
        assert t["rows"] == text.to_numpy().tolist(), (name, kind)
        assert [p for p, c in zip(t["plans"], t["classes"], strict=True)
                if "pma-mine" in c] == [text.index[i] for i in table.highlight] == \
            [transition.client_plan(setup).name], (name, kind)
        assert t["rows"][0][0].startswith("\u2605 Your plan: ")
    # "More figures by plan" (F19): each plan's middle path and chance of ending below
    # moving now, Move now's own chance "–" (no figure against itself)
    out = shown["outcomes"]
    assert out["caption"].startswith("More figures by plan"), name
    chance = out["head"].index("Chance of ending below moving now")
    assert [r[chance] for p, r in zip(out["plans"], out["rows"], strict=True)
            if p == "immediate"] == ["\u2013"], name
    assert all(r[chance].endswith("%") for p, r in zip(out["plans"], out["rows"], strict=True)
               if p != "immediate" and r[chance] != "\u2013"), name
    # the cells are the proposal's numbers, formatted as its formatters print them
    heads = shown["comparison"]["head"]
    comp = analysis.comparison.set_index("plan")
    h = report._horizon(analysis)
    for plan, row in zip(shown["comparison"]["plans"], shown["comparison"]["rows"],
                         strict=True):
        r = comp.loc[plan]
        cell = dict(zip(heads, row, strict=True))
        for col, fmt in SHOWN.items():
            assert cell[labels.heading(col, h)] == fmt(r[col]), (name, plan, col)
        assert cell["Range (1 in 10 below / above)"] == \
            f"{fmt_usd(r.after_tax_wealth_p10)} to {fmt_usd(r.after_tax_wealth_p90)}"
        assert "vs immediate" not in heads and "Against moving now" not in heads


def test_same_trades_today(both):
    name, view, analysis, trades, _ = both
    prop = report.trade_list(trades).frame
    pd.testing.assert_frame_equal(view.trade_rows.reset_index(drop=True),
                                  prop.reset_index(drop=True))
    for k in ("tax", "realized_st", "realized_lt", "te_before", "te_after", "turnover"):
        assert view.first_year.summary[k] == pytest.approx(trades.summary[k], rel=1e-9,
                                                           abs=1e-9), k
    totals = prop.groupby("Action")["Est. Amount"].sum()
    shown = view.trade_rows.groupby("Action")["Est. Amount"].sum()
    pd.testing.assert_series_equal(shown, totals)
    # and the summary line reads the proposal's tax and trade count
    assert f'class="pma-tax-value">{html.escape(fmt_usd(trades.summary["tax"]))}<' in \
        view._summary.value
    assert f'class="pma-trade-count">{len(prop)}<' in view._summary.value


def _quick_proposal(name: str):
    """The proposal's set-up and plans of a sample client with quick settings: ``immediate``
    (with the client's plan and hold), 2 annual steps, no Monte Carlo."""
    setup = prepare(report.load(clients_dir() / name / "profile.toml", [], ""))
    mp = pytest.MonkeyPatch()
    mp.setattr(transition, "run_transition", _with_mc_paths(0))
    try:
        return setup, report.transition(setup, "immediate", 2, True)
    finally:
        mp.undo()


def test_todays_trades_are_the_first_step_of_the_clients_plan():
    """Retiree (own plan: 5 years), annual steps: the proposal used to list
    ``first_trades(setup)``, the first of *quarterly* steps (TE after 5.65 %, tax $37,136),
    not the first step of the plan it recommends (TE after 5.34 %, tax $42,818). Now the
    proposal's trades are the plan's first step as simulated, and the dashboard (same
    settings, the client's plan) lists the same trades and tax."""
    setup, analysis = _quick_proposal("retiree")
    trades = report.todays_trades(setup, analysis)
    mine = transition.client_plan(setup)
    run = next(r for r in analysis.runs if r.path == "expected" and r.plan.name == mine.name)
    step0 = run.steps.iloc[0]
    assert trades.summary["te_after"] == pytest.approx(step0.te_target, rel=1e-9)
    sold = run.dispositions[run.dispositions.date_sold == setup.as_of]
    assert sorted(sold.lot_id) == sorted(trades.lot_trades.lot_id)
    old = transition.first_trades(setup)  # what the notebook called (quarterly steps)
    assert old.summary["te_after"] != pytest.approx(step0.te_target, rel=1e-6)
    # the dashboard with the same settings shows the same trades today
    engine = ProposalEngine(DashboardSettings.from_proposal(
        horizon_years=2, steps_per_year=1, mc_paths=0, plans=("immediate",)))
    fy, _ = engine.first_year(setup.client, setup, mine.name)
    pd.testing.assert_frame_equal(report.custodian_trades(fy),
                                  report.custodian_trades(trades))
    assert fy.summary["tax"] == pytest.approx(trades.summary["tax"], rel=1e-12)


# ------------------------------------------------------------------------- shelf sections
def _proposal_shelf(setup, trades) -> SimpleNamespace:
    """The proposal notebook's shelf calls, once per client (``None``: not held); the
    household is solved around ``trades``, the plan's first step."""
    return SimpleNamespace(household=shelf.household(setup, trades),
                           completion=shelf.completion(setup),
                           sleeves=shelf.sleeves(setup), ladder=shelf.ladder(setup.client))


def _proposal_sections(p: SimpleNamespace, setup, analysis=None) -> list[shelf.View]:
    """The proposal notebook's shelf cells, in its order (``None``: not shown); with the
    plan comparison the household's tax rows add up to page 1's "Tax this year"."""
    views = [shelf.household_view(p.household,
                                  shelf.household_year_tax(setup, analysis, p.household)),
             shelf.completion_view(p.completion, setup.benchmark.weights),
             shelf.sleeves_view(p.sleeves), shelf.ladder_view(p.ladder)]
    return [v for v in views if v is not None]


def _tables(view: shelf.View) -> list[ReportTable]:
    return [p for p in view.parts if isinstance(p, ReportTable)]


def _same_sections(name: str, panel: ShelfPanel, p: SimpleNamespace, setup,
                   analysis=None) -> list[shelf.View]:
    """Every shelf table of the dashboard equals the proposal's, and the page prints it."""
    assert panel.error == "", panel.error
    mine = panel.results.views()
    prop = _proposal_sections(p, setup, analysis)
    assert [v.title for v in mine] == [v.title for v in prop], name
    page = panel.html
    for a, b in zip(mine, prop, strict=True):
        assert a.intro == b.intro, (name, a.title)
        ta, tb = _tables(a), _tables(b)
        assert [t.caption for t in ta] == [t.caption for t in tb], (name, a.title)
        for x, y in zip(ta, tb, strict=True):
            pd.testing.assert_frame_equal(x.frame, y.frame, check_exact=False, rtol=1e-9,
                                          atol=1e-6, obj=f"{name}: {x.caption}")
            assert y._repr_html_() in page, (name, y.caption)
        assert html.escape(b.intro.split("\n\n")[0]) in page, (name, b.title)
    return prop


def _same_household(a, b) -> None:
    """The household's headline figures, its asset location and each account's trades."""
    for k in ("te_before", "te_after", "tax_estimate_usd", "location_cost_before_usd",
              "location_cost_after_usd", "orders", "lots_sold"):
        assert float(a.summary()[k]) == pytest.approx(float(b.summary()[k]), rel=1e-9,
                                                      abs=1e-6), k
    pd.testing.assert_frame_equal(a.location, b.location, check_exact=False, rtol=1e-9)
    for acc, kind in zip(b.accounts.account, b.accounts.kind, strict=True):
        t = shelf.account_trades_table(b, acc)
        # lot, term and gain for a taxable account; no gain column in an IRA or Roth
        assert {"Lot", "Term"} <= set(t.frame.columns)
        assert ("Est. gain" in t.frame.columns) == (kind == "taxable"), acc


def test_same_shelf_sections(both):
    """The wired dashboard (the notebook's update, one stage) shows the proposal's shelf
    sections: the household's for the household client (taxable + IRA), none for the four
    single-account clients."""
    name, view, analysis, trades, setup = both
    p = _proposal_shelf(setup, trades)
    prop = _same_sections(name, view.shelf, p, setup, analysis)
    if name == "household":
        assert [v.title for v in prop] == ["One plan across your accounts"]
        # the comparison on screen: today's trades' tax added up to page 1's figure
        items = list(_tables(prop[0])[0].frame["item"])
        assert f"= Your plan's tax for {setup.as_of.year} (\u201cTax this year\u201d)" \
            in items
        _same_household(view.shelf.results.household, p.household)
        assert "shelf" in view.timings
    else:
        assert prop == [] and view.shelf.html == ""


@pytest.fixture(scope="module")
def shelf_engine():
    return ProposalEngine(DashboardSettings.from_proposal(mc_paths=MC_PATHS))


@pytest.fixture(scope="module", params=sorted(SHELF_CLIENTS))
def shelf_both(request, shelf_engine):
    """(name, dashboard shelf panel, proposal shelf results, proposal set-up) for one
    shelf sample client; no plan comparison on either side."""
    name = request.param
    path = clients_dir() / name / "profile.toml"
    client = load_profile_client(path)  # as the dashboard's picker loads it
    setup, _ = shelf_engine.setup(client)
    # the dashboard's stage: the household around the client's plan's first step on screen
    plan = transition.client_plan(setup).name
    fy, _ = shelf_engine.first_year(client, setup, plan)
    panel = ShelfPanel()
    panel.update((shelf_engine.key(client), plan), setup, lambda f: f(), lambda: True, {},
                 fy)
    prop_setup = prepare(report.load(path, [], ""))
    # the proposal's trades today: the client's plan's first step with its settings
    trades = transition.first_trades(prop_setup, None, transition.TransitionSettings())
    yield name, panel, _proposal_shelf(prop_setup, trades), prop_setup
    panel.close()


def test_shelf_clients_sections_agree(shelf_both):
    name, panel, p, setup = shelf_both
    prop = _same_sections(name, panel, p, setup)
    assert {v.title for v in prop} == SHELF_CLIENTS[name]


def test_shelf_clients_headline_figures(shelf_both):
    """The figures an advisor reads first, named one by one."""
    name, panel, p, setup = shelf_both
    r = panel.results
    page = panel.html
    if p.household is not None:
        _same_household(r.household, p.household)
        assert html.escape(fmt_pct(p.household.te_after)) in page
    if p.ladder is not None:
        cols = ["coupon", "yield", "tax_equivalent_yield", "duration"]
        pd.testing.assert_frame_equal(r.ladder.rungs[cols], p.ladder.rungs[cols],
                                      check_exact=True)
        pd.testing.assert_frame_equal(r.ladder.cash_flows, p.ladder.cash_flows,
                                      check_exact=True)
        if name == "muni-ca":  # the modelled-yield statement comes first
            first = page.index('<p class="pma-prose">', page.index("Your bond ladder"))
            assert page[first:].startswith('<p class="pma-prose">Municipal yields in this '
                                           "section are modelled")
    if p.sleeves is not None:
        pd.testing.assert_series_equal(r.sleeves.before, p.sleeves.before)
        pd.testing.assert_series_equal(r.sleeves.after, p.sleeves.after)
        pd.testing.assert_frame_equal(r.sleeves.moves, p.sleeves.moves)
    if p.completion is not None:
        for k in ("te_active_only", "te_total"):
            assert float(r.completion.summary()[k]) == pytest.approx(
                float(p.completion.summary()[k]), rel=1e-9)
        pd.testing.assert_frame_equal(r.completion.exposures, p.completion.exposures,
                                      check_exact=False, rtol=1e-9, atol=1e-12)


def test_a_mixed_portfolios_plans_agree():
    """balanced-6040 (60/40 with a 1-10 year Treasury ladder): the plans cover the whole
    portfolio (pma_lab.plan.sleeves: the ladder's interest and its tax, the moves between
    the sleeves), and the wired dashboard shows the proposal's figures and its page-1
    note on what the plans cover. Quick settings on both sides alike (2 annual steps, no
    Monte Carlo, the proposal's ``immediate`` with the client's plan and hold): CI time."""
    name = "balanced-6040"
    engine = ProposalEngine(DashboardSettings.from_proposal(
        horizon_years=2, steps_per_year=1, mc_paths=0, plans=("immediate",),
        frontier_points=3))
    widgets = _wire(engine, name)
    view = widgets[5]
    try:
        assert view.error == "", view.error
        setup, analysis = _quick_proposal(name)
        a = view.analysis.comparison.set_index("plan")
        b = analysis.comparison.set_index("plan")
        assert list(a.index) == list(b.index)
        cols = ["tax_year1", "tax_total", "pv_tax", "after_tax_wealth", "te_start", "te_end"]
        np.testing.assert_allclose(a[cols].to_numpy(float), b[cols].to_numpy(float),
                                   rtol=1e-9, atol=1e-6)
        ya, yb = view.analysis.yearly(), analysis.yearly()
        pd.testing.assert_frame_equal(ya, yb, check_exact=False, rtol=1e-9, atol=1e-6)
        # the bond sleeve is in: 2027's tax includes the tax on the ladder's interest
        # (10 rungs of $85,000: $34,930.75 of coupons, state-exempt, added to the $180,000
        # of taxable income: 21,775 x 24 % = 5,226.00 and 13,155.75 x 32 % = 4,209.84
        # federal, 3.8 % x 14,930.75 above the NIIT threshold = 567.37: 10,003.21) and on
        # the interest the plan's cash earned (taxable: federal, NIIT, state 5 %), e.g.
        # at 4.41 %, split at Dec 31 by days: hold's $44.06 left today earns $1.943 to
        # 2027-07-31, 212/365 of it in 2027 ($1.128), plus 153/366 of the $2.029 its $46.00
        # earns to 2028-07-31 ($0.848): $1.98 in 2027, taxed at 32 % + 3.8 % + 5 % on top
        # of the ladder's 10,003.21: 10,004.01; the client's budget:15000's $43.20 today
        # and $74.71 after its 2027 trades: $1.107 + $1.379 = $2.49, 10,004.22;
        # immediate's $3.60 today and $3.76 after: $0.092 + $0.070 = $0.16, 10,003.27
        # (session 18: with the issuer factor the trades leave other cash; before, $163.85
        # and $0.65 gave $4.13 and $0.03)
        y27 = yb[yb.year == 2027].set_index("plan")
        assert y27.interest.to_numpy() == pytest.approx(34_930.75)
        assert y27.cash_interest.round(2).to_dict() == {"immediate": 0.16,
                                                        "budget:15000": 2.49, "hold": 1.98}
        assert y27.tax_interest.to_dict() == pytest.approx(
            {"immediate": 10_003.27, "budget:15000": 10_004.22, "hold": 10_004.01},
            abs=0.005)
        assert y27.tax.to_numpy() == pytest.approx(
            (y27.tax_gains + y27.charity_saving + y27.tax_interest
             + y27.tax_dividends).to_numpy())
        assert (yb.value_end == yb.equity_end + yb.bonds_end).all()
        page = view._comparison.value
        note = shelf.mixed_note(setup)
        assert note is not None and note._repr_html_() in page
        assert "cover your whole portfolio" in note.text
        for plan, r in b.iterrows():
            row = re.search(rf'data-plan="{re.escape(html.escape(plan))}">(.*?)</tr>', page)
            assert row is not None and html.escape(fmt_usd(r.tax_total)) in row.group(1)
    finally:
        for w in widgets:
            w.close()


def test_same_carryforward_words(both):
    """The loss carryforward around today's trades reads the same on the dashboard as in
    the proposal's harvesting table (labels.carryforward_rows): from earlier years, into
    next year without the trades, used up or added by them, into next year after them."""
    name, view, analysis, trades, setup = both
    h = report.harvesting(analysis, trades, setup).frame
    keys = ("Loss carryforward from", "Loss carryforward into", "Used up by", "Added by")
    rows = [(k, v) for k, v in zip(h["item"], h["value"], strict=True) if k.startswith(keys)]
    assert len(rows) == 4, rows
    shown = re.search(r'class="pma-carryforward">(.*?)</div>', view._summary.value)
    assert shown is not None
    assert shown.group(1) == "; ".join(f"{html.escape(k)}: {html.escape(v)}" for k, v in rows)


def test_a_forced_sale_past_the_budget_is_explained_as_in_the_proposal():
    """balanced-6040 with Fossil fuels ticked: its plan (Gains budget $15,000 a year) sells
    XOM whatever the tax, realising net $36,900 today; the dashboard's line on today's
    trades showed it under the $15,000 budget with no reason. The line now carries the
    proposal's sentence ("Today's trades" caption, labels.forced_sales_note), the same
    words, with the sale's gain as the trade list shows it."""
    from pma_lab.app.dashboard.compute import with_restrictions
    from pma_lab.app.dashboard.render import first_year_summary
    from pma_lab.io.client import load_client

    c = load_client(clients_dir() / "balanced-6040" / "profile.toml")
    c = with_restrictions(c, dataclasses.replace(c.profile.restrictions,
                                                 categories=("fossil_fuels",)))
    engine = ProposalEngine(DashboardSettings.from_proposal(
        horizon_years=2, steps_per_year=1, mc_paths=0, plans=("immediate",),
        frontier_points=3))
    setup = engine.setup(c)[0]
    plan = transition.client_plan(setup).name
    assert plan == "budget:15000"
    fy, _ = engine.first_year(c, setup, plan)
    s = fy.summary
    assert s["realized_st"] + s["realized_lt"] > 15_000
    rows = report.custodian_trades(fy)
    gain = rows[rows.Symbol == "XOM"]["Est. Gain"].sum()  # the trade list's row
    assert gain == pytest.approx(fy.lot_trades[fy.lot_trades.ticker == "XOM"].gain.sum())
    note = labels.forced_sales_note(fy)
    assert note.startswith(f"{fmt_usd(gain)} of the realised gains come from the sales "
                           f"your restrictions force: XOM sold now whatever the tax "
                           f"({fmt_usd(gain)}). That is more than the gains budget allows, "
                           "so the restrictions' sales raise its total $15,000 by ")
    sentence = note[0].upper() + note[1:] + "."
    line = first_year_summary(s, plan, len(rows), forced=note)
    assert f'<div class="pma-forced-sales">{html.escape(sentence)}</div>' in line
    assert sentence in report.trade_summary(setup, fy).caption  # the proposal's words
    # the view draws it so
    view = ProposalView(engine=engine, debounce=0)
    try:
        view.client = c  # with its profile's restrictions (the screen) and plan
        assert (view.plan, view.error) == (plan, "")
        assert html.escape(sentence) in view._summary.value
    finally:
        view.close()
    # a budget no forced sale raises: no sentence
    c0 = load_client(clients_dir() / "balanced-6040" / "profile.toml")
    s0 = engine.setup(c0)[0]
    assert labels.forced_sales_note(engine.first_year(c0, s0, plan)[0]) == ""


def test_the_dashboards_trades_are_the_plan_runs_first_step(monkeypatch):
    """Session 20: the dashboard's trades today were ``first_trades`` solved apart from
    the plan run (``run=`` not given), while the proposal reads the comparison's run's
    own step 0 (``todays_trades``). Now the dashboard reads a run's first step too: the
    cached comparison's when there is one (no solve at all: main solved the step again),
    else the plan's brief run (``first_step_run``: main never replayed a run's step), the
    same trades as the proposal's either way (philanthropist, its own plan)."""
    from pma_lab.optimize.rebalance import RebalanceProblem
    from pma_lab.plan import simulation

    seen: list = []  # (run given, its step replayed) for each first_trades(run=...)
    real_reusable, real_solve = simulation._reusable, RebalanceProblem.solve
    solves = [0]

    def reusable(run, *args, **kwargs):
        f = real_reusable(run, *args, **kwargs)
        seen.append((run, f))
        return f

    def solve(self, *args, **kwargs):
        solves[0] += 1
        return real_solve(self, *args, **kwargs)

    monkeypatch.setattr(simulation, "_reusable", reusable)
    monkeypatch.setattr(RebalanceProblem, "solve", solve)
    settings = DashboardSettings.from_proposal(horizon_years=2, steps_per_year=4, mc_paths=0,
                                               workers=1, plans=("immediate",))
    path = clients_dir() / "philanthropist" / "profile.toml"
    client = load_profile_client(path)
    # the comparison first (a revisit, a prefetch): today's trades are its run's step 0
    engine = ProposalEngine(settings)
    setup, _ = engine.setup(client)
    plan = transition.client_plan(setup).name
    an, _ = engine.transition(client, setup, plan)
    run = next(r for r in an.runs if r.path == "expected" and r.plan.name == plan)
    solves[0] = 0
    fy, _ = engine.first_year(client, setup, plan)
    assert solves[0] == 0  # main: the step solved again
    assert len(seen) == 1 and seen[0][0] is run and seen[0][1] is run.first_step
    proposal = report.todays_trades(setup, an)
    pd.testing.assert_frame_equal(report.custodian_trades(fy),
                                  report.custodian_trades(proposal))
    assert fy.summary["tax"] == proposal.summary["tax"]
    # no comparison yet (the page's first result): the plan's brief run's own step 0
    seen.clear()
    fresh = ProposalEngine(settings)
    s2, _ = fresh.setup(client)
    fy2, _ = fresh.first_year(client, s2, plan)
    assert len(seen) == 1 and seen[0][1] is not None  # main: no run, the step solved
    assert seen[0][1] is seen[0][0].first_step
    pd.testing.assert_frame_equal(report.custodian_trades(fy2), report.custodian_trades(fy))
    assert fy2.summary["tax"] == fy.summary["tax"]
