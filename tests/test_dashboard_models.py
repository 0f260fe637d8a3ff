"""The dashboard's model files (issue 15): upload a risk model, a benchmark or a target.

The files are checked by the command line's reader (:func:`pma_lab.io.models.read_models`)
through :func:`pma_lab.app.dashboard.compute.read_model_uploads`; the engine's caches are
keyed on their content; the widget keeps its previous state on a bad file and shows every
problem (file, row, column, fix) HTML-escaped; the view shows the proposal's "Models used"
table. Every number is compared with the public API called directly here.
"""

from __future__ import annotations

import html
import re
import subprocess

import pandas as pd
import pytest

from pma_lab.app.dashboard import build_dashboard
from pma_lab.app.dashboard.compute import (
    DashboardModels,
    DashboardSettings,
    ModelUpload,
    ProposalEngine,
    client_key,
    read_model_uploads,
)
from pma_lab.errors import BenchmarkFileError, ModelFileError, SettingsError
from pma_lab.io.client import load_client
from pma_lab.io.models import ModelFiles, read_models
from pma_lab.optimize.engine import prepare
from pma_lab.paths import clients_dir
from pma_lab.plan.transition import first_trades
from pma_lab.report import proposal as report

pytestmark = pytest.mark.slow

HOUSEHOLD = clients_dir() / "household" / "profile.toml"
SETTINGS = DashboardSettings.from_proposal(horizon_years=2, steps_per_year=1, mc_paths=0,
                                           workers=1, frontier_points=5)
TS = SETTINGS.transition_settings()
NAMES = ("AAPL MSFT AMZN GOOGL META NVDA JPM JNJ V PG XOM HD MA PFE KO PEP CSCO INTC WMT "
         "LLY").split()


def weights_csv(names=NAMES, weight: str = "0.05") -> bytes:
    """Equal weights (20 names at 0.05 sum to 1 exactly as written)."""
    return ("ticker,weight\n" + "".join(f"{t},{weight}\n" for t in names)).encode()


GOOD = weights_csv()
OTHER = weights_csv(NAMES[:10], "0.1")  # 10 names: another benchmark


@pytest.fixture(scope="module")
def client():
    return load_client(HOUSEHOLD)


@pytest.fixture(scope="module")
def engine():
    return ProposalEngine(SETTINGS)


# ------------------------------------------------------------------------- reading uploads
def test_a_good_benchmark_is_read_as_the_cli_reads_it(client, tmp_path):
    m = read_model_uploads([ModelUpload("benchmark", "my bench.csv", GOOD)], client)
    (tmp_path / "my bench.csv").write_bytes(GOOD)
    cli = read_models(benchmark=tmp_path / "my bench.csv", as_of=client.as_of, client=client)
    pd.testing.assert_series_equal(m.files.benchmark.weights, cli.benchmark.weights)
    # described, and named, after the uploaded file (never the temporary one)
    assert m.files.describe() == cli.describe() == {
        "benchmark": "your benchmark weights, my bench.csv (20 stocks)"}
    assert m.files.benchmark.label == cli.benchmark.label == "my bench"
    assert m.prepare_args().keys() == {"benchmark"}
    assert not m.packaged and m.fits(client)
    assert DashboardModels().packaged and DashboardModels().key == ""


def test_the_key_follows_the_content_and_the_name(client):
    a = read_model_uploads([ModelUpload("benchmark", "b.csv", GOOD)], client)
    again = read_model_uploads([ModelUpload("benchmark", "b.csv", GOOD)], client)
    assert a.key == again.key and a.key != ""
    assert read_model_uploads([ModelUpload("benchmark", "b.csv", OTHER)], client).key != a.key
    # a custom benchmark is named after its file: another name is another result
    assert read_model_uploads([ModelUpload("benchmark", "c.csv", GOOD)], client).key != a.key
    # the same bytes as a target are another model
    tgt = weights_csv(NAMES[1:11], "0.1")  # (the household may not add AAPL)
    assert read_model_uploads([ModelUpload("target", "b.csv", tgt)], client).key != \
        read_model_uploads([ModelUpload("benchmark", "b.csv", tgt)], client).key


def test_a_bad_file_names_the_uploaded_file_row_column_and_fix(client):
    bad = GOOD.replace(b"JPM,0.05", b"JPMX,0.05")
    with pytest.raises(BenchmarkFileError) as e:
        read_model_uploads([ModelUpload("benchmark", "bench.csv", bad)], client)
    (issue,) = e.value.issues
    assert (issue.file, issue.row, issue.column, issue.value, issue.code) == \
        ("bench.csv", 8, "ticker", "JPMX", "unknown_ticker")
    assert issue.fix.startswith("check the symbol")
    assert "pma-models-" not in str(e.value) and "/tmp" not in str(e.value)


