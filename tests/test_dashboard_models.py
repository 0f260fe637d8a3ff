"""The dashboard's model files (issue 15): upload a risk model, a benchmark or a target.

The files are checked by the command line's reader (:func:`pma_lab.io.models.read_models`)
through :func:`pma_lab.app.dashboard.compute.read_model_uploads`; the engine's caches are
keyed on their content; the widget keeps its previous state on a bad file and shows every
problem (file, row, column, fix) HTML-escaped; the view shows the proposal's "Models used"
table. Every number is compared with the public API called directly here.
"""

from __future__ import annotations

import pandas as pd
import pytest

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
from pma_lab.io.models import read_models
from pma_lab.optimize.engine import prepare
from pma_lab.paths import clients_dir
from pma_lab.plan.transition import first_trades

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
    frame = packaged.risk.covariance()  # the packaged model's covariance, as a file
    m = read_model_uploads([ModelUpload("risk", "cov.csv", frame.to_csv().encode())],
                           client)
    s, hit = engine.setup(client, m)
    assert not hit and s.risk is not packaged.risk
    assert engine.risk_for(client) is packaged.risk
    assert m.files.describe()["risk"].startswith("your covariance matrix, cov.csv")
