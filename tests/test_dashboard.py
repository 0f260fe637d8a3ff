"""Dashboard widgets without a browser: build, link, upload, toggle, and compare with the API.

The widgets are wired exactly as ``notebooks/dashboard.ipynb`` wires them, with
``debounce=0`` so every update runs synchronously; one test covers the debounced,
threaded path. Every number the view shows is checked against the engine's public API
called directly here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import re

import numpy as np
import pandas as pd
import pytest
from traitlets import dlink

from pma_lab.client import load_client
from pma_lab.dashboard import (
    DashboardSettings,
    HoldingsUpload,
    ProfilePicker,
    ProposalEngine,
    ProposalView,
    RestrictionEditor,
    TransitionPlanner,
    client_key,
    fmt_pct,
    fmt_usd,
)
from pma_lab.engine import prepare, problem_for_client
from pma_lab.frontier import efficient_frontier
from pma_lab.paths import bad_inputs_dir, clients_dir
from pma_lab.transition import TransitionSettings, first_trades, parse_plan, run_transition

pytestmark = pytest.mark.slow

HOUSEHOLD = clients_dir() / "household" / "profile.toml"
HOUSEHOLD_LOTS = clients_dir() / "household" / "household_lots.csv"
BAD_SHARES = bad_inputs_dir() / "bad_negative_shares.csv"
SETTINGS = DashboardSettings()
TS = TransitionSettings(horizon_years=3, steps_per_year=1, workers=1)
GAMMAS = np.logspace(1, -3, 7)


def build(engine: ProposalEngine, debounce: float = 0.0, selected: str = "household"):
    """The notebook's wiring (same order), returning the five widgets."""
    picker = ProfilePicker(selected=selected)
    upload = HoldingsUpload(max_bytes=5_000_000)
    editor = RestrictionEditor()
    planner = TransitionPlanner(mode="timeline", years=3, budget=20_000)
    view = ProposalView(engine=engine, debounce=debounce)
    dlink((picker, "value"), (upload, "profile_path"))
    dlink((upload, "client"), (editor, "client"))
    dlink((upload, "client"), (planner, "client"))
    dlink((planner, "plan"), (view, "plan"))
    dlink((editor, "restrictions"), (view, "restrictions"))
    dlink((upload, "client"), (view, "client"))
    return picker, upload, editor, planner, view


@pytest.fixture(scope="module")
def engine():
    return ProposalEngine(SETTINGS)


@pytest.fixture(scope="module")
def dash(engine):
    widgets = build(engine)
    yield widgets
    for w in widgets:
        w.close()


@pytest.fixture(scope="module")
def api_household():
    """The API's own numbers for the household's lots with the fossil-fuel screen added."""
    c = load_client(HOUSEHOLD, lots_files=[HOUSEHOLD_LOTS])
    r = dataclasses.replace(c.profile.restrictions, categories=("fossil_fuels",))
    c = dataclasses.replace(c, profile=dataclasses.replace(c.profile, restrictions=r))
    setup = prepare(c)
    fr = efficient_frontier(problem_for_client(setup), gammas=GAMMAS)
    return c, setup, fr


def _texts(html_text: str, cls: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(
        rf'class="{cls}"[^>]*>([^<]*)<', html_text)]


def _assert_frontier_equal(shown: pd.DataFrame, api: pd.DataFrame) -> None:
    assert list(shown.kind) == list(api.kind)
    assert list(shown.status) == list(api.status)
    np.testing.assert_allclose(shown.te.to_numpy(float), api.te.to_numpy(float), rtol=1e-6,
                               atol=1e-9)
    np.testing.assert_allclose(shown.tax_economic.to_numpy(float),
                               api.tax_economic.to_numpy(float), rtol=1e-6,
                               atol=0.01)


# ----------------------------------------------------------------------------- controls
def test_picker_lists_the_sample_clients():
    p = ProfilePicker(selected="retiree")
    assert {"household", "retiree", "tech-exec"} <= set(p.names)
    assert p.value.endswith("retiree/profile.toml")
    p.select("household")
    assert p.value == str(HOUSEHOLD)


def test_planner_modes_and_plan_text():
    assert TransitionPlanner(years=7).plan == "7y"
    assert TransitionPlanner(mode="budget", budget=15_000)._budget.value == 15_000
    t = TransitionPlanner()
    assert (t.mode, t.plan) == ("timeline", "3y")
    t.years = 7
    assert t.plan == "7y"
    t.mode = "budget"
    t.budget = 42_000  # the slider's step is $5,000
    assert t.plan == "budget:40000"
    assert t._years.layout.display == "none" and t._budget.layout.display is None
    t.years = 99
    assert t.years == 10
    t.mode = "timeline"
    assert t.plan == "10y"