def test_weights_not_summing_to_one_are_refused_never_rescaled(client):
    with pytest.raises(ModelFileError) as e:
        read_model_uploads([ModelUpload("target", "t.csv", weights_csv(weight="0.04"))],
                           client)
    assert e.value.kind == "target weights"
    assert any("sum" in i.message for i in e.value.issues)


def test_names_outside_the_packaged_risk_model_are_named_by_row(client, engine):
    setup, _ = engine.setup(client)
    assert "UNH" not in setup.risk.tickers  # too little price history at the date
    names = [*NAMES[:19], "UNH"]
    with pytest.raises(BenchmarkFileError) as e:
        read_model_uploads([ModelUpload("benchmark", "b.csv", weights_csv(names))], client,
                           covered=setup.risk.tickers)
    (issue,) = e.value.issues
    assert (issue.row, issue.column, issue.value, issue.code) == \
        (21, "ticker", "UNH", "not_in_risk_model")
    # prepare refuses the same file (the check says so before the proposal is computed)
    bench = read_model_uploads([ModelUpload("benchmark", "b.csv", weights_csv(names))],
                               client).files.benchmark
    with pytest.raises(Exception, match="UNH"):
        prepare(client, risk=setup.risk, benchmark=bench)


def test_one_file_per_kind(client):
    with pytest.raises(SettingsError, match="one file per kind"):
        read_model_uploads([ModelUpload("target", "a.csv", GOOD),
                            ModelUpload("target", "b.csv", GOOD)], client)
    with pytest.raises(SettingsError, match="kind must be one of"):
        ModelUpload("covariance", "a.csv", GOOD)


# ---------------------------------------------------------------------------------- engine
def test_the_engine_keys_results_on_the_model_content(client, engine):
    packaged, _ = engine.setup(client)
    assert engine.key(client) == engine.key(client, DashboardModels()) == client_key(client)
    m = read_model_uploads([ModelUpload("benchmark", "b.csv", GOOD)], client)
    before = engine.calls.get("prepare", 0)
    s1, hit = engine.setup(client, m)
    assert not hit and engine.calls["prepare"] == before + 1
    assert s1 is not packaged and s1.benchmark.label == "b"
    assert s1.risk is packaged.risk  # the date's packaged risk model is shared
    # the same file uploaded again: the cache; another file: computed afresh
    again = read_model_uploads([ModelUpload("benchmark", "b.csv", GOOD)], client)
    assert engine.setup(client, again) == (s1, True)
    s2, hit = engine.setup(client, read_model_uploads(
        [ModelUpload("benchmark", "b.csv", OTHER)], client))
    assert not hit and list(s2.benchmark.weights.index) != list(s1.benchmark.weights.index)
    # the packaged models still come from their own entry
    assert engine.setup(client) == (packaged, True)
    # the trades are the API's with the same benchmark
    fy, hit = engine.first_year(client, s1, "3y", m)
    assert not hit
    want = first_trades(prepare(client, risk=packaged.risk, benchmark=m.files.benchmark),
                        "3y", TS)
    assert fy.summary.te_after == pytest.approx(want.summary.te_after, rel=1e-6)
    assert fy.summary.tax == pytest.approx(want.summary.tax, abs=0.01)
    assert engine.first_year(client, packaged, "3y")[1] is False  # not the custom entry
    assert engine.transition_key(client, "3y", m) != engine.transition_key(client, "3y")


def test_a_risk_model_file_is_never_cached_as_the_dates(client, engine):
    packaged, _ = engine.setup(client)
    # the packaged model's own covariances, as a file, for the names the client holds and
    # the 20 of GOOD (53 stocks: all 496 made the set-up's dense problem take a minute)
    frame = packaged.risk.covariance()
    names = [t for t in frame.index if t in set(client.lots.lots.ticker) | set(NAMES)]
    assert set(client.lots.lots.ticker) <= set(names) and len(names) < len(frame) / 4
    m = read_model_uploads([ModelUpload("risk", "cov.csv",
                                        frame.loc[names, names].to_csv().encode())], client)
    s, hit = engine.setup(client, m)
    assert not hit and s.risk is not packaged.risk
    assert list(s.risk.tickers) == names  # the file's model, not the date's
    assert engine.risk_for(client) is packaged.risk
    assert engine.setup(client) == (packaged, True)  # the date's entry is untouched
    assert m.files.describe()["risk"].startswith("your covariance matrix, cov.csv")


