"""pma_lab.io.models: a researcher's risk model, benchmark and target read from files, each
bad file refused with its file, row, column and fix (issue 15)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pma_lab.errors import BenchmarkFileError, InputError, ModelFileError
from pma_lab.io.models import read_models, read_risk_model, read_target_weights
from pma_lab.optimize.engine import kept_weights_today

DAY = "2026-06-30"
NAMES = ["AAPL", "MSFT", "JNJ", "PG", "KO", "PYPL"]
VOLS = np.array([0.30, 0.25, 0.17, 0.17, 0.17, 0.20])


def _cov() -> pd.DataFrame:
    """A correlated 6-name covariance (annualised, positive definite)."""
    corr = np.full((6, 6), 0.3) + 0.7 * np.eye(6)
    return pd.DataFrame(np.outer(VOLS, VOLS) * corr, index=NAMES, columns=NAMES)


def _factor_parts() -> dict[str, pd.DataFrame]:
    x = pd.DataFrame({"market": [1.1, 0.9, 0.6, 0.5, 0.6, 1.3],
                      "size": [0.2, 0.1, -0.1, 0.0, 0.0, 0.3]},
                     index=pd.Index(NAMES, name="ticker"))
    f = pd.DataFrame([[0.03, 0.001], [0.001, 0.01]], index=["market", "size"],
                     columns=["market", "size"])
    d = pd.DataFrame({"ticker": NAMES, "specific_var": [0.04, 0.03, 0.02, 0.02, 0.02, 0.05]})
    return {"loadings": x, "factor_cov": f, "specific_var": d}


def _write_folder(folder: Path, parts: dict[str, pd.DataFrame]) -> Path:
    folder.mkdir(exist_ok=True)
    for name, frame in parts.items():
        frame.to_csv(folder / f"{name}.csv", index=name != "specific_var")
    return folder


def _error(exc_info) -> tuple[str, tuple[str, ...]]:
    return str(exc_info.value), exc_info.value.codes


# ----------------------------------------------------------------------------- good files
def test_a_covariance_file_is_the_matrix_exactly(tmp_path):
    cov = _cov()
    cov.to_csv(tmp_path / "cov.csv")
    cov.to_excel(tmp_path / "cov.xlsx")
    w = pd.Series([0.5, 0.5, 0, 0, 0, 0], index=NAMES)
    b = pd.Series(1 / 6, index=NAMES)
    a = (w - b).to_numpy()
    exact = float(np.sqrt(a @ cov.to_numpy() @ a))
    for f in ("cov.csv", "cov.xlsx"):
        rm, kind = read_risk_model(tmp_path / f)
        assert kind == "covariance" and rm.tickers == tuple(NAMES)
        assert rm.tracking_error(w, b) == pytest.approx(exact, rel=1e-12)


def test_the_matrix_rows_may_come_in_another_order(tmp_path):
    cov = _cov()
    cov.iloc[::-1].to_csv(tmp_path / "cov.csv")  # rows reversed, header as is
    rm, _ = read_risk_model(tmp_path / "cov.csv")
    w, b = pd.Series({"AAPL": 1.0}), pd.Series({"KO": 1.0})
    exact = float(np.sqrt(cov.loc["AAPL", "AAPL"] + cov.loc["KO", "KO"]
                          - 2 * cov.loc["AAPL", "KO"]))
    assert rm.tracking_error(w, b) == pytest.approx(exact, rel=1e-12)


def test_a_factor_model_from_a_folder_or_a_workbook(tmp_path):
    parts = _factor_parts()
    folder = _write_folder(tmp_path / "fm", parts)
    with pd.ExcelWriter(tmp_path / "fm.xlsx") as xl:
        for name, frame in parts.items():
            frame.to_excel(xl, sheet_name=name, index=name != "specific_var")
    x, f = parts["loadings"].to_numpy(), parts["factor_cov"].to_numpy()
    sigma = x @ f @ x.T + np.diag(parts["specific_var"].specific_var)
    w, b = pd.Series({"AAPL": 1.0}), pd.Series({"PG": 1.0})
    a = np.array([1, 0, 0, -1, 0, 0.0])
    for src in (folder, tmp_path / "fm.xlsx"):
        rm, kind = read_risk_model(src)
        assert kind == "factor" and rm.factors == ("market", "size")
        assert rm.tracking_error(w, b) == pytest.approx(float(np.sqrt(a @ sigma @ a)))


def test_read_models_gives_prepare_its_arguments_and_says_what_was_read(tmp_path):
    _cov().to_csv(tmp_path / "cov.csv")
    pd.DataFrame({"ticker": NAMES, "weight": [0.3, 0.3, 0.1, 0.1, 0.1, 0.1]}).to_csv(
        tmp_path / "bench.csv", index=False)
    pd.DataFrame({"ticker": ["AAPL", "MSFT", "JNJ"], "weight": [0.4, 0.4, 0.2]}).to_csv(
        tmp_path / "target.csv", index=False)
    m = read_models(risk_model=tmp_path / "cov.csv", benchmark=tmp_path / "bench.csv",
                    target=tmp_path / "target.csv", as_of=DAY)
    args = m.prepare_args()
    assert set(args) == {"risk", "benchmark", "target"}
    assert args["benchmark"].weights.sum() == pytest.approx(1.0)
    assert list(args["target"].index) == ["AAPL", "MSFT", "JNJ"]
    assert m.describe() == {
        "risk": "your covariance matrix, cov.csv (6 stocks)",
        "benchmark": "your benchmark weights, bench.csv (6 stocks)",
        "target": "your target weights, target.csv (3 stocks)"}
    assert read_models(as_of=DAY).prepare_args() == {}


# ------------------------------------------------------------------------------ bad files
def _bad_cov(tmp_path, edit) -> pytest.ExceptionInfo:
    cov = _cov().astype(object)
    cov = edit(cov) if edit else cov
    cov.to_csv(tmp_path / "cov.csv")
    with pytest.raises(ModelFileError) as e:
        read_risk_model(tmp_path / "cov.csv")
    return e


def _set(cov, r, c, v):
    cov.loc[r, c] = v
    return cov


@pytest.mark.parametrize(("edit", "code", "parts"), [
    (lambda c: _set(c, "AAPL", "MSFT", 0.5), "not_symmetric",
     ["row 2, column 'MSFT'", "AAPL/MSFT is 0.5 but MSFT/AAPL is 0.0225", "(M + M.T) / 2"]),
    (lambda c: _set(_set(c, "AAPL", "MSFT", 0.3), "MSFT", "AAPL", 0.3), "not_psd",
     ["not positive semidefinite", "smallest eigenvalue is -", "pma_lab does not repair"]),
    (lambda c: c.rename(index={"KO": "ZZZZ"}, columns={"KO": "ZZZZ"}), "unknown_ticker",
     ["row 1, column 'ZZZZ'", "unknown ticker 'ZZZZ'", "row 6", "check the symbol"]),
    (lambda c: pd.concat([c, c.loc[["MSFT"]]]), "duplicate_row",
     ["row 8", "MSFT has two rows (3 and 8)", "keep one row per ticker"]),
    (lambda c: _set(c, "JNJ", "PG", "abc"), "not_a_number",
     ["row 4, column 'PG'", "not a number", "'abc'"]),
    (lambda c: _set(c, "JNJ", "PG", ""), "missing_value", ["row 4, column 'PG'", "blank"]),
    (lambda c: c.drop(columns="KO"), "label_mismatch",
     ["row 6", "row KO has no column of its own", "add a column KO or remove the row"]),
    (lambda c: c * 10000, "implausible_variance",
     ["row 2, column 'AAPL'", "volatility of 3000% a year", "0.04, not 400"]),
    (lambda c: c / 252, "not_annualised", ["look daily", "multiply them by 252"]),
    (lambda c: _set(c, "KO", "KO", -0.01), "negative_variance",
     ["row 6, column 'KO'", "the variance of KO is negative"]),
])
def test_each_bad_covariance_names_file_row_column_and_fix(tmp_path, edit, code, parts):
    text, codes = _error(_bad_cov(tmp_path, edit))
    assert code in codes
    assert f"{tmp_path / 'cov.csv'}" in text and "risk model file; nothing was loaded" in text
    for p in parts:
        assert p in text, (p, text)


def test_a_covariance_in_another_format_is_refused(tmp_path):
    (tmp_path / "cov.parquet").write_bytes(b"PAR1")
    with pytest.raises(ModelFileError, match="'.parquet' are not read.*csv.*xlsx"):
        read_risk_model(tmp_path / "cov.parquet")


@pytest.mark.parametrize(("edit", "codes", "parts"), [
    (lambda p: p.pop("factor_cov"), ("missing_file",),
     ["factor_cov.csv: error: the factor model folder has no factor_cov file"]),
    (lambda p: p.__setitem__("factor_cov", p["factor_cov"].rename(
        index={"size": "value"}, columns={"size": "value"})), ("label_mismatch",) * 2,
     ["factor size of the loadings has no row and column here",
      "column 'value': error: factor value has no column in the loadings"]),
    (lambda p: p.__setitem__("specific_var", p["specific_var"].iloc[:5]),
     ("missing_ticker",), ["specific_var.csv: error: PYPL has loadings but no specific "
                           "variance", "add a row for PYPL"]),
    (lambda p: p["specific_var"].loc.__setitem__((2, "specific_var"), -0.02),
     ("negative_variance",), ["specific_var.csv, row 4, column 'specific_var'", "'-0.02'"]),
    (lambda p: p.__setitem__("specific_var", p["specific_var"].rename(
        columns={"specific_var": "vol"})), ("missing_column",),
     ["no 'specific_var' column (has 'ticker', 'vol')"]),
    (lambda p: p["factor_cov"].loc.__setitem__(("market", "size"), 0.5),
     ("not_symmetric",), ["factor_cov.csv, row 2, column 'size'", "market/size is 0.5"]),
    (lambda p: p.__setitem__("factor_cov", pd.DataFrame(
        [[0.01, 0.05], [0.05, 0.01]], index=["market", "size"], columns=["market", "size"])),
     ("not_psd",), ["factor covariance is not positive semidefinite"]),
    (lambda p: p["loadings"].loc.__setitem__(("JNJ", "size"), float("nan")),
     ("missing_value",), ["loadings.csv, row 4, column 'size'", "blank"]),
])
def test_each_bad_factor_model_names_its_file(tmp_path, edit, codes, parts):
    p = _factor_parts()
    edit(p)
    folder = _write_folder(tmp_path / "fm", p)
    with pytest.raises(ModelFileError) as e:
        read_risk_model(folder)
    text = str(e.value)
    assert e.value.codes == codes, text
    for part in parts:
        assert part in text, (part, text)


def test_a_target_that_does_not_sum_to_one_is_refused_not_rescaled(tmp_path):
    pd.DataFrame({"ticker": ["AAPL", "MSFT", "JNJ"], "weight": [0.4, 0.4, 0.1]}).to_csv(
        tmp_path / "t.csv", index=False)
    with pytest.raises(ModelFileError) as e:
        read_target_weights(tmp_path / "t.csv")
    assert e.value.codes == ("weights_do_not_sum_to_one",)
    text = str(e.value)
    assert "target weights file" in text and "sum to 0.9, not 1 (rows 2-4)" in text
    assert "column 'weight'" in text and "does not rescale target weights" in text


@pytest.mark.parametrize(("frame", "code", "part"), [
    ({"ticker": ["AAPL", "AAPL", "JNJ"], "weight": [0.4, 0.4, 0.2]}, "duplicate_ticker",
     "row 3, column 'ticker'"),
    ({"ticker": ["AAPL", "NOPE"], "weight": [0.5, 0.5]}, "unknown_ticker",
     "row 3, column 'ticker'"),
    ({"symbol": ["AAPL"], "w": [1.0]}, "missing_column", "no 'weight' column"),
    ({"ticker": ["AAPL", "MSFT"], "weight": [1.5, -0.5]}, "weight_above_one", "row 2"),
    ({"ticker": ["AAPL", "MSFT"], "weight": [0.5, 0.5], "date": ["2026-01-02"] * 2},
     "dated_target", "remove the date column"),
])
def test_each_bad_target_names_row_and_column(tmp_path, frame, code, part):
    pd.DataFrame(frame).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(ModelFileError) as e:
        read_target_weights(tmp_path / "t.csv")
    assert code in e.value.codes and part in str(e.value)
    assert "target weights file" in str(e.value)


def test_names_outside_the_given_risk_model_are_refused_with_their_rows(tmp_path):
    _cov().to_csv(tmp_path / "cov.csv")
    pd.DataFrame({"ticker": ["AAPL", "XOM"], "weight": [0.5, 0.5]}).to_csv(
        tmp_path / "t.csv", index=False)
    pd.DataFrame({"ticker": ["AAPL", "MSFT", "XOM"], "weight": [0.4, 0.4, 0.2]}).to_csv(
        tmp_path / "b.csv", index=False)
    with pytest.raises(ModelFileError) as e:
        read_models(risk_model=tmp_path / "cov.csv", target=tmp_path / "t.csv", as_of=DAY)
    assert e.value.codes == ("not_in_risk_model",)
    assert "t.csv, row 3, column 'ticker'" in str(e.value)
    assert "XOM is not in the risk model" in str(e.value)
    with pytest.raises(BenchmarkFileError) as e:
        read_models(risk_model=tmp_path / "cov.csv", benchmark=tmp_path / "b.csv", as_of=DAY)
    assert "b.csv, row 4, column 'ticker'" in str(e.value)
    assert "benchmark weights file" in str(e.value)


def test_a_benchmark_that_does_not_sum_to_one_is_a_model_file_error(tmp_path):
    pd.DataFrame({"ticker": NAMES, "weight": [0.3, 0.3, 0.1, 0.1, 0.1, 0.2]}).to_csv(
        tmp_path / "b.csv", index=False)
    with pytest.raises(ModelFileError) as e:  # BenchmarkFileError is a ModelFileError
        read_models(benchmark=tmp_path / "b.csv", as_of=DAY)
    assert isinstance(e.value, BenchmarkFileError)
    assert "sum to 1.1, not 1" in str(e.value)


def test_the_error_is_an_input_error_that_survives_a_process_boundary(tmp_path):
    pd.DataFrame({"ticker": ["AAPL"], "weight": [0.5]}).to_csv(tmp_path / "t.csv",
                                                               index=False)
    with pytest.raises(ModelFileError) as e:
        read_target_weights(tmp_path / "t.csv")
    assert isinstance(e.value, InputError)
    back = pickle.loads(pickle.dumps(e.value))
    assert str(back) == str(e.value) and back.kind == "target weights"


def test_every_issue_code_of_a_model_file_is_declared():
    """The codes io.models reports are documented in pma_lab.schema.ISSUE_CODES."""
    import re

    import pma_lab.io.models as models
    from pma_lab.schema import ISSUE_CODES

    src = Path(models.__file__).read_text()
    used = set(re.findall(r'_issue\(\s*[^,]+,\s*"([a-z_0-9]+)"', src))
    used |= set(re.findall(r'Severity\.ERROR,\s*"([a-z_0-9]+)"', src))
    used |= set(re.findall(r'"([a-z_]+)" if (?:not found|"unknown"|text|raw)', src))
    assert {"not_symmetric", "not_psd", "not_in_risk_model", "dated_target"} <= used
    assert not sorted(used - set(ISSUE_CODES))


# ------------------------------------------------------------------ an active model's versions
def _model_file(tmp_path: Path, rows: list[str], header: str = "date,ticker,weight",
                name: str = "manager.csv") -> Path:
    f = tmp_path / name
    f.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return f


def test_every_version_the_client_may_hold_is_checked_and_each_row_named(tmp_path):
    from pma_lab.io.models import check_active_model

    f = _model_file(tmp_path, [
        "2026-01-02,PYPL,0.5", "2026-01-02,KO,0.5",  # history: never held, not checked
        "2026-06-01,AAPL,0.6", "2026-06-01,MSFT,0.4",  # in force on 2026-06-30
        "2027-01-04,AAPL,0.5", "2027-01-04,MU,0.3", "2027-01-04,JNJ,0.2"])  # a later one
    covered = {"AAPL", "MSFT", "JNJ"}
    with pytest.raises(ModelFileError) as e:
        check_active_model(f, DAY, covered, lambda ts: {t: f"why {t}" for t in ts})
    (i,) = e.value.issues
    assert (i.file, i.row, i.column, i.value, i.code) == (str(f), 7, "ticker", "MU",
                                                         "not_covered")
    assert "of the version of 2027-01-04" in i.message and "why MU" in i.message
    assert "2026-06-30" in i.message
    assert "remove MU from the version of 2027-01-04 or substitute" in i.fix
    assert e.value.kind == "active model" and isinstance(e.value, InputError)
    assert "Fix:" in str(e.value) and "row 7" in str(e.value)
    # the file's own header is the column named; covered: the rows come back, none dropped
    g = _model_file(tmp_path, ["2027-01-04,MU,1.0"], "date,Symbol,weight", "other.csv")
    with pytest.raises(ModelFileError) as e:
        check_active_model(g, DAY, covered)
    assert [(i.row, i.column) for i in e.value.issues] == [(2, "Symbol")]
    assert "it is not in the risk model" in e.value.issues[0].message
    rows = check_active_model(f, DAY, covered | {"MU"})
    assert len(rows) == 5 and set(rows.ticker) == {"AAPL", "MSFT", "MU", "JNJ"}


def test_a_malformed_active_model_is_named_as_one_not_as_a_benchmark(tmp_path):
    # the active model is read with the benchmark reader; its problems name the file the
    # user gave ([core] active_model), as a target file's do, never "benchmark weights"
    from pma_lab.io.models import check_active_model, check_active_model_prices

    bad_sum = _model_file(tmp_path, ["2026-06-01,AAPL,0.6", "2026-06-01,MSFT,0.41"])
    unknown = _model_file(tmp_path, ["2026-06-01,AAPL,0.6", "2026-06-01,ZZZQ,0.4"],
                          name="unknown.csv")
    for f, check in ((bad_sum, lambda f: check_active_model(f, DAY, {"AAPL", "MSFT"})),
                     (unknown, lambda f: check_active_model_prices(f, DAY))):
        with pytest.raises(ModelFileError) as e:
            check(f)
        assert e.value.kind == "active model"
        assert not isinstance(e.value, BenchmarkFileError)
        text = str(e.value)
        assert "active model" in text and "benchmark" not in text.lower(), text
    assert "row 3" in str(e.value) and "ZZZQ" in str(e.value)


def test_why_a_name_is_outside_the_packaged_risk_model_is_the_estimators_rule():
    from pma_lab.market.data import load_market
    from pma_lab.portfolio.risk import estimate_risk_model, not_modelled

    m = load_market()
    rm = estimate_risk_model("2026-07-31", market=m)
    priced = list(m.prices.tickers)
    out = not_modelled("2026-07-31", priced + ["SPY"], m)
    assert set(priced) - set(out) == set(rm.tickers)  # one rule: the estimator's
    assert out["SPY"] == "it is a fund; the risk model covers stocks only"
    assert out["BK"] == "its prices end on 2024-03-08, before 2026-07-31"
    assert not_modelled("2026-07-31", ["ATVI", "MU"], m) == {
        "ATVI": "pma_lab has no prices for it"}
    # at ingest only what no risk model can make up for: no price at the date
    assert not_modelled("2026-07-31", ["SPY", "BK", "MU"], m, prices_only=True) == {
        "BK": "its prices end on 2024-03-08, before 2026-07-31"}
    assert not_modelled("2013-02-01", ["ABBV"], m, prices_only=True) == {}
    # ABBV's prices start on 2013-01-02: before that, and in its first days
    assert not_modelled("2012-12-31", ["ABBV"], m) == {
        "ABBV": "its prices start on 2013-01-02, after 2012-12-31"}
    assert not_modelled("2013-02-01", ["ABBV"], m) == {
        "ABBV": "it has 22 days of prices up to 2013-02-01; the risk model needs 60"}


def test_a_later_version_outside_coverage_fails_at_ingest_or_when_prepared(tmp_path):
    """core-active with its 2027-01-04 version naming BK (prices end 2024-03-08): the
    client is refused when read (load_client, so ``lots validate``); naming SPY (a fund,
    priced but outside the risk model): when prepared. Not at the plan's 2027 step."""
    import shutil

    from pma_lab.io.client import load_client
    from pma_lab.optimize.engine import prepare
    from pma_lab.paths import clients_dir

    src = clients_dir() / "core-active"
    for name in ("profile.toml", "lots.csv"):
        shutil.copy(src / name, tmp_path / name)
    text = (src / "active_model.csv").read_text(encoding="utf-8")
    model = tmp_path / "active_model.csv"
    model.write_text(text.replace("2027-01-04,MU,0.05", "2027-01-04,BK,0.05"), encoding="utf-8")
    with pytest.raises(ModelFileError) as e:
        load_client(tmp_path / "profile.toml")
    (i,) = e.value.issues
    assert (i.file, i.row, i.column, i.value, i.code) == (str(model), 38, "ticker", "BK",
                                                         "not_covered")
    assert i.message == ("BK (0.05 of the version of 2027-01-04) is not covered at the "
                         "client's date 2026-07-31: its prices end on 2024-03-08, before "
                         "2026-07-31")
    model.write_text(text.replace("2027-01-04,CAT,0.06", "2027-01-04,SPY,0.06"),
                     encoding="utf-8")
    client = load_client(tmp_path / "profile.toml")  # priced: the risk model decides
    with pytest.raises(ModelFileError) as e:
        prepare(client)
    (i,) = e.value.issues
    assert (i.row, i.column, i.value, i.code) == (41, "ticker", "SPY", "not_covered")
    assert i.message.endswith("2026-07-31: it is a fund; the risk model covers stocks only")
    assert "remove SPY from the version of 2027-01-04 or substitute" in i.fix
    # the same names in a version before the one in force are history: prepared as is
    model.write_text(text.replace("2026-01-02,NFLX,0.06", "2026-01-02,BK,0.06").replace(
        "2026-01-02,CAT,0.03", "2026-01-02,SPY,0.03"), encoding="utf-8")
    assert prepare(load_client(tmp_path / "profile.toml")).completion is not None