def test_planner_adopts_the_profile_preference():
    t = TransitionPlanner()
    t.client = load_client(clients_dir() / "retiree" / "profile.toml")  # timeline, 5 years
    assert t.plan == "5y"
    t.client = load_client(clients_dir() / "philanthropist" / "profile.toml")  # $25k
    assert t.plan == "budget:25000"
    t.client = load_client(clients_dir() / "tech-exec" / "profile.toml")  # with a ST/LT split
    assert t.plan == "budget:150000:st=0:lt=150000"
    assert "short-term at most $0" in t._text.value
    t.client = load_client(clients_dir() / "young-pro" / "profile.toml")  # immediate
    assert t.plan == "budget:150000:st=0:lt=150000"  # kept; immediate is a reference row
    assert "immediate" in t._text.value
    t.client = load_client(HOUSEHOLD)  # no [transition]: client_plan's $0 budget
    assert t.plan == "budget:0"


def test_restriction_editor_edits_on_top_of_the_profile():
    ed = RestrictionEditor()
    ed.client = load_client(clients_dir() / "philanthropist" / "profile.toml")
    base = ed.client.profile.restrictions
    assert ed.restrictions == base  # the profile's own screens, nothing changed
    assert ed._boxes["tobacco"].value and ed._boxes["gambling"].value
    ed.set_category("alcohol")
    assert ed.restrictions.categories == base.categories + ("alcohol",)
    ed.set_no_buy("tsla; nvda,  NOT_A_TICKER brk-b")
    assert ed.restrictions.no_buy == ("TSLA", "NVDA", "BRK.B")
    assert ed.unknown == ["NOT_A_TICKER"]
    assert "NOT_A_TICKER" in ed._note.value
    ed.reset()
    assert ed.restrictions == base and ed.unknown == []


# ------------------------------------------------------------------------------ uploads
def test_initial_proposal_is_the_profiles(dash, engine):
    picker, upload, editor, planner, view = dash
    assert upload.client is not None and upload.client.client_id == "household"
    assert "household_lots.csv (profile)" in upload.source
    assert planner.plan == "budget:0"  # no [transition]: a $0 budget, as client_plan says
    assert view.plan == "budget:0"
    assert view.restrictions == upload.client.profile.restrictions
    assert len(view.frontier.all_points) == len(GAMMAS) + 2
    # one computation for the whole wiring: the later links hit the cache
    assert engine.calls == {"prepare": 1, "first_trades": 1, "frontier": 1, "transition": 1}
    assert 'data-state="ready"' in view._status.value


def test_upload_of_a_good_file_validates_with_the_profile(dash, engine):
    picker, upload, editor, planner, view = dash
    calls = dict(engine.calls)
    data = HOUSEHOLD_LOTS.read_bytes()
    # as the kernel receives it from the browser (FileUpload's deserialised value)
    upload._upload.set_state({"value": [{
        "name": "household_lots.csv", "type": "text/csv", "size": len(data),
        "content": memoryview(data), "last_modified": 1_785_000_000_000}]})
    assert upload.error == "" and upload.issues == []
    assert upload.source == "household_lots.csv (uploaded)"
    assert upload._upload.value == ()  # cleared so the same file can be sent again
    api = load_client(HOUSEHOLD, lots_files=[HOUSEHOLD_LOTS])
    pd.testing.assert_frame_equal(
        upload.client.lots.lots.drop(columns="source_file"),
        api.lots.lots.drop(columns="source_file"))
    assert client_key(upload.client) == client_key(api)
    # the same lots as the profile's: every result comes from the cache
    assert engine.calls == calls
    assert "60</span> lots" in upload._info.value