# ---------------------------------------------------------------------------------- widgets
def build(engine: ProposalEngine, selected: str = "household"):
    """The notebook's page (``build_dashboard``, its own call), synchronous, no prefetch."""
    return build_dashboard(selected, engine=engine, debounce=0.0, prefetch=False)


def _sources(d) -> dict[str, str]:
    """The panel's list: kind -> file name in use ("" for the packaged model)."""
    return dict(re.findall(r'data-kind="(\w+)" data-file="([^"]*)"', d.models._info.value))


@pytest.fixture(scope="module")
def dash(engine):
    d = build(engine)
    yield d
    d.close()


def test_the_page_starts_with_the_packaged_models_named_as_the_proposal_names_them(dash):
    view = dash.view
    assert dash.models.models.packaged and view.models_for(view.client) is None
    assert _sources(dash) == {"risk": "", "benchmark": "", "target": ""}
    assert view._models.value == report.models_table(ModelFiles(), view.setup)._repr_html_()
    assert "Models used in this proposal" in view._models.value
    assert "Our factor model of" in view._models.value
    assert dash.models._reset.disabled


def test_a_good_benchmark_file_re_prepares_the_client_with_it(dash, engine):
    view, before = dash.view, dash.view.setup
    calls = engine.calls.get("prepare", 0)
    assert dash.models.handle_upload("benchmark", "my_bench.csv", GOOD)
    m = dash.models.models
    assert view.models is m and m.upload("benchmark").content == GOOD
    assert engine.calls["prepare"] == calls + 1
    assert view.setup is not before and view.setup.benchmark.label == "my_bench"
    # the proposal's "Models used" table, with the proposal's words for the file
    assert view._models.value == report.models_table(m.files, view.setup)._repr_html_()
    assert "Your benchmark weights, my_bench.csv (20 stocks)" in view._models.value
    assert _sources(dash)["benchmark"] == "my_bench.csv" and not dash.models._reset.disabled
    # the trades are the API's for the client prepared with the same file
    c = view.setup.client
    want = first_trades(prepare(c, risk=before.risk, benchmark=m.files.benchmark),
                        view.plan, TS)
    assert view.first_year.summary.te_after == pytest.approx(want.summary.te_after, rel=1e-6)
    assert view.first_year.summary.tax == pytest.approx(want.summary.tax, abs=0.01)
    te_years = report.te_years_table(view.analysis, view.setup.benchmark).caption
    assert "my_bench" in te_years  # the comparison tracks the file's benchmark


def test_a_bad_file_shows_every_problem_escaped_and_keeps_the_models(dash, engine):
    view, models = dash.view, dash.models
    good, setup, fy = models.models, view.setup, view.first_year
    calls = dict(engine.calls)
    evil = "<img src=x onerror=alert(1)>.csv"
    bad = GOOD.replace(b"JPM,0.05", b"JPM<b>,0.05").replace(b"KO,0.05", b"KO,0.5")
    assert not models.handle_upload("benchmark", evil, bad)
    panel = models._panel.value
    assert "<img" not in panel and "<b>," not in panel and "&lt;img src=x" in panel
    assert models.error.startswith(f"{evil}: ") and "nothing was loaded" in models.error
    assert "The proposal still uses my_bench.csv." in models.error
    issue = next(i for i in models.issues if i.row == 8)
    assert (issue.file, issue.column) == (evil, "ticker")
    assert 'data-row="8" data-column="ticker"' in panel
    assert html.escape(issue.fix) in panel and "Fix:" in panel
    # nothing changed: the models, the view's setup and trades, no computation
    assert models.models is good and view.models is good
    assert view.setup is setup and view.first_year is fy and engine.calls == calls
    assert _sources(dash)["benchmark"] == "my_bench.csv"
    models.reset()
    assert _sources(dash) == {"risk": "", "benchmark": "", "target": ""}
    assert models._panel.value == "" and models.error == "" and models._reset.disabled


def test_the_same_file_again_comes_from_the_cache_and_reset_uses_the_packaged(dash, engine):
    view, models = dash.view, dash.models
    assert models.handle_upload("benchmark", "my_bench.csv", GOOD) and models._panel.value == ""
    custom, calls = view.setup, dict(engine.calls)
    models.reset()
    assert models.models.packaged and view.models_for(view.client) is None
    assert view.setup.benchmark.label == "S&P 500" and engine.calls == calls  # cached
    assert "Your benchmark" not in view._models.value
    assert models.handle_upload("benchmark", "my_bench.csv", GOOD)
    assert view.setup is custom and engine.calls == calls  # the file's results, cached
    models.reset()