def test_every_bad_file_is_listed_at_once_not_one_file_per_run(tmp_path):
    """Reviewer 1 (session 21): a bad risk model hid the benchmark's and the target's
    problems until it was fixed; now one error lists every file's, each with its row."""
    _set(_cov(), "AAPL", "MSFT", 0.5).to_csv(tmp_path / "cov.csv")
    pd.DataFrame({"ticker": NAMES, "weight": [0.3, 0.3, 0.1, 0.1, 0.1, 0.2]}).to_csv(
        tmp_path / "b.csv", index=False)
    pd.DataFrame({"ticker": ["AAPL", "MSFT"], "weight": [0.5, 0.6]}).to_csv(
        tmp_path / "t.csv", index=False)
    from pma_lab.io.models import check_model_files

    args = {"risk_model": tmp_path / "cov.csv", "benchmark": tmp_path / "b.csv",
            "target": tmp_path / "t.csv"}
    for read in (lambda: read_models(**args, as_of=DAY), lambda: check_model_files(**args)):
        with pytest.raises(ModelFileError) as e:
            read()
        text = str(e.value)
        assert "not_symmetric" in e.value.codes and len(e.value.codes) >= 3, text
        assert "row 2, column 'MSFT'" in text and "sum to 1.1, not 1" in text
        for f in ("cov.csv", "b.csv", "t.csv"):
            assert str(tmp_path / f) in text
        assert "risk model, benchmark weights and target weights files" in text
        assert pickle.loads(pickle.dumps(e.value)).issues == e.value.issues
    # one bad file alone keeps its own error class and words
    pd.DataFrame({"ticker": NAMES, "weight": [1 / 6] * 6}).to_csv(tmp_path / "b2.csv",
                                                               index=False)
    _cov().to_csv(tmp_path / "cov2.csv")
    with pytest.raises(BenchmarkFileError):
        read_models(risk_model=tmp_path / "cov2.csv", benchmark=tmp_path / "b.csv", as_of=DAY)