def test_toggle_restriction_updates_frontier_and_trades_to_the_apis(dash, engine,
                                                                    api_household):
    picker, upload, editor, planner, view = dash
    fig = view._fig
    before_y = list(fig.data[0].y)
    before_trades = view._trades.value
    editor.set_category("fossil_fuels")
    assert view.restrictions.categories == ("fossil_fuels",)
    assert view.error == ""
    c, setup, fr = api_household
    assert client_key(view.setup.client) == client_key(c)
    # the frontier: same table as the API's, drawn in the same FigureWidget (in place)
    _assert_frontier_equal(view.frontier.table, fr.table)
    assert view._fig is fig
    ok = fr.table[fr.table.status.isin(["optimal", "optimal_inaccurate", "current"])]
    np.testing.assert_allclose(fig.data[0].y, ok.tax_economic_pct, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(fig.data[0].x, 100 * ok.te, rtol=1e-6)
    assert list(fig.data[0].y) != before_y
    # the synced snapshot a front end that renders later starts from
    np.testing.assert_allclose(fig._widget_data[0]["y"], fig.data[0].y)
    # the first-year trades: same as the API's
    api_fy = first_trades(setup, view.plan, TS)
    pd.testing.assert_frame_equal(view.first_year.trades, api_fy.trades, rtol=1e-6)
    assert view._trades.value != before_trades
    shown_te = _texts(view._summary.value, "pma-te-value")
    assert shown_te == [fmt_pct(api_fy.summary.te_after)]
    assert _texts(view._summary.value, "pma-tax-value") == [fmt_usd(api_fy.summary.tax)]
    assert _texts(view._summary.value, "pma-trade-count") == [str(len(api_fy.trades))]
    # the plan's marker on the frontier is the first-year trade
    marker = fig.data[-1]
    assert marker.x[0] == pytest.approx(100 * api_fy.summary.te_after, rel=1e-6)
    # the largest trade is the table's first row
    biggest = api_fy.trades.loc[api_fy.trades.value.abs().idxmax()]
    assert f'data-ticker="{biggest.ticker}"' in view._trades.value.split("<tbody>")[1][:200]


def test_mode_switch_reruns_only_the_plan_dependent_stages(dash, engine, api_household):
    picker, upload, editor, planner, view = dash
    frontier_calls = engine.calls["frontier"]
    prepare_calls = engine.calls["prepare"]
    old_comparison = view._comparison.value
    planner.mode = "timeline"
    planner.years = 5
    assert view.plan == "5y"
    assert engine.calls["frontier"] == frontier_calls
    assert engine.calls["prepare"] == prepare_calls
    c, setup, fr = api_household
    api = run_transition(setup, ["5y", "immediate"], TS)
    shown = view.analysis.comparison
    # the client's own plan (household: its $20,000 budget) is always compared
    assert list(shown.plan) == ["5y", "immediate", "budget:20000", "hold"] == \
        list(api.comparison.plan)
    num = [k for k in api.comparison.columns if k not in ("plan", "label", "failed", "notes")]
    np.testing.assert_allclose(shown[num].to_numpy(float), api.comparison[num].to_numpy(float),
                               rtol=1e-6, atol=0.01)
    assert view._comparison.value != old_comparison
    row = re.search(r'<tr class="pma-chosen" data-plan="5y">(.*?)</tr>', view._comparison.value)
    assert row is not None
    total = api.comparison.set_index("plan").loc["5y", "tax_total"]
    assert f'pma-col-tax_total">{html.escape(fmt_usd(total))}<' in row.group(1)
    assert view.timings["plan"] == "5y" and view.timings["frontier_cached"]


def test_bad_upload_lists_every_issue_and_keeps_the_client(dash):
    picker, upload, editor, planner, view = dash
    before = upload.client
    shown_before = view.first_year
    ok = upload.handle_upload("bad_negative_shares.csv", BAD_SHARES.read_bytes())
    assert not ok
    assert upload.client is before and view.first_year is shown_before
    codes = [(i.code, i.row, i.column) for i in upload.issues]
    assert ("non_positive_shares", 3, "shares") in codes
    panel = upload._panel.value
    assert 'class="pma-error-panel"' in panel
    assert 'data-code="non_positive_shares" data-row="3" data-column="shares"' in panel
    assert ('<span class="pma-issue-file">bad_negative_shares.csv</span>, row '
            '<span class="pma-issue-row">3</span>, column <span class="pma-issue-column">'
            'shares</span>, value <span class="pma-issue-value">-40</span>') in panel
    assert "shares must be greater than zero" in panel
    assert "pma-upload-" not in panel  # the temporary path is never shown
    assert "nothing was loaded" in upload.error
    # a good upload clears the panel again
    assert upload.handle_upload("household_lots.csv", HOUSEHOLD_LOTS.read_bytes())
    assert "pma-error-panel" not in upload._panel.value


@pytest.mark.parametrize("name", ["bad_semicolon.csv", "bad_formula.xlsx", "bad_lots.json",
                                  "bad_empty.csv"])
def test_bad_uploads_report_the_engines_issue(name):
    expected = pd.read_csv(bad_inputs_dir() / "expected_errors.csv", dtype=str)
    exp = expected[expected.file == name].iloc[0]
    up = HoldingsUpload()
    up.profile_path = str(bad_inputs_dir() / "base_profile.toml")
    assert up.client is not None
    assert not up.handle_upload(name, (bad_inputs_dir() / name).read_bytes())
    assert exp.code in {i.code for i in up.issues}
    assert f'data-code="{exp.code}"' in up._panel.value


def test_upload_size_limit_and_xlsx():
    up = HoldingsUpload(max_bytes=1_000)
    up.profile_path = str(clients_dir() / "retiree" / "profile.toml")
    good = up.client
    xlsx = clients_dir() / "retiree" / "positions_2026-07-31.xlsx"
    assert not up.handle_upload(xlsx.name, xlsx.read_bytes())
    assert "the limit is 0.0 MB" in up.error or "limit" in up.error
    assert up.client is good and "pma-error-panel" in up._panel.value
    up.max_bytes = 5_000_000
    assert up.handle_upload(xlsx.name, xlsx.read_bytes())
    assert up.source == f"{xlsx.name} (uploaded)"
    api = load_client(clients_dir() / "retiree" / "profile.toml", lots_files=[xlsx])
    assert client_key(up.client) == client_key(api)


def test_upload_without_profile_is_refused():
    up = HoldingsUpload()
    assert not up.handle_upload("x.csv", b"a,b\n1,2\n")
    assert "profile" in up.error


# ----------------------------------------------------------------------- view behaviour
def test_engine_error_is_shown_not_raised(engine):
    view = ProposalView(engine=engine, debounce=0)
    view.client = load_client(HOUSEHOLD)
    view.plan = "not-a-plan"
    assert "not understood" in view.error
    assert 'data-state="error"' in view._status.value
    assert "pma-error-panel" in view._error.value
    view.plan = "budget:0"
    assert view.error == "" and view._error.value == ""
    view.close()


def test_debounced_updates_run_once_in_a_worker_thread():
    engine = ProposalEngine(SETTINGS)
    picker, upload, editor, planner, view = build(engine, debounce=0.05)
    assert view.wait(60)
    assert view.timings["scheduler"] == "sync"  # the first result is computed at once
    calls = dict(engine.calls)
    editor.set_category("alcohol")           # not cached: scheduled
    editor.set_category("alcohol", False)    # back to the cached state: shown at once
    editor.set_category("tobacco")           # not cached: supersedes the first
    assert view.busy
    assert 'data-state="busy"' in view._status.value
    assert view.wait(120)
    assert not view.busy
    assert view.restrictions.categories == ("tobacco",)
    assert view.setup.client.profile.restrictions.categories == ("tobacco",)
    assert engine.calls["prepare"] == calls["prepare"] + 1  # "alcohol" never computed
    assert view.timings["scheduler"] == "thread"
    assert view.timings["reason"] == "restrictions"
    assert view.history[-1]["to_trades"] <= view.history[-1]["total"]
    for w in (picker, upload, editor, planner, view):
        w.close()


def test_cache_key_ignores_the_file_but_not_the_content():
    a = load_client(HOUSEHOLD)
    b = load_client(HOUSEHOLD, lots_files=[HOUSEHOLD_LOTS])
    assert client_key(a) == client_key(b)
    c = dataclasses.replace(a, as_of=dt.date(2026, 6, 30))
    assert client_key(c) != client_key(a)
    r = dataclasses.replace(a.profile.restrictions, no_buy=("TSLA",))
    d = dataclasses.replace(a, profile=dataclasses.replace(a.profile, restrictions=r))
    assert client_key(d) != client_key(a)


@pytest.mark.parametrize("name", ["philanthropist", "retiree", "tech-exec", "young-pro"])
def test_every_sample_client_gets_a_proposal(engine, name):
    picker, upload, editor, planner, view = build(engine, selected=name)
    try:
        assert upload.client is not None and upload.client.client_id == name
        assert view.error == "", view.error
        assert view.frontier is not None and view.analysis is not None
        assert view.setup.client.profile.restrictions == upload.client.profile.restrictions
        shown = list(view.analysis.comparison.plan)
        assert shown[0] == planner.plan and shown[-1] == "hold"
        prof = upload.client.profile
        gift = prof.charity.annual_gift if prof.charity else 0.0
        api = first_trades(view.setup, parse_plan(planner.plan, gift), TS)
        pd.testing.assert_frame_equal(view.first_year.trades, api.trades, rtol=1e-6)
    finally:
        for w in (picker, upload, editor, planner, view):
            w.close()


def test_generation_counts_input_changes(engine):
    view = ProposalView(engine=engine, debounce=0)
    view.client = load_client(HOUSEHOLD)
    view.plan = "budget:0"
    g = view.generation
    assert f'data-generation="{g}"' in view._status.value
    view.plan = "3y"
    assert view.generation == g + 1
    assert f'data-generation="{g + 1}"' in view._status.value
    view.close()