def _kept_below(names=NAMES) -> bytes:
    """``names`` with AAPL (the household's kept name, 3.24 % today) at 1 %, MSFT at 9 %
    and the others at 5 % (summing to 1 as written)."""
    assert names[:2] == ["AAPL", "MSFT"]
    return ("ticker,weight\nAAPL,0.01\nMSFT,0.09\n"
            + "".join(f"{t},0.05\n" for t in names[2:])).encode()


def test_a_target_file_is_checked_against_the_clients_keep_list(dash):
    """The household keeps AAPL (never sold, 3.24 % of what is managed today): a target
    file may weight it at today's weight or more, as ``prepare(target=...)`` may (session
    25: it was refused as screened out), never less (the row and both weights named)."""
    models = dash.models
    assert not models.handle_upload("target", "target.csv", _kept_below())
    issue = next(i for i in models.issues if i.value == "0.01")
    assert (issue.row, issue.column, issue.code) == (2, "weight", "kept_below_today")
    assert ("AAPL is 3.24% of what is managed today, the target gives it 1.00%"
            in models._panel.value)
    assert models.models.packaged
    assert models.handle_upload("target", "target.csv", GOOD)  # AAPL at 5 %: held at 3.24 %
    w = dash.view.setup.target.weights
    kept = dash.view.setup.target.diagnostics["fixed"]["AAPL"]
    assert w["AAPL"] == pytest.approx(kept) and \
        w.drop("AAPL").to_numpy() == pytest.approx((1 - kept) / 19)
    models.reset()
    tgt = weights_csv(NAMES[1:11], "0.1")
    assert models.handle_upload("target", "target.csv", tgt)
    assert "Your target weights, target.csv (10 stocks)" in dash.view._models.value
    # the kept AAPL (never sold) at today's weight, the file's ten names scaled to the
    # rest (session 24: the target is built around the keep list; it was left out)
    w = dash.view.setup.target.weights
    assert sorted(w[w > 0].index) == sorted(["AAPL", *NAMES[1:11]])
    kept = dash.view.setup.target.diagnostics["fixed"]["AAPL"]
    assert w["AAPL"] == pytest.approx(kept) and \
        w.drop("AAPL").to_numpy() == pytest.approx((1 - kept) / 10)
    assert "the given target&#x27;s other names are scaled to the remaining" in \
        dash.view._models.value
    models.reset()


def test_another_client_gets_the_files_checked_again(engine):
    d = build(engine)
    try:
        assert d.models.handle_upload("benchmark", "b.csv", GOOD)
        d.picker.select("retiree")
        assert d.view.client.client_id == "retiree"
        assert d.models.models.fits(d.view.client) and not d.models.models.packaged
        assert d.view.setup.client.client_id == "retiree"
        assert d.view.setup.benchmark.label == "b"
        # a target the next client's screens refuse: the panel says so, packaged models
        d.models.reset()
        # the retiree may not buy XOM; the household keeps AAPL, at 3.24 % today
        tgt = _kept_below([t if t != "XOM" else "ORCL" for t in NAMES])
        assert d.models.handle_upload("target", "t.csv", tgt)
        n = len(d.view.history)
        d.picker.select("household")
        # no update of the retiree with the packaged models on the way (nothing stale)
        assert [h.get("client") for h in d.view.history[n:]] == ["household"]
        assert d.models.models.packaged and d.view.models_for(d.view.client) is None
        assert "t.csv cannot be used for household" in d.models.error
        assert "kept_below_today" in d.models._panel.value
        assert d.view.setup.client.client_id == "household"
        assert "Your target" not in d.view._models.value
    finally:
        d.close()


def test_the_proposal_pdf_uses_the_model_files_on_screen(engine, tmp_path):
    d = build(engine, selected="young-pro")
    panel = d.export  # the page's own
    try:
        assert d.models.handle_upload("benchmark", "bench_20.csv", GOOD)
        panel.export_pdf(wait=True)
        assert panel.error == "", panel.error
        (tmp_path / "p.pdf").write_bytes(panel.files[panel.last])
        text = subprocess.run(["pdftotext", str(tmp_path / "p.pdf"), "-"],
                              capture_output=True, text=True, check=True).stdout
        # the proposal's "Models used" names the file, as the page's table does
        assert "Your benchmark weights, bench_20.csv (20 stocks)" in " ".join(text.split())
        assert "Your benchmark weights, bench_20.csv (20 stocks)" in d.view._models.value
    finally:
        d.close()