def test_a_bad_file_is_kept_when_another_files_input_error_follows(tmp_path, monkeypatch):
    """Reviewer 2 (session 22, 12): a risk model's problems, caught, were dropped when the
    target's reading raised another input error (here missing prices); both are listed."""
    from pma_lab.errors import MarketDataError
    from pma_lab.io import models

    _set(_cov(), "AAPL", "MSFT", 0.5).to_csv(tmp_path / "cov.csv")
    (tmp_path / "t.csv").write_text("ticker,weight\nAAPL,1\n", encoding="utf-8")

    def no_prices(path, **kw):
        raise MarketDataError(f"{path}: no closing prices on 2026-06-30; give an earlier date")

    monkeypatch.setattr(models, "read_target_weights", no_prices)
    args = {"risk_model": tmp_path / "cov.csv", "target": tmp_path / "t.csv"}
    for read in (lambda: read_models(**args, as_of=DAY),
                 lambda: models.check_model_files(**args)):
        with pytest.raises(ModelFileError) as e:
            read()
        assert "not_symmetric" in e.value.codes, str(e.value)
        [last] = [i for i in e.value.issues if i.code == "unusable_file"]
        assert (last.file, last.row) == (str(tmp_path / "t.csv"), None)
        assert last.message.endswith("no closing prices on 2026-06-30; give an earlier date")
    # alone, the other error keeps its own class
    _cov().to_csv(tmp_path / "cov.csv")
    with pytest.raises(MarketDataError):
        read_models(**args, as_of=DAY)


_OTHERS = ("MSFT AMZN GOOGL META NVDA JPM JNJ V PG XOM HD MA PFE KO PEP CSCO INTC WMT "
           "LLY").split()


def test_a_target_file_may_weight_a_kept_name_as_prepare_does(tmp_path):
    """Reviewer (session 24, left open): the household keeps AAPL (hold_no_add, held: 3.24 %
    of what is managed today). ``prepare(target=...)`` accepts a target giving it today's
    weight or more (held at today's, the rest scaled), and refuses less, naming both
    weights; a target weights file refused it as screened out. The file now reads by the
    same rule: the same target, and the same words with the row and the weight column."""
    from pma_lab.errors import DataError
    from pma_lab.io.client import load_client
    from pma_lab.optimize.engine import prepare
    from pma_lab.paths import clients_dir

    c = load_client(clients_dir() / "household" / "profile.toml")
    p = tmp_path / "t.csv"
    p.write_text("ticker,weight\nAAPL,0.05\n" + "".join(f"{t},0.05\n" for t in _OTHERS))
    files = read_models(as_of=c.as_of, client=c, target=p, kept_today=kept_weights_today)
    assert files.target["AAPL"] == 0.05
    given = pd.Series({"AAPL": 0.05, **{t: 0.05 for t in _OTHERS}})
    got, want = prepare(c, **files.prepare_args()), prepare(c, target=given)
    pd.testing.assert_series_equal(got.target.weights, want.target.weights)
    kept = got.target.diagnostics["fixed"]["AAPL"]
    assert got.target.weights["AAPL"] == pytest.approx(kept, rel=1e-12)
    assert kept == pytest.approx(0.0324, abs=5e-5)
    # below today's weight: refused, with the words prepare says, on the file's row
    from pma_lab.optimize.engine import KEPT_BELOW_FIX

    p.write_text("ticker,Weight\nAAPL,0.01\nMSFT,0.09\n"
                 + "".join(f"{t},0.05\n" for t in _OTHERS[1:]))
    with pytest.raises(ModelFileError) as e:
        read_models(as_of=c.as_of, client=c, target=p, kept_today=kept_weights_today)
    (issue,) = e.value.issues
    assert (issue.row, issue.column, issue.value, issue.code) == (
        2, "Weight", "0.01", "kept_below_today")
    both = "AAPL is 3.24% of what is managed today, the target gives it 1.00%"
    assert issue.message.startswith(both) and issue.fix == KEPT_BELOW_FIX
    less = pd.Series({"AAPL": 0.01, "MSFT": 0.09, **{t: 0.05 for t in _OTHERS[1:]}})
    with pytest.raises(DataError) as d:
        prepare(c, target=less)
    assert both in str(d.value) and KEPT_BELOW_FIX in str(d.value)
    # without the client (no keep list to apply) the file reads as it is
    assert read_models(as_of=c.as_of, target=p).target["AAPL"] == 0.01
